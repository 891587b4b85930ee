//! End-to-end test helpers: start the real server and controllers on 127.0.0.1.
//!
//! - [`e2e`]: the server in-process (restartable on its address), controller processes
//!   (killable with SIGKILL) or in-process controllers with a fake clock, an API client,
//!   `wav:` readers;
//! - [`browser`]: headless Chromium through ChromeDriver, for the page tests;
//! - [`proxy`]: a fault-injecting TCP proxy to put between them;
//! - [`scenarios`]: fault scenarios and the exactly-once log check, shared by the fault
//!   tests and the soak benchmark.

pub mod browser;
pub mod e2e;
pub mod proxy;
pub mod scenarios;
