//! Building the router and serving it on a bound listener until a shutdown future resolves.

use crate::error::AppError;
use crate::routes;
use crate::state::{AppState, Now};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::Listener;
use axum::Router;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// The whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/metrics", get(routes::health::metrics))
        .route("/api/v1/openapi.json", get(crate::openapi::serve))
        .nest("/api/v1", routes::api::router())
        .merge(crate::pages::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(crate::security::headers))
        .layer(middleware::from_fn_with_state(state.clone(), stamp_client))
        .layer(middleware::from_fn_with_state(state.clone(), stamp_now))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// A handler panicked (a bug): answer 500 with the usual error body rather than drop the
/// connection; the panic message goes to the log only.
fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    AppError::internal(format!("a handler panicked: {what}")).into_response()
}

/// Read the clock once per request; handlers and extractors take it as [`Now`]. The
/// `Date` header is written from the same clock (controllers measure their offset by it).
async fn stamp_now(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let now = state.clock.now();
    req.extensions_mut().insert(Now(now));
    let mut res = next.run(req).await;
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(v) = HeaderValue::from_str(&date) {
        res.headers_mut().insert(header::DATE, v);
    }
    res
}

async fn not_found() -> AppError {
    AppError::not_found("no such endpoint")
}

async fn method_not_allowed() -> AppError {
    let mut e = AppError::bad_request("method not allowed on this endpoint");
    e.status = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    e.code = "method_not_allowed";
    e
}

/// Serve `state` on `listener` until `shutdown` resolves; open event streams are then
/// closed so that the server can finish. Connections are limited as [`crate::conn`] says.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_on(listener, state, shutdown, false).await
}

/// [`serve`] over HTTPS: each connection is handshaken with `acceptor` first.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_on(
        crate::tls::TlsListener::new(listener, acceptor, crate::tls::MAX_HANDSHAKES)?,
        state,
        shutdown,
        true,
    )
    .await
}

async fn serve_on<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tls: bool,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let hub = state.hub.clone();
    // Several nodes on one PostgreSQL share their pushes and their stations' presence.
    let relay = match crate::db::Location::parse(state.config.database.as_deref(), &state.data_dir)
    {
        Ok(crate::db::Location::Postgres(url)) => Some(
            crate::push::relay::start_relay(&url, &state.node, hub.clone())
                .await
                .map_err(|e| io::Error::other(format!("the push relay cannot start: {e}")))?,
        ),
        _ => None,
    };
    let limits = crate::conn::Limits::of(&state.config);
    let router = app(state);
    let served = crate::conn::serve(listener, router, limits, tls, async move {
        shutdown.await;
        hub.close();
    })
    .await;
    if let Some(relay) = relay {
        relay.stop().await;
    }
    served
}

/// Find the client once per request (its address, behind trusted proxies, and whether it
/// came over TLS) and put it in the extensions.
async fn stamp_client(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let tls = req
        .extensions()
        .get::<crate::client::ServedOverTls>()
        .is_some();
    let info = crate::client::resolve(
        peer,
        tls,
        req.headers(),
        &state.config.trusted_proxies,
        state.config.behind_tls_proxy,
    );
    req.extensions_mut().insert(info);
    next.run(req).await
}

/// Count every request by its route template and status, and time it.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = crate::metrics::method_label(req.method());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    state.metrics.observe_request(
        method,
        &route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}
