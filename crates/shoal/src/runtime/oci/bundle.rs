//! A container instance's OCI bundle: its `config.json` (namespaces, id mappings,
//! capabilities, mounts and the type's limits).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBuilder, LinuxCpuBuilder, LinuxIdMappingBuilder, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, UserBuilder,
};

use super::{CPU_PERIOD_US, HOST_ID_BASE, ID_COUNT, SHOAL_DIR_INSIDE};
use crate::runtime::initkit::InitKit;

/// What one instance's OCI bundle is made of.
pub struct BundleParams<'a> {
    pub instance_id: &'a str,
    pub hostname: &'a str,
    pub exe: &'a Path,
    pub kit: &'a InitKit,
    pub shoal_dir: &'a Path,
    pub cgroups_path: &'a str,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// The network namespace to join (`--network vpc`); else the host's.
    pub netns: Option<&'a Path>,
}

/// The instance's `config.json`: runc's defaults (capabilities, masked paths, devices)
/// plus a user namespace, Shoal's init as PID 1 and the type's limits.
pub fn bundle_spec(p: &BundleParams) -> Result<Spec, oci_spec::OciSpecError> {
    let inside = Path::new(SHOAL_DIR_INSIDE);
    let (binary_inside, lib_inside) = (inside.join("shoal"), inside.join("lib"));
    let mut spec = Spec::default();
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(p.kit.argv(&lib_inside, &binary_inside, &["instance-init", SHOAL_DIR_INSIDE]))
        .env(
            [
                format!("SHOAL_INSTANCE_ID={}", p.instance_id),
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ]
            .into_iter()
            .chain(crate::runtime::initkit::self_command_env(p.kit, &lib_inside, &binary_inside))
            .collect::<Vec<_>>(),
        )
        .cwd("/")
        // sudo is setuid: instance code may become root inside, as on EC2.
        .no_new_privileges(false)
        .capabilities(root_capabilities()?)
        .rlimits(spec.process().as_ref().and_then(|pr| pr.rlimits().clone()).unwrap_or_default())
        .build()?;
    spec.set_process(Some(process));
    spec.set_root(Some(RootBuilder::default().path("root").readonly(false).build()?));
    spec.set_hostname(Some(p.hostname.to_string()));
    // sysfs cannot be mounted from a user namespace that does not own the network
    // namespace (the host's); instances go without /sys until they get networks.
    let mut mounts: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !m.destination().starts_with("/sys"))
        .collect();
    mounts.push(
        MountBuilder::default()
            .destination("/run")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec!["nosuid".into(), "nodev".into(), "mode=755".into()])
            .build()?,
    );
    mounts.push(bind(p.shoal_dir, inside, &["rw"])?);
    mounts.push(bind(p.exe, &binary_inside, &["ro"])?);
    mounts.push(bind(&p.kit.lib_dir, &lib_inside, &["ro"])?);
    spec.set_mounts(Some(mounts));

    let ids = || {
        LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(HOST_ID_BASE)
            .size(ID_COUNT)
            .build()
    };
    let namespaces = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::User,
        LinuxNamespaceType::Cgroup,
    ]
    .into_iter()
    .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
    .chain(p.netns.map(|path| {
        LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network).path(path).build()
    }))
    .collect::<Result<Vec<_>, _>>()?;
    let defaults = spec.linux().clone().unwrap_or_default();
    let mut resources = defaults.resources().clone().unwrap_or_default();
    resources.set_cpu(Some(
        LinuxCpuBuilder::default()
            .period(CPU_PERIOD_US)
            .quota((p.vcpus as u64 * CPU_PERIOD_US) as i64)
            .build()?,
    ));
    resources.set_memory(Some(
        LinuxMemoryBuilder::default().limit((p.memory_mib * 1024 * 1024) as i64).build()?,
    ));
    let mut linux = LinuxBuilder::default()
        .uid_mappings(vec![ids()?])
        .gid_mappings(vec![ids()?])
        .namespaces(namespaces)
        .resources(resources)
        .cgroups_path(PathBuf::from(p.cgroups_path))
        .build()?;
    linux.set_masked_paths(defaults.masked_paths().clone());
    linux.set_readonly_paths(defaults.readonly_paths().clone());
    spec.set_linux(Some(linux));
    Ok(spec)
}

/// Root inside gets Docker's default capabilities: enough for sudo, package installs and
/// daemons dropping privileges, each bounded by the user namespace (they act on the
/// instance's own files and processes, never the host's).
fn root_capabilities() -> Result<oci_spec::runtime::LinuxCapabilities, oci_spec::OciSpecError> {
    use oci_spec::runtime::Capability::*;
    let set: oci_spec::runtime::Capabilities = [
        Chown,
        DacOverride,
        Fsetid,
        Fowner,
        Mknod,
        NetRaw,
        Setgid,
        Setuid,
        Setfcap,
        Setpcap,
        NetBindService,
        SysChroot,
        Kill,
        AuditWrite,
    ]
    .into_iter()
    .collect();
    oci_spec::runtime::LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .build()
}

fn bind(
    source: &Path,
    destination: &Path,
    extra: &[&str],
) -> Result<Mount, oci_spec::OciSpecError> {
    let mut options: Vec<String> = vec!["bind".into(), "nosuid".into(), "nodev".into()];
    options.extend(extra.iter().map(|s| s.to_string()));
    MountBuilder::default()
        .destination(destination)
        .typ("bind")
        .source(source)
        .options(options)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    static KIT: std::sync::LazyLock<InitKit> = std::sync::LazyLock::new(|| InitKit {
        lib_dir: "/data/container/init-lib".into(),
        loader: Some("ld-linux-x86-64.so.2".into()),
    });

    fn at_env<'a>(spec: &'a serde_json::Value, name: &str) -> Option<&'a str> {
        spec["process"]["env"]
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str()?.strip_prefix(name)?.strip_prefix('='))
            .next()
    }

    fn params() -> BundleParams<'static> {
        BundleParams {
            instance_id: "i-0123456789abcdef0",
            hostname: "ip-172-31-0-5",
            exe: Path::new("/usr/bin/shoal"),
            kit: &KIT,
            shoal_dir: Path::new("/data/container/instances/i-0123456789abcdef0/shoal"),
            cgroups_path: "shoal-0000abcd/i-0123456789abcdef0",
            vcpus: 2,
            memory_mib: 512,
            netns: None,
        }
    }

    #[test]
    fn a_vpc_instance_joins_the_network_namespace_shoal_made() {
        let ns = Path::new("/data/vpcnet/vpc-1/i-0123456789abcdef0");
        let spec = bundle_spec(&BundleParams { netns: Some(ns), ..params() }).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let network = json["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "network")
            .expect("a network namespace");
        assert_eq!(network["path"], ns.to_str().unwrap());
    }

    #[test]
    fn bundle_isolates_in_a_user_namespace_with_its_own_init_and_limits() {
        let spec = bundle_spec(&params()).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let linux = &json["linux"];
        let mut kinds: Vec<&str> = linux["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        kinds.sort();
        // No network namespace yet: instances share the host's loopback addresses.
        assert_eq!(kinds, ["cgroup", "ipc", "mount", "pid", "user", "uts"]);
        for map in ["uidMappings", "gidMappings"] {
            assert_eq!(linux[map][0]["containerID"], 0);
            assert_eq!(linux[map][0]["hostID"], HOST_ID_BASE);
            assert_eq!(linux[map][0]["size"], ID_COUNT);
        }
        assert_eq!(linux["resources"]["cpu"]["quota"], 200_000);
        assert_eq!(linux["resources"]["cpu"]["period"], 100_000);
        assert_eq!(linux["resources"]["memory"]["limit"], 512 * 1024 * 1024);
        assert_eq!(linux["cgroupsPath"], "shoal-0000abcd/i-0123456789abcdef0");
        // Through the kit's loader: the image's own libc (if any) plays no part.
        assert_eq!(
            json["process"]["args"],
            serde_json::json!([
                "/run/shoal/lib/ld-linux-x86-64.so.2",
                "--library-path",
                "/run/shoal/lib",
                "/run/shoal/shoal",
                "instance-init",
                "/run/shoal"
            ])
        );
        assert_eq!(at_env(&json, "SHOAL_LOADED_BINARY"), Some("/run/shoal/shoal"));
        assert_eq!(json["process"]["user"]["uid"], 0);
        assert_eq!(json["hostname"], "ip-172-31-0-5");
        assert_eq!(json["root"]["path"], "root");
        let mounts = json["mounts"].as_array().unwrap();
        let at = |dest: &str| mounts.iter().find(|m| m["destination"] == dest);
        assert!(mounts.iter().all(|m| !m["destination"].as_str().unwrap().starts_with("/sys")));
        assert_eq!(at("/run/shoal/shoal").unwrap()["source"], "/usr/bin/shoal");
        assert!(at("/run/shoal/shoal").unwrap()["options"]
            .as_array()
            .unwrap()
            .contains(&"ro".into()));
        assert!(at("/proc").is_some() && at("/dev").is_some() && at("/run").is_some());
        // The mount of /run comes before the binds into it, or it would hide them.
        let pos = |dest: &str| mounts.iter().position(|m| m["destination"] == dest).unwrap();
        assert!(pos("/run") < pos("/run/shoal") && pos("/run/shoal") < pos("/run/shoal/shoal"));
        assert_eq!(at("/run/shoal/lib").unwrap()["source"], "/data/container/init-lib");
        assert!(!linux["maskedPaths"].as_array().unwrap().is_empty());
        let caps = json["process"]["capabilities"]["effective"].as_array().unwrap();
        for cap in ["CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"] {
            assert!(caps.contains(&cap.into()), "{cap} for sudo and daemons");
        }
        assert!(!caps.contains(&"CAP_SYS_ADMIN".into()));
    }
}
