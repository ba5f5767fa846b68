//! What `/proc/PID/status`, `/proc/PID/stat` and `/proc/PID/fd` say about a process: its memory
//! (`VmRSS`, `VmHWM`), its minor page faults, its CPU time and its open file descriptors. Used
//! to bound a broker's memory under hostile load, to see that connections do not leak, and by
//! the benchmarks to say where the CPU went.

use std::fmt;

/// The memory of a process, in KiB, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since the process started (`VmHWM`).
    pub hwm_kib: u64,
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VmRSS {:.1} MiB, VmHWM {:.1} MiB",
            self.rss_kib as f64 / 1024.0,
            self.hwm_kib as f64 / 1024.0
        )
    }
}

/// Reads `VmRSS` and `VmHWM` of process `pid`.
///
/// # Panics
///
/// If the process is gone or the fields are missing (not Linux).
pub fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/status: {err} (is the process alive?)"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

/// The minor page faults of process `pid` so far (`minflt`, field 10 of `/proc/PID/stat`).
///
/// # Panics
///
/// If the process is gone or the file has another shape.
pub fn minor_faults(pid: u32) -> u64 {
    stat_field(pid, 10, "minflt")
}

/// The CPU time process `pid` has used so far, user and system (`utime` + `stime`, fields 14
/// and 15 of `/proc/PID/stat`).
///
/// # Panics
///
/// If the process is gone or the file has another shape.
pub fn cpu_time(pid: u32) -> std::time::Duration {
    let ticks = stat_field(pid, 14, "utime") + stat_field(pid, 15, "stime");
    // SAFETY: sysconf only reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).unwrap_or(100).max(1);
    std::time::Duration::from_micros(ticks * 1_000_000 / per_second)
}

/// Field `number` (counted from 1, as in proc(5)) of `/proc/PID/stat`, a number.
fn stat_field(pid: u32, number: usize, name: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/stat: {err} (is the process alive?)"));
    // The command name (field 2) may hold spaces; the fields after its `)` are plain.
    let after_name = &stat[stat.rfind(')').expect("(comm) in /proc/PID/stat") + 1..];
    after_name
        .split_whitespace()
        .nth(number - 3)
        .and_then(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/stat: {stat}"))
}

/// The number of open file descriptors of process `pid`.
///
/// # Panics
///
/// If `/proc/PID/fd` cannot be read.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/fd: {err}"))
        .count()
}
