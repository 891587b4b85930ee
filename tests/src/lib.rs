//! End-to-end test helpers: start the real server and controllers on 127.0.0.1.
//!
//! - [`bench`]: what the server benchmarks share: `loaxa-web` as its own process, many
//!   stations seeded at once, a fleet of bare event streams that fail over like
//!   controllers;
//! - [`e2e`]: the server in-process (restartable on its address), controller processes
//!   (killable with SIGKILL) or in-process controllers with a fake clock, an API client,
//!   `wav:` readers;
//! - [`cap_feed`]: a CAP feed polled by the server, aired by controllers inside its polygon
//!   (the test and the feed-to-first-sample benchmark);
//! - [`browser`]: headless Chromium through ChromeDriver, for the page tests;
//! - [`proxy`]: a fault-injecting TCP proxy to put between them;
//! - [`scenarios`]: fault scenarios and the exactly-once log check, shared by the fault
//!   tests and the soak benchmark.

pub mod bench;
pub mod browser;
pub mod cap_feed;
pub mod e2e;
pub mod proxy;
pub mod scenarios;

/// Raise this process's open-file limit to 200,000 where allowed (prlimit(1) on our own
/// pid; children inherit it); answers the limit in force. Thousands of stations each hold
/// an event stream, and in-process controllers a database and its journal files too.
pub fn raise_nofile() -> u64 {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=200000:200000"])
        .status();
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024)
}

/// A `/proc/PID/status` figure in KiB (`VmRSS:` now, `VmHWM:` the peak so far); 0 when
/// the process is gone.
pub fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
