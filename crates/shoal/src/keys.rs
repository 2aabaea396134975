//! Key material for CreateKeyPair / ImportKeyPair.

use ssh_key::rand_core::OsRng;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey};

/// A freshly generated key pair: the private key (returned once, never stored), the
/// OpenSSH public key and its fingerprint.
pub struct Generated {
    pub private_pem: String,
    pub public_openssh: String,
    pub fingerprint: String,
}

/// Generates a key as CreateKeyPair does: RSA 2048 as PKCS#1 PEM, or ed25519 in
/// OpenSSH format.
pub fn generate(key_type: &str) -> Result<Generated, KeyError> {
    let (private_pem, key) = match key_type {
        "ed25519" => {
            let key = PrivateKey::random(&mut OsRng, ssh_key::Algorithm::Ed25519)?;
            (key.to_openssh(LineEnding::LF)?.to_string(), key)
        }
        _ => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let rsa = rsa::RsaPrivateKey::new(&mut OsRng, 2048)?;
            let pem = rsa.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)?.to_string();
            let pair = ssh_key::private::RsaKeypair::try_from(rsa)?;
            let key = PrivateKey::new(ssh_key::private::KeypairData::Rsa(pair), "")?;
            (pem, key)
        }
    };
    let public = key.public_key();
    Ok(Generated {
        private_pem,
        public_openssh: public.to_openssh()?,
        fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
    })
}

/// Why a key could not be generated (CreateKeyPair answers `InternalFailure`).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Ssh(#[from] ssh_key::Error),
    #[error(transparent)]
    Rsa(#[from] rsa::Error),
    #[error(transparent)]
    Pkcs1(#[from] rsa::pkcs1::Error),
}

/// An imported OpenSSH public key's type (`rsa`/`ed25519`) and fingerprint.
pub struct Parsed {
    pub key_type: String,
    pub fingerprint: String,
}

pub fn parse_public(text: &str) -> Option<Parsed> {
    let key = PublicKey::from_openssh(text.trim()).ok()?;
    let key_type = match key.algorithm() {
        ssh_key::Algorithm::Ed25519 => "ed25519",
        ssh_key::Algorithm::Rsa { .. } => "rsa",
        _ => return None,
    };
    Some(Parsed {
        key_type: key_type.into(),
        fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_import() {
        for kind in ["ed25519", "rsa"] {
            let g = generate(kind).unwrap();
            let parsed = parse_public(&g.public_openssh).unwrap();
            assert_eq!(parsed.key_type, kind);
            assert_eq!(parsed.fingerprint, g.fingerprint);
        }
        assert!(generate("rsa")
            .unwrap()
            .private_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(parse_public("ssh-rsa garbage").is_none());
    }
}
