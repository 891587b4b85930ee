//! End-to-end test helpers: start the real server and controllers on 127.0.0.1.

pub mod proxy;
