//! Machine images (AMIs).

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// An AMI: a snapshot of an instance's root directory. `pending` while the snapshot is
/// copied, then `available`; CreateImage works on running and stopped instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: String,
    /// `amazon` for the built-in base image, none for the user's own.
    pub owner_alias: Option<String>,
    pub state: ImageState,
    pub creation_date: DateTime<Utc>,
    pub source_instance_id: Option<String>,
    pub public: bool,
    pub tags: Vec<Tag>,
    /// `x86_64` or `arm64` (`i386` for a few old ones): RunInstances checks it against
    /// the instance type's. Records from before the field are x86_64.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// CreateImage without NoReboot of a running instance: EC2 shuts the instance down,
    /// snapshots its disk and boots it again, and the image stays `pending` until then.
    #[serde(default)]
    pub awaiting_reboot: bool,
}

fn default_architecture() -> String {
    "x86_64".into()
}

/// The EBS snapshot an AMI's root device refers to (`snap-…`). CreateImage makes one;
/// DeregisterImage leaves it, as in EC2, until DeleteSnapshot, which is refused while
/// an image still uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    /// The AMI it was made for.
    pub image_id: String,
    pub owner_id: String,
    pub description: String,
    pub start_time: DateTime<Utc>,
    pub volume_size_gib: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Image {
    /// A new image of the account's own (CreateImage, or an import when there is no
    /// source instance): private, untagged, `pending` until its disk is written.
    pub fn own(
        id: String,
        name: &str,
        description: Option<String>,
        owner_id: &str,
        creation_date: DateTime<Utc>,
        source_instance_id: Option<String>,
    ) -> Image {
        Image {
            id,
            name: name.into(),
            description,
            owner_id: owner_id.into(),
            owner_alias: None,
            state: ImageState::Pending,
            creation_date,
            source_instance_id,
            public: false,
            tags: vec![],
            architecture: default_architecture(),
            awaiting_reboot: false,
        }
    }

    /// The snapshot id of the image's root device: derived from the image id, so
    /// images stored before snapshots were records name the same one.
    /// A public image Amazon owns (the base image, the catalog's well-known AMIs).
    pub fn amazon(
        id: String,
        name: &str,
        description: String,
        owner_id: &str,
        creation_date: DateTime<Utc>,
        architecture: &str,
    ) -> Image {
        Image {
            owner_alias: Some("amazon".into()),
            state: ImageState::Available,
            public: true,
            architecture: architecture.into(),
            ..Image::own(id, name, Some(description), owner_id, creation_date, None)
        }
    }

    pub fn snapshot_id(&self) -> String {
        format!("snap-{}", self.id.trim_start_matches("ami-"))
    }

    /// The snapshot CreateImage makes with the image (EC2's description).
    pub fn snapshot(&self) -> Snapshot {
        let description = match &self.source_instance_id {
            Some(instance) => format!("Created by CreateImage({instance}) for {}", self.id),
            None => format!("Imported for {}", self.id),
        };
        Snapshot {
            id: self.snapshot_id(),
            image_id: self.id.clone(),
            owner_id: self.owner_id.clone(),
            description,
            start_time: self.creation_date,
            volume_size_gib: 8,
            tags: vec![],
        }
    }
}

impl Filterable for Snapshot {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: &str| Some(vec![v.to_string()]);
        match name {
            "snapshot-id" => one(&self.id),
            "owner-id" => one(&self.owner_id),
            "description" => one(&self.description),
            "status" => one("completed"),
            "progress" => one("100%"),
            "volume-size" => one(&self.volume_size_gib.to_string()),
            "volume-id" => one("vol-ffffffff"),
            "encrypted" => one("false"),
            "storage-tier" => one("standard"),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// `ImageState` values Shoal goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageState {
    Pending,
    Available,
    Failed,
}

impl ImageState {
    pub fn name(self) -> &'static str {
        match self {
            ImageState::Pending => "pending",
            ImageState::Available => "available",
            ImageState::Failed => "failed",
        }
    }
}

/// The base image's name, in the shape of Amazon Linux 2023's.
pub const BASE_IMAGE_NAME: &str = "al2023-ami-shoal-base-kernel-default-x86_64";

/// The SSM public parameter that resolves to the base image.
pub const BASE_IMAGE_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// AMI names: 3–128 characters of letters, digits, `()[]./-'@_` and space
/// (`InvalidAMIName.Malformed`).
pub fn validate_name(name: &str) -> AwsResult<()> {
    let ok_len = (3..=128).contains(&name.chars().count());
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || "()[]./-'@_ ".contains(c));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(AwsError::new(
            ErrorCode::InvalidAMINameMalformed,
            "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'",
        ))
    }
}

/// An owner may not reuse an AMI name (`InvalidAMIName.Duplicate`).
pub fn check_name_free<'a>(
    name: &str,
    owner_id: &str,
    existing: impl IntoIterator<Item = &'a Image>,
) -> AwsResult<()> {
    match existing.into_iter().find(|i| i.name == name && i.owner_id == owner_id) {
        Some(other) => Err(AwsError::new(
            ErrorCode::InvalidAMINameDuplicate,
            format!("AMI name {name} is already in use by AMI {}", other.id),
        )),
        None => Ok(()),
    }
}

impl Filterable for Image {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_string()]);
        match name {
            "image-id" => one(&self.id),
            "name" => one(&self.name),
            "state" => one(self.state.name()),
            "owner-id" => one(&self.owner_id),
            "owner-alias" => Some(self.owner_alias.iter().cloned().collect()),
            "is-public" => one(&self.public.to_string()),
            "architecture" => one(&self.architecture),
            "image-type" => one("machine"),
            "platform-details" => one("Linux/UNIX"),
            "root-device-type" => one("ebs"),
            "virtualization-type" => one("hvm"),
            "description" => Some(self.description.iter().cloned().collect()),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("exercise-image").is_ok());
        assert!(validate_name("ab").is_err());
        assert!(validate_name("bad*name").is_err());
    }
}
