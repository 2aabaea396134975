//! Random identifiers in AWS's shapes.

use rand::Rng;

/// An EC2-style id: `i-`, `ami-`, `lt-`, `vpc-`, … followed by 17 hex digits.
pub fn ec2(prefix: &str) -> String {
    shoal_model::ec2::format_id(prefix, rand::thread_rng().gen())
}

/// 16 hex digits, the suffix of ELBv2 ARNs.
pub fn hex16() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// A v4 UUID (request ids, activity ids, Auto Scaling ARNs).
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
