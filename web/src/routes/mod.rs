//! HTTP routes: the JSON API under `/api/v1`.

pub mod api;
