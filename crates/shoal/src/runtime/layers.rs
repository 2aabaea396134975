//! The layer store of container instances: an image is a stack of read-only layers,
//! an instance's disk is a copy-on-write layer over its image's stack (overlayfs).
//!
//! Layout under the driver's directory:
//! - `layers/<id>/`: one read-only layer (the base layer is a symlink to the shared,
//!   id-shifted base image build);
//! - `images/<ami>/layers`: the image's stack, one layer id per line, topmost first;
//! - `instances/<i>/layers`: the stack the instance's disk was made over, copied at
//!   launch, so deregistering its image later takes nothing from under it.
//!
//! CreateImage freezes a copy of the instance's upper layer (its changes only) on top of
//! the stack it runs over, so images made from one another share their lower layers.
//! A layer is removed once no image and no instance lists it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::disk;

/// Above this depth CreateImage flattens the stack into one layer: overlayfs takes all
/// lower layers in one mount option, which is limited to a page.
pub const MAX_STACK_DEPTH: usize = 24;

const STACK_FILE: &str = "layers";

pub struct LayerStore {
    layers: PathBuf,
    images: PathBuf,
    instances: PathBuf,
    /// Held while references are written and while garbage is collected, so a layer
    /// being made or newly referenced is never collected in between.
    refs: Mutex<()>,
}

/// Where an image's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stack {
    /// Layer ids, topmost first.
    Layers(Vec<String>),
    /// A data dir from before layers: one full root at `images/<ami>/root`.
    Legacy(PathBuf),
}

/// What `shoal image usage` reports: the bytes each layer and each instance's own
/// changes take on disk, and who uses which layer.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DiskUsage {
    pub layers: Vec<LayerUsage>,
    pub images: Vec<ImageUsage>,
    pub instances: Vec<InstanceUsage>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LayerUsage {
    pub id: String,
    pub bytes: u64,
    /// Images whose stack holds it.
    pub images: Vec<String>,
    /// Instances whose disks are made over it.
    pub instances: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageUsage {
    pub image_id: String,
    /// Topmost first.
    pub layers: Vec<String>,
    /// Bytes of the layers no other image lists.
    pub unique_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InstanceUsage {
    pub instance_id: String,
    /// The instance's own changes (its copy-on-write layer, or its full copy).
    pub bytes: u64,
    pub layers: Vec<String>,
}

impl LayerStore {
    pub fn new(root: &Path) -> io::Result<LayerStore> {
        let store = LayerStore {
            layers: root.join("layers"),
            images: root.join("images"),
            instances: root.join("instances"),
            refs: Mutex::new(()),
        };
        for dir in [&store.layers, &store.images, &store.instances] {
            fs::create_dir_all(dir)?;
        }
        // A layer still being made when the daemon died is nobody's.
        for entry in fs::read_dir(&store.layers)?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".partial") {
                disk::remove_tree(&entry.path())?;
            }
        }
        Ok(store)
    }

    pub fn layer_path(&self, id: &str) -> PathBuf {
        self.layers.join(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.refs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The image's stack; `NotFound` if it has none.
    pub fn image_stack(&self, image_id: &str) -> io::Result<Stack> {
        let dir = self.images.join(image_id);
        match read_stack(&dir) {
            Ok(Some(ids)) => Ok(Stack::Layers(ids)),
            Ok(None) if dir.join("root").exists() => Ok(Stack::Legacy(dir.join("root"))),
            Ok(None) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("image {image_id} has no disk"),
            )),
            Err(e) => Err(e),
        }
    }

    /// The lower directories of an instance's overlay, topmost first.
    pub fn instance_lower_dirs(&self, instance_dir: &Path) -> io::Result<Vec<PathBuf>> {
        match read_stack(instance_dir)? {
            Some(ids) => Ok(ids.iter().map(|id| self.layer_path(id)).collect()),
            None => {
                // Launched before layers: its image's legacy root.
                let image = fs::read_to_string(instance_dir.join("image"))?;
                Ok(vec![self.images.join(image.trim()).join("root")])
            }
        }
    }

    /// The stack an instance's disk is made over, if it was launched with layers.
    pub fn instance_stack(&self, instance_dir: &Path) -> io::Result<Option<Vec<String>>> {
        read_stack(instance_dir)
    }

    /// Records that the instance's disk is made over its image's stack.
    pub fn attach_instance(&self, instance_dir: &Path, image_id: &str) -> io::Result<()> {
        let _refs = self.lock();
        match self.image_stack(image_id)? {
            Stack::Layers(ids) => write_stack(instance_dir, &ids),
            Stack::Legacy(_) => Ok(()),
        }
    }

    /// A new image made of `below` with a new layer on top, filled by `fill` (which
    /// writes a complete tree into the directory it is given).
    pub fn create_image(
        &self,
        image_id: &str,
        below: &[String],
        fill: impl FnOnce(&Path) -> io::Result<()>,
    ) -> io::Result<()> {
        let layer = image_id.to_string();
        let partial = self.layers.join(format!("{layer}.partial"));
        disk::remove_tree(&partial)?;
        fs::create_dir_all(&partial)?;
        if let Err(e) = fill(&partial) {
            let _ = disk::remove_tree(&partial);
            return Err(e);
        }
        let _refs = self.lock();
        let target = self.layer_path(&layer);
        disk::remove_tree(&target)?;
        fs::rename(&partial, &target)?;
        let stack: Vec<String> = std::iter::once(layer).chain(below.iter().cloned()).collect();
        write_stack(&self.images.join(image_id), &stack)
    }

    /// An image whose only layer is a symlink to `root` (shared by every data dir).
    pub fn link_image(&self, image_id: &str, layer: &str, root: &Path) -> io::Result<()> {
        let _refs = self.lock();
        let path = self.layer_path(layer);
        if fs::read_link(&path).ok().as_deref() != Some(root) {
            let _ = fs::remove_file(&path);
            std::os::unix::fs::symlink(root, &path)?;
        }
        write_stack(&self.images.join(image_id), &[layer.to_string()])
    }

    /// Forgets the image; its layers go once nothing else lists them.
    pub fn delete_image(&self, image_id: &str) -> io::Result<()> {
        disk::remove_tree(&self.images.join(image_id))?;
        self.collect_garbage()
    }

    /// Removes every layer that no image and no instance lists.
    pub fn collect_garbage(&self) -> io::Result<()> {
        let _refs = self.lock();
        let used = self.references()?;
        for entry in fs::read_dir(&self.layers)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") || used.contains_key(&name) {
                continue;
            }
            let path = entry.path();
            if path.is_symlink() {
                fs::remove_file(&path)?;
            } else {
                disk::remove_tree(&path)?;
            }
        }
        Ok(())
    }

    /// Every listed layer, with the images and instances that list it.
    fn references(&self) -> io::Result<BTreeMap<String, (BTreeSet<String>, usize)>> {
        let mut used: BTreeMap<String, (BTreeSet<String>, usize)> = BTreeMap::new();
        for (image_id, ids) in stacks_in(&self.images)? {
            for id in ids {
                used.entry(id).or_default().0.insert(image_id.clone());
            }
        }
        for (_, ids) in stacks_in(&self.instances)? {
            for id in ids {
                used.entry(id).or_default().1 += 1;
            }
        }
        Ok(used)
    }

    /// The bytes each layer, image and instance takes; `instance_disk` names the
    /// directory holding an instance's own changes.
    pub fn usage(&self, instance_disk: impl Fn(&Path) -> PathBuf) -> io::Result<DiskUsage> {
        let used = {
            let _refs = self.lock();
            self.references()?
        };
        let mut bytes_of = BTreeMap::new();
        let mut layers = Vec::new();
        for entry in fs::read_dir(&self.layers)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                continue;
            }
            let bytes = tree_bytes(&self.layer_path(&name))?;
            bytes_of.insert(name.clone(), bytes);
            let (images, instances) = used.get(&name).cloned().unwrap_or_default();
            layers.push(LayerUsage {
                id: name,
                bytes,
                images: images.into_iter().collect(),
                instances,
            });
        }
        let images = stacks_in(&self.images)?
            .into_iter()
            .map(|(image_id, ids)| {
                let unique_bytes = ids
                    .iter()
                    .filter(|id| used.get(*id).is_some_and(|(imgs, _)| imgs.len() == 1))
                    .filter_map(|id| bytes_of.get(id))
                    .sum();
                ImageUsage { image_id, layers: ids, unique_bytes }
            })
            .collect();
        let mut instances = Vec::new();
        for entry in fs::read_dir(&self.instances)? {
            let entry = entry?;
            let instance_id = entry.file_name().to_string_lossy().into_owned();
            let layers = read_stack(&entry.path())?.unwrap_or_default();
            let bytes = tree_bytes(&instance_disk(&entry.path()))?;
            instances.push(InstanceUsage { instance_id, bytes, layers });
        }
        Ok(DiskUsage { layers, images, instances })
    }
}

fn read_stack(dir: &Path) -> io::Result<Option<Vec<String>>> {
    match fs::read_to_string(dir.join(STACK_FILE)) {
        Ok(text) => Ok(Some(text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Written whole through a temporary file: a crash leaves the old list or the new one.
fn write_stack(dir: &Path, ids: &[String]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let partial = dir.join(".layers.partial");
    fs::write(&partial, ids.join("\n") + "\n")?;
    fs::rename(partial, dir.join(STACK_FILE))
}

fn stacks_in(dir: &Path) -> io::Result<Vec<(String, Vec<String>)>> {
    let mut stacks = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(ids) = read_stack(&entry.path())? {
            stacks.push((entry.file_name().to_string_lossy().into_owned(), ids));
        }
    }
    stacks.sort();
    Ok(stacks)
}

/// Bytes allocated to a tree (as `du` counts them: blocks, each hard link once),
/// following a symlink at its top only.
pub fn tree_bytes(root: &Path) -> io::Result<u64> {
    let top = match fs::metadata(root) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut seen = HashSet::new();
    let mut total = top.blocks() * 512;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let meta = match entry.as_ref().map(|e| e.path().symlink_metadata()) {
                Ok(Ok(meta)) => meta,
                _ => continue, // removed while walking
            };
            if meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry?.path());
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "shoal-layers-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn write(dir: &Path, file: &str, text: &str) -> io::Result<()> {
        fs::write(dir.join(file), text)
    }

    #[test]
    fn images_made_from_one_another_share_their_lower_layers() {
        let root = temp("share");
        let store = LayerStore::new(&root).unwrap();
        store.create_image("ami-base", &[], |d| write(d, "os-release", "debian")).unwrap();
        let Stack::Layers(base) = store.image_stack("ami-base").unwrap() else { panic!() };
        store.create_image("ami-app", &base, |d| write(d, "app", "v1")).unwrap();
        store.create_image("ami-beta", &base, |d| write(d, "app", "v2")).unwrap();
        assert_eq!(
            store.image_stack("ami-beta").unwrap(),
            Stack::Layers(vec!["ami-beta".into(), "ami-base".into()])
        );
        let usage = store.usage(|d| d.join("upper")).unwrap();
        let base_layer = usage.layers.iter().find(|l| l.id == "ami-base").unwrap();
        assert_eq!(base_layer.images, ["ami-app", "ami-base", "ami-beta"]);
        let app = usage.images.iter().find(|i| i.image_id == "ami-app").unwrap();
        // Its own layer only: the base is shared.
        assert_eq!(
            app.unique_bytes,
            usage.layers.iter().find(|l| l.id == "ami-app").unwrap().bytes
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_deregistered_image_keeps_the_layers_others_use() {
        let root = temp("keep");
        let store = LayerStore::new(&root).unwrap();
        store.create_image("ami-base", &[], |d| write(d, "f", "base")).unwrap();
        store.create_image("ami-child", &["ami-base".into()], |d| write(d, "g", "child")).unwrap();
        let instance = root.join("instances/i-1");
        fs::create_dir_all(&instance).unwrap();
        store.attach_instance(&instance, "ami-child").unwrap();

        store.delete_image("ami-base").unwrap();
        assert!(store.layer_path("ami-base").exists(), "ami-child stands on it");
        store.delete_image("ami-child").unwrap();
        assert!(store.layer_path("ami-child").exists(), "i-1 runs over it");
        assert_eq!(
            store.instance_lower_dirs(&instance).unwrap(),
            [store.layer_path("ami-child"), store.layer_path("ami-base")]
        );

        fs::remove_dir_all(&instance).unwrap();
        store.collect_garbage().unwrap();
        assert!(!store.layer_path("ami-child").exists() && !store.layer_path("ami-base").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_failed_fill_leaves_no_image_and_no_layer() {
        let root = temp("fail");
        let store = LayerStore::new(&root).unwrap();
        let failed = store.create_image("ami-x", &[], |_| Err(io::Error::other("disk full")));
        assert!(failed.is_err());
        assert!(store.image_stack("ami-x").is_err());
        assert_eq!(fs::read_dir(root.join("layers")).unwrap().count(), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_linked_layer_is_unlinked_not_emptied() {
        let root = temp("link");
        let shared = temp("link-shared");
        fs::create_dir_all(&shared).unwrap();
        write(&shared, "keep", "me").unwrap();
        let store = LayerStore::new(&root).unwrap();
        store.link_image("ami-base", "base-1", &shared).unwrap();
        assert!(store.usage(|d| d.join("upper")).unwrap().layers[0].bytes > 0);
        store.delete_image("ami-base").unwrap();
        assert!(!store.layer_path("base-1").exists());
        assert!(shared.join("keep").exists());
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&shared).unwrap();
    }

    #[test]
    fn images_from_before_layers_still_resolve() {
        let root = temp("legacy");
        let store = LayerStore::new(&root).unwrap();
        fs::create_dir_all(root.join("images/ami-old/root/etc")).unwrap();
        assert_eq!(
            store.image_stack("ami-old").unwrap(),
            Stack::Legacy(root.join("images/ami-old/root"))
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
