//! Resource figures of a process, read from Linux's `/proc`: what the abuse and load tests assert
//! on (peak memory of the server under hostile input or load).

/// Peak resident set size ("high water mark", `VmHWM` in `/proc/PID/status`) in bytes; `None` when
/// the process or the field does not exist.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes as mebibytes, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
