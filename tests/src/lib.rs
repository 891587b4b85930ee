//! End-to-end test helpers: start the real server and controllers on 127.0.0.1.
//!
//! - [`e2e`]: the server in-process, controller processes, an API client, `wav:` readers;
//! - [`harness`]: the fault suite's world (server restartable on its address, controllers
//!   killed with SIGKILL, exactly-once log checks);
//! - [`proxy`]: a fault-injecting TCP proxy to put between them;
//! - [`scenarios`]: fault scenarios shared by the fault tests and the soak benchmark.

pub mod e2e;
pub mod harness;
pub mod proxy;
pub mod scenarios;
