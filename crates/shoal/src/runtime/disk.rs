//! Root directories ("disks"): an image is a directory tree; an instance's disk is a
//! copy of it, so nothing an instance does changes its image.

use std::fs;
use std::io;
use std::path::Path;

/// Copies `src` into `dst` (created), preserving permissions and symlinks.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    fs::set_permissions(dst, fs::metadata(src)?.permissions())?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else if kind.is_file() {
            // std::fs::copy uses copy_file_range, which reflinks where the filesystem can.
            fs::copy(&from, &to)?;
        }
        // Sockets and fifos are runtime state, not disk contents: skipped.
    }
    Ok(())
}

/// Removes a tree if present.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes an executable file.
pub fn write_executable(path: &Path, contents: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

/// The built-in base image: an empty Linux-like root with the few commands the lab
/// uses (`service`, `stress`) as shims over Shoal's own binary.
pub fn write_base_image(root: &Path) -> io::Result<()> {
    for dir in ["etc", "home/ec2-user", "tmp", "var/log", "var/lib/cloud", "run", "opt"] {
        fs::create_dir_all(root.join(dir))?;
    }
    fs::write(root.join("etc/os-release"), "NAME=\"Shoal Linux\"\nID=shoal\nPRETTY_NAME=\"Shoal base image (Amazon Linux 2023 stand-in)\"\n")?;
    write_executable(&root.join("bin/stress"), "#!/bin/sh\n# stress(1) for the lab: burns CPU inside this instance.\nexec \"$SHOAL_BIN\" stress \"$@\"\n")?;
    write_executable(
        &root.join("bin/service"),
        r#"#!/bin/sh
# service NAME start|stop|restart|status, for daemons started with etc/init.d/NAME.
name="$1"; action="$2"
script="$INSTANCE_ROOT/etc/init.d/$name"
[ -x "$script" ] || { echo "$name: unrecognized service" >&2; exit 1; }
exec "$script" "$action"
"#,
    )?;
    write_executable(
        &root.join("bin/sudo"),
        "#!/bin/sh\n# Everything in an instance already runs as its owner.\nexec \"$@\"\n",
    )?;
    Ok(())
}
