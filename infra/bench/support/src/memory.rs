//! The memory of a process, from `/proc/<pid>/status`.

use anyhow::Context;

/// One reading of `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Largest resident set size since the process started (`VmHWM`): the peak,
    /// whatever happened between two readings.
    pub peak_kib: u64,
    /// Resident anonymous memory: heap and stacks (`RssAnon`).
    pub anon_kib: u64,
    /// Resident pages of mapped files: mostly the binary's code (`RssFile`).
    pub file_kib: u64,
    /// Threads of the process.
    pub threads: u64,
}

impl Memory {
    /// Reads the memory of process `pid`.
    pub fn read(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("read /proc/{pid}/status"))?;
        Ok(Self::parse(&status))
    }

    /// The memory described by the text of a `status` file.
    fn parse(status: &str) -> Self {
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
                .unwrap_or_default()
        };
        Self {
            rss_kib: field("VmRSS"),
            peak_kib: field("VmHWM"),
            anon_kib: field("RssAnon"),
            file_kib: field("RssFile"),
            threads: field("Threads"),
        }
    }
}

/// KiB as bytes.
pub fn bytes(kib: u64) -> u64 {
    kib * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_fields_are_read_in_kib() {
        let status = "Name:\timporter\nVmHWM:\t   61440 kB\nVmRSS:\t   40960 kB\n\
                      RssAnon:\t   30720 kB\nRssFile:\t   10240 kB\nThreads:\t12\n";

        let memory = Memory::parse(status);

        assert_eq!(
            memory,
            Memory {
                rss_kib: 40_960,
                peak_kib: 61_440,
                anon_kib: 30_720,
                file_kib: 10_240,
                threads: 12,
            }
        );
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let memory = Memory::read(std::process::id()).expect("/proc is readable");

        assert!(memory.rss_kib > 0 && memory.peak_kib >= memory.rss_kib);
    }
}
