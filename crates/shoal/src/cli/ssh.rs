//! `shoal ssh ID [-- CMD...]`: runs a command (or a shell) inside an instance.
//!
//! The CLI asks the daemon where the instance's init listens, connects, and hands over
//! its own stdin, stdout and stderr; the command runs as a child of the instance's init
//! (its root, environment, cgroup and CPU accounting) and its exit code comes back.

use std::io::{BufRead, BufReader, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::client::Client;
use crate::runtime::init::{ExecRequest, ExecResult};

/// Returns the command's exit code.
pub async fn run(client: &Client, id: &str, argv: Vec<String>) -> anyhow::Result<i32> {
    let info = client.get(&format!("/_shoal/api/instances/{id}")).await?;
    let state = info["state"].as_str().unwrap_or_default();
    if state != "running" {
        anyhow::bail!("instance {id} is {state}: only a running instance can be reached");
    }
    let socket = info["control_socket"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the daemon gave no control socket"))?
        .to_string();
    tokio::task::spawn_blocking(move || exec(&socket, argv)).await?
}

fn exec(socket: &str, argv: Vec<String>) -> anyhow::Result<i32> {
    let fds = [
        std::io::stdin().as_raw_fd(),
        std::io::stdout().as_raw_fd(),
        std::io::stderr().as_raw_fd(),
    ];
    exec_with(socket, argv, fds)
}

/// Runs `argv` in the instance whose init listens on `socket`, with `fds` as its
/// stdin, stdout and stderr; returns its exit code once it ends.
pub fn exec_with(socket: &str, argv: Vec<String>, fds: [RawFd; 3]) -> anyhow::Result<i32> {
    let stream = UnixStream::connect(socket)
        .map_err(|e| anyhow::anyhow!("cannot reach the instance ({socket}): {e}"))?;
    let request = serde_json::to_vec(&ExecRequest { argv, env: vec![] })?;
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&request)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    if line.trim().is_empty() {
        anyhow::bail!("the instance stopped before the command finished");
    }
    let result: serde_json::Value = serde_json::from_str(&line)?;
    if let Some(err) = result.get("error").and_then(|e| e.as_str()) {
        anyhow::bail!("{err}");
    }
    let result: ExecResult = serde_json::from_value(result)?;
    Ok(result.exit_code)
}
