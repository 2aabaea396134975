//! Key pairs. Shoal stores them as AWS does; `shoal ssh` is how one gets in.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// A key pair: AWS keeps the public key and fingerprint, never the private key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyPair {
    pub id: String,
    pub name: String,
    pub fingerprint: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    pub public_key: String,
    pub create_time: DateTime<Utc>,
    pub tags: Vec<Tag>,
}

/// Key names are 1–255 ASCII characters and unique (`InvalidKeyPair.Duplicate`).
pub fn validate_new_name<'a>(
    name: &str,
    existing: impl IntoIterator<Item = &'a KeyPair>,
) -> AwsResult<()> {
    if name.is_empty() || name.len() > 255 || !name.is_ascii() {
        return Err(AwsError::invalid_parameter_value(format!(
            "Value ({name}) for parameter keyName is invalid. Key names must be 1-255 ASCII characters."
        )));
    }
    if existing.into_iter().any(|k| k.name == name) {
        return Err(AwsError::new(
            ErrorCode::InvalidKeyPairDuplicate,
            format!("The keypair '{name}' already exists."),
        ));
    }
    Ok(())
}

/// `KeyType` accepted by CreateKeyPair.
pub fn validate_key_type(key_type: &str) -> AwsResult<()> {
    match key_type {
        "rsa" | "ed25519" => Ok(()),
        other => Err(AwsError::invalid_parameter_value(format!(
            "Value ({other}) for parameter keyType is invalid. Valid values are rsa, ed25519."
        ))),
    }
}

/// The error for a key name that does not exist.
pub fn not_found(name: &str) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidKeyPairNotFound,
        format!("The key pair '{name}' does not exist"),
    )
}

impl Filterable for KeyPair {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "key-name" => Some(vec![self.name.clone()]),
            "key-pair-id" => Some(vec![self.id.clone()]),
            "fingerprint" => Some(vec![self.fingerprint.clone()]),
            "key-type" => Some(vec![self.key_type.clone()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}
