//! Network ACLs: the stateless, subnet-level filter of a VPC. Shoal models only each VPC's
//! default ACL, which allows all traffic and to which every subnet is associated.

/// One rule of a network ACL, as DescribeNetworkAcls answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub rule_number: u32,
    /// `-1`: all protocols.
    pub protocol: &'static str,
    /// `allow` or `deny`.
    pub rule_action: &'static str,
    pub egress: bool,
    pub cidr_block: &'static str,
}

/// The rule number AWS gives the catch-all deny that ends every ACL (`*` in the console).
pub const CATCH_ALL_RULE: u32 = 32767;

/// The entries of a VPC's default network ACL, as AWS creates them: in each direction,
/// rule 100 allows all traffic from/to 0.0.0.0/0, and rule 32767 denies what no earlier
/// rule matched. Egress entries first, each direction by rule number.
pub fn default_entries() -> Vec<AclEntry> {
    let mut out = vec![];
    for egress in [true, false] {
        for (rule_number, rule_action) in [(100, "allow"), (CATCH_ALL_RULE, "deny")] {
            out.push(AclEntry {
                rule_number,
                protocol: "-1",
                rule_action,
                egress,
                cidr_block: "0.0.0.0/0",
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_acl_allows_everything_both_ways_then_denies_the_rest() {
        let entries = default_entries();
        for egress in [true, false] {
            let dir: Vec<_> = entries.iter().filter(|e| e.egress == egress).collect();
            assert_eq!(dir.len(), 2);
            assert_eq!((dir[0].rule_number, dir[0].rule_action), (100, "allow"));
            assert_eq!((dir[1].rule_number, dir[1].rule_action), (32767, "deny"));
            assert!(dir.iter().all(|e| e.protocol == "-1" && e.cidr_block == "0.0.0.0/0"));
        }
    }
}
