//! `#cloud-config` user data, run as cloud-init runs it: `write_files`, then `packages`
//! (through the image's package manager), then the deferred `write_files`, then
//! `runcmd`. Init runs `shoal cloud-init FILE` inside the instance for user data that
//! starts with `#cloud-config`; `#!` scripts still run as themselves.
//!
//! Everything it does or cannot do is said on the console (GetConsoleOutput), never
//! silently: a package the offline image lacks and its package manager cannot fetch is
//! reported by name, and keys Shoal does not run are listed.
//!
//! Paths are the instance's: under `INSTANCE_ROOT` (`/` inside a container; a process
//! instance's root directory on the host).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

/// The keys Shoal runs; any other key is kept to be reported as not run.
#[derive(Debug, Default, Deserialize)]
pub struct CloudConfig {
    #[serde(default)]
    pub write_files: Vec<WriteFile>,
    #[serde(default)]
    pub package_update: bool,
    #[serde(default)]
    pub package_upgrade: bool,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default)]
    pub runcmd: Vec<RunCmd>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
pub struct WriteFile {
    pub path: String,
    #[serde(default)]
    pub content: String,
    /// `b64`/`base64`, `gz`/`gzip`, `gz+b64` and its spellings; plain text otherwise.
    #[serde(default)]
    pub encoding: Option<String>,
    /// An octal string (`'0644'`), or a number.
    #[serde(default)]
    pub permissions: Option<serde_yaml::Value>,
    /// `user:group` (or `user`), names or ids; cloud-init's default is `root:root`.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub append: bool,
    /// Written after packages are installed (cloud-init's final stage).
    #[serde(default)]
    pub defer: bool,
}

/// A package name, or `[name, version]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Package {
    Name(String),
    Versioned(Vec<String>),
}

/// A shell line, or an argv list (each word quoted, as cloud-init does).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RunCmd {
    Shell(String),
    Argv(Vec<String>),
}

impl Package {
    fn name(&self) -> &str {
        match self {
            Package::Name(n) => n,
            Package::Versioned(v) => v.first().map(String::as_str).unwrap_or(""),
        }
    }
}

/// True when user data is a cloud-config document (its first line, as cloud-init reads it).
pub fn is_cloud_config(user_data: &[u8]) -> bool {
    let first = user_data.split(|b| *b == b'\n').next().unwrap_or_default();
    first.trim_ascii_end() == b"#cloud-config"
}

pub fn parse(text: &str) -> Result<CloudConfig, Error> {
    // An empty document (only the header) is a valid, empty config.
    Ok(serde_yaml::from_str::<Option<CloudConfig>>(text)?.unwrap_or_default())
}

/// What `shoal cloud-init` says on the instance's console when a part fails.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not valid cloud-config: {0}")]
    Invalid(#[from] serde_yaml::Error),
    #[error("the image has no package manager")]
    NoPackageManager,
    #[error("a process instance has no package manager of its own")]
    ProcessInstance,
    /// The package manager could not be started.
    #[error("{0}: {1}")]
    Spawn(String, io::Error),
    #[error("{0} exited with {1}")]
    Exited(String, i32),
}

/// `shoal cloud-init FILE`: runs the config; the exit status is 1 when any part failed.
pub fn run(file: &Path) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(file)?;
    let config = match parse(&text) {
        Ok(c) => c,
        Err(e) => {
            say(&e.to_string());
            return Ok(1);
        }
    };
    let root = PathBuf::from(std::env::var("INSTANCE_ROOT").unwrap_or_else(|_| "/".into()));
    let mut failed = false;
    if !config.other.is_empty() {
        let keys: Vec<&str> = config.other.keys().map(String::as_str).collect();
        say(&format!("not run by Shoal (ignored): {}", keys.join(", ")));
    }
    for wf in config.write_files.iter().filter(|w| !w.defer) {
        failed |= !write_file(&root, wf);
    }
    failed |= !install_packages(&root, &config);
    for wf in config.write_files.iter().filter(|w| w.defer) {
        failed |= !write_file(&root, wf);
    }
    if !config.runcmd.is_empty() {
        failed |= !run_commands(&root, &config.runcmd);
    }
    say(if failed { "finished with errors" } else { "finished" });
    Ok(failed as i32)
}

fn say(message: &str) {
    println!("[cloud-init] {message}");
}

/// Where an absolute instance path lives from here.
fn in_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn write_file(root: &Path, wf: &WriteFile) -> bool {
    match try_write_file(root, wf) {
        Ok(()) => {
            say(&format!("wrote {}", wf.path));
            true
        }
        Err(e) => {
            say(&format!("could not write {}: {e}", wf.path));
            false
        }
    }
}

fn try_write_file(root: &Path, wf: &WriteFile) -> io::Result<()> {
    if !wf.path.starts_with('/') {
        return Err(io::Error::other("path must be absolute"));
    }
    let bytes = decode(&wf.content, wf.encoding.as_deref())?;
    let mode = match &wf.permissions {
        Some(p) => {
            permissions(p).ok_or_else(|| io::Error::other(format!("bad permissions {p:?}")))?
        }
        None => 0o644,
    };
    let path = in_root(root, &wf.path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(wf.append)
        .truncate(!wf.append)
        .open(&path)?;
    io::Write::write_all(&mut file, &bytes)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    let owner = wf.owner.as_deref().unwrap_or("root:root");
    if root == Path::new("/") {
        let (uid, gid) = owner_ids(root, owner)?;
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        // chown clears setuid/setgid bits.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    } else if wf.owner.is_some() {
        say(&format!(
            "owner {owner} of {} not set: process instances share the host's users",
            wf.path
        ));
    }
    Ok(())
}

fn decode(content: &str, encoding: Option<&str>) -> io::Result<Vec<u8>> {
    let enc = encoding.unwrap_or("text/plain").to_ascii_lowercase();
    let b64 = |s: &str| {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| io::Error::other(format!("bad base64: {e}")))
    };
    let gunzip = |raw: Vec<u8>| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut out)?;
        Ok::<_, io::Error>(out)
    };
    match enc.as_str() {
        "b64" | "base64" => b64(content),
        "gz" | "gzip" => gunzip(content.as_bytes().to_vec()),
        "gz+b64" | "gz+base64" | "gzip+b64" | "gzip+base64" => gunzip(b64(content)?),
        "text/plain" | "" => Ok(content.as_bytes().to_vec()),
        other => Err(io::Error::other(format!("unknown encoding {other}"))),
    }
}

/// A mode from cloud-config: an octal string, or a number. YAML 1.1 (cloud-init's
/// parser) reads an unquoted `0644` as octal; this YAML 1.2 parser reads 644, so a
/// number written with octal digits only is taken as those octal digits.
fn permissions(value: &serde_yaml::Value) -> Option<u32> {
    let mode = match value {
        serde_yaml::Value::String(s) => {
            let s = s.trim();
            u32::from_str_radix(s.strip_prefix("0o").unwrap_or(s), 8).ok()?
        }
        serde_yaml::Value::Number(n) => {
            let n = n.as_u64()?;
            let digits = n.to_string();
            if digits.chars().all(|c| ('0'..='7').contains(&c)) {
                u32::from_str_radix(&digits, 8).ok()?
            } else {
                u32::try_from(n).ok()?
            }
        }
        _ => return None,
    };
    (mode <= 0o7777).then_some(mode)
}

/// `user[:group]` as ids, looked up in the instance's own passwd and group files.
fn owner_ids(root: &Path, owner: &str) -> io::Result<(u32, u32)> {
    let (user, group) = owner.split_once(':').map_or((owner, None), |(u, g)| (u, Some(g)));
    let lookup = |file: &str, name: &str| -> io::Result<(u32, u32)> {
        if let Ok(id) = name.parse::<u32>() {
            return Ok((id, id));
        }
        let table = std::fs::read_to_string(in_root(root, file))?;
        table
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name))
            .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().unwrap_or(0))))
            .ok_or_else(|| io::Error::other(format!("no such {}: {name}", &file[5..])))
    };
    let (uid, primary_gid) = lookup("/etc/passwd", user)?;
    let gid = match group {
        Some(g) if !g.is_empty() => lookup("/etc/group", g)?.0,
        _ => primary_gid,
    };
    Ok((uid, gid))
}

/// Debian's dpkg database: the packages installed in the instance.
fn dpkg_installed(root: &Path) -> Option<Vec<String>> {
    let status = std::fs::read_to_string(in_root(root, "/var/lib/dpkg/status")).ok()?;
    let mut installed = Vec::new();
    for para in status.split("\n\n") {
        let field = |name: &str| {
            para.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if let (Some(name), Some(state)) = (field("Package:"), field("Status:")) {
            if state.ends_with(" installed") {
                installed.push(name);
            }
        }
    }
    Some(installed)
}

/// The image's package manager: what it has installed and how to install more.
enum PackageManager {
    Apt { installed: Vec<String> },
    Dnf(&'static str),
    None,
}

fn package_manager(root: &Path) -> PackageManager {
    if let Some(installed) = dpkg_installed(root) {
        return PackageManager::Apt { installed };
    }
    for tool in ["/usr/bin/dnf", "/usr/bin/yum"] {
        if in_root(root, tool).exists() {
            return PackageManager::Dnf(tool);
        }
    }
    PackageManager::None
}

fn install_packages(root: &Path, config: &CloudConfig) -> bool {
    if config.packages.is_empty() && !config.package_update && !config.package_upgrade {
        return true;
    }
    let pm = package_manager(root);
    // Only a container's own package manager may change its root; a process instance
    // would be installing on the host.
    let own_root = root == Path::new("/");
    let mut ok = true;
    if config.package_update || config.package_upgrade {
        let steps: &[&[&str]] = match (&pm, config.package_upgrade) {
            (PackageManager::Apt { .. }, false) => &[&["apt-get", "update"]],
            (PackageManager::Apt { .. }, true) => {
                &[&["apt-get", "update"], &["apt-get", "-y", "upgrade"]]
            }
            (PackageManager::Dnf(tool), true) => &[&[tool, "-y", "upgrade"]],
            (PackageManager::Dnf(tool), false) => &[&[tool, "makecache"]],
            (PackageManager::None, _) => &[],
        };
        if !own_root || steps.is_empty() {
            say("package_update/package_upgrade: no package manager of the instance's own to run");
            ok = false;
        }
        for argv in steps.iter().filter(|_| own_root) {
            ok &= run_quiet(argv).is_ok();
        }
    }
    let wanted: Vec<&Package> = config.packages.iter().filter(|p| !p.name().is_empty()).collect();
    if wanted.is_empty() {
        return ok;
    }
    let present = |name: &str| match &pm {
        PackageManager::Apt { installed } => installed.iter().any(|i| i == name),
        PackageManager::Dnf(_) => own_root && run_quiet(&["rpm", "-q", "--quiet", name]).is_ok(),
        PackageManager::None => false,
    };
    let (have, missing): (Vec<&Package>, Vec<&Package>) =
        wanted.into_iter().partition(|p| present(p.name()));
    if !have.is_empty() {
        let names: Vec<&str> = have.iter().map(|p| p.name()).collect();
        say(&format!("packages already installed: {}", names.join(" ")));
    }
    if missing.is_empty() {
        return ok;
    }
    let specs: Vec<String> = missing
        .iter()
        .map(|p| match (p, &pm) {
            (Package::Versioned(v), PackageManager::Apt { .. }) if v.len() > 1 => {
                format!("{}={}", v[0], v[1])
            }
            (Package::Versioned(v), _) if v.len() > 1 => format!("{}-{}", v[0], v[1]),
            _ => p.name().to_string(),
        })
        .collect();
    let installed = match (&pm, own_root) {
        (PackageManager::Apt { .. }, true) => {
            let mut argv = vec!["apt-get", "install", "-y", "--no-install-recommends"];
            argv.extend(specs.iter().map(String::as_str));
            run_quiet(&argv)
        }
        (PackageManager::Dnf(tool), true) => {
            let mut argv = vec![*tool, "install", "-y"];
            argv.extend(specs.iter().map(String::as_str));
            run_quiet(&argv)
        }
        (PackageManager::None, _) => Err(Error::NoPackageManager),
        (_, false) => Err(Error::ProcessInstance),
    };
    match installed {
        Ok(()) => {
            say(&format!("packages installed: {}", specs.join(" ")));
            ok
        }
        Err(why) => {
            say(&format!("packages NOT installed: {} ({why})", specs.join(" ")));
            false
        }
    }
}

/// Runs a package-manager command, its output on the console.
fn run_quiet(argv: &[&str]) -> Result<(), Error> {
    say(&format!("running {}", argv.join(" ")));
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::Spawn(argv[0].to_string(), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Exited(argv.join(" "), status.code().unwrap_or(-1)))
    }
}

/// runcmd as cloud-init runs it: one shell script, each entry a line (argv lists quoted
/// word by word), run by `sh`; a failing line does not stop the next.
pub fn runcmd_script(cmds: &[RunCmd]) -> String {
    let mut script = String::from("#!/bin/sh\n");
    for cmd in cmds {
        match cmd {
            RunCmd::Shell(line) => script.push_str(line),
            RunCmd::Argv(argv) => {
                let words: Vec<String> = argv.iter().map(|w| sh_quote(w)).collect();
                script.push_str(&words.join(" "));
            }
        }
        script.push('\n');
    }
    script
}

fn sh_quote(word: &str) -> String {
    if !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return word.to_string();
    }
    let mut out = String::from("'");
    for c in word.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

fn run_commands(root: &Path, cmds: &[RunCmd]) -> bool {
    let script = runcmd_script(cmds);
    // Where cloud-init keeps it, so it can be read afterwards.
    let path = in_root(root, "/var/lib/cloud/instance/scripts/runcmd");
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, &script))
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)));
    if let Err(e) = written {
        say(&format!("could not write the runcmd script: {e}"));
        return false;
    }
    let mut summary = String::new();
    let _ = write!(summary, "running runcmd ({} commands)", cmds.len());
    say(&summary);
    match Command::new("/bin/sh").arg(&path).stdin(Stdio::null()).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            say(&format!("runcmd exited with {}", s.code().unwrap_or(-1)));
            false
        }
        Err(e) => {
            say(&format!("could not run runcmd: {e}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"#cloud-config
write_files:
  - path: /etc/motd
    content: |
      hello
    permissions: '0600'
    owner: ec2-user:ec2-user
  - path: /opt/blob
    encoding: b64
    content: aGVsbG8gd29ybGQ=
    permissions: 0755
packages:
  - nginx
  - [stress, "1.0.4"]
runcmd:
  - echo one > /tmp/one
  - [sh, -c, "echo it's two"]
bootcmd:
  - echo early
"#;

    #[test]
    fn parses_the_keys_shoal_runs_and_keeps_the_others() {
        assert!(is_cloud_config(CONFIG.as_bytes()));
        assert!(is_cloud_config(b"#cloud-config\r\n"));
        assert!(!is_cloud_config(b"#!/bin/sh\n#cloud-config\n"));
        let c = parse(CONFIG).unwrap();
        assert_eq!(c.write_files.len(), 2);
        assert_eq!(c.write_files[0].content, "hello\n");
        assert_eq!(c.write_files[0].owner.as_deref(), Some("ec2-user:ec2-user"));
        assert_eq!(permissions(c.write_files[0].permissions.as_ref().unwrap()), Some(0o600));
        assert_eq!(permissions(c.write_files[1].permissions.as_ref().unwrap()), Some(0o755));
        assert_eq!(
            decode(&c.write_files[1].content, c.write_files[1].encoding.as_deref()).unwrap(),
            b"hello world"
        );
        let names: Vec<&str> = c.packages.iter().map(Package::name).collect();
        assert_eq!(names, ["nginx", "stress"]);
        assert_eq!(c.other.keys().collect::<Vec<_>>(), ["bootcmd"]);
        assert_eq!(
            runcmd_script(&c.runcmd),
            "#!/bin/sh\necho one > /tmp/one\nsh -c 'echo it'\\''s two'\n"
        );
        assert_eq!(parse("#cloud-config\n").unwrap().runcmd.len(), 0);
        assert!(parse("#cloud-config\nwrite_files: 3\n").is_err());
    }

    #[test]
    fn decodes_every_spelling_of_the_encodings() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"zipped").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        for enc in ["gz+b64", "gzip+base64", "GZ+B64"] {
            assert_eq!(decode(&b64, Some(enc)).unwrap(), b"zipped");
        }
        assert_eq!(decode("aGk=\n", Some("base64")).unwrap(), b"hi");
        assert_eq!(decode("plain", None).unwrap(), b"plain");
        assert!(decode("x", Some("rot13")).is_err());
    }

    #[test]
    fn writes_files_into_the_instance_root_and_reads_its_package_database() {
        let root = std::env::temp_dir().join(format!("shoal-cloudinit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            "Package: nginx\nStatus: install ok installed\nVersion: 1\n\n\
             Package: gone\nStatus: deinstall ok config-files\n",
        )
        .unwrap();
        assert_eq!(dpkg_installed(&root).unwrap(), ["nginx"]);
        let wf = WriteFile {
            path: "/etc/app/conf".into(),
            content: "a\n".into(),
            encoding: None,
            permissions: Some(serde_yaml::Value::String("0640".into())),
            owner: None,
            append: false,
            defer: false,
        };
        assert!(write_file(&root, &wf));
        assert!(write_file(&root, &WriteFile { append: true, content: "b\n".into(), ..wf }));
        let written = root.join("etc/app/conf");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "a\nb\n");
        assert_eq!(std::fs::metadata(&written).unwrap().permissions().mode() & 0o7777, 0o640);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
