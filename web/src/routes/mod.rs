//! HTTP routes: the JSON API under `/api/v1`, health and metrics.

pub mod api;
pub mod health;
