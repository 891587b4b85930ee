//! `GET /api/v1/openapi.json`: the document is valid OpenAPI 3, and it describes exactly the
//! (method, path) pairs the router serves — a route added without its `#[utoipa::path]`
//! (see `web/src/openapi/mod.rs`) fails `every_routed_endpoint_is_documented_and_nothing_else`.

use crate::helpers::TestApp;
use crate::routes::{answer, concrete, routed, routed_paths, METHODS};
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

fn state() -> (tempfile::TempDir, web::state::AppState) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(schedules::ManualClock::new(crate::helpers::t0()));
    let state = web::state::AppState::open(dir.path(), clock).unwrap();
    (dir, state)
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_routed_endpoint_is_documented_and_nothing_else() {
    let (_dir, state) = state();
    let app = web::startup::app(state);
    let mut served = BTreeSet::new();
    for path in routed_paths(&app) {
        // axum's own catch-all for the JSON 404 (and the root it nests under) is no endpoint.
        if path.contains("__private__axum_fallback") || path == "/" {
            continue;
        }
        // Browser pages, their forms and static files are not the API.
        if !path.starts_with("/api/") && path != "/healthz" && path != "/metrics" {
            continue;
        }
        let probe = concrete(&path);
        if !path.starts_with("/api/") {
            // HTML pages (and their redirects to sign-in) are for browsers, not the API.
            let (status, ctype, _) = answer(&app, "get", &probe).await;
            if ctype.starts_with("text/html") || status.is_redirection() {
                continue;
            }
        }
        for m in METHODS {
            if routed(&app, m, &probe).await {
                served.insert((m.to_string(), path.clone()));
            }
        }
    }
    let doc = web::openapi::document();
    let described = documented(&doc);
    let missing: Vec<_> = served.difference(&described).collect();
    let extra: Vec<_> = described.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routed but not in the OpenAPI document (annotate their handlers, see web/src/openapi/mod.rs): {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in the OpenAPI document but not routed: {extra:?}"
    );
}

#[tokio::test]
async fn the_document_is_served_and_parses_as_openapi_3() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let spec: openapiv3::OpenAPI = serde_json::from_str(&text).expect("a valid OpenAPI 3 document");
    assert!(spec.openapi.starts_with("3.0"));
    assert!(spec.paths.paths.contains_key("/api/v1/device/schedule"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    app.stop().await;

    // Every $ref points at something.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let pointer = r.strip_prefix('#').expect("local ref");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // Path parameters declared; operation ids unique; the error body described.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(['{', '}']);
                assert!(
                    op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["in"] == "path" && p["name"] == name),
                    "{method} {path}: path parameter {name} not declared"
                );
            }
            assert!(op["responses"]["500"].is_object(), "{method} {path}");
        }
    }
    let err = &doc["components"]["schemas"]["Error"];
    assert_eq!(
        err["properties"]["error"]["required"],
        serde_json::json!(["code", "message"])
    );
    for scheme in ["bearer", "cookie", "device"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object());
    }
}

#[tokio::test]
async fn device_endpoints_ask_for_the_device_token_and_people_for_bearer_or_cookie() {
    let doc = web::openapi::document();
    assert_eq!(
        doc["paths"]["/api/v1/device/heartbeat"]["post"]["security"],
        serde_json::json!([{"device": []}])
    );
    assert_eq!(
        doc["paths"]["/api/v1/stations"]["get"]["security"],
        serde_json::json!([{"bearer": []}, {"cookie": []}])
    );
    assert_eq!(
        doc["paths"]["/healthz"]["get"]["security"],
        serde_json::json!([])
    );
}

/// The OpenAPI Initiative's JSON Schema of OpenAPI 3.0 documents (2021-09-28 edition,
/// Apache-2.0), as shipped in the `openapi-spec-validator` Python package.
const OPENAPI_3_0_SCHEMA: &str = include_str!("openapi-3.0.schema.json");

#[test]
fn the_document_is_valid_against_the_openapi_3_0_json_schema() {
    let schema: Value = serde_json::from_str(OPENAPI_3_0_SCHEMA).unwrap();
    let validator = jsonschema::draft4::new(&schema).expect("the OpenAPI 3.0 schema compiles");
    let doc = web::openapi::document();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(20)
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid OpenAPI 3.0 document:\n{}",
        errors.join("\n")
    );

    // The validator does see a broken document: an operation without answers, a 3.1 type.
    let mut broken = doc.clone();
    broken["paths"]["/healthz"]["get"]
        .as_object_mut()
        .unwrap()
        .remove("responses");
    assert!(!validator.is_valid(&broken));
    let mut broken = doc;
    broken["components"]["schemas"]["Error"]["type"] = serde_json::json!(["object", "null"]);
    assert!(!validator.is_valid(&broken));
}
