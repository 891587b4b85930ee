//! End-to-end test helpers: start the real server and controllers on 127.0.0.1.
//!
//! - [`harness`]: the server in-process, `loaxa-controller` processes, log checks;
//! - [`proxy`]: a fault-injecting TCP proxy;
//! - [`scenarios`]: fault scenarios shared by the fault tests and the soak benchmark.

pub mod harness;
pub mod proxy;
pub mod scenarios;
