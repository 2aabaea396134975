//! Security groups enforced in each instance's own network namespace: the ruleset
//! `shoal_model::ec2::packet_filter` makes is loaded there with `nft -j -f -` (JSON on
//! stdin, one transaction), run through `nsenter --net=<ns>`. Never in the host's
//! namespace, and out of the instance's reach: root inside is root of a user namespace
//! that does not own the network namespace, so it cannot list or change the table.
//!
//! Look at it as an operator: `nsenter --net=<data>/vpcnet/<vpc>/<instance> nft list ruleset`.

use std::io;
use std::path::Path;

use serde_json::Value;

use super::{feed, nsenter, VpcNet};

impl VpcNet {
    /// Loads `ruleset` into the instance's namespace unless it is what was loaded last;
    /// true when it was loaded. An instance without a namespace here, or a host without
    /// `nft` (said at start), loads nothing.
    pub fn filter(&self, instance_id: &str, ruleset: &Value) -> io::Result<bool> {
        if !self.nft {
            return Ok(false);
        }
        // Held so that no attach or detach of the instance runs meanwhile.
        let _changing = self.changes.lock().unwrap();
        let Some(vpc_id) = self.attached.lock().unwrap().get(instance_id).map(|n| n.vpc_id.clone())
        else {
            return Ok(false);
        };
        let text = ruleset.to_string();
        if self.filters.lock().unwrap().get(instance_id) == Some(&text) {
            return Ok(false);
        }
        load(&self.instance_ns(&vpc_id, instance_id), &text)?;
        tracing::info!(instance = instance_id, vpc = %vpc_id, "security groups loaded into the instance's network");
        self.filters.lock().unwrap().insert(instance_id.to_string(), text);
        Ok(true)
    }
}

/// `nft -j -f -` inside the namespace at `ns`.
fn load(ns: &Path, json: &str) -> io::Result<()> {
    feed(
        nsenter(ns).args(["nft", "-j", "-f", "-"]),
        json,
        &format!("nft -j -f - in {}", ns.display()),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::net::Ipv4Addr;

    use shoal_model::ec2::packet_filter::ruleset;
    use shoal_model::ec2::security_group::{Permission, SecurityGroup};
    use shoal_model::ec2::Cidr;

    use super::super::{InstanceNet, VpcNet};
    use super::*;

    /// Needs root, `ip`, `nft` and network namespaces (skipped, saying so, otherwise):
    /// loads a group's ruleset into an instance's namespace under a temporary dir, reads
    /// it back there with `nft list ruleset`, and removes everything.
    #[test]
    fn a_ruleset_loads_into_the_instance_namespace_once_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("shoal-vpcfilter-{}", std::process::id()));
        let vpcnet = match VpcNet::detect(&dir) {
            Ok(n) if n.nft => n,
            Ok(_) => {
                eprintln!("skipped: nft is not installed");
                let _ = fs::remove_dir_all(&dir);
                return;
            }
            Err(why) => {
                eprintln!("skipped: {why}");
                let _ = fs::remove_dir_all(&dir);
                return;
            }
        };
        let net = InstanceNet {
            vpc_id: "vpc-filter".into(),
            subnet: Cidr { base: Ipv4Addr::new(172, 31, 0, 0), prefix: 20 },
            private_ip: Ipv4Addr::new(172, 31, 0, 10),
            public_ip: Ipv4Addr::new(127, 250, 1, 10),
            has_public_ip: true,
        };
        let id = "i-fffffffffffffffff";
        /// Removes the namespaces even when an assertion fails.
        struct Cleanup<'a>(&'a VpcNet, &'a Path);
        impl Drop for Cleanup<'_> {
            fn drop(&mut self) {
                self.0.detach("i-fffffffffffffffff");
                let _ = fs::remove_dir_all(self.1);
            }
        }
        let _cleanup = Cleanup(&vpcnet, &dir);
        let ns = vpcnet.attach(id, &net).unwrap();
        let mut web = Permission::allow_all_egress();
        (web.protocol, web.from_port, web.to_port) = ("tcp".into(), Some(80), Some(80));
        web.cidrs = vec!["0.0.0.0/0".into()];
        let mut app = web.clone();
        (app.from_port, app.to_port, app.cidrs) = (Some(3000), Some(3010), vec![]);
        app.group_ids = vec!["sg-lb".into()];
        let group = SecurityGroup {
            id: "sg-web".into(),
            name: "web".into(),
            description: String::new(),
            vpc_id: net.vpc_id.clone(),
            ingress: vec![web, app],
            egress: vec![Permission::allow_all_egress()],
            tags: vec![],
        };
        let members = BTreeMap::from([("sg-lb".to_string(), vec![Ipv4Addr::new(172, 31, 0, 1)])]);
        let rules = ruleset(&[&group], &members);
        assert!(vpcnet.filter(id, &rules).unwrap(), "loaded");
        assert!(!vpcnet.filter(id, &rules).unwrap(), "the same rules are not loaded twice");
        let listed = nsenter(&ns).args(["nft", "list", "ruleset"]).output().unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        for line in [
            "table inet shoal",
            "chain ingress",
            "type filter hook input priority filter; policy drop;",
            "ct state established,related accept",
            "tcp dport 80 accept",
            "ip saddr 172.31.0.1 tcp dport 3000-3010 accept",
        ] {
            assert!(listed.contains(line), "{line:?} in:\n{listed}");
        }
        // Reloading replaces the table: the revoked rule is gone, nothing is doubled.
        let mut revoked = group.clone();
        revoked.ingress.truncate(1);
        assert!(vpcnet.filter(id, &ruleset(&[&revoked], &members)).unwrap());
        let listed = nsenter(&ns).args(["nft", "list", "ruleset"]).output().unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert_eq!(listed.matches("tcp dport 80 accept").count(), 1, "{listed}");
        assert!(!listed.contains("3000-3010"), "{listed}");
        vpcnet.detach(id);
        assert!(!vpcnet.filter(id, &rules).unwrap(), "no namespace, nothing to load");
    }
}
