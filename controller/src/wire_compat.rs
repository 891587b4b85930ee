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
}
