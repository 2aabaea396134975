//! `shoal instance-init`: the first process of every instance, like a VM's init.
//!
//! It starts a new session, becomes a child subreaper (so every daemon an instance
//! starts stays in its tree), joins the instance's cgroups, runs user data on first
//! boot and `etc/rc.local` on every boot, and serves `shoal ssh` over a Unix socket:
//! the client passes its stdin, stdout and stderr (SCM_RIGHTS) and gets the command's
//! exit code back, so the command runs *inside* the instance — its root, its
//! environment, its CPU accounting. On SIGTERM it sends TERM to every process of the
//! instance, waits the grace period, then KILLs what is left, by PID, and exits.
//!
//! It is a small synchronous program (signalfd + poll): it must keep running while the
//! daemon restarts, and it owns all reaping, so nothing else may wait on its children.

use std::collections::{HashMap, VecDeque};
use std::io::{IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::procfs;

/// What the daemon tells an instance's init, written to `boot.json` in the instance dir.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootFile {
    pub instance_id: String,
    pub root: PathBuf,
    pub env: Vec<(String, String)>,
    /// User data to run this boot (first boot only), already decoded to a file.
    pub user_data: Option<PathBuf>,
    /// The instance's own setup, run first (`sshd::setup_script`; container instances
    /// in a VPC network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_setup: Option<PathBuf>,
    pub cgroup_procs: Vec<PathBuf>,
    pub stop_grace_ms: u64,
    pub control_socket: PathBuf,
}

/// One `shoal ssh` request; the three stdio fds travel beside it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The command; empty for an interactive shell.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The answer: the command's exit code (128 + signal when killed).
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecResult {
    pub exit_code: i32,
}

enum Job {
    Boot(&'static str),
    Exec(UnixStream),
}

/// Runs init for the instance directory `dir` until the instance stops.
#[allow(clippy::disallowed_methods)] // a standalone blocking process: std time is right here
pub fn run(dir: &Path) -> anyhow::Result<()> {
    let boot: BootFile = serde_json::from_slice(&std::fs::read(dir.join("boot.json"))?)?;
    let _ = nix::unistd::setsid();
    nix::sys::prctl::set_child_subreaper(true)?;
    for procs in &boot.cgroup_procs {
        // "0" is "the writing process" in both cgroup versions.
        if let Err(e) = std::fs::write(procs, "0") {
            say(&format!("could not join {}: {e}", procs.display()));
        }
    }
    let mut mask = SigSet::empty();
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGCHLD] {
        mask.add(sig);
    }
    mask.thread_block()?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    let _ = std::fs::remove_file(&boot.control_socket);
    let listener = UnixListener::bind(&boot.control_socket)?;
    listener.set_nonblocking(true)?;
    say(&format!("{} booting (init pid {})", boot.instance_id, std::process::id()));

    // Paths are resolved when their turn comes: user data often writes etc/rc.local.
    let mut steps: VecDeque<(&'static str, PathBuf)> = VecDeque::new();
    if let Some(setup) = &boot.instance_setup {
        steps.push_back(("instance setup (ssh keys, sshd, resolv.conf)", setup.clone()));
    }
    if let Some(user_data) = &boot.user_data {
        steps.push_back(("user data", user_data.clone()));
    }
    steps.push_back(("etc/rc.local", boot.root.join("etc/rc.local")));
    let mut jobs: HashMap<i32, Job> = HashMap::new();
    let mut booting = false;
    let mut stop_deadline: Option<std::time::Instant> = None;

    loop {
        if !booting && stop_deadline.is_none() {
            if let Some((what, path)) = steps.pop_front() {
                if !path.exists() {
                    continue;
                }
                let mut cmd = script_command(&path);
                apply_env(&mut cmd, &boot, &[]);
                match cmd.stdin(Stdio::null()).spawn() {
                    Ok(child) => {
                        say(&format!("running {what} (pid {})", child.id()));
                        jobs.insert(child.id() as i32, Job::Boot(what));
                        booting = true;
                    }
                    Err(e) => say(&format!("could not run {what}: {e}")),
                }
                continue;
            }
        }
        let exec_pids: Vec<i32> = jobs
            .iter()
            .filter_map(|(pid, job)| matches!(job, Job::Exec(_)).then_some(*pid))
            .collect();
        let ready: Vec<bool> = {
            let mut fds = vec![
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            ];
            for pid in &exec_pids {
                if let Some(Job::Exec(stream)) = jobs.get(pid) {
                    fds.push(PollFd::new(stream.as_fd(), PollFlags::POLLIN));
                }
            }
            let timeout = if stop_deadline.is_some() { 100u16 } else { 1000 };
            let _ = poll(&mut fds, PollTimeout::from(timeout));
            fds.iter().map(|f| f.any().unwrap_or(false)).collect()
        };

        if ready[0] {
            while let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => {}
                    Ok(sig) if stop_deadline.is_none() => {
                        say(&format!("{sig}: stopping the instance"));
                        stop_deadline = Some(
                            std::time::Instant::now()
                                + std::time::Duration::from_millis(boot.stop_grace_ms),
                        );
                        signal_tree(Signal::SIGTERM);
                    }
                    _ => {}
                }
            }
        }
        reap(&mut jobs, &mut booting);
        if ready[1] {
            while let Ok((stream, _)) = listener.accept() {
                if stop_deadline.is_some() {
                    continue;
                }
                match start_exec(&stream, &boot) {
                    Ok(pid) => {
                        jobs.insert(pid, Job::Exec(stream));
                    }
                    Err(e) => {
                        let _ = writeln!(
                            &stream,
                            "{}",
                            serde_json::json!({"exit_code": 255, "error": e.to_string()})
                        );
                    }
                }
            }
        }
        for (i, pid) in exec_pids.iter().enumerate() {
            if ready.get(2 + i).copied().unwrap_or(false) {
                // The ssh client went away: hang up its command, as sshd does.
                let _ = kill(Pid::from_raw(*pid), Signal::SIGHUP);
                if let Some(Job::Exec(stream)) = jobs.remove(pid) {
                    drop(stream);
                }
            }
        }
        if let Some(deadline) = stop_deadline {
            let others = descendants();
            if others.is_empty() {
                say("stopped");
                let _ = std::fs::remove_file(&boot.control_socket);
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                signal_tree(Signal::SIGKILL);
            }
        }
    }
}

fn say(message: &str) {
    println!("[shoal-init] {message}");
}

/// A script runs directly when it has a `#!` line, otherwise with `sh`, as cloud-init
/// does; `#cloud-config` is run by `shoal cloud-init` (this binary, runtime/cloudinit.rs).
fn script_command(path: &Path) -> Command {
    let head = std::fs::read(path).unwrap_or_default();
    if super::cloudinit::is_cloud_config(&head) {
        if let Ok(mut cmd) = super::initkit::self_command() {
            cmd.arg("cloud-init").arg(path);
            return cmd;
        }
    }
    if head.starts_with(b"#!") {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        Command::new(path)
    } else {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg(path);
        cmd
    }
}

fn apply_env(cmd: &mut Command, boot: &BootFile, extra: &[(String, String)]) {
    cmd.current_dir(&boot.root).env_clear();
    for (k, v) in boot.env.iter().chain(extra) {
        cmd.env(k, v);
    }
    unblock_signals_in_child(cmd);
}

/// Children start with no blocked signals. Init blocks TERM/INT/HUP/CHLD for its
/// signalfd and a blocked mask survives exec, so without this a daemon started by
/// `shoal ssh <id> -- service app start` would ignore `service app stop`'s TERM.
#[allow(unsafe_code)]
fn unblock_signals_in_child(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only calls
    // pthread_sigmask, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| SigSet::empty().thread_set_mask().map_err(std::io::Error::from));
    }
}

fn start_exec(stream: &UnixStream, boot: &BootFile) -> anyhow::Result<i32> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 3]);
    let (len, raw_fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = c {
                fds.extend(received);
            }
        }
        (msg.bytes, fds)
    };
    let owned: Vec<OwnedFd> = raw_fds.into_iter().map(owned_from_received).collect();
    let request: ExecRequest = serde_json::from_slice(&buf[..len])?;
    let [stdin, stdout, stderr]: [OwnedFd; 3] =
        owned.try_into().map_err(|_| anyhow::anyhow!("expected 3 file descriptors"))?;
    let argv = if request.argv.is_empty() {
        vec!["/bin/sh".to_string(), "-i".to_string()]
    } else {
        request.argv
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    apply_env(&mut cmd, boot, &request.env);
    let child = cmd
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()?;
    Ok(child.id() as i32)
}

/// Takes ownership of a descriptor that arrived by SCM_RIGHTS.
#[allow(unsafe_code)]
fn owned_from_received(fd: RawFd) -> OwnedFd {
    // SAFETY: the kernel installed this descriptor in our table for this message; nothing
    // else refers to it, so we are its only owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Reaps every exited child; reports exec results and advances the boot sequence.
fn reap(jobs: &mut HashMap<i32, Job>, booting: &mut bool) {
    loop {
        let (pid, code) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), code),
            Ok(WaitStatus::Signaled(pid, sig, _)) => (pid.as_raw(), 128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => continue,
        };
        match jobs.remove(&pid) {
            Some(Job::Boot(what)) => {
                say(&format!("{what} finished with status {code}"));
                *booting = false;
            }
            Some(Job::Exec(stream)) => {
                let _ = writeln!(&stream, "{}", serde_json::json!({ "exit_code": code }));
            }
            None => {}
        }
    }
}

fn descendants() -> Vec<u32> {
    let me = std::process::id();
    procfs::tree(me, &procfs::all())
        .into_iter()
        .filter(|p| p.pid != me && !p.zombie)
        .map(|p| p.pid)
        .collect()
}

fn signal_tree(sig: Signal) {
    for pid in descendants() {
        let _ = kill(Pid::from_raw(pid as i32), sig);
    }
}
