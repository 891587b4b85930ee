//! The JSON API, `/api/v1`: one file per resource.

pub mod approvals;
pub mod areas;
pub mod audit;
pub mod auth;
pub mod cap;
pub mod cap_sources;
pub mod channels;
pub mod common;
pub mod device;
pub mod live;
pub mod logs;
pub mod media;
pub mod password;
pub mod programmes;
pub mod remote;
pub mod reports;
pub mod schedules;
pub mod stations;
pub mod urgent;
pub mod users;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use axum::Router;

/// Every API route, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/token", post(auth::token).delete(auth::revoke))
        .route("/auth/login", post(auth::login))
        .route("/auth/me", get(auth::me))
        .route("/auth/password", post(password::change_own))
        .route("/areas", get(areas::list).post(areas::create))
        .route("/areas/{code}", patch(areas::update))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{username}/disable", post(users::disable))
        .route("/users/{username}/enable", post(users::enable))
        .route("/users/{username}/password", post(users::reset_password))
        .route(
            "/media",
            get(media::list)
                .post(media::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/media/{sha256}",
            get(media::download).delete(media::remove),
        )
        .route("/schedules", get(schedules::list).post(schedules::create))
        .route("/schedules/preview", get(schedules::preview))
        .route(
            "/schedules/{id}",
            get(schedules::show)
                .put(schedules::replace)
                .delete(schedules::remove),
        )
        .route("/schedules/{id}/pause", post(schedules::pause))
        .route("/schedules/{id}/resume", post(schedules::resume))
        .route(
            "/programmes",
            get(programmes::list).post(programmes::create),
        )
        .route(
            "/programmes/{id}",
            get(programmes::show)
                .put(programmes::replace)
                .delete(programmes::remove),
        )
        .route("/stations/{code}/jingle", put(programmes::set_jingle))
        .route("/areas/{code}/slot-limit", put(programmes::set_slot_limit))
        .route("/areas/{code}/approval", put(approvals::set_required))
        .route("/approvals", get(approvals::queue))
        .route("/approvals/{kind}/{id}", get(approvals::show))
        .route("/approvals/{kind}/{id}/approve", post(approvals::approve))
        .route("/approvals/{kind}/{id}/reject", post(approvals::reject))
        .route("/stations", get(stations::list).post(stations::create))
        .route(
            "/stations/{code}",
            get(stations::show).patch(stations::update),
        )
        .route("/stations/{code}/plan", get(stations::plan))
        .route("/stations/{code}/token", post(stations::rotate_token))
        .route("/urgent", get(urgent::list).post(urgent::create))
        .route("/urgent/{id}", get(urgent::show))
        .route("/urgent/{id}/cancel", post(urgent::cancel))
        .route("/cap", post(cap::receive))
        .route(
            "/cap/sources",
            get(cap_sources::list).post(cap_sources::create),
        )
        .route(
            "/cap/sources/{id}",
            get(cap_sources::show).delete(cap_sources::delete),
        )
        .route("/cap/sources/{id}/poll", post(cap_sources::poll))
        .route("/cap/messages", get(cap_sources::messages))
        .route("/logs", get(logs::list))
        .route("/reports/airtime", get(reports::airtime))
        .route("/reports/airtime.csv", get(reports::airtime_csv))
        .route("/reports/airtime.xlsx", get(reports::airtime_xlsx))
        .route("/reports/charts/{chart}", get(reports::chart))
        .route("/reports/reconcile", post(reports::reconcile))
        .route("/audit", get(audit::list))
        .route("/device/schedule", get(device::schedule))
        .route("/device/events", get(device::events))
        .route("/device/logs", post(device::logs))
        .route("/device/heartbeat", post(device::heartbeat))
        .route("/device/urgent/{id}/state", post(device::urgent_state))
        .route("/stations/{code}/commands", post(remote::issue))
        .route("/stations/{code}/commands/{id}", get(remote::show))
        .route(
            "/stations/{code}/volume-schedule",
            get(remote::volume_schedule).put(remote::set_volume_schedule),
        )
        .route("/device/commands/{id}/ack", post(remote::ack))
        .route("/channels", get(channels::list).post(channels::create))
        .route(
            "/channels/{id}",
            patch(channels::update).delete(channels::delete),
        )
        .route("/channels/{id}/measure", post(channels::measure))
        // Live broadcasts (#25).
        .route("/live", get(live::list).post(live::create))
        .route("/live/{id}", get(live::show))
        .route("/live/{id}/stop", post(live::stop))
        .route("/live/{id}/ingest", get(live::ingest))
        .route("/device/live/{id}/stream", get(live::stream))
        .route("/device/live/{id}/state", post(live::report))
}
