//! What a VPC's DNS resolver (`api::dns`) answers: the private DNS names of the VPC's
//! instances, read in one pass, so the front only translates.

use std::net::Ipv4Addr;

use shoal_model::ec2::{Cidr, InstanceState};
use shoal_model::region::{private_dns_domain, private_dns_name};

use crate::service::Service;

/// One VPC's zone, as the Amazon-provided DNS server at the VPC's `.2` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcDns {
    /// `ec2.internal` in us-east-1, `<region>.compute.internal` elsewhere.
    pub domain: String,
    pub cidr: Cidr,
    /// Each instance's private DNS name (`ip-172-31-0-5.ec2.internal`) and address:
    /// every instance of the VPC that holds its address (all but terminated ones, as
    /// EC2 keeps a stopped instance's private address and name).
    pub hosts: Vec<(String, Ipv4Addr)>,
}

impl Service {
    /// The VPC's zone, or `None` when this region has no such VPC.
    pub fn vpc_dns(&self, vpc_id: &str) -> Option<VpcDns> {
        let region = self.region();
        self.read(|s| {
            let vpc = s.vpcs.get(vpc_id)?;
            let hosts = s
                .instances
                .values()
                .filter(|i| i.vpc_id == vpc_id && i.state != InstanceState::Terminated)
                .map(|i| (private_dns_name(region, i.private_ip), i.private_ip))
                .collect();
            Some(VpcDns { domain: private_dns_domain(region), cidr: vpc.cidr, hosts })
        })
    }
}
