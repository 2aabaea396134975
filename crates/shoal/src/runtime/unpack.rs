//! What `shoal image import` takes besides a directory: a root-filesystem tarball, or an
//! image archive as `docker save`, `podman save` or `skopeo copy … oci-archive:` write
//! it. Unpacking uses the system's `tar` (it knows every compression those tools use
//! and refuses members that climb out with `..`); this module only decides what the
//! archive is and applies an image's layers in order, with OCI's whiteouts.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What a file given to `shoal image import` turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A tarball of a root filesystem, unpacked as it is.
    RootFs,
    /// An OCI image layout (`index.json` and `blobs/`), or `docker save`'s `manifest.json`:
    /// its layers are applied one over the other.
    Image,
}

/// Unpacks `archive` into `rootfs` (created empty), using `work` for scratch space.
pub fn unpack(archive: &Path, rootfs: &Path, work: &Path) -> io::Result<ArchiveKind> {
    fs::create_dir_all(rootfs)?;
    let members = list(archive)?;
    let at_top = |name: &str| members.iter().any(|m| m.trim_start_matches("./") == name);
    if !(at_top("index.json") || at_top("manifest.json")) {
        extract(archive, rootfs, false)?;
        return Ok(ArchiveKind::RootFs);
    }
    let layout = work.join("archive");
    fs::create_dir_all(&layout)?;
    extract(archive, &layout, false)?;
    for layer in layers(&layout)? {
        apply_layer(&layer, rootfs)?;
    }
    Ok(ArchiveKind::Image)
}

/// The layer files of an image archive, lowest first.
fn layers(layout: &Path) -> io::Result<Vec<PathBuf>> {
    if layout.join("index.json").exists() {
        let mut doc = read_json(&layout.join("index.json"))?;
        // An index (or a manifest list) names manifests; follow it to one for this machine.
        for _ in 0..4 {
            if let Some(layers) = doc.get("layers").and_then(Value::as_array) {
                return layers.iter().map(|l| blob(layout, &l["digest"])).collect();
            }
            let manifests = doc["manifests"]
                .as_array()
                .filter(|m| !m.is_empty())
                .ok_or_else(|| invalid("the image index names no manifest"))?;
            let chosen = manifests
                .iter()
                .find(|m| {
                    m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64"
                })
                .unwrap_or(&manifests[0]);
            doc = read_json(&blob(layout, &chosen["digest"])?)?;
        }
        return Err(invalid("the image index nests too deeply"));
    }
    // `docker save` before OCI layouts: [{"Config": …, "Layers": ["<id>/layer.tar", …]}].
    let manifest = read_json(&layout.join("manifest.json"))?;
    manifest[0]["Layers"]
        .as_array()
        .ok_or_else(|| invalid("manifest.json lists no layers"))?
        .iter()
        .map(|l| inside(layout, l.as_str().unwrap_or_default()))
        .collect()
}

/// The file of a blob named by its digest (`sha256:<hex>`).
fn blob(layout: &Path, digest: &Value) -> io::Result<PathBuf> {
    let digest = digest.as_str().ok_or_else(|| invalid("a descriptor has no digest"))?;
    let (algorithm, hex) =
        digest.split_once(':').ok_or_else(|| invalid(&format!("bad digest {digest}")))?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(&format!("bad digest {digest}")));
    }
    inside(layout, &format!("blobs/{algorithm}/{hex}"))
}

/// `relative` under `root`, refusing paths that leave it.
fn inside(root: &Path, relative: &str) -> io::Result<PathBuf> {
    let rel = Path::new(relative.trim_start_matches("./"));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(invalid(&format!("path {relative} leaves the archive")));
    }
    Ok(root.join(rel))
}

/// Applies one layer: first its whiteouts (`.wh.<name>` deletes `<name>` below it,
/// `.wh..wh..opq` empties its directory), then its files.
fn apply_layer(layer: &Path, rootfs: &Path) -> io::Result<()> {
    for member in list(layer)? {
        let member = member.trim_start_matches("./").trim_end_matches('/');
        let path = Path::new(member);
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(hidden) = name.strip_prefix(".wh.") else { continue };
        let dir =
            inside(rootfs, &path.parent().map_or(String::new(), |p| p.display().to_string()))?;
        if hidden == ".wh..opq" {
            if let Ok(entries) = fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    remove(&entry.path())?;
                }
            }
        } else {
            remove(&inside(&dir, hidden)?)?;
        }
    }
    extract(layer, rootfs, true)
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    }
}

/// The members of a tar archive (any compression `tar` detects).
fn list(archive: &Path) -> io::Result<Vec<String>> {
    let out = Command::new("tar").arg("-tf").arg(archive).output()?;
    if !out.status.success() {
        return Err(invalid(&format!(
            "{} is not a tar archive: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

/// Extracts `archive` into `dir`, keeping numeric owners (as root) and, for a layer,
/// leaving out its whiteout markers.
fn extract(archive: &Path, dir: &Path, layer: bool) -> io::Result<()> {
    let mut tar = Command::new("tar");
    tar.arg("-xf").arg(archive).arg("-C").arg(dir).arg("--numeric-owner");
    if layer {
        tar.arg("--exclude=.wh.*");
    }
    let out = tar.output()?;
    if !out.status.success() {
        return Err(invalid(&format!(
            "cannot unpack {}: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn read_json(path: &Path) -> io::Result<Value> {
    serde_json::from_slice(&fs::read(path)?)
        .map_err(|e| invalid(&format!("{} is not JSON: {e}", path.display())))
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_archive_are_refused() {
        let root = Path::new("/x");
        assert_eq!(inside(root, "./a/b").unwrap(), Path::new("/x/a/b"));
        assert!(inside(root, "../etc").is_err());
        assert!(inside(root, "/etc").is_err());
        assert!(blob(root, &Value::from("sha256:../../x")).is_err());
        assert_eq!(
            blob(root, &Value::from("sha256:abc123")).unwrap(),
            Path::new("/x/blobs/sha256/abc123")
        );
    }
}
