//! Network accounting on the real runtime: an instance (the real `shoal` init, in its
//! own cgroups) runs the lab app on loopback; what we upload to it and download from it
//! shows in its BPF counters. A second driver over the same data dir (a restarted
//! daemon) takes the counting over. Nothing is left behind: no process, no cgroup
//! directory (removing a cgroup detaches its programs).
//!
//! Skips, saying why, where the OS does not allow BPF or has no cgroup2; where it does
//! (root on Linux with cgroup2), it must pass.

use std::path::PathBuf;
use std::time::Duration;

use shoal::runtime::process::ProcessDriver;
use shoal::runtime::{BootSpec, Driver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INSTANCE: &str = "i-0e7acc0000000ne7";
const UPLOAD: usize = 1 << 20;
const MESSAGE: usize = 300_000;

/// One HTTP/1.1 request on a fresh connection; the whole response.
async fn request(port: u16, method: &str, body: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "{method} / HTTP/1.1\r\nhost: app\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    out
}

async fn wait_for_app(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the instance's app never listened on port {port}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Stops the instance and removes its disk and cgroups, and the driver's scope, even
/// when an assertion fails halfway.
struct Cleanup {
    driver: ProcessDriver,
    data_dir: PathBuf,
    record: Option<shoal_model::ec2::instance::ProcessRecord>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Drop cannot await: stop the instance on a runtime of its own thread.
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread().enable_time().build();
                rt.expect("runtime").block_on(self.driver.shutdown(
                    INSTANCE,
                    self.record.as_ref(),
                    Duration::from_secs(1),
                ));
            });
        });
        let _ = self.driver.delete_disk(INSTANCE);
        self.driver.release();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_traffic_is_counted_by_bpf_on_its_cgroup() {
    let data_dir = std::env::temp_dir().join(format!("shoal-it-netacct-{}", std::process::id()));
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_shoal"));
    let driver = ProcessDriver::new(&data_dir, exe.clone(), true).unwrap();
    if let Err(why) = driver.network_accounting() {
        println!("skipped: network accounting unavailable here: {why}");
        drop(Cleanup { driver, data_dir, record: None });
        return;
    }
    driver.ensure_base_image("ami-netacct").unwrap();
    driver.prepare_disk(INSTANCE, "ami-netacct").unwrap();
    let root = driver.disk_path(INSTANCE);
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/message"), "x".repeat(MESSAGE)).unwrap();
    let port = free_port();
    let spec = BootSpec {
        instance_id: INSTANCE.into(),
        env: vec![("PRIVATE_IP".into(), "127.0.0.1".into())],
        user_data: Some(
            format!(
                "#!/bin/sh\nexec \"$SHOAL_BIN\" app --dir \"$INSTANCE_ROOT/app\" --port {port}\n"
            )
            .into_bytes(),
        ),
        vcpus: 1,
        memory_mib: 512,
        stop_grace: Duration::from_secs(1),
        network: None,
        packet_filter: None,
        resolv_conf: None,
        first_boot: true,
        authorized_key: None,
    };
    let record = driver.boot(&spec).unwrap();
    let cleanup = Cleanup { driver, data_dir, record: Some(record) };
    let driver = &cleanup.driver;
    wait_for_app(port).await;

    let before = driver.network(INSTANCE).expect("counted");
    let ok = request(port, "POST", &vec![b'u'; UPLOAD]).await;
    assert!(
        ok.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&ok[..40.min(ok.len())])
    );
    let page = request(port, "GET", b"").await;
    assert!(page.len() > MESSAGE);
    let after = driver.network(INSTANCE).expect("counted");
    let d = after.since(before);
    println!("uploaded {UPLOAD} B, downloaded {} B: counted {d:?}", page.len() + ok.len());
    // Counted at the IP layer: payload plus TCP/IP headers, never less than the payload.
    assert!(d.bytes_in >= UPLOAD as u64, "in {} < {UPLOAD}", d.bytes_in);
    assert!(d.bytes_out >= (page.len() + ok.len()) as u64, "out {}", d.bytes_out);
    assert!(d.bytes_in < 2 * UPLOAD as u64 + MESSAGE as u64, "only this instance's traffic");
    assert!(d.packets_in > 0 && d.packets_out > 0);

    // A restarted daemon adopts the instance and counts from zero; the old programs are
    // replaced, not stacked.
    let adopted = ProcessDriver::new(&cleanup.data_dir, exe, true).unwrap();
    let start = adopted.network(INSTANCE).expect("adopted instance counted");
    assert!(start.bytes_in < UPLOAD as u64, "counting restarted: {start:?}");
    let old = driver.network(INSTANCE).unwrap();
    request(port, "POST", &vec![b'v'; UPLOAD]).await;
    let grown = adopted.network(INSTANCE).unwrap().since(start);
    assert!(grown.bytes_in >= UPLOAD as u64, "{grown:?}");
    assert_eq!(driver.network(INSTANCE).unwrap(), old, "the replaced programs count no more");
    drop(adopted);

    let scope = driver.cgroups().v2_scope().unwrap().to_path_buf();
    assert!(scope.join(INSTANCE).is_dir());
    drop(cleanup);
    assert!(!scope.exists(), "{} left behind", scope.display());
}
