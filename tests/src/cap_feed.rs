//! A CAP feed end to end, shared by the test and the benchmark: the real server (with its
//! CAP poller) in-process, an Atom feed served on 127.0.0.1, and two real controllers
//! writing what they air to WAV files — one station inside the warned polygon, one
//! outside. A storm alert with a 1000 Hz tone as its audio appears in the feed; the figure
//! is the time from its appearing to the first sample on the station inside.

use crate::e2e::{eventually, Aired, Api, InProcessController, Server, DISTRICT, OP_PASSWORD};
use anyhow::{anyhow, ensure, Result};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use schedules::{Clock, SystemClock};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The alert's audio.
pub const TONE_HZ: f32 = 1000.0;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// From the entry appearing in the feed to the first sample on the station inside.
    pub appear_to_first_sample: chrono::Duration,
    /// The poll interval used.
    pub poll_seconds: u32,
    /// Dominant frequency on the inside station after the chime.
    pub inside_hz: Option<f32>,
    /// Milliseconds of sound on the station outside the polygon after the alert appeared.
    pub outside_sounding_ms: u64,
}

type Feed = Arc<Mutex<Vec<(String, String)>>>;

async fn serve_feed(feed: Feed) -> Result<String> {
    use axum::extract::{Path as P, State};
    let index = |State(f): State<Feed>| async move {
        let entries: String = f
            .lock()
            .unwrap()
            .iter()
            .rev()
            .map(|(name, _)| {
                format!(
                    "<entry><id>urn:e2e:{name}</id><link type=\"application/cap+xml\" \
                     href=\"/cap/{name}.xml\"/></entry>"
                )
            })
            .collect();
        (
            [("content-type", "application/atom+xml")],
            format!(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>KTTV</title>{entries}</feed>"
            ),
        )
    };
    let doc = |State(f): State<Feed>, P(name): P<String>| async move {
        let name = name.trim_end_matches(".xml").to_string();
        f.lock()
            .unwrap()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| ([("content-type", "application/cap+xml")], d.clone()))
            .ok_or(axum::http::StatusCode::NOT_FOUND)
    };
    let app = axum::Router::new()
        .route("/feed.atom", axum::routing::get(index))
        .route("/cap/{name}", axum::routing::get(doc))
        .with_state(feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

/// A storm alert over the polygon, its audio a 1.5 s tone sent inline.
fn alert(sent: DateTime<Utc>) -> String {
    let wav = crate::e2e::tone_bytes(TONE_HZ, 1500);
    let b64 = base64::engine::general_purpose::STANDARD.encode(wav);
    let expires = sent + chrono::Duration::hours(6);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KTTV-E2E-1</identifier><sender>canhbao@nchmf.gov.vn</sender>
  <sent>{sent}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><language>vi-VN</language><category>Met</category><event>Bão</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <expires>{expires}</expires><headline>Bão số 9</headline>
    <resource><resourceDesc>Bản tin</resourceDesc><mimeType>audio/x-wav</mimeType>
      <derefUri>{b64}</derefUri></resource>
    <area><areaDesc>Xã IN</areaDesc>
      <polygon>21.04,105.54 21.07,105.54 21.07,105.57 21.04,105.57 21.04,105.54</polygon>
    </area>
  </info>
</alert>"#,
        sent = sent.to_rfc3339(),
        expires = expires.to_rfc3339(),
    )
}

/// Run the scenario in `dir` with a source polled every `poll_seconds`.
pub async fn run(dir: &Path, poll_seconds: u32) -> Result<Figures> {
    let data = dir.join("server");
    std::fs::create_dir_all(&data)?;
    let tokens = crate::e2e::seed(&data, &["IN", "OUT"])?;
    crate::e2e::seed_admin(&data, "admin")?;
    {
        let clock = SystemClock;
        let state = web::state::AppState::open(&data, Arc::new(clock))?;
        let now = clock.now();
        for (code, (lat, lon)) in [("IN", (21.05, 105.55)), ("OUT", (21.20, 105.70))] {
            web::admin::locate_station(
                &state.db,
                "e2e",
                code,
                schedules::geo::GeoPoint::new(lat, lon)?,
                now,
            )?;
        }
    }
    let state = web::state::AppState::open(&data, Arc::new(SystemClock))?;
    let server = Server::serve_state(&data, "127.0.0.1:0".parse()?, state.clone()).await?;
    // The server's own CAP poller, as `loaxa-web serve` starts it.
    let poller = web::urgent::sources::spawn(state);
    let api = Api::login(&server, "admin", OP_PASSWORD).await?;

    let mut controllers = Vec::new();
    let mut wavs = Vec::new();
    for (code, token) in ["IN", "OUT"].iter().zip(&tokens) {
        let cdir = dir.join(format!("ctl-{code}"));
        std::fs::create_dir_all(&cdir)?;
        let wav = dir.join(format!("{code}.wav"));
        controllers.push(InProcessController::start(
            &server.url,
            code,
            token,
            &cdir,
            controller::OutputSpec::Wav(wav.clone()),
            Arc::new(SystemClock),
        )?);
        wavs.push(wav);
    }
    eventually(Duration::from_secs(30), "both stations connected", || {
        let api = api.clone();
        async move {
            let list = api.get("/stations").await?;
            let n = list
                .as_array()
                .map(|l| l.iter().filter(|s| s["connected"] == true).count())
                .unwrap_or(0);
            Ok((n == 2).then_some(()))
        }
    })
    .await?;

    let feed: Feed = Arc::default();
    let base = serve_feed(feed.clone()).await?;
    let src = api
        .post(
            "/cap/sources",
            &json!({"name": "kttv", "url": format!("{base}/feed.atom"),
                    "senders": ["canhbao@nchmf.gov.vn"], "area": DISTRICT,
                    "poll_seconds": poll_seconds}),
        )
        .await?;
    let id = src["id"]
        .as_str()
        .ok_or_else(|| anyhow!("{src}"))?
        .to_string();
    // The first (empty) poll happens at once; the alert appears after it, so it waits
    // for a whole interval: the worst case but a second.
    eventually(Duration::from_secs(10), "the first poll", || {
        let (api, id) = (api.clone(), id.clone());
        async move {
            let s = api.get(&format!("/cap/sources/{id}")).await?;
            Ok(s["last_polled_at"].is_string().then_some(()))
        }
    })
    .await?;
    let appeared = SystemClock.now();
    feed.lock().unwrap().push(("storm".into(), alert(appeared)));

    let notice = eventually(
        Duration::from_secs(u64::from(poll_seconds) + 15),
        "the alert aired",
        || {
            let api = api.clone();
            async move {
                let msgs = api.get("/cap/messages").await?;
                Ok(msgs[0]["urgent_id"].as_str().map(str::to_string))
            }
        },
    )
    .await?;
    eventually(Duration::from_secs(20), "played on IN", || {
        let (api, notice) = (api.clone(), notice.clone());
        async move {
            let u: Value = api.get(&format!("/urgent/{notice}")).await?;
            let played = u["stations"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s["code"] == "IN" && s["state"] == "played")
            });
            Ok(played.then_some(()))
        }
    })
    .await?;
    let u = api.get(&format!("/urgent/{notice}")).await?;
    ensure!(
        u["stations"].as_array().map(|s| s.len()) == Some(1),
        "only the station inside is targeted: {u}"
    );
    for c in controllers {
        c.stop().await?;
    }
    poller.abort();
    server.stop().await?;

    let inside = Aired::read(&wavs[0])?;
    let outside = Aired::read(&wavs[1])?;
    let first = inside
        .first_sound_after(appeared, 0.01)
        .ok_or_else(|| anyhow!("nothing aired on the station inside"))?;
    // The chime (1.2 s) comes first, then the tone.
    let inside_hz = inside.frequency_at(first + chrono::Duration::milliseconds(1500), 500);
    let outside_sounding_ms =
        outside.sounding_ms(appeared, appeared + chrono::Duration::seconds(60), 0.01);
    Ok(Figures {
        appear_to_first_sample: first - appeared,
        poll_seconds,
        inside_hz,
        outside_sounding_ms,
    })
}
