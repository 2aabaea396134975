//! Amazon's public images as AWS publishes them: Amazon Linux 2023 and Amazon Linux 2,
//! standard and minimal, each kernel line, x86_64 and arm64, with the
//! `/aws/service/ami-amazon-linux-latest/*` SSM public parameters that point at them.
//!
//! Every one is backed by Shoal's base image (instances run on the host's own
//! architecture whatever the image says); the architecture is recorded so that
//! DescribeImages filters and RunInstances' type check behave as on AWS. Well-known
//! public AMI ids (`ami-0c…`) differ per region and release and cannot be known
//! offline: Shoal's images get ids of their own, found by name, owner or parameter.

use super::image::BASE_IMAGE_PARAMETER;

/// The prefix of every Amazon Linux "latest" parameter.
pub const PARAMETER_PATH: &str = "/aws/service/ami-amazon-linux-latest";

/// The Amazon Linux releases the images are named after.
pub const AL2023_RELEASE: &str = "2023.7.20250512.0";
pub const AL2_RELEASE: &str = "2.0.20250512.0";

/// One public image: its name and description as AWS publishes them, its architecture
/// and the parameters (names under [`PARAMETER_PATH`]) that resolve to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicImage {
    pub name: String,
    pub description: String,
    pub architecture: &'static str,
    pub parameters: Vec<String>,
}

/// Every public image, in a fixed order.
pub fn catalog() -> Vec<PublicImage> {
    let mut out = Vec::new();
    for arch in ["x86_64", "arm64"] {
        for (minimal, edition) in [(false, ""), (true, "minimal-")] {
            for kernel in ["6.1", "6.12"] {
                let mut parameters = vec![format!("al2023-ami-{edition}kernel-{kernel}-{arch}")];
                // AL2023's default kernel is 6.1: its parameter names no version. The
                // standard x86_64 one resolves to Shoal's base image itself.
                let default = format!("al2023-ami-{edition}kernel-default-{arch}");
                if kernel == "6.1" && format!("{PARAMETER_PATH}/{default}") != BASE_IMAGE_PARAMETER
                {
                    parameters.push(default);
                }
                out.push(PublicImage {
                    name: format!("al2023-ami-{edition}{AL2023_RELEASE}-kernel-{kernel}-{arch}"),
                    description: format!(
                        "Amazon Linux 2023 AMI {AL2023_RELEASE} {arch}{} HVM kernel-{kernel}",
                        if minimal { " Minimal" } else { "" }
                    ),
                    architecture: arch,
                    parameters,
                });
            }
        }
        // Amazon Linux 2: the default (4.14) kernel and 5.10, gp2 and ebs roots; the
        // minimal edition on ebs only. arm64 has gp2 images only.
        for kernel in [None, Some("5.10")] {
            let k = kernel.map(|k| format!("kernel-{k}-")).unwrap_or_default();
            let kd = kernel.map(|k| format!(" Kernel {k}")).unwrap_or_default();
            let volumes: &[&str] = if arch == "x86_64" { &["gp2", "ebs"] } else { &["gp2"] };
            for volume in volumes {
                out.push(PublicImage {
                    name: format!("amzn2-ami-{k}hvm-{AL2_RELEASE}-{arch}-{volume}"),
                    description: format!(
                        "Amazon Linux 2{kd} AMI {AL2_RELEASE} {arch} HVM {volume}"
                    ),
                    architecture: arch,
                    parameters: vec![format!("amzn2-ami-{k}hvm-{arch}-{volume}")],
                });
            }
            out.push(PublicImage {
                name: format!("amzn2-ami-minimal-{k}hvm-{AL2_RELEASE}-{arch}-ebs"),
                description: format!("Amazon Linux 2{kd} AMI {AL2_RELEASE} {arch} Minimal HVM ebs"),
                architecture: arch,
                parameters: vec![format!("amzn2-ami-minimal-{k}hvm-{arch}-ebs")],
            });
        }
    }
    out
}

/// The full parameter name of a parameter listed in [`PublicImage::parameters`].
pub fn parameter_name(short: &str) -> String {
    format!("{PARAMETER_PATH}/{short}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parameters_as_aws_publishes_them() {
        let all = catalog();
        let find = |p: &str| all.iter().find(|i| i.parameters.iter().any(|q| q == p));
        let al2023 = find("al2023-ami-kernel-6.1-x86_64").unwrap();
        assert_eq!(al2023.name, format!("al2023-ami-{AL2023_RELEASE}-kernel-6.1-x86_64"));
        let arm = find("al2023-ami-kernel-default-arm64").unwrap();
        assert_eq!((arm.architecture, arm.name.ends_with("kernel-6.1-arm64")), ("arm64", true));
        assert!(find("al2023-ami-kernel-default-x86_64").is_none(), "the base image's own");
        for p in [
            "al2023-ami-kernel-6.12-arm64",
            "al2023-ami-minimal-kernel-default-x86_64",
            "amzn2-ami-hvm-x86_64-gp2",
            "amzn2-ami-kernel-5.10-hvm-arm64-gp2",
            "amzn2-ami-minimal-hvm-x86_64-ebs",
        ] {
            assert!(find(p).is_some(), "{p}");
        }
        let names: std::collections::BTreeSet<_> = all.iter().map(|i| &i.name).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
        assert!(all.iter().all(|i| crate::ec2::image::validate_name(&i.name).is_ok()));
    }
}
