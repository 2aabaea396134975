//! Where the Instance Metadata Service listens: `169.254.169.254:80` inside each
//! instance's network namespace. `attach` puts the address on the namespace's `lo` (the
//! namespace belongs to the daemon's user namespace, so root inside the instance cannot
//! remove it); the metadata controller (`control::metadata`) makes one listener per
//! instance here and the front (`api::imds`) knows the instance by the listener that
//! accepted, so an instance only ever reaches its own.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::VpcNet;

/// The link-local address EC2 serves instance metadata at.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Its port (plain HTTP, as on EC2).
pub const PORT: u16 = 80;

/// An attached instance's namespace, for the metadata service to listen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub instance_id: String,
    pub ns: PathBuf,
    /// The namespace's device and inode: a reboot makes a new namespace (and a listener
    /// in the old one would serve nobody), so a changed identity means listen again.
    pub identity: (u64, u64),
}

impl VpcNet {
    /// The attached instance's namespace, while it has one.
    pub fn metadata_endpoint(&self, instance_id: &str) -> Option<Endpoint> {
        let vpc_id = self.attached.lock().unwrap().get(instance_id)?.vpc_id.clone();
        let ns = self.instance_ns(&vpc_id, instance_id);
        let meta = std::fs::metadata(&ns).ok()?;
        Some(Endpoint { instance_id: instance_id.into(), ns, identity: (meta.dev(), meta.ino()) })
    }
}

/// A listener on `169.254.169.254:80` made inside the namespace at `ns` (by a short-lived
/// thread that entered it: a socket stays in the namespace it was made in). Non-blocking,
/// for tokio.
pub fn listen(ns: &Path) -> io::Result<TcpListener> {
    let file = std::fs::File::open(ns)?;
    std::thread::spawn(move || -> io::Result<TcpListener> {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)?;
        let listener = TcpListener::bind((ADDRESS, PORT))?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    })
    .join()
    .map_err(|_| io::Error::other("the metadata listener's thread panicked"))?
}
