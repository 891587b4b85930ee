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
            assert_eq!(p.source.media().map(|m| m.as_str()), Some(a.as_str()));
            assert_eq!(p.parts().len(), parts);
        }
    }

    /// One document with a file, a programme and a relay (newer fields side by side): each
    /// is planned as what it is, and only files are fetched.
    #[test]
    fn a_document_plans_a_file_a_programme_and_a_relay_each_as_what_it_is() {
        use crate::planner::{self, Source};
        use chrono::{TimeZone, Utc};
        use schedules::wire::ScheduleDocument;
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let json = format!(
            r#"{{"station":"LQ","timezone":"Asia/Ho_Chi_Minh","version":"v1",
               "rules":[{{"id":"f","title":"Tin","at":"2026-12-01T00:00:00Z",
                          "media_sha256":"{c}","duration_ms":1000}},
                        {{"id":"p","title":"Sáng","at":"2026-12-01T01:00:00Z",
                          "media_sha256":"{a}","duration_ms":3000,"programme_id":"p1",
                          "items":[{{"title":"Mở đầu","media_sha256":"{a}","duration_ms":1000}},
                                   {{"title":"Tin","media_sha256":"{b}","duration_ms":2000}}]}}],
               "relays":[{{"id":"r","title":"VOV1","at":"2026-12-01T02:00:00Z",
                           "window_ms":60000,
                           "channel":{{"id":"vov1","name":"VOV1","url":"http://127.0.0.1:9/v"}}}}],
               "media":[]}}"#
        );
        let d: ScheduleDocument = serde_json::from_str(&json).unwrap();
        let from = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        let none = std::collections::HashSet::new();
        let plan = planner::plan(Some(&d), &[], &none, from, to);
        assert_eq!(plan.slots.len(), 3);
        let by_rule = |id: &str| {
            plan.planned
                .values()
                .find(|p| p.origin == planner::Origin::Rule(id.into()))
                .unwrap()
        };
        assert!(
            matches!(&by_rule("f").source, Source::Media { sha256, .. } if sha256.as_str() == c)
        );
        let p = by_rule("p");
        assert!(matches!(&p.source, Source::Programme { .. }));
        assert_eq!(p.parts().len(), 2);
        assert_eq!(p.item.duration_ms, 3000);
        let entry = p.log_entry(schedules::PlayStatus::Played, None);
        assert_eq!(entry.planned_ms, Some(3000));
        assert_eq!(
            p.part_entry(1, schedules::PlayStatus::Played, None)
                .part_of
                .as_deref(),
            Some(p.item.key.as_str())
        );
        let r = by_rule("r");
        assert!(matches!(&r.source, Source::Relay(ch) if ch.id == "vov1"));
        assert_eq!(r.item.duration_ms, 60_000);
        let entry = r.log_entry(schedules::PlayStatus::Played, None);
        assert_eq!((entry.media_sha256, entry.planned_ms), (None, None));
        assert!(r.all_media().is_empty());
        let needed: Vec<String> = planner::needed_media(Some(&d), &[], &none, from, to)
            .into_iter()
            .map(|(m, _)| m.as_str().to_string())
            .collect();
        assert_eq!(needed, vec![c.clone(), a.clone(), b.clone()]);
    }
}
