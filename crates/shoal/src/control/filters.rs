//! The packet-filter controller: security groups enforced on each instance's network,
//! live. Keyed by instance; on every commit (an Authorize/Revoke, a change of an
//! instance's groups, a member of a referenced group launching or terminating, a load
//! balancer's groups) each running instance's ruleset is computed afresh and handed to
//! the driver, which loads it only when it differs from what its network holds (one
//! nftables transaction: the table is flushed and filled again). After a daemon restart
//! the first pass loads every adopted instance's ruleset again.
//!
//! Who is a member of a group, for a rule that names it (as in AWS, by private
//! address): every instance with the group that is not terminated, and, for a load
//! balancer with the group, its network interfaces' private addresses, which its
//! connections to targets come from (`VpcNet::dial` binds them).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::Value;
use shoal_model::ec2::packet_filter::{admit_resolver, ruleset};
use shoal_model::ec2::{Instance, InstanceState};
use tokio::sync::watch;

use crate::control::instances_with_networks;
use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::service::state::State;
use crate::service::Service;

/// Keyed by instance id: every pending or running instance, on a driver that gives
/// instances networks of their own.
pub struct FilterController;

impl Controller for FilterController {
    type Key = String;
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "filters"
    }

    fn keys(&self, svc: &Service) -> Vec<String> {
        instances_with_networks(svc)
    }

    fn reconcile<'a>(
        &'a self,
        id: &'a String,
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let Some(rules) = svc.read(|s| s.instances.get(id).map(|i| instance_ruleset(s, i)))
            else {
                return Ok(Action::await_change());
            };
            let (driver, id) = (svc.driver.clone(), id.clone());
            // Loading runs `nft`: off the async workers. An instance whose network is
            // not made yet loads nothing here; its boot loads the rules it is made with.
            tokio::task::spawn_blocking(move || driver.packet_filter(&id, &rules)).await??;
            Ok(Action::await_change())
        })
    }
}

/// Runs until shutdown.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    // Loads serialize on `VpcNet::changes` anyway; a few at once keep a commit that
    // touches every instance from filling the blocking pool.
    let settings = Settings::watching(svc.config.resync_interval, 4);
    let commits = Some(svc.subscribe());
    runner::run(Arc::new(FilterController), svc, settings, commits, shutdown).await;
}

/// The instance's security groups as the nftables ruleset its network holds.
pub fn instance_ruleset(s: &State, inst: &Instance) -> Value {
    let groups: Vec<_> =
        inst.security_group_ids.iter().filter_map(|g| s.security_groups.get(g)).collect();
    let referenced: BTreeSet<&String> = groups
        .iter()
        .flat_map(|g| g.ingress.iter().chain(&g.egress))
        .flat_map(|p| &p.group_ids)
        .collect();
    let mut set = ruleset(&groups, &members(s, &referenced));
    if let Some(vpc) = s.vpcs.get(&inst.vpc_id) {
        admit_resolver(&mut set, crate::runtime::vpcnet::dns::resolver_ip(vpc.cidr));
    }
    set
}

/// The private addresses of each group's members (see the module's docs).
pub(crate) fn members(s: &State, groups: &BTreeSet<&String>) -> BTreeMap<String, Vec<Ipv4Addr>> {
    let mut out: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
    if groups.is_empty() {
        return out;
    }
    for inst in s.instances.values().filter(|i| i.state != InstanceState::Terminated) {
        for g in inst.security_group_ids.iter().filter(|g| groups.contains(g)) {
            out.entry(g.clone()).or_default().push(inst.private_ip);
        }
    }
    for lb in s.load_balancers.values() {
        for g in lb.security_groups.iter().filter(|g| groups.contains(g)) {
            out.entry(g.clone()).or_default().extend(lb.interfaces.iter().map(|i| i.private_ip));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use shoal_model::ec2::instance::Transition;
    use shoal_model::ec2::security_group::Permission;

    use super::*;
    use crate::control::fixture::Fixture;
    use crate::control::instances;

    async fn pass(f: &Fixture) {
        instances::reconcile_inline(&f.svc).await.unwrap();
        runner::reconcile_all_inline(&FilterController, &*f.svc).await.unwrap();
    }

    /// The `ip saddr` sets of the ingress rules, as text.
    fn ingress_sources(rules: &Value) -> Vec<String> {
        rules["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["add"]["rule"].as_object())
            .filter(|r| r["chain"] == "ingress")
            .flat_map(|r| r["expr"].as_array().unwrap().clone())
            .filter(|e| e["match"]["left"]["payload"]["field"] == "saddr")
            .map(|e| e["match"]["right"].to_string())
            .collect()
    }

    #[tokio::test]
    async fn rules_load_at_boot_and_again_only_when_groups_or_members_change() {
        let f = Fixture::new();
        f.driver.set_vpc_network(true);
        let a = f.run(1).remove(0);
        pass(&f).await;
        let default = f.svc.instance(&a).unwrap().security_group_ids[0].clone();
        let loaded = f.driver.filter(&a).expect("loaded at boot");
        // The VPC's default group: all in from its own members, here `a` alone.
        let a_ip = f.svc.instance(&a).unwrap().private_ip.to_string();
        assert_eq!(ingress_sources(&loaded), vec![format!("{{\"set\":[\"{a_ip}\"]}}")]);
        let loads = f.driver.filter_loads.load(Ordering::SeqCst);
        pass(&f).await;
        assert_eq!(f.driver.filter_loads.load(Ordering::SeqCst), loads, "nothing changed");

        // A second member launching changes a's rules: it is admitted too.
        let b = f.run(1).remove(0);
        pass(&f).await;
        let b_ip = f.svc.instance(&b).unwrap().private_ip.to_string();
        let sources = ingress_sources(&f.driver.filter(&a).unwrap());
        assert_eq!(sources.len(), 1);
        assert!(sources[0].contains(&a_ip) && sources[0].contains(&b_ip), "{sources:?}");

        // An Authorize is live.
        let mut ssh = Permission::allow_all_egress();
        (ssh.protocol, ssh.from_port, ssh.to_port) = ("tcp".into(), Some(22), Some(22));
        ssh.cidrs = vec!["203.0.113.0/24".into()];
        f.svc.change_security_group_rules(Some(&default), None, true, true, vec![ssh]).unwrap();
        pass(&f).await;
        for id in [&a, &b] {
            let sources = ingress_sources(&f.driver.filter(id).unwrap());
            assert!(sources.iter().any(|s| s.contains("203.0.113.0")), "{id}: {sources:?}");
        }

        // b terminating leaves a's group.
        f.svc.change_instance_states(std::slice::from_ref(&b), Transition::Terminate).unwrap();
        pass(&f).await;
        pass(&f).await;
        assert!(f.driver.filter(&b).is_none(), "its network is gone");
        let sources = ingress_sources(&f.driver.filter(&a).unwrap());
        assert!(!sources.iter().any(|s| s.contains(&b_ip)), "{sources:?}");
    }

    #[tokio::test]
    async fn a_load_balancers_group_has_its_interface_addresses_as_members() {
        let f = Fixture::new();
        let vpc = f.svc.read(|s| s.vpcs.values().next().unwrap().id.clone());
        let lb_group = f.svc.create_security_group("lb", "lb", Some(&vpc), &[]).unwrap().id;
        let wanted = BTreeSet::from([&lb_group]);
        assert!(f.svc.read(|s| members(s, &wanted)).is_empty(), "no load balancer yet");
        let subnets = f.svc.read(|s| {
            s.subnets.values().filter(|n| n.vpc_id == vpc).take(2).map(|n| n.id.clone()).collect()
        });
        let elb = f.svc.elb();
        let lb = elb
            .create_load_balancer(crate::service::elbv2::CreateLoadBalancer {
                name: "lb".into(),
                subnets,
                security_groups: vec![lb_group.clone()],
                ..Default::default()
            })
            .unwrap();
        let found = f.svc.read(|s| members(s, &wanted));
        let interfaces: Vec<Ipv4Addr> = f
            .svc
            .read(|s| s.load_balancers[&lb.arn].interfaces.iter().map(|i| i.private_ip).collect());
        assert_eq!(interfaces.len(), 2);
        assert_eq!(found[&lb_group], interfaces);
        // Not the VPC router's addresses: the host's own connections come from those.
        assert!(f.svc.read(|s| s.subnets.values().all(|n| !interfaces.contains(&n.cidr.nth(1)))));
    }
}
