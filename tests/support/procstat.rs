//! What `/proc/PID/status`, `/proc/PID/stat` and `/proc/PID/fd` say about a process: its memory
//! (`VmRSS`, `VmHWM`), its minor page faults and its open file descriptors. Used to bound a broker's memory under hostile load and to see
//! that connections do not leak.

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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|err| panic!("/proc/{pid}/stat: {err} (is the process alive?)"));
    // The command name (field 2) may hold spaces; the fields after its `)` are plain.
    let after_name = &stat[stat.rfind(')').expect("(comm) in /proc/PID/stat") + 1..];
    after_name
        .split_whitespace()
        .nth(7)
        .and_then(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("no minflt in /proc/{pid}/stat: {stat}"))
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
