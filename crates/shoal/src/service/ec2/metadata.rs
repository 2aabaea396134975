//! What the Instance Metadata Service (`api::imds`) tells an instance about itself: one
//! read of the state, so the front only translates.

use std::net::Ipv4Addr;

use shoal_model::autoscaling::group::LifecycleState;
use shoal_model::ec2::network::Cidr;
use shoal_model::ec2::Instance;
use shoal_model::AwsResult;

use super::instances::require_instance;
use crate::service::Service;

/// An instance as its metadata service describes it.
#[derive(Debug, Clone)]
pub struct InstanceMetadata {
    pub instance: Instance,
    pub region: String,
    /// `(group id, group name)` of each of its security groups.
    pub groups: Vec<(String, String)>,
    pub vpc_cidr: Option<Cidr>,
    pub subnet_cidr: Option<Cidr>,
    /// Its key pair's name and OpenSSH public key (`public-keys/0/openssh-key`).
    pub key: Option<(String, String)>,
    /// Its Auto Scaling lifecycle state, when a group has it.
    pub lifecycle_state: Option<LifecycleState>,
    /// The address the host reaches it at, its `PublicIpAddress`.
    pub public_ip: Option<Ipv4Addr>,
}

impl Service {
    /// The instance's metadata, read in one pass.
    pub fn instance_metadata(&self, id: &str) -> AwsResult<InstanceMetadata> {
        self.read(|state| {
            let inst = require_instance(state, id)?.clone();
            let groups = inst
                .security_group_ids
                .iter()
                .map(|g| {
                    let name = state.security_groups.get(g).map(|sg| sg.name.clone());
                    (g.clone(), name.unwrap_or_default())
                })
                .collect();
            let key = inst.key_name.as_ref().and_then(|name| {
                state.key_pair_named(name).map(|k| (k.name.clone(), k.public_key.clone()))
            });
            let lifecycle_state = state.groups.values().find_map(|g| {
                g.instances.iter().find(|i| i.instance_id == id).map(|i| i.lifecycle_state)
            });
            Ok(InstanceMetadata {
                region: self.region().to_string(),
                groups,
                vpc_cidr: state.vpcs.get(&inst.vpc_id).map(|v| v.cidr),
                subnet_cidr: state.subnets.get(&inst.subnet_id).map(|s| s.cidr),
                key,
                lifecycle_state,
                public_ip: (inst.state.wants_processes() && inst.has_public_ip)
                    .then_some(inst.loopback_ip),
                instance: inst,
            })
        })
    }
}
