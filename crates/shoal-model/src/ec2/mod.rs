//! EC2: instances and their state machine, instance types, images, launch templates,
//! key pairs, security groups, VPCs and subnets.

pub mod connection_filter;
pub mod image;
pub mod instance;
pub mod instance_type;
mod instance_type_catalog;
pub mod key_pair;
pub mod launch_template;
pub mod network;
pub mod network_acl;
pub mod packet_filter;
pub mod public_image;
pub mod security_group;

pub use image::{Image, Snapshot};
pub use instance::{Instance, InstanceState, StateReason};
pub use instance_type::InstanceType;
pub use key_pair::KeyPair;
pub use launch_template::{LaunchTemplate, LaunchTemplateData, LaunchTemplateVersion};
pub use network::{Cidr, Subnet, Vpc};
pub use security_group::SecurityGroup;

/// EC2 ids are a prefix and 17 lowercase hex digits (`i-0123456789abcdef0`); callers
/// supply the random part so the model stays deterministic.
pub fn format_id(prefix: &str, random: u128) -> String {
    format!("{prefix}-{:017x}", random & ((1u128 << 68) - 1))
}

/// True when `id` has the shape `<prefix>-<8 or 17 hex digits>`, as EC2 checks before
/// looking an id up (`InvalidInstanceID.Malformed` and friends).
pub fn is_well_formed_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Timestamps as the EC2 and Query APIs write them: ISO 8601 UTC with milliseconds.
pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = format_id("i", 0xabc);
        assert_eq!(id, "i-00000000000000abc");
        assert!(is_well_formed_id("i", &id));
        assert!(is_well_formed_id("ami", "ami-12345678"));
        assert!(!is_well_formed_id("i", "i-xyz"));
        assert!(!is_well_formed_id("i", "ami-00000000000000abc"));
    }
}
