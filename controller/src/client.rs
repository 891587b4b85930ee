//! The device side of the HTTP API: one client for every exchange with the server (the
//! schedule document, logs, heartbeats, acknowledgements, the event stream, media), bound to
//! the active server of [`crate::servers`]; and the backoff every retry loop uses.

use crate::servers::Servers;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::{header, StatusCode};
use schedules::wire::{Heartbeat, LogAck, LogBatch, ScheduleDocument, UrgentAck};
use std::sync::Arc;
use std::time::Duration;

/// A failed exchange with the server.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The request did not complete.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an error status.
    #[error("server answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of the body.
        body: String,
    },
    /// The answer did not parse.
    #[error("bad answer from the server: {0}")]
    Json(#[from] serde_json::Error),
}

impl SyncError {
    /// The server refused what was sent (400, 413, 422): sending it again will not help, but
    /// a part of it may go through.
    pub fn refuses_content(&self) -> bool {
        matches!(self, SyncError::Status { status, .. }
            if matches!(status.as_u16(), 400 | 413 | 422))
    }

    /// A refusal that retrying will not fix (4xx other than 408/429).
    pub fn is_permanent(&self) -> bool {
        matches!(self, SyncError::Status { status, .. }
            if status.is_client_error() && *status != StatusCode::REQUEST_TIMEOUT && *status != StatusCode::TOO_MANY_REQUESTS)
    }
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 30 s, each scaled by a
/// random factor in [0.5, 1].
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let base = 0.5 * 2f64.powi(self.attempt.min(10) as i32);
        self.attempt = self.attempt.saturating_add(1);
        let capped = base.min(30.0);
        Duration::from_secs_f64(capped * rand::thread_rng().gen_range(0.5..=1.0))
    }
    /// Back to the shortest delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The device side of the HTTP API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For live broadcasts: gives up connecting within a second.
    live_http: reqwest::Client,
    servers: Arc<Servers>,
    token: String,
}

/// A request bound to the server it was made for (see [`Client::send`]).
struct Request(usize, reqwest::RequestBuilder);

impl Request {
    fn timeout(self, d: Duration) -> Self {
        Request(self.0, self.1.timeout(d))
    }

    /// Anything else on the builder (headers).
    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        Request(self.0, f(self.1))
    }

    fn json<T: serde::Serialize + ?Sized>(self, body: &T) -> Self {
        Request(self.0, self.1.json(body))
    }

    async fn send_via(self, client: &Client) -> Result<reqwest::Response, reqwest::Error> {
        client.send(self).await
    }
}

/// The answer to a schedule fetch.
#[derive(Debug)]
pub enum Fetched {
    /// The server's version is the one we hold.
    NotModified,
    /// A new document, with its ETag.
    Doc(Box<ScheduleDocument>, Option<String>),
}

async fn check(resp: reqwest::Response) -> Result<reqwest::Response, SyncError> {
    let status = resp.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    Err(SyncError::Status {
        status,
        body: body.chars().take(300).collect(),
    })
}

/// The server's clock from a response's `Date` header (to the second).
pub fn server_date(resp: &reqwest::Response) -> Option<DateTime<Utc>> {
    let v = resp.headers().get(header::DATE)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`; or several,
    /// comma-separated, see [`crate::servers`]) with a device token. A list that does not
    /// read is taken as one URL, whose requests then fail with the reason (the command line
    /// refuses it before this).
    pub fn new(base: &str, token: &str) -> Self {
        let servers = Servers::parse(base).unwrap_or_else(|_| Servers::single(base));
        Self::with_servers(Arc::new(servers), token)
    }

    /// A client for `servers` with a device token.
    pub fn with_servers(servers: Arc<Servers>, token: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // The server closes a connection idle for its header timeout (20 s by default):
            // never reuse one that may be closing under us.
            .pool_idle_timeout(Duration::from_secs(15))
            .user_agent(concat!("loaxa-controller/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let live_http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(800))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(15))
            .user_agent(concat!("loaxa-controller/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            live_http,
            servers,
            token: token.trim().to_string(),
        }
    }

    /// The servers, in order of preference, and which one is active.
    pub fn servers(&self) -> &Arc<Servers> {
        &self.servers
    }

    /// The HTTP client (for the return probe).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The absolute URL of an API path (`/device/schedule`) on the active server.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.servers.active().1, path)
    }

    fn get(&self, path: &str) -> Request {
        let (i, base) = self.servers.active();
        let req = self.http.get(format!("{base}/api/v1{path}"));
        Request(i, req.bearer_auth(&self.token))
    }

    fn post(&self, path: &str) -> Request {
        let (i, base) = self.servers.active();
        let req = self.http.post(format!("{base}/api/v1{path}"));
        Request(i, req.bearer_auth(&self.token))
    }

    /// `GET` a live stream (`path` as the server gave it, from `/api/v1`) from the active
    /// server: a client of its own that gives up connecting within a second, so a station
    /// is back on the air within a second of the network's return.
    pub async fn live_stream(&self, path: &str) -> Result<reqwest::Response, SyncError> {
        let (i, base) = self.servers.active();
        let req = self
            .live_http
            .get(format!("{base}{path}"))
            .bearer_auth(&self.token);
        check(Request(i, req).send_via(self).await?).await
    }

    /// `POST /device/live/{id}/state`.
    pub async fn live_report(
        &self,
        id: &str,
        r: &schedules::wire::LiveReport,
    ) -> Result<(), SyncError> {
        let (i, base) = self.servers.active();
        let req = self
            .live_http
            .post(format!("{base}/api/v1/device/live/{id}/state"))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(3))
            .json(r);
        check(Request(i, req).send_via(self).await?).await?;
        Ok(())
    }

    /// Send to the server the request was made for; one that does not answer (or answers
    /// that it is down) hands over to the next server.
    async fn send(&self, req: Request) -> Result<reqwest::Response, reqwest::Error> {
        let Request(i, req) = req;
        match req.send().await {
            Ok(resp) => {
                if Servers::is_down_status(resp.status()) {
                    self.servers.failed(i);
                }
                Ok(resp)
            }
            Err(e) => {
                if Servers::is_unanswered(&e) {
                    self.servers.failed(i);
                }
                Err(e)
            }
        }
    }

    /// `GET /device/schedule` with `If-None-Match`.
    pub async fn fetch_schedule(&self, etag: Option<&str>) -> Result<Fetched, SyncError> {
        let mut req = self
            .get("/device/schedule")
            .timeout(Duration::from_secs(30));
        if let Some(e) = etag {
            req = req.map(|r| r.header(header::IF_NONE_MATCH, e));
        }
        let resp = check(req.send_via(self).await?).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await?;
        let doc: ScheduleDocument = serde_json::from_slice(&bytes)?;
        let etag = etag.or_else(|| Some(format!("\"{}\"", doc.version)));
        Ok(Fetched::Doc(Box::new(doc), etag))
    }

    /// `POST /device/logs`.
    pub async fn post_logs(&self, batch: &LogBatch) -> Result<LogAck, SyncError> {
        let resp = self
            .post("/device/logs")
            .timeout(Duration::from_secs(30))
            .json(batch)
            .send_via(self)
            .await?;
        let resp = check(resp).await?;
        Ok(serde_json::from_slice(&resp.bytes().await?)?)
    }

    /// `POST /device/heartbeat`; returns the server's `Date`.
    pub async fn heartbeat(&self, hb: &Heartbeat) -> Result<Option<DateTime<Utc>>, SyncError> {
        let resp = self
            .post("/device/heartbeat")
            .timeout(Duration::from_secs(15))
            .json(hb)
            .send_via(self)
            .await?;
        let resp = check(resp).await?;
        Ok(server_date(&resp))
    }

    /// `POST /device/urgent/{id}/state`.
    pub async fn ack_urgent(&self, id: &str, ack: &UrgentAck) -> Result<(), SyncError> {
        let path = format!("/device/urgent/{id}/state");
        let resp = self
            .post(&path)
            .timeout(Duration::from_secs(15))
            .json(ack)
            .send_via(self)
            .await?;
        check(resp).await?;
        Ok(())
    }

    /// `POST /device/commands/{id}/ack`.
    pub async fn ack_command(
        &self,
        id: &str,
        ack: &schedules::remote::CommandAck,
    ) -> Result<(), SyncError> {
        let resp = self
            .post(&format!("/device/commands/{id}/ack"))
            .timeout(Duration::from_secs(15))
            .json(ack)
            .send_via(self)
            .await?;
        check(resp).await?;
        Ok(())
    }

    /// `GET /device/events` (the response streams).
    pub async fn events(&self, last_id: Option<&str>) -> Result<reqwest::Response, SyncError> {
        let mut req = self
            .get("/device/events")
            .map(|r| r.header(header::ACCEPT, "text/event-stream"));
        if let Some(id) = last_id {
            req = req.map(|r| r.header("Last-Event-ID", id));
        }
        check(req.send_via(self).await?).await
    }

    /// `GET /media/{sha256}`, from byte `offset` on.
    pub async fn media(&self, sha256: &str, offset: u64) -> Result<reqwest::Response, SyncError> {
        let mut req = self.get(&format!("/media/{sha256}"));
        if offset > 0 {
            req = req.map(|r| r.header(header::RANGE, format!("bytes={offset}-")));
        }
        let resp = req.send_via(self).await?;
        if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE {
            return Ok(resp);
        }
        check(resp).await
    }
}
