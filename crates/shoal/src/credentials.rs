//! Access keys: the one Shoal issues at first start (saved as `<data dir>/credentials`,
//! mode 0600, in the aws CLI's credentials-file format), or those the user configures.
//! Every key belongs to the account's one IAM user, [`USER_NAME`].

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

/// The IAM user every Shoal access key belongs to.
pub const USER_NAME: &str = "shoal";

#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for AccessKey {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The keys the daemon knows, and when its user was created (IAM's `CreateDate`).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub keys: Vec<AccessKey>,
    pub created: DateTime<Utc>,
}

impl Credentials {
    /// The secret of a known access key.
    pub fn secret_of(&self, access_key_id: &str) -> Option<&str> {
        self.keys.iter().find(|k| k.id == access_key_id).map(|k| k.secret.as_str())
    }
}

/// The IAM identity of the account's user, as STS and IAM describe it.
pub struct Identity {
    pub user_name: &'static str,
    pub user_id: String,
    pub arn: String,
    pub account: &'static str,
}

pub fn identity() -> Identity {
    let account = shoal_model::ACCOUNT_ID;
    Identity {
        user_name: USER_NAME,
        user_id: user_id(account, USER_NAME),
        arn: format!("arn:aws:iam::{account}:user/{USER_NAME}"),
        account,
    }
}

/// A user id in IAM's form (`AIDA` + 17 characters), stable for an account and name.
fn user_id(account: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(format!("{account}/{name}").as_bytes());
    let tail: String =
        digest.iter().take(17).map(|b| ALPHABET[(*b as usize) % 32] as char).collect();
    format!("AIDA{tail}")
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials")
}

/// The configured key if there is one; else the key saved in the data dir; else a new
/// key, saved there. The bool says whether a key was issued now.
pub fn load_or_issue(
    data_dir: &Path,
    configured: Option<AccessKey>,
) -> anyhow::Result<(Credentials, bool)> {
    if let Some(key) = configured {
        return Ok((Credentials { keys: vec![key], created: Utc::now() }, false));
    }
    let file = path(data_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let key =
                parse(&text).with_context(|| format!("{} holds no access key", file.display()))?;
            let created = std::fs::metadata(&file)
                .and_then(|m| m.modified())
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            Ok((Credentials { keys: vec![key], created }, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = issue();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&file)
                .with_context(|| format!("cannot create {}", file.display()))?;
            f.write_all(render(&key).as_bytes())?;
            f.sync_all()?;
            Ok((Credentials { keys: vec![key], created: Utc::now() }, true))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// A new key in AWS's shapes: `AKIA` + 16 characters, a 40-character secret.
fn issue() -> AccessKey {
    const ID: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rngs::OsRng;
    let pick = |set: &[u8], n: usize, rng: &mut rand::rngs::OsRng| -> String {
        (0..n).map(|_| set[rng.gen_range(0..set.len())] as char).collect()
    };
    AccessKey { id: format!("AKIA{}", pick(ID, 16, &mut rng)), secret: pick(SECRET, 40, &mut rng) }
}

fn render(key: &AccessKey) -> String {
    format!(
        "# Shoal's access key. Use it as a profile: copy this section into ~/.aws/credentials.\n\
         [shoal]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.id, key.secret
    )
}

fn parse(text: &str) -> Option<AccessKey> {
    let value = |name: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    Some(AccessKey { id: value("aws_access_key_id")?, secret: value("aws_secret_access_key")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_issued_once_saved_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("shoal-cred-{}", crate::ids::uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, issued) = load_or_issue(&dir, None).unwrap();
        assert!(issued);
        assert!(first.keys[0].id.starts_with("AKIA") && first.keys[0].id.len() == 20);
        assert_eq!(first.keys[0].secret.len(), 40);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, issued) = load_or_issue(&dir, None).unwrap();
        assert!(!issued);
        assert_eq!(again.keys, first.keys);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_user_id_is_iam_shaped_and_stable() {
        let id = identity();
        assert_eq!(id.user_id, identity().user_id);
        assert!(id.user_id.starts_with("AIDA") && id.user_id.len() == 21);
        assert_eq!(id.arn, "arn:aws:iam::123456789012:user/shoal");
    }
}
