//! CAP sources: an Atom feed served by the test on 127.0.0.1, polled by the server, with
//! new entries appearing, an Update, a Cancel, an outage, a held alert approved, and
//! messages the source may not speak for.

use crate::helpers::TestApp;
use axum::extract::{Path, State};
use axum::http::StatusCode as AxStatus;
use axum::response::IntoResponse;
use reqwest::{Method, StatusCode};
use schedules::Clock as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SENDER: &str = "canhbao@nchmf.gov.vn";

#[derive(Default)]
struct Feed {
    /// (entry id, link) newest first, as feeds list them.
    entries: Vec<(String, String)>,
    docs: HashMap<String, String>,
    hits: HashMap<String, usize>,
    down: bool,
}

type Shared = Arc<Mutex<Feed>>;

async fn index(State(f): State<Shared>) -> axum::response::Response {
    let f = f.lock().unwrap();
    if f.down {
        return (AxStatus::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let entries: String = f
        .entries
        .iter()
        .map(|(id, link)| {
            format!(
                "<entry><id>{id}</id><title>{id}</title>\
                 <link rel=\"alternate\" type=\"application/cap+xml\" href=\"{link}\"/></entry>"
            )
        })
        .collect();
    (
        [("content-type", "application/atom+xml")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Cảnh báo</title>{entries}</feed>"
        ),
    )
        .into_response()
}

async fn doc(State(f): State<Shared>, Path(name): Path<String>) -> axum::response::Response {
    let mut f = f.lock().unwrap();
    *f.hits.entry(name.clone()).or_default() += 1;
    match f.docs.get(&name) {
        Some(d) => ([("content-type", "application/cap+xml")], d.clone()).into_response(),
        None => AxStatus::NOT_FOUND.into_response(),
    }
}

/// A feed server; answers its base address.
async fn serve(feed: Shared) -> String {
    let app = axum::Router::new()
        .route("/feed.atom", axum::routing::get(index))
        .route("/cap/{name}", axum::routing::get(doc))
        .with_state(feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct Alert<'a> {
    id: &'a str,
    sender: &'a str,
    status: &'a str,
    msg_type: &'a str,
    refs: &'a str,
    severity: &'a str,
    urgency: &'a str,
    sent: &'a str,
    polygon: &'a str,
    headline: &'a str,
}

const AROUND_LQ: &str = "21.04,105.54 21.07,105.54 21.07,105.57 21.04,105.57 21.04,105.54";
const AROUND_BP: &str = "21.01,105.59 21.03,105.59 21.03,105.61 21.01,105.61 21.01,105.59";

impl Default for Alert<'_> {
    fn default() -> Self {
        Alert {
            id: "KTTV-1",
            sender: SENDER,
            status: "Actual",
            msg_type: "Alert",
            refs: "",
            severity: "Severe",
            urgency: "Immediate",
            sent: "2026-11-30T00:00:00+07:00",
            polygon: AROUND_LQ,
            headline: "Bão số 9",
        }
    }
}

fn cap(a: &Alert<'_>) -> String {
    let refs = if a.refs.is_empty() {
        String::new()
    } else {
        format!("<references>{}</references>", a.refs)
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{id}</identifier><sender>{sender}</sender><sent>{sent}</sent>
  <status>{status}</status><msgType>{mt}</msgType><scope>Public</scope>{refs}
  <info><language>vi-VN</language><category>Met</category><event>Bão</event>
    <urgency>{urgency}</urgency><severity>{severity}</severity><certainty>Observed</certainty>
    <expires>2026-11-30T06:00:00+07:00</expires>
    <headline>{headline}</headline><description>Gió mạnh cấp 10.</description>
    <area><areaDesc>Vùng cảnh báo</areaDesc><polygon>{polygon}</polygon></area>
  </info>
</alert>"#,
        id = a.id,
        sender = a.sender,
        sent = a.sent,
        status = a.status,
        mt = a.msg_type,
        urgency = a.urgency,
        severity = a.severity,
        polygon = a.polygon,
        headline = a.headline,
    )
}

/// Publish `doc` as entry `name` (newest first), linked at `link` (default: ours).
fn publish(feed: &Shared, name: &str, doc: String, link: Option<String>) {
    let mut f = feed.lock().unwrap();
    f.docs.insert(name.to_string(), doc);
    let link = link.unwrap_or_else(|| format!("/cap/{name}"));
    f.entries.insert(0, (format!("urn:test:{name}"), link));
}

/// LQ (21.05,105.55) and LQ2 (21.06,105.56) in LQ, BP (21.02,105.60) in BP.
async fn placed() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let (s, v) = app
        .post(
            "/stations",
            &t,
            json!({"code": "LQ2", "name": "Đài LQ2", "area": "LQ"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for (code, lat, lon) in [
        ("LQ", 21.05, 105.55),
        ("LQ2", 21.06, 105.56),
        ("BP", 21.02, 105.60),
    ] {
        let (s, v) = app
            .call(
                Method::PATCH,
                &format!("/stations/{code}"),
                &t,
                Some(json!({"location": {"lat": lat, "lon": lon}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    (app, t)
}

async fn register(app: &TestApp, t: &str, base: &str) -> String {
    let (s, v) = app
        .post(
            "/cap/sources",
            t,
            json!({"name": "nchmf", "url": format!("{base}/feed.atom"), "senders": [SENDER],
                   "poll_seconds": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn poll(app: &TestApp, t: &str, id: &str) -> Value {
    let (s, v) = app
        .post(&format!("/cap/sources/{id}/poll"), t, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// The outcome of each new entry of a poll, by entry name.
fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m[0].as_str()
                    .unwrap()
                    .trim_start_matches("urn:test:")
                    .to_string(),
                m[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn count_messages(app: &TestApp, t: &str) -> usize {
    app.get("/cap/messages", t)
        .await
        .1
        .as_array()
        .unwrap()
        .len()
}

async fn live_on(app: &TestApp, device: &str) -> Vec<String> {
    let (_, doc) = app.get("/device/schedule", device).await;
    doc["urgent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn e(name: &str, outcome: &str) -> (String, String) {
    (name.to_string(), outcome.to_string())
}

#[tokio::test]
async fn a_polled_feed_airs_new_entries_once_follows_updates_and_cancels_and_rides_out_an_outage() {
    let (app, t) = placed().await;
    let feed: Shared = Arc::default();
    let base = serve(feed.clone()).await;
    let src = register(&app, &t, &base).await;

    // An empty feed, then the first alert: it airs on LQ's stations, not BP.
    assert!(outcomes(&poll(&app, &t, &src).await).is_empty());
    publish(&feed, "a1", cap(&Alert::default()), None);
    assert_eq!(outcomes(&poll(&app, &t, &src).await), [e("a1", "aired")]);
    assert_eq!(live_on(&app, &app.lq_device).await, ["Bão số 9"]);
    assert!(live_on(&app, &app.bp_device).await.is_empty());
    // Polled again: nothing new, nothing fetched twice.
    assert!(outcomes(&poll(&app, &t, &src).await).is_empty());
    assert_eq!(feed.lock().unwrap().hits["a1"], 1);

    // An Update moves the warning to BP; a moderate alert waits for a person; a Test, a
    // stranger's message and a link to another host are recorded and never air.
    publish(
        &feed,
        "a2",
        cap(&Alert {
            id: "KTTV-2",
            msg_type: "Update",
            refs: "canhbao@nchmf.gov.vn,KTTV-1,2026-11-30T00:00:00+07:00",
            sent: "2026-11-30T00:10:00+07:00",
            polygon: AROUND_BP,
            headline: "Bão số 9 đổi hướng",
            ..Alert::default()
        }),
        None,
    );
    publish(
        &feed,
        "m1",
        cap(&Alert {
            id: "KTTV-M1",
            severity: "Moderate",
            urgency: "Future",
            headline: "Mưa lớn",
            ..Alert::default()
        }),
        None,
    );
    publish(
        &feed,
        "t1",
        cap(&Alert {
            id: "KTTV-T1",
            status: "Test",
            ..Alert::default()
        }),
        None,
    );
    publish(
        &feed,
        "x1",
        cap(&Alert {
            id: "X-1",
            sender: "someone@else.example",
            ..Alert::default()
        }),
        None,
    );
    publish(
        &feed,
        "o1",
        cap(&Alert::default()),
        Some("http://127.0.0.2:9/cap/o1".into()),
    );
    let report = poll(&app, &t, &src).await;
    assert!(report["error"].is_null(), "{report}");
    let mut got = outcomes(&report);
    got.sort();
    assert_eq!(
        got,
        [
            e("a2", "aired"),
            e("m1", "held"),
            e("o1", "refused"),
            e("t1", "recorded"),
            e("x1", "refused"),
        ]
    );
    assert!(live_on(&app, &app.lq_device).await.is_empty(), "replaced");
    assert_eq!(live_on(&app, &app.bp_device).await, ["Bão số 9 đổi hướng"]);

    // The held alert is in the approval queue; an approver of LQ's district airs it.
    let (_, queue) = app.get("/approvals", &t).await;
    let held = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "cap")
        .unwrap_or_else(|| panic!("{queue}"))
        .clone();
    assert_eq!(held["title"], "Mưa lớn");
    let op = app.token("op_lq").await;
    let (s, _) = app
        .post(
            &format!("/approvals/cap/{}/approve", held["id"].as_str().unwrap()),
            &op,
            json!({}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a commune's operator does not see the district's"
    );
    let (s, v) = app
        .post(
            &format!("/approvals/cap/{}/approve", held["id"].as_str().unwrap()),
            &t,
            json!({"comment": "phát"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "aired");
    assert_eq!(live_on(&app, &app.lq_device).await, ["Mưa lớn"]);

    // The source goes down: the poll fails and the next one backs off; back up, a Cancel
    // of the Update is followed.
    feed.lock().unwrap().down = true;
    let r = poll(&app, &t, &src).await;
    assert!(r["error"].as_str().unwrap().contains("503"), "{r}");
    let (_, s1) = app.get(&format!("/cap/sources/{src}"), &t).await;
    assert_eq!(s1["failures"], 1);
    let now = app.clock.now();
    assert_eq!(
        s1["next_poll_at"].as_str().unwrap(),
        (now + chrono::Duration::seconds(20)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    feed.lock().unwrap().down = false;
    publish(
        &feed,
        "c1",
        cap(&Alert {
            id: "KTTV-3",
            msg_type: "Cancel",
            refs: "canhbao@nchmf.gov.vn,KTTV-2,2026-11-30T00:10:00+07:00",
            sent: "2026-11-30T00:20:00+07:00",
            ..Alert::default()
        }),
        None,
    );
    assert_eq!(
        outcomes(&poll(&app, &t, &src).await),
        [e("c1", "cancelled")]
    );
    assert!(live_on(&app, &app.bp_device).await.is_empty());
    let (_, s2) = app.get(&format!("/cap/sources/{src}"), &t).await;
    assert_eq!(s2["failures"], 0);
    assert!(s2["last_error"].is_null());
    assert_eq!(feed.lock().unwrap().hits.get("o1"), None, "never fetched");

    // Everything is visible: the messages, the page, the audit log.
    let (_, msgs) = app.get("/cap/messages", &t).await;
    assert_eq!(msgs.as_array().unwrap().len(), 7, "{msgs}");
    let aired_first = msgs
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["entry"] == "urn:test:a1")
        .unwrap();
    assert_eq!(aired_first["detail"]["stations"], json!(["LQ", "LQ2"]));
    let (_, audit) = app.get("/audit", &t).await;
    let logged = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "cap.source.message")
        .count();
    assert_eq!(logged, 7);
    app.stop().await;
}

#[tokio::test]
async fn the_background_task_polls_due_sources_by_itself() {
    let (app, t) = placed().await;
    let feed: Shared = Arc::default();
    let base = serve(feed.clone()).await;
    publish(&feed, "a1", cap(&Alert::default()), None);
    let task = web::urgent::sources::spawn(app.state.clone());
    register(&app, &t, &base).await;
    let mut n = 0;
    for _ in 0..100 {
        n = count_messages(&app, &t).await;
        if n == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(n, 1, "the new source is polled at once");
    assert_eq!(live_on(&app, &app.lq_device).await, ["Bão số 9"]);
    // A new entry waits for the next poll, one interval later on the server's clock.
    publish(
        &feed,
        "a2",
        cap(&Alert {
            id: "KTTV-2",
            headline: "Bão số 10",
            ..Alert::default()
        }),
        None,
    );
    app.clock.advance(chrono::Duration::seconds(10));
    for _ in 0..100 {
        n = count_messages(&app, &t).await;
        if n == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(n, 2);
    task.abort();
    app.stop().await;
}

#[tokio::test]
async fn sources_are_registered_by_admins_with_checked_values() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    for (body, field) in [
        (
            json!({"name": "a", "url": "ftp://x/", "senders": ["s"]}),
            "url",
        ),
        (
            json!({"name": "a", "url": "http://x/", "senders": []}),
            "senders",
        ),
        (
            json!({"name": "a", "url": "http://x/", "senders": ["s"], "poll_seconds": 5}),
            "poll_seconds",
        ),
        (
            json!({"name": "a", "url": "http://x/", "senders": ["s"], "policy": {"air_severities": ["Huge"]}}),
            "policy",
        ),
        (
            json!({"name": "a b", "url": "http://x/", "senders": ["s"]}),
            "name",
        ),
    ] {
        let (s, v) = app.post("/cap/sources", &t, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{v}"
        );
    }
    let ok = json!({"name": "a", "url": "http://x/feed", "senders": ["s"], "area": "LQ"});
    let (s, v) = app.post("/cap/sources", &t, ok.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["policy"]["air_severities"], json!(["Extreme", "Severe"]));
    assert_eq!(v["poll_seconds"], 60);
    let (s, _) = app.post("/cap/sources", &t, ok).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, lq) = app.get("/cap/sources", &app.token("admin_lq").await).await;
    assert_eq!(lq[0]["name"], "a");
    let (s, _) = app.get("/cap/sources", &app.token("op_lq").await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.stop().await;
}

/// An RSA key pair made by openssl in `dir`: (private key file, public key PEM).
fn key_pair(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let private = dir.join(format!("{name}.key"));
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .output()
        .unwrap();
    assert!(public.status.success());
    (private, String::from_utf8(public.stdout).unwrap())
}

/// `xml` with an enveloped XML signature (RSA-SHA256, exclusive C14N) made by xmlsec1 with
/// `private`; the signer's public key travels in `KeyInfo`, as real publishers do.
fn signed(dir: &std::path::Path, private: &std::path::Path, xml: &str) -> String {
    const SIGNATURE: &str = r#"<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><KeyValue/></KeyInfo></Signature>"#;
    let template = dir.join("template.xml");
    std::fs::write(
        &template,
        xml.replace("</alert>", &format!("{SIGNATURE}</alert>")),
    )
    .unwrap();
    let out = std::process::Command::new("xmlsec1")
        .args(["--sign", "--privkey-pem"])
        .arg(private)
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_signed_source_airs_only_messages_its_key_verifies() {
    let (app, t) = placed().await;
    let dir = tempfile::tempdir().unwrap();
    let (ours, public) = key_pair(dir.path(), "ours");
    let (theirs, _) = key_pair(dir.path(), "theirs");
    let feed: Shared = Arc::default();
    let base = serve(feed.clone()).await;
    let (s, v) = app
        .post(
            "/cap/sources",
            &t,
            json!({"name": "signed", "url": format!("{base}/feed.atom"), "senders": [SENDER],
                   "signing_key": public}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let src = v["id"].as_str().unwrap().to_string();

    let good = signed(dir.path(), &ours, &cap(&Alert::default()));
    let tampered = good.replace("Gió mạnh cấp 10.", "Gió mạnh cấp 12.");
    assert_ne!(good, tampered);
    let forged = signed(
        dir.path(),
        &theirs,
        &cap(&Alert {
            id: "KTTV-F",
            ..Alert::default()
        }),
    );
    publish(&feed, "good", good, None);
    publish(&feed, "tampered", tampered, None);
    publish(&feed, "forged", forged, None);
    publish(
        &feed,
        "unsigned",
        cap(&Alert {
            id: "KTTV-U",
            ..Alert::default()
        }),
        None,
    );
    let mut got = outcomes(&poll(&app, &t, &src).await);
    got.sort();
    assert_eq!(
        got,
        [
            e("forged", "refused"),
            e("good", "aired"),
            e("tampered", "refused"),
            e("unsigned", "refused"),
        ]
    );
    assert_eq!(live_on(&app, &app.lq_device).await, ["Bão số 9"]);
    let (_, msgs) = app.get("/cap/messages", &t).await;
    for m in msgs.as_array().unwrap() {
        let reason = m["detail"]["reason"].as_str().unwrap_or_default();
        match m["entry"].as_str().unwrap() {
            "urn:test:good" => assert_eq!(m["detail"]["signature"], "verified"),
            "urn:test:unsigned" => assert!(reason.contains("no XML signature"), "{m}"),
            _ => assert!(reason.contains("does not verify"), "{m}"),
        }
    }
    // Not a key at all: refused at registration.
    let (s, v) = app
        .post(
            "/cap/sources",
            &t,
            json!({"name": "nokey", "url": format!("{base}/feed.atom"), "senders": [SENDER],
                   "signing_key": "secret"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_held_alert_leaves_the_queue_when_it_expires_and_never_airs() {
    let (app, t) = placed().await;
    let feed: Shared = Arc::default();
    let base = serve(feed.clone()).await;
    let src = register(&app, &t, &base).await;
    publish(
        &feed,
        "m1",
        cap(&Alert {
            id: "KTTV-M1",
            severity: "Moderate",
            headline: "Mưa lớn",
            ..Alert::default()
        }),
        None,
    );
    assert_eq!(outcomes(&poll(&app, &t, &src).await), [e("m1", "held")]);
    let (_, queue) = app.get("/approvals", &t).await;
    let id = queue[0]["id"].as_str().unwrap().to_string();
    assert_eq!(queue[0]["kind"], "cap");
    // Its expiry (2026-11-29T23:00Z) passes: out of the queue, and too late to approve.
    app.clock
        .set(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 29, 23, 0, 1).unwrap());
    web::urgent::sources::round(&app.state).await;
    let (_, queue) = app.get("/approvals", &t).await;
    assert!(queue.as_array().unwrap().is_empty(), "{queue}");
    let (s, v) = app
        .post(&format!("/approvals/cap/{id}/approve"), &t, json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, msgs) = app.get("/cap/messages", &t).await;
    assert_eq!(msgs[0]["outcome"], "expired");
    assert!(live_on(&app, &app.lq_device).await.is_empty());
    app.stop().await;
}
