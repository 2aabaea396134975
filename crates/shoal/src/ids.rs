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

/// An instance profile's unique id (`AIPA` and 17 characters, as IAM shapes them),
/// derived from its ARN: the same profile always has the same id.
pub fn instance_profile_id(arn: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(arn.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("AIPA{}", &hex[..17])
}
