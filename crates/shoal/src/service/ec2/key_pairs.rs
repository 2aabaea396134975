//! Key pairs: CreateKeyPair (the private key is returned once, never stored),
//! ImportKeyPair, DescribeKeyPairs and DeleteKeyPair.

use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::ec2::{key_pair, KeyPair};
use shoal_model::filter::Filter;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::{select_named, tags_for};
use crate::ids;
use crate::service::Service;

impl Service {
    /// CreateKeyPair: returns the pair and its private key (shown once, never stored).
    pub fn create_key_pair(
        &self,
        name: &str,
        key_type: Option<&str>,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<(KeyPair, String)> {
        let key_type = key_type.unwrap_or("rsa");
        key_pair::validate_key_type(key_type)?;
        let tags = tags_for(tag_specs, "key-pair")?;
        let generated = crate::keys::generate(key_type)
            .map_err(|e| AwsError::internal(format!("key generation failed: {e}")))?;
        self.mutate(|state, changes| {
            key_pair::validate_new_name(name, state.key_pairs.values())?;
            let pair = KeyPair {
                id: ids::ec2("key"),
                name: name.into(),
                fingerprint: generated.fingerprint.clone(),
                key_type: key_type.into(),
                public_key: generated.public_openssh.clone(),
                create_time: self.clock.now(),
                tags,
            };
            changes.put(pair.clone());
            Ok((pair, generated.private_pem.clone()))
        })
    }

    /// ImportKeyPair: stores a user's public key (OpenSSH format, as the aws CLI sends it).
    pub fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<KeyPair> {
        let tags = tags_for(tag_specs, "key-pair")?;
        let parsed = crate::keys::parse_public(public_key).ok_or_else(|| {
            AwsError::invalid_parameter_value("Value for parameter PublicKeyMaterial is invalid. Key is not in valid OpenSSH public key format")
        })?;
        self.mutate(|state, changes| {
            key_pair::validate_new_name(name, state.key_pairs.values())?;
            let pair = KeyPair {
                id: ids::ec2("key"),
                name: name.into(),
                fingerprint: parsed.fingerprint.clone(),
                key_type: parsed.key_type.clone(),
                public_key: public_key.trim().into(),
                create_time: self.clock.now(),
                tags,
            };
            changes.put(pair.clone());
            Ok(pair)
        })
    }

    pub fn describe_key_pairs(
        &self,
        names: &[String],
        ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<KeyPair>> {
        self.read(|state| {
            select_named::<KeyPair>(
                state,
                (names, ids, filters),
                |k| &k.name,
                key_pair::not_found,
                |m| {
                    AwsError::new(
                        ErrorCode::InvalidKeyPairNotFound,
                        format!("The key pair '{}' does not exist", m.join(", ")),
                    )
                },
            )
        })
    }

    /// DeleteKeyPair succeeds even when the key does not exist, as AWS does.
    pub fn delete_key_pair(&self, name: Option<&str>, id: Option<&str>) -> AwsResult<()> {
        if name.is_none() && id.is_none() {
            return Err(AwsError::missing_parameter("KeyName"));
        }
        self.mutate(|state, changes| {
            for key in state
                .key_pairs
                .values()
                .filter(|k| Some(k.name.as_str()) == name || Some(k.id.as_str()) == id)
            {
                changes.delete::<KeyPair>(&key.id);
            }
            Ok(())
        })
    }
}
