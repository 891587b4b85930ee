//! Where things are, and CAP alerts by place: station locations, areas' official codes,
//! alerts that name polygons, circles and official codes, from real-world-shaped messages.

use crate::helpers::{loaxa, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PATCH, path, token, Some(body)).await
}

async fn post_cap(
    app: &TestApp,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    app.post_cap(token, body).await
}

/// The stations an urgent notice is for, sorted.
async fn aired_on(app: &TestApp, token: &str, id: &Value) -> Vec<String> {
    let (_, u) = app
        .get(&format!("/urgent/{}", id.as_str().unwrap()), token)
        .await;
    let mut out: Vec<String> = u["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn stations_get_a_location_and_areas_an_official_code_through_the_api() {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    let (s, v) = patch(
        &app,
        "/stations/LQ",
        &t,
        json!({"location": {"lat": 21.0512, "lon": 105.5601}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["location"], json!({"lat": 21.0512, "lon": 105.5601}));
    let (_, list) = app.get("/stations", &t).await;
    let lq = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "LQ")
        .unwrap();
    assert_eq!(lq["location"]["lat"], 21.0512);
    let bp = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "BP")
        .unwrap();
    assert!(bp["location"].is_null());

    for bad in [
        json!({"location": {"lat": 91.0, "lon": 105.0}}),
        json!({"location": {"lat": 21.0}}),
        json!({"location": "21,105"}),
        json!({}),
    ] {
        let (s, v) = patch(&app, "/stations/LQ", &t, bad.clone()).await;
        assert!(
            s.is_client_error() && s != StatusCode::FORBIDDEN,
            "{bad}: {s} {v}"
        );
    }
    // An operator may not move a station; an admin of BP may not touch LQ.
    let op = app.token("op_lq").await;
    let (s, _) = patch(&app, "/stations/LQ", &op, json!({"location": null})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = patch(&app, "/stations/LQ", &t, json!({"location": null})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["location"].is_null());

    let (s, v) = patch(&app, "/areas/LQ", &t, json!({"official_code": "10015"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["official_code"], "10015");
    assert_eq!(v["name"], "Thị trấn Liên Quan", "the name is unchanged");
    let (s, v) = patch(&app, "/areas/BP", &t, json!({"official_code": "10015"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = patch(&app, "/areas/BP", &t, json!({"official_code": "10 015"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, areas) = app.get("/areas", &t).await;
    assert!(areas
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["code"] == "LQ" && a["official_code"] == "10015"));
    let (s, v) = patch(&app, "/areas/LQ", &t, json!({"official_code": null})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["official_code"].is_null());

    let (_, audit) = app.get("/audit", &t).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "station.update" || e["action"] == "area.update")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 4, "{actions:?}");
    app.stop().await;
}

#[test]
fn the_command_line_places_stations_and_codes_areas() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let (code, out, err) = loaxa(d, args, "");
        assert_eq!(code, 0, "{args:?}: {out} {err}");
    };
    ok(&[
        "area",
        "add",
        "HN",
        "--name",
        "Hà Nội",
        "--official-code",
        "01",
    ]);
    ok(&[
        "station",
        "add",
        "LQ",
        "--name",
        "Đài Liên Quan",
        "--area",
        "HN",
        "--location",
        "21.0512,105.5601",
    ]);
    ok(&[
        "station",
        "add",
        "SOUTH",
        "--name",
        "Đài phía nam",
        "--area",
        "HN",
        "--location",
        "-33.9,-70.6",
    ]);
    for args in [
        &[
            "station",
            "add",
            "X",
            "--name",
            "x",
            "--area",
            "HN",
            "--location",
            "95,1",
        ][..],
        &[
            "station",
            "add",
            "X",
            "--name",
            "x",
            "--area",
            "HN",
            "--location",
            "21",
        ][..],
        &["area", "add", "Y", "--name", "y", "--official-code", "a b"][..],
    ] {
        let (code, _, err) = loaxa(d, args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // An official code names one area.
    let (code, _, err) = loaxa(
        d,
        &["area", "add", "Z", "--name", "z", "--official-code", "01"],
        "",
    );
    assert_ne!(code, 0, "{err}");

    let db = web::db::Db::open(&d.join("loaxa.db")).unwrap();
    let (lq, south, hn) = db
        .call_blocking(|c| {
            Ok((
                web::db::stations::get(c, "LQ")?.unwrap(),
                web::db::stations::get(c, "SOUTH")?.unwrap(),
                web::db::areas::get(c, "HN")?.unwrap(),
            ))
        })
        .unwrap();
    let p = lq.location.unwrap();
    assert_eq!((p.lat(), p.lon()), (21.0512, 105.5601));
    let p = south.location.unwrap();
    assert_eq!((p.lat(), p.lon()), (-33.9, -70.6));
    assert_eq!(hn.official_code.as_deref(), Some("01"));
}

/// A CAP document as a real authority shapes it: `ns` its version's namespace, `areas` the
/// `<area>` elements, with an English block before the Vietnamese one.
fn cap(ns: &str, id: &str, msg_type: &str, refs: &str, areas: &str) -> String {
    let refs = if refs.is_empty() {
        String::new()
    } else {
        format!("<references>{refs}</references>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:{ns}">
  <identifier>{id}</identifier>
  <sender>canhbao@nchmf.gov.vn</sender>
  <sent>2026-11-30T00:00:00+07:00</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>en-US</language>
    <category>Met</category>
    <event>Tropical storm</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2026-11-30T06:00:00+07:00</expires>
    <headline>Storm No. 9</headline>
    {areas}
  </info>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <event>Bão</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2026-11-30T06:00:00+07:00</expires>
    <headline>Bão số 9</headline>
    <description>Bão số 9 đổ bộ.</description>
    {areas}
  </info>
</alert>"#
    )
}

fn area(inner: &str) -> String {
    format!("<area><areaDesc>Vùng cảnh báo</areaDesc>{inner}</area>")
}

/// LQ (21.05,105.55) and LQ2 (21.06,105.56) in LQ; BP (21.02,105.60) and BP2
/// (21.20,105.70) in BP, whose official code is 10039.
async fn placed() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let t = app.token("admin_tt").await;
    for (code, area) in [("LQ2", "LQ"), ("BP2", "BP")] {
        let (s, v) = app
            .post(
                "/stations",
                &t,
                json!({"code": code, "name": format!("Đài {code}"), "area": area}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    for (code, lat, lon) in [
        ("LQ", 21.05, 105.55),
        ("LQ2", 21.06, 105.56),
        ("BP", 21.02, 105.60),
        ("BP2", 21.20, 105.70),
    ] {
        let (s, v) = patch(
            &app,
            &format!("/stations/{code}"),
            &t,
            json!({"location": {"lat": lat, "lon": lon}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = patch(&app, "/areas/BP", &t, json!({"official_code": "10039"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (app, t)
}

const AROUND_LQ: &str = "21.04,105.54 21.07,105.54 21.07,105.57 21.04,105.57 21.04,105.54";
const LQ_AND_BP: &str = "21.00,105.54 21.08,105.54 21.08,105.62 21.00,105.62 21.00,105.54";

#[tokio::test]
async fn a_cap_alert_reaches_the_stations_inside_its_polygons_and_circles_only() {
    let (app, t) = placed().await;
    let cases: [(&str, String, &[&str]); 5] = [
        (
            "P1",
            area(&format!("<polygon>{AROUND_LQ}</polygon>")),
            &["LQ", "LQ2"],
        ),
        // One polygon across two communes.
        (
            "P2",
            area(&format!("<polygon>{LQ_AND_BP}</polygon>")),
            &["BP", "LQ", "LQ2"],
        ),
        // A fire service's circle: 2 km around BP2.
        ("C1", area("<circle>21.19,105.70 2</circle>"), &["BP2"]),
        // Several areas: a polygon and a circle.
        (
            "M1",
            format!(
                "{}{}",
                area(&format!("<polygon>{AROUND_LQ}</polygon>")),
                area("<circle>21.02,105.60 0.5</circle>")
            ),
            &["BP", "LQ", "LQ2"],
        ),
        // An official commune code names BP's stations.
        (
            "G1",
            area("<geocode><valueName>MA_XA</valueName><value>10039</value></geocode>"),
            &["BP", "BP2"],
        ),
    ];
    for (id, areas, expected) in cases {
        let (s, v) = post_cap(&app, &t, cap("1.2", id, "Alert", "", &areas)).await;
        assert_eq!(s, StatusCode::CREATED, "{id}: {v}");
        assert_eq!(aired_on(&app, &t, &v["id"]).await, expected, "{id}");
    }
    // The Vietnamese block is the one aired.
    let (_, list) = app.get("/urgent", &t).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["title"] == "Bão số 9"));
    app.stop().await;
}

#[tokio::test]
async fn an_alert_reaching_no_station_is_recorded_and_answered_as_such() {
    let (app, t) = placed().await;
    for (id, areas) in [
        // A point (radius 0) at LQ reaches no one.
        ("N1", area("<circle>21.05,105.55 0</circle>")),
        // Far away, with another system's codes.
        (
            "N2",
            area(
                "<polygon>10,100 10,101 11,101 10,100</polygon>\
                 <geocode><valueName>FIPS6</valueName><value>006037</value></geocode>",
            ),
        ),
    ] {
        let (s, v) = post_cap(&app, &t, cap("1.2", id, "Alert", "", &areas)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{id}: {v}");
        assert_eq!(v["aired"], false);
        assert!(v["reason"].as_str().unwrap().contains("no station"), "{v}");
    }
    let (_, list) = app.get("/urgent", &t).await;
    assert!(list.as_array().unwrap().is_empty());
    let (_, audit) = app.get("/audit", &t).await;
    let unreached = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "cap.receive" && e["detail"]["reached_no_station"] == true)
        .count();
    assert_eq!(unreached, 2, "{audit}");
    app.stop().await;
}

#[tokio::test]
async fn a_polygon_alert_is_limited_to_the_stations_the_poster_may_reach() {
    let (app, _) = placed().await;
    let op = app.token("op_lq").await;
    let (s, v) = post_cap(
        &app,
        &op,
        cap(
            "1.2",
            "L1",
            "Alert",
            "",
            &area(&format!("<polygon>{LQ_AND_BP}</polygon>")),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(aired_on(&app, &op, &v["id"]).await, ["LQ", "LQ2"]);
    // The district's official code, posted from LQ: LQ's part of the district.
    let t = app.token("admin_tt").await;
    let (s, v) = patch(&app, "/areas/TT", &t, json!({"official_code": "276"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = post_cap(
        &app,
        &op,
        cap(
            "1.2",
            "L2",
            "Alert",
            "",
            &area("<geocode><valueName>MA_HUYEN</valueName><value>276</value></geocode>"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(aired_on(&app, &op, &v["id"]).await, ["LQ", "LQ2"]);
    // The province is above the district admin: not theirs to code.
    let (s, v) = patch(&app, "/areas/HN", &t, json!({"official_code": "01"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn updates_and_cancels_of_messages_never_received_act_as_new_or_are_recorded() {
    let (app, t) = placed().await;
    let never = "canhbao@nchmf.gov.vn,NEVER-SEEN,2026-11-29T20:00:00+07:00";
    let (s, v) = post_cap(
        &app,
        &t,
        cap(
            "1.2",
            "U1",
            "Update",
            never,
            &area(&format!("<polygon>{AROUND_LQ}</polygon>")),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(aired_on(&app, &t, &v["id"]).await, ["LQ", "LQ2"]);
    assert_eq!(v["replaced"], json!([]));
    let (s, v) = post_cap(&app, &t, cap("1.2", "X1", "Cancel", never, &area(""))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["cancelled"], json!([]));
    // The update itself can still be cancelled.
    let (s, v) = post_cap(
        &app,
        &t,
        cap(
            "1.2",
            "X2",
            "Cancel",
            "canhbao@nchmf.gov.vn,U1,2026-11-30T00:00:00+07:00",
            &area(""),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["cancelled"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn cap_1_1_and_iso_8859_1_messages_air_by_place() {
    let (app, t) = placed().await;
    let flood = cap(
        "1.1",
        "F1",
        "Alert",
        "",
        &area(&format!("<polygon>{AROUND_LQ}</polygon>")),
    )
    .replace(
        "<certainty>Observed</certainty>",
        "<certainty>Very Likely</certainty>",
    );
    let (s, v) = post_cap(&app, &t, flood).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(aired_on(&app, &t, &v["id"]).await, ["LQ", "LQ2"]);

    // An earthquake message in ISO-8859-1 (French text), a circle around BP.
    let text = cap(
        "1.2",
        "Q1",
        "Alert",
        "",
        &area("<circle>21.02,105.60 1</circle>"),
    )
    .replace("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"")
    .replace("<language>vi-VN</language>", "<language>fr</language>")
    .replace(
        "<description>Bão số 9 đổ bộ.</description>",
        "<description>Secousse modérée.</description>",
    )
    .replace(
        "<headline>Bão số 9</headline>",
        "<headline>Séisme ressenti</headline>",
    )
    .replace("<event>Bão</event>", "<event>Séisme</event>")
    .replace("Storm No. 9", "Séisme")
    .replace("Vùng cảnh báo", "Zone d'alerte");
    let latin1: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
        .collect();
    assert!(std::str::from_utf8(&latin1).is_err());
    let (s, v) = post_cap(&app, &t, latin1).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(aired_on(&app, &t, &v["id"]).await, ["BP"]);
    let (_, u) = app
        .get(&format!("/urgent/{}", v["id"].as_str().unwrap()), &t)
        .await;
    assert_eq!(u["title"], "Séisme");

    // An unknown encoding is refused as malformed.
    let bad = cap(
        "1.2",
        "Q2",
        "Alert",
        "",
        &area("<circle>21.02,105.60 1</circle>"),
    )
    .replace("encoding=\"UTF-8\"", "encoding=\"x-unknown\"");
    let (s, v) = post_cap(&app, &t, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    app.stop().await;
}
