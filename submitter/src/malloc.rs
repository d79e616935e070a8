//! glibc `malloc` settings for a process that decodes images: a job's large buffers are reused
//! by the next job instead of going back to the kernel and being faulted in again.
//!
//! By default glibc serves allocations above a moving threshold (128 KiB at first, raised to
//! the largest block freed so far) with `mmap`, and gives a heap's free top back to the kernel
//! once it exceeds twice that threshold. An image job allocates a few blocks of 0.2-10 MB
//! (decoded pixels, the resized input, the detector tensor) and frees them when it ends, so
//! the free top keeps crossing the trim threshold and the next job writes to fresh pages, each
//! a page fault that zeroes 4 KiB: 130 per 500x500 face job and 810 per 2048x1536 photo in
//! `soyl serve`, ~430 per image in a single-threaded decode + resize + normalise loop. On a VM
//! a fault costs several microseconds (docs/performance.md has the figures).
//!
//! Fixed thresholds end that: blocks under [`MMAP_THRESHOLD`] come from the heap, and each
//! arena keeps up to [`TRIM_THRESHOLD`] of free memory for the next job. The price is resident
//! memory that stays at its working-set peak instead of shrinking between jobs.
//!
//! A `GLIBC_TUNABLES` environment variable that sets any `glibc.malloc.` tunable wins: then
//! nothing is changed here, so an operator can choose other values (or glibc's defaults).

/// Blocks of this size or larger are still mapped on their own, and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory an arena keeps at its top before giving the excess back to the kernel.
pub const TRIM_THRESHOLD: usize = 32 << 20;

/// Where the settings come from, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// The fixed thresholds above are in effect.
    Applied,
    /// `GLIBC_TUNABLES` sets malloc tunables: glibc applied those.
    Operator,
    /// Not glibc, or glibc refused a setting: the allocator's defaults stand.
    Unchanged,
}

/// Applies the thresholds unless the environment sets malloc tunables. They are process-wide
/// (every arena, every thread); call it first in `main`.
pub fn tune() -> Tuning {
    if sets_malloc(std::env::var("GLIBC_TUNABLES").ok().as_deref()) {
        return Tuning::Operator;
    }
    apply()
}

/// Whether a `GLIBC_TUNABLES` value sets any malloc tunable (`name=value` pairs joined by `:`).
fn sets_malloc(tunables: Option<&str>) -> bool {
    tunables.is_some_and(|t| t.split(':').any(|pair| pair.starts_with("glibc.malloc.")))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The workspace's only unsafe call: glibc offers no safe way to set these.
fn apply() -> Tuning {
    let set = |param, value: usize| {
        let value = libc::c_int::try_from(value).expect("the thresholds fit a C int");
        // SAFETY: mallopt only updates glibc's malloc parameters (under its own lock); it
        // takes plain integers and touches no memory of ours.
        unsafe { libc::mallopt(param, value) == 1 }
    };
    if set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) && set(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) {
        Tuning::Applied
    } else {
        Tuning::Unchanged
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> Tuning {
    Tuning::Unchanged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_malloc_tunables_win_and_others_do_not_count() {
        assert!(sets_malloc(Some("glibc.malloc.trim_threshold=1")));
        assert!(sets_malloc(Some(
            "glibc.cpu.hwcaps=-AVX512F:glibc.malloc.arena_max=2"
        )));
        assert!(!sets_malloc(Some("glibc.cpu.hwcaps=-AVX512F")));
        assert!(!sets_malloc(Some("")));
        assert!(!sets_malloc(None));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_both_thresholds() {
        // mallopt refuses an mmap threshold above 32 MiB on 64-bit glibc: a larger constant
        // would leave the defaults in place without a word.
        assert_eq!(apply(), Tuning::Applied);
    }
}
