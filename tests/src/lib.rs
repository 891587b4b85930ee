//! End-to-end test helpers: start the real server and controllers on 127.0.0.1.
//!
//! - [`e2e`]: the server in-process, controller processes, an API client, `wav:` readers;
//! - [`proxy`]: a fault-injecting TCP proxy to put between them;
//! - [`browser`]: headless Chromium through ChromeDriver, for the page tests.

pub mod browser;
pub mod e2e;
pub mod proxy;
