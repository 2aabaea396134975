//! Where the service meets the model's quotas: what the account uses now. The rules
//! and the refusals live in `shoal_model::quotas`; the figures in `Config::quotas`.

use shoal_model::ec2::instance_type;

use super::state::{Changes, State};

/// Instances and vCPUs an operation's change set has launched so far, so several
/// launches in one commit (an Auto Scaling group's plan) count against one quota.
#[derive(Debug, Default, Clone, Copy)]
pub struct Launched {
    pub instances: u32,
    pub vcpus: u32,
}

/// Running On-Demand instances and their vCPUs: pending and running instances count,
/// as in EC2 (stopped ones do not), plus what `changes` has launched.
pub fn instance_usage(state: &State, changes: &Changes) -> (u32, u32) {
    let (mut instances, mut vcpus) = (changes.launched.instances, changes.launched.vcpus);
    for inst in state.instances.values().filter(|i| i.state.wants_processes()) {
        instances += 1;
        vcpus += instance_type::lookup(&inst.instance_type).map_or(1, |t| t.vcpus);
    }
    (instances, vcpus)
}
