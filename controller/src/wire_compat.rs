//! Upgrades: a controller of this version keeps working against a newer server whose
//! schedule document carries fields this version does not know (at the top level and inside
//! its media entries). Tested through the real sync client over real HTTP.

#[cfg(test)]
mod tests {
    use crate::sync::{Client, Fetched};
    use axum::routing::get;

    #[tokio::test]
    async fn controller_reads_a_schedule_document_from_a_newer_server() {
        let sha = "a".repeat(64);
        let body = format!(
            r#"{{"station":"LQ","name":"Liên Quan","timezone":"Asia/Ho_Chi_Minh","version":"v9",
               "rules":[],"urgent":[],
               "media":[{{"sha256":"{sha}","size_bytes":10,"duration_ms":1000,"gain_db":-1.5,
                          "codec":"mp3","loudness_range_lu":4.2,"cdn":{{"url":"x"}}}}],
               "relay_channels":[{{"id":"vov1"}}],"cap_areas":["TT"]}}"#
        );
        let app = axum::Router::new().route(
            "/api/v1/device/schedule",
            get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::new(&format!("http://{addr}"), "token");
        let fetched = client.fetch_schedule(None).await.unwrap();
        server.abort();
        let Fetched::Doc(doc, etag) = fetched else {
            panic!("expected a document")
        };
        assert_eq!(doc.version, "v9");
        assert_eq!(doc.media.len(), 1);
        assert_eq!(doc.media[0].duration_ms, 1000);
        assert_eq!(etag.as_deref(), Some("\"v9\""));
    }

    /// A programme rule as a newer server sends it, and as a controller that predates
    /// programmes reads it (the `items` it does not know dropped): the older one keeps the
    /// whole slot on its timeline and airs the opening part; this one airs every part.
    #[test]
    fn a_programme_rule_is_one_slot_for_a_controller_that_does_not_know_programmes() {
        use crate::planner;
        use chrono::{TimeZone, Utc};
        use schedules::wire::ScheduleDocument;
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let doc = |items: &str| {
            format!(
                r#"{{"station":"LQ","timezone":"Asia/Ho_Chi_Minh","version":"v1",
                   "rules":[{{"id":"s1","title":"Sáng","at":"2026-12-01T00:00:00Z",
                     "media_sha256":"{a}","duration_ms":3000,"programme_id":"p1"{items}}}],
                   "media":[]}}"#
            )
        };
        let items = format!(
            r#","items":[{{"title":"Mở đầu","media_sha256":"{a}","duration_ms":1000}},
                         {{"title":"Tin","media_sha256":"{b}","duration_ms":2000,"jingle":false}}]"#
        );
        let from = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        let none = std::collections::HashSet::new();
        for (json, parts) in [(doc(""), 0), (doc(&items), 2)] {
            let d: ScheduleDocument = serde_json::from_str(&json).unwrap();
            let plan = planner::plan(Some(&d), &[], &none, from, to);
            assert_eq!(plan.slots.len(), 1, "{json}");
            assert_eq!(plan.slots[0].item.duration_ms, 3000);
            let p = plan.planned.values().next().unwrap();
            assert_eq!(p.media.as_str(), a);
            assert_eq!(p.parts.len(), parts);
        }
    }
}
