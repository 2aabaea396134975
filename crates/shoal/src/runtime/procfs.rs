//! Reading processes from `/proc`: the process tree, CPU times and start times.

use std::collections::HashMap;

/// What Shoal needs from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    /// CPU time in clock ticks: own user+system, plus that of reaped children.
    pub own_ticks: u64,
    pub children_ticks: u64,
    /// Start time in ticks since boot; with the pid it names one process for good.
    pub start_ticks: u64,
    pub zombie: bool,
}

/// Parses one `/proc/PID/stat` line. The command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let pid = line.split_whitespace().next()?.parse().ok()?;
    let rest = &line[line.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); field N is f[N - 3].
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcStat {
        pid,
        ppid: num(4)? as u32,
        own_ticks: num(14)? + num(15)?,
        children_ticks: num(16)? + num(17)?,
        start_ticks: num(22)?,
        zombie: f.first() == Some(&"Z"),
    })
}

pub fn stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process now running.
pub fn all() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).filter_map(stat).collect()
}

/// `root` and every process below it.
pub fn tree(root: u32, procs: &[ProcStat]) -> Vec<ProcStat> {
    let mut children: HashMap<u32, Vec<&ProcStat>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out: Vec<ProcStat> = procs.iter().filter(|p| p.pid == root).copied().collect();
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i].pid) {
            out.extend(kids.iter().map(|k| **k));
        }
        i += 1;
    }
    out
}

/// True when `pid` is alive and is the same process that started at `start_ticks`.
pub fn is_same_process(pid: u32, start_ticks: u64) -> bool {
    stat(pid).is_some_and(|s| s.start_ticks == start_ticks && !s.zombie)
}

/// Whether `pid` is the live process that started at `start_ticks`, telling a process
/// that is gone (no such pid, a zombie, a reused pid) from a failed look (EMFILE,
/// EACCES, …), which proves nothing.
pub fn observe(pid: u32, start_ticks: u64) -> super::Liveness {
    use super::Liveness;
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(line) => match parse_stat(&line) {
            Some(s) if s.start_ticks == start_ticks && !s.zombie => Liveness::Alive,
            Some(_) => Liveness::Gone,
            None => Liveness::Unknown(format!("unreadable /proc/{pid}/stat")),
        },
        // ESRCH: the process went away between opening and reading.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => {
            Liveness::Gone
        }
        Err(e) => Liveness::Unknown(e.to_string()),
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map(|t| t as f64)
        .unwrap_or(100.0)
}

/// Processes whose environment carries `SHOAL_INSTANCE_ID=<id>`: the net that
/// catches any process of an instance that escaped its tree.
pub fn with_instance_marker(instance_id: &str) -> Vec<u32> {
    let needle = format!("SHOAL_INSTANCE_ID={instance_id}");
    all()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{}/environ", p.pid))
                .map(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
                .unwrap_or(false)
        })
        .map(|p| p.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_itself_alive_and_a_missing_pid_gone() {
        let me = stat(std::process::id()).unwrap();
        assert_eq!(observe(me.pid, me.start_ticks), super::super::Liveness::Alive);
        assert_eq!(observe(me.pid, me.start_ticks + 1), super::super::Liveness::Gone);
        // Above the kernel's pid_max (at most 2^22): never a process.
        assert_eq!(observe(u32::MAX - 1, 0), super::super::Liveness::Gone);
    }

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 98765 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            (s.pid, s.ppid, s.own_ticks, s.children_ticks, s.start_ticks),
            (4242, 1, 10, 3, 98765)
        );
        assert!(!s.zombie);
    }

    #[test]
    fn finds_itself() {
        let me = std::process::id();
        let s = stat(me).unwrap();
        assert!(is_same_process(me, s.start_ticks));
        assert!(!is_same_process(me, s.start_ticks + 1));
        assert!(tree(1, &all()).iter().any(|p| p.pid == me) || stat(1).is_none());
    }
}
