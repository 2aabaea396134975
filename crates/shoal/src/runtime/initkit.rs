//! The init kit: what lets Shoal's own binary run as PID 1 in any image.
//!
//! The daemon's binary is dynamically linked against the host's C library. An image
//! without that library (a busybox or Alpine root, a distro with an older glibc) cannot
//! load it: exec fails with "no such file or directory". So the kit carries the
//! binary's own loader and libraries, copied from the host once per daemon start, and
//! the container's init is started through that loader (`ld.so --library-path LIB
//! BINARY ...`), which needs nothing from the image.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where an init started through the kit finds its loader and its own binary again.
const LOADER_ENV: &str = "SHOAL_LOADER";
const BINARY_ENV: &str = "SHOAL_LOADED_BINARY";

/// The loader and libraries of one binary, copied into a directory of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitKit {
    /// The copied libraries' directory on the host.
    pub lib_dir: PathBuf,
    /// The loader's file name in `lib_dir`; `None` for a statically linked binary.
    pub loader: Option<String>,
}

impl InitKit {
    /// Copies `exe`'s loader and shared libraries (as `ldd` resolves them) into `lib_dir`.
    pub fn prepare(exe: &Path, lib_dir: &Path) -> io::Result<InitKit> {
        let out = Command::new("ldd").arg(exe).output()?;
        let listing = String::from_utf8_lossy(&out.stdout);
        let deps = parse_ldd(&listing);
        if !out.status.success() || deps.loader.is_none() {
            // `ldd` says "not a dynamic executable" (exit 1) for a static binary.
            if listing.contains("not a dynamic executable") || listing.contains("statically") {
                return Ok(InitKit { lib_dir: lib_dir.to_path_buf(), loader: None });
            }
            return Err(io::Error::other(format!(
                "ldd {} found no loader: {}",
                exe.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        fs::create_dir_all(lib_dir)?;
        let loader = deps.loader.expect("checked above");
        for path in deps.libraries.iter().chain(std::iter::once(&loader)) {
            let name = path.file_name().ok_or_else(|| io::Error::other("a library has no name"))?;
            // A copy, not a bind mount: the instance sees these files and nothing else of
            // the host's /lib. Copied through a temporary name: a running instance may be
            // executing the current copy.
            let target = lib_dir.join(name);
            let partial = lib_dir.join(format!(".{}.partial", name.to_string_lossy()));
            fs::copy(path, &partial)?;
            fs::rename(&partial, &target)?;
        }
        Ok(InitKit {
            lib_dir: lib_dir.to_path_buf(),
            loader: loader.file_name().map(|n| n.to_string_lossy().into_owned()),
        })
    }

    /// The argv that runs `binary` (a path inside the container) with `args`, given the
    /// kit mounted at `lib_inside`.
    pub fn argv(&self, lib_inside: &Path, binary: &Path, args: &[&str]) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(loader) = &self.loader {
            argv.push(lib_inside.join(loader).to_string_lossy().into_owned());
            argv.push("--library-path".into());
            argv.push(lib_inside.to_string_lossy().into_owned());
        }
        argv.push(binary.to_string_lossy().into_owned());
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }
}

/// What `ldd` printed: the libraries it resolved and the loader (the line that is an
/// absolute path without `=>`). The kernel's vDSO has no file and is skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LddListing {
    pub libraries: Vec<PathBuf>,
    pub loader: Option<PathBuf>,
}

pub fn parse_ldd(listing: &str) -> LddListing {
    let mut parsed = LddListing::default();
    for line in listing.lines().map(str::trim) {
        let without_address = line.rsplit_once(" (0x").map_or(line, |(head, _)| head).trim();
        match without_address.split_once("=>") {
            Some((_, path)) => {
                let path = path.trim();
                if path.starts_with('/') {
                    parsed.libraries.push(PathBuf::from(path));
                }
            }
            None if without_address.starts_with('/') => {
                parsed.loader = Some(PathBuf::from(without_address));
            }
            None => {}
        }
    }
    parsed
}

/// The command an init started through the kit uses to run its own binary again
/// (`shoal cloud-init`): through the same loader when it was started through one.
pub fn self_command() -> io::Result<Command> {
    match (std::env::var_os(LOADER_ENV), std::env::var_os(BINARY_ENV)) {
        (Some(loader), Some(binary)) => {
            let loader = PathBuf::from(loader);
            let mut cmd = Command::new(&loader);
            cmd.arg("--library-path").arg(loader.parent().unwrap_or(Path::new("/"))).arg(binary);
            Ok(cmd)
        }
        _ => Ok(Command::new(std::env::current_exe()?)),
    }
}

/// The environment [`self_command`] reads, for an init started with [`InitKit::argv`].
pub fn self_command_env(kit: &InitKit, lib_inside: &Path, binary: &Path) -> Vec<String> {
    match &kit.loader {
        Some(loader) => vec![
            format!("{LOADER_ENV}={}", lib_inside.join(loader).display()),
            format!("{BINARY_ENV}={}", binary.display()),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLIBC_LISTING: &str = "\tlinux-vdso.so.1 (0x00007ffd6a9f2000)\n\
        \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f0e1c5a0000)\n\
        \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f0e1c4c1000)\n\
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e1c2e0000)\n\
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f0e1d9f6000)\n";

    #[test]
    fn ldd_listing_gives_libraries_and_loader_without_the_vdso() {
        let parsed = parse_ldd(GLIBC_LISTING);
        assert_eq!(
            parsed.libraries,
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libm.so.6",
                "/lib/x86_64-linux-gnu/libc.so.6"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(parsed.loader, Some(PathBuf::from("/lib64/ld-linux-x86-64.so.2")));
    }

    #[test]
    fn a_static_binary_has_no_loader() {
        assert_eq!(parse_ldd("\tnot a dynamic executable\n"), LddListing::default());
    }

    #[test]
    fn argv_goes_through_the_loader_only_when_there_is_one() {
        let lib = Path::new("/run/shoal/lib");
        let bin = Path::new("/run/shoal/shoal");
        let dynamic = InitKit { lib_dir: "/x".into(), loader: Some("ld-linux-x86-64.so.2".into()) };
        assert_eq!(
            dynamic.argv(lib, bin, &["instance-init", "/run/shoal"]),
            [
                "/run/shoal/lib/ld-linux-x86-64.so.2",
                "--library-path",
                "/run/shoal/lib",
                "/run/shoal/shoal",
                "instance-init",
                "/run/shoal"
            ]
        );
        let fixed = InitKit { lib_dir: "/x".into(), loader: None };
        assert_eq!(fixed.argv(lib, bin, &["instance-init"]), ["/run/shoal/shoal", "instance-init"]);
    }

    #[test]
    fn this_test_binary_gets_a_kit_that_runs_it() {
        let exe = std::env::current_exe().unwrap();
        let dir = std::env::temp_dir().join(format!("shoal-initkit-{}", std::process::id()));
        let kit = InitKit::prepare(&exe, &dir).unwrap();
        if let Some(loader) = &kit.loader {
            // The copied loader runs the binary from the copied libraries alone.
            let out = Command::new(dir.join(loader))
                .arg("--library-path")
                .arg(&dir)
                .arg(&exe)
                .arg("--list")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
