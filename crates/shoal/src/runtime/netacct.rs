//! Per-instance network accounting, the way systemd's `IPAccounting=` does it: two tiny
//! `BPF_PROG_TYPE_CGROUP_SKB` programs attached to the instance's cgroup v2 directory
//! (ingress and egress) atomically add each packet's `skb->len` and a packet count to a
//! two-entry BPF array map (key 0 = in, key 1 = out), which the daemon reads when it
//! samples. Cgroup skb hooks see every packet of the cgroup's sockets, loopback
//! included, so traffic between the load balancer and an instance's `127.x.y.z`
//! address is counted.
//!
//! The programs are fourteen hand-assembled instructions and everything goes through
//! `bpf(2)` directly: no BPF toolchain at build time, no loader crate (`aya` and the
//! like load compiled ELF objects, which would need one). This module holds the only
//! `unsafe` of the accounting: the syscall and taking ownership of the descriptors it
//! returns.
//!
//! Where the OS refuses (no cgroup2, `bpf(2)` not permitted, an older kernel without
//! BPF atomics), [`NetAccounting`] says why once and reports nothing; everything else
//! works as before.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::cgroup::NoCgroup2;
use super::NetCounters;

// Constants of the kernel's BPF ABI (include/uapi/linux/bpf.h).
const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_ATTACH: u32 = 8;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
const BPF_CGROUP_INET_INGRESS: u32 = 0;
const BPF_CGROUP_INET_EGRESS: u32 = 1;
const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
const BPF_PSEUDO_MAP_FD: u8 = 1;

/// Map key of each direction; the value is `[bytes, packets]` (two `u64`).
const KEY_IN: u32 = 0;
const KEY_OUT: u32 = 1;

/// One BPF instruction (`struct bpf_insn`): opcode, `dst_reg:4 | src_reg:4`, offset,
/// immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | (dst & 0x0f), off, imm }
}

// Opcodes used below (class | op | source / size | mode).
const MOV64_REG: u8 = 0x07 | 0xb0 | 0x08; // BPF_ALU64 | BPF_MOV | BPF_X
const MOV64_IMM: u8 = 0x07 | 0xb0; // BPF_ALU64 | BPF_MOV | BPF_K
const ADD64_IMM: u8 = 0x07; // BPF_ALU64 | BPF_ADD | BPF_K
const ST_W_IMM: u8 = 0x02 | 0x60; // BPF_ST | BPF_MEM | BPF_W
const LDX_W: u8 = 0x01 | 0x60; // BPF_LDX | BPF_MEM | BPF_W
const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const ATOMIC_DW: u8 = 0x03 | 0xc0 | 0x18; // BPF_STX | BPF_ATOMIC | BPF_DW (imm BPF_ADD = 0)
const CALL: u8 = 0x05 | 0x80; // BPF_JMP | BPF_CALL
const JEQ_IMM: u8 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const EXIT: u8 = 0x05 | 0x90; // BPF_JMP | BPF_EXIT

/// The counting program for one direction: look up `key` in the map and atomically add
/// `skb->len` (offset 0 of `struct __sk_buff`) and 1 to its `[bytes, packets]`; always
/// return 1 (let the packet through).
fn counting_program(map_fd: RawFd, key: u32) -> [Insn; 14] {
    [
        insn(MOV64_REG, 6, 1, 0, 0),                     // r6 = ctx
        insn(ST_W_IMM, 10, 0, -4, key as i32),           // *(u32 *)(fp - 4) = key
        insn(MOV64_REG, 2, 10, 0, 0),                    // r2 = fp
        insn(ADD64_IMM, 2, 0, 0, -4),                    // r2 = &key
        insn(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, 0, map_fd), // r1 = map
        insn(0, 0, 0, 0, 0),                             // (upper half of the 64-bit immediate)
        insn(CALL, 0, 0, 0, BPF_FUNC_MAP_LOOKUP_ELEM),   // r0 = &value or NULL
        insn(JEQ_IMM, 0, 0, 4, 0),                       // if r0 == NULL goto out
        insn(LDX_W, 1, 6, 0, 0),                         // r1 = skb->len
        insn(ATOMIC_DW, 0, 1, 0, 0),                     // lock *(u64 *)(r0 + 0) += r1
        insn(MOV64_IMM, 1, 0, 0, 1),                     // r1 = 1
        insn(ATOMIC_DW, 0, 1, 8, 0),                     // lock *(u64 *)(r0 + 8) += r1
        insn(MOV64_IMM, 0, 0, 0, 1),                     // out: r0 = 1 (allow)
        insn(EXIT, 0, 0, 0, 0),
    ]
}

// The leading members of `union bpf_attr` each command reads. The kernel accepts a
// shorter attribute than its own as long as what it does not receive is zero.

#[repr(C)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

#[repr(C)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
///
/// # Safety
/// `attr` must be the attribute layout the kernel expects for `cmd`, and every pointer
/// in it must point to live memory of the size the kernel will read or write through it.
#[allow(unsafe_code)]
unsafe fn bpf<T>(cmd: u32, attr: &mut T) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<T>() as libc::c_uint;
    // SAFETY: upheld by the caller (see above); `attr` is valid for `size` bytes.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A `bpf(2)` command that returns a new file descriptor.
///
/// # Safety
/// As for [`bpf`], and `cmd` must be one that returns a new descriptor on success.
#[allow(unsafe_code)]
unsafe fn bpf_fd<T>(cmd: u32, attr: &mut T) -> io::Result<OwnedFd> {
    // SAFETY: upheld by the caller.
    let fd = unsafe { bpf(cmd, attr)? };
    // SAFETY: on success these commands return a descriptor the kernel just installed
    // in our table and that nothing else refers to: we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn name(s: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..s.len().min(15)].copy_from_slice(&s.as_bytes()[..s.len().min(15)]);
    out
}

#[allow(unsafe_code)]
fn create_map() -> io::Result<OwnedFd> {
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 16,
        max_entries: 2,
        map_flags: 0,
        inner_map_fd: 0,
        numa_node: 0,
        map_name: name("shoal_net"),
    };
    // SAFETY: a map-create attribute holds no pointers.
    unsafe { bpf_fd(BPF_MAP_CREATE, &mut attr) }
}

#[allow(unsafe_code)]
fn load_program(map: &OwnedFd, key: u32, attach_type: u32) -> io::Result<OwnedFd> {
    let insns = counting_program(map.as_raw_fd(), key);
    let license = c"GPL";
    let mut log = vec![0u8; 0];
    let attempt = |log: &mut Vec<u8>| {
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_SKB,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            log_buf: if log.is_empty() { 0 } else { log.as_mut_ptr() as u64 },
            kern_version: 0,
            prog_flags: 0,
            prog_name: name(if key == KEY_IN { "shoal_net_in" } else { "shoal_net_out" }),
            prog_ifindex: 0,
            expected_attach_type: attach_type,
        };
        // SAFETY: `insns` (insn_cnt instructions), the NUL-terminated license and the log
        // buffer (log_size bytes, or none) all outlive the call.
        unsafe { bpf_fd(BPF_PROG_LOAD, &mut attr) }
    };
    attempt(&mut log).or_else(|e| {
        // Load again with the verifier's log, so the error says what it refused.
        log = vec![0u8; 8192];
        attempt(&mut log).map_err(|_| {
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            io::Error::new(e.kind(), format!("{e}; verifier: {text}"))
        })
    })
}

#[allow(unsafe_code)]
fn attach(cgroup: &File, prog: &OwnedFd, attach_type: u32) -> io::Result<()> {
    // No flags: one program per hook, and attaching again replaces it (a daemon that
    // restarts re-attaches without piling programs up).
    let mut attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: 0,
    };
    // SAFETY: a prog-attach attribute holds no pointers, only descriptors we own.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr).map(drop) }
}

#[allow(unsafe_code)]
fn lookup(map: &OwnedFd, key: u32) -> io::Result<[u64; 2]> {
    let mut value = [0u64; 2];
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        _pad: 0,
        key: &key as *const u32 as u64,
        value: value.as_mut_ptr() as u64,
        flags: 0,
    };
    // SAFETY: `key` (4 bytes, the map's key size) and `value` (16 bytes, its value
    // size) outlive the call.
    unsafe { bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)? };
    Ok(value)
}

/// The counters of one cgroup: the map its two programs add to. The programs stay
/// attached to the cgroup (and keep the map alive) until the cgroup is removed or
/// another program replaces them.
pub struct Counter {
    map: OwnedFd,
}

impl Counter {
    /// Counts the traffic of the cgroup v2 directory `cgroup` from now on, replacing
    /// whatever programs counted it before.
    pub fn attach(cgroup: &Path) -> io::Result<Counter> {
        let map = create_map()?;
        let dir = File::open(cgroup)?;
        for (key, hook) in [(KEY_IN, BPF_CGROUP_INET_INGRESS), (KEY_OUT, BPF_CGROUP_INET_EGRESS)] {
            let prog = load_program(&map, key, hook)?;
            attach(&dir, &prog, hook)?;
            // The attachment holds the program; our descriptor can go.
        }
        Ok(Counter { map })
    }

    /// Bytes and packets counted so far.
    pub fn read(&self) -> io::Result<NetCounters> {
        let [bytes_in, packets_in] = lookup(&self.map, KEY_IN)?;
        let [bytes_out, packets_out] = lookup(&self.map, KEY_OUT)?;
        Ok(NetCounters { bytes_in, bytes_out, packets_in, packets_out })
    }
}

/// Whether this kernel lets us count: a map created and a counting program verified
/// (and dropped again).
pub fn probe() -> Result<(), Refused> {
    let map = create_map().map_err(Refused::Map)?;
    load_program(&map, KEY_IN, BPF_CGROUP_INET_INGRESS).map(drop).map_err(Refused::Program)
}

/// Why the kernel will not count for us.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("bpf(BPF_MAP_CREATE) refused: {0}")]
    Map(io::Error),
    #[error("bpf(BPF_PROG_LOAD) refused: {0}")]
    Program(io::Error),
}

/// Every instance's counter, for the process driver.
pub struct NetAccounting {
    /// Why nothing is counted, when nothing is.
    unavailable: Option<String>,
    counters: Mutex<HashMap<String, Counter>>,
    /// An attach that fails is logged once, not every sample.
    warned: AtomicBool,
}

impl NetAccounting {
    /// Accounting if instances have cgroup v2 directories (`cgroup2`) and the kernel
    /// lets us load the programs. Logs the outcome once: a refused `bpf(2)` as a
    /// warning, no cgroup2 (or `--no-cgroups`) as information.
    pub fn detect(cgroup2: Result<(), NoCgroup2>) -> NetAccounting {
        const NONE: &str = "network accounting unavailable: no NetworkIn/NetworkOut metrics";
        let unavailable = match cgroup2 {
            Err(why) => {
                tracing::info!(reason = %why, "{NONE}");
                Some(why.to_string())
            }
            Ok(()) => match probe() {
                Ok(()) => {
                    tracing::info!("network accounting: cgroup BPF (NetworkIn/NetworkOut)");
                    None
                }
                Err(why) => {
                    tracing::warn!(reason = %why, "{NONE}");
                    Some(why.to_string())
                }
            },
        };
        NetAccounting { unavailable, counters: Mutex::default(), warned: AtomicBool::new(false) }
    }

    /// Whether traffic is counted, or why not.
    pub fn status(&self) -> Result<(), &str> {
        self.unavailable.as_deref().map_or(Ok(()), Err)
    }

    /// For humans: how network traffic is counted.
    pub fn describe(&self) -> String {
        match &self.unavailable {
            None => "network bytes by cgroup BPF".into(),
            Some(why) => format!("no network accounting ({why})"),
        }
    }

    /// Starts (or restarts from zero) counting the instance's traffic in `cgroup`.
    pub fn start(&self, instance_id: &str, cgroup: &Path) {
        if self.unavailable.is_some() {
            return;
        }
        match Counter::attach(cgroup) {
            Ok(counter) => {
                self.lock().insert(instance_id.to_string(), counter);
            }
            Err(e) => {
                self.lock().remove(instance_id);
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        instance_id,
                        cgroup = %cgroup.display(),
                        error = %e,
                        "could not attach network accounting; that instance has no network metrics"
                    );
                }
            }
        }
    }

    /// The instance's counters since counting started. An instance the daemon adopted
    /// after a restart starts counting now (its cgroup is still there).
    pub fn read(&self, instance_id: &str, cgroup: Option<&Path>) -> Option<NetCounters> {
        if self.unavailable.is_some() {
            return None;
        }
        if !self.lock().contains_key(instance_id) {
            let dir = cgroup.filter(|d| d.is_dir())?;
            self.start(instance_id, dir);
        }
        self.lock().get(instance_id)?.read().ok()
    }

    /// The instance is gone: drop its map (the programs go with its cgroup).
    pub fn forget(&self, instance_id: &str) {
        self.lock().remove(instance_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Counter>> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_have_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::size_of::<MapElemAttr>(), 32);
        // r6 = r1: opcode 0xbf, dst 6 in the low nibble, src 1 in the high one.
        assert_eq!(insn(MOV64_REG, 6, 1, 0, 0), Insn { code: 0xbf, regs: 0x16, off: 0, imm: 0 });
    }

    #[test]
    fn counting_program_adds_len_and_one_and_always_allows() {
        let p = counting_program(7, KEY_OUT);
        assert_eq!(p[1].imm, 1, "the key is the direction");
        assert_eq!((p[4].code, p[4].regs >> 4, p[4].imm), (0x18, BPF_PSEUDO_MAP_FD, 7));
        // The NULL check jumps over the four counting instructions to `r0 = 1`.
        let jeq = p.iter().position(|i| i.code == JEQ_IMM).unwrap();
        let target = jeq + 1 + p[jeq].off as usize;
        assert_eq!(p[target], insn(MOV64_IMM, 0, 0, 0, 1));
        assert_eq!(
            p.iter().filter(|i| i.code == ATOMIC_DW).map(|i| i.off).collect::<Vec<_>>(),
            [0, 8]
        );
        assert_eq!(p.last().unwrap().code, 0x95);
    }
}
