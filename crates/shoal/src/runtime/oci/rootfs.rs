//! Root filesystems on the host's side: copying trees as they are, removing overlay
//! whiteouts, and shifting owners into the instances' id range.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{HOST_ID_BASE, ID_COUNT};
use crate::runtime::disk;

pub(super) fn is_mount_point(path: &Path) -> bool {
    let (Ok(me), Some(parent)) = (fs::metadata(path), path.parent()) else {
        return false;
    };
    fs::metadata(parent).map(|p| p.dev() != me.dev()).unwrap_or(false)
}

/// Copies a tree with owners, modes, links and special files (`cp -a`; reflinks where
/// the filesystem can).
pub(super) fn copy_preserving(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    let status = Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg(format!("{}/.", src.display()))
        .arg(dst)
        .stdin(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("cp -a {} failed: {status}", src.display())))
    }
}

/// Removes overlayfs whiteouts (0/0 character devices: files a layer deleted) from a
/// tree made by copying layers one over another.
pub(super) fn remove_whiteouts(root: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            if meta.file_type().is_char_device() && meta.rdev() == 0 {
                fs::remove_file(&path)?;
            } else if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(())
}

/// Adds `base` to every owner in the tree, so ids inside the user namespace own it.
/// chown clears setuid/setgid bits, so the mode is put back afterwards.
pub(super) fn shift_ids(root: &Path, base: u32) -> io::Result<()> {
    let meta = fs::symlink_metadata(root)?;
    if meta.uid() >= base && meta.uid() < base + ID_COUNT {
        return Ok(()); // already shifted (import of a shifted tree)
    }
    shift_one(root, &meta, base)?;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            shift_one(&path, &meta, base)?;
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    Ok(())
}

fn shift_one(path: &Path, meta: &fs::Metadata, base: u32) -> io::Result<()> {
    let (uid, gid) = (meta.uid() % ID_COUNT + base, meta.gid() % ID_COUNT + base);
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

/// The base build with its owners shifted, made once beside it (`rootfs-uid<base>`).
pub(super) fn shifted_base(base_rootfs: &Path) -> io::Result<PathBuf> {
    let parent = base_rootfs.parent().unwrap_or(Path::new("/"));
    let shifted = parent.join(format!("rootfs-uid{HOST_ID_BASE}"));
    if shifted.join("etc/os-release").exists() && parent.join("shifted-complete").exists() {
        return Ok(shifted);
    }
    let work = parent.join(format!(".shifting-{}", std::process::id()));
    disk::remove_tree(&work)?;
    copy_preserving(base_rootfs, &work)?;
    shift_ids(&work, HOST_ID_BASE)?;
    disk::remove_tree(&shifted)?;
    fs::rename(&work, &shifted)?;
    fs::write(parent.join("shifted-complete"), "")?;
    // No one but the daemon walks to it: overlayfs reaches its lower layer with the
    // mounter's credentials.
    Ok(shifted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifting_ids_keeps_modes_and_setuid_bits() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: chown needs root");
            return;
        }
        let dir = std::env::temp_dir().join(format!("shoal-shift-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("usr/bin")).unwrap();
        let sudo = dir.join("usr/bin/sudo");
        fs::write(&sudo, "x").unwrap();
        std::os::unix::fs::chown(&sudo, Some(0), Some(0)).unwrap();
        fs::set_permissions(&sudo, fs::Permissions::from_mode(0o4755)).unwrap();
        let home = dir.join("home");
        fs::create_dir(&home).unwrap();
        std::os::unix::fs::chown(&home, Some(1000), Some(1000)).unwrap();
        std::os::unix::fs::symlink("usr/bin", dir.join("bin")).unwrap();
        shift_ids(&dir, HOST_ID_BASE).unwrap();
        let meta = fs::symlink_metadata(&sudo).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (HOST_ID_BASE, HOST_ID_BASE));
        assert_eq!(meta.mode() & 0o7777, 0o4755);
        assert_eq!(fs::metadata(&home).unwrap().uid(), HOST_ID_BASE + 1000);
        assert_eq!(fs::symlink_metadata(dir.join("bin")).unwrap().uid(), HOST_ID_BASE);
        // A second pass changes nothing.
        shift_ids(&dir, HOST_ID_BASE).unwrap();
        assert_eq!(fs::metadata(&home).unwrap().uid(), HOST_ID_BASE + 1000);
        fs::remove_dir_all(&dir).unwrap();
    }
}
