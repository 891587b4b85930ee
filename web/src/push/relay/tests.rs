//! Two hubs, each with its relay, on one real PostgreSQL database.

use super::*;
use crate::push::{Push, Subscription};
use crate::testing::postgres_database;

/// Short intervals, so that the tests take a second rather than ten.
fn config(node: &str) -> RelayConfig {
    RelayConfig {
        poll: Duration::from_millis(200),
        presence: Duration::from_millis(200),
        alive_window: Duration::from_secs(1),
        settle: Duration::from_millis(500),
        timeout: Duration::from_secs(5),
        ..RelayConfig::new(node)
    }
}

struct Node {
    hub: Arc<Hub>,
    relay: RelayHandle,
}

async fn node(url: &str, name: &str) -> Node {
    let hub = Arc::new(Hub::new(0));
    let relay = start_relay_with(url, config(name), hub.clone())
        .await
        .unwrap();
    Node { hub, relay }
}

async fn client(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The next event of `sub`, within 5 s.
async fn next(sub: &mut Subscription) -> Push {
    tokio::time::timeout(Duration::from_secs(5), sub.rx.recv())
        .await
        .expect("no event within 5 s")
        .unwrap()
}

/// Wait (at most `limit`) until `f` holds.
async fn until(limit: Duration, what: &str, f: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn a_publication_on_one_node_reaches_the_streams_of_the_other_once() {
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    let (mut on_a, mut on_b) = (a.hub.subscribe("LQ"), b.hub.subscribe("LQ"));

    let mut delays = Vec::new();
    for i in 0..20 {
        let start = Instant::now();
        a.hub.publish("LQ", Event::Urgent, format!("{{\"n\":{i}}}"));
        assert_eq!(&*next(&mut on_a).await.data, format!("{{\"n\":{i}}}"));
        let got = next(&mut on_b).await;
        delays.push(start.elapsed());
        assert_eq!(got.event, Event::Urgent);
        assert_eq!(&*got.data, format!("{{\"n\":{i}}}"));
    }
    delays.sort();
    eprintln!(
        "push A→B over PostgreSQL: median {:?}, max {:?} (20 events)",
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );

    // B's publication comes to A through the bus after everything A published: had A
    // received its own publications back, they would be in between.
    b.hub.publish("LQ", Event::Cancel, "{}");
    assert_eq!(next(&mut on_b).await.event, Event::Cancel);
    let back = next(&mut on_a).await;
    assert_eq!(
        back.event,
        Event::Cancel,
        "A got something else first: {back:?}"
    );
    assert!(on_a.rx.try_recv().is_err());
    assert!(on_b.rx.try_recv().is_err());
    // Ids keep growing on each node.
    assert!(back.id > 20);
    assert_eq!(a.hub.urgent_pushed(), 20);
    assert_eq!(b.hub.urgent_pushed(), 0, "counted where it was published");
}

#[tokio::test]
async fn an_urgent_notice_to_2000_stations_is_one_row() {
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    let stations: Vec<String> = (0..2000).map(|i| format!("S{i:04}")).collect();
    let (mut first, mut last) = (b.hub.subscribe("S0000"), b.hub.subscribe("S1999"));
    let mut not_targeted = b.hub.subscribe("X");
    let start = Instant::now();
    a.hub
        .publish_many(&stations, Event::Urgent, "{\"id\":\"u1\"}");
    let (x, y) = (next(&mut first).await, next(&mut last).await);
    eprintln!("2,000 stations A→B: {:?}", start.elapsed());
    assert_eq!(
        x, y,
        "one event, one id, for every station of the publication"
    );
    assert!(not_targeted.rx.try_recv().is_err());
    assert_eq!(a.hub.urgent_pushed(), 2000);

    let db = client(&url).await;
    let rows = db
        .query("SELECT stations FROM push_log", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let codes: Vec<String> = serde_json::from_str(rows[0].get(0)).unwrap();
    assert_eq!(codes, stations);
}

#[tokio::test]
async fn a_relay_cut_off_reconnects_and_delivers_what_was_published_meanwhile() {
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    let (mut on_a, mut on_b) = (a.hub.subscribe("LQ"), b.hub.subscribe("LQ"));
    let (cluster, name) = url.rsplit_once('/').unwrap();
    // On another database: one cannot forbid connections to the current one.
    let db = client(&format!("{cluster}/postgres")).await;

    // B's connection is killed, and no new one is let in for a while (A's stays). Other
    // tests run on the same cluster: only this database's B.
    db.batch_execute(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'loaxa-relay:B' AND datname = '{name}';"
    ))
    .await
    .unwrap();
    a.hub.publish("LQ", Event::Urgent, "from A while B is away");
    b.hub
        .publish("LQ", Event::Cancel, "from B while it is away");
    // A live session on B goes on sending meanwhile (its frames are dropped): B must
    // still try to reconnect.
    let talking = tokio::spawn({
        let hub = b.hub.clone();
        async move {
            loop {
                hub.publish_live("L1", vec![frame(1, &[0; 300])]);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    assert_eq!(&*next(&mut on_a).await.data, "from A while B is away");
    assert_eq!(&*next(&mut on_b).await.data, "from B while it is away");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(on_b.rx.try_recv().is_err(), "B cannot have it yet");
    assert!(on_a.rx.try_recv().is_err(), "A cannot have it yet");

    db.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    assert_eq!(&*next(&mut on_b).await.data, "from A while B is away");
    assert_eq!(&*next(&mut on_a).await.data, "from B while it is away");
    talking.abort();

    // And the bus works as before.
    a.hub.publish("LQ", Event::Urgent, "after");
    next(&mut on_a).await;
    assert_eq!(&*next(&mut on_b).await.data, "after");
    drop((a.relay, b.relay));
}

#[tokio::test]
async fn a_row_committed_after_a_newer_one_is_still_delivered() {
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    let mut on_b = b.hub.subscribe("LQ");
    // Another node's insert takes an id, and commits only after A's newer row was read.
    let slow = client(&url).await;
    slow.batch_execute(
        "BEGIN;
         INSERT INTO push_log (key, origin, stations, event, data)
              VALUES ('slow-1', 'C', '[\"LQ\"]', 'cancel', 'older id, committed later');",
    )
    .await
    .unwrap();
    a.hub.publish("LQ", Event::Urgent, "newer id");
    assert_eq!(&*next(&mut on_b).await.data, "newer id");
    slow.batch_execute("COMMIT; NOTIFY loaxa_push;")
        .await
        .unwrap();
    assert_eq!(&*next(&mut on_b).await.data, "older id, committed later");
    drop(a);
}

#[tokio::test]
async fn a_station_on_one_node_is_connected_on_the_other_until_that_node_is_gone() {
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    assert!(!a.hub.is_connected("LQ"));
    let on_b = b.hub.subscribe("LQ");
    let seen = until(Duration::from_secs(5), "A sees LQ on B", || {
        a.hub.is_connected("LQ")
    })
    .await;
    eprintln!("presence B→A: {seen:?}");
    assert_eq!(
        a.hub.connected_streams(),
        0,
        "A counts its own streams only"
    );

    // The stream closes: gone from A too.
    drop(on_b);
    until(Duration::from_secs(5), "A sees LQ leave B", || {
        !a.hub.is_connected("LQ")
    })
    .await;

    // B dies with its stream open (no goodbye): A forgets it after the alive window.
    let _on_b = b.hub.subscribe("LQ");
    until(Duration::from_secs(5), "A sees LQ on B again", || {
        a.hub.is_connected("LQ")
    })
    .await;
    drop(b.relay);
    let gone = until(Duration::from_secs(5), "A forgets the dead B", || {
        !a.hub.is_connected("LQ")
    })
    .await;
    eprintln!("dead node forgotten after {gone:?} (alive window 1 s)");
    assert!(
        gone >= Duration::from_millis(500),
        "not before the window: {gone:?}"
    );

    // A node stopped cleanly is forgotten at once.
    let c = node(&url, "C").await;
    let _on_c = c.hub.subscribe("HB");
    until(Duration::from_secs(5), "A sees HB on C", || {
        a.hub.is_connected("HB")
    })
    .await;
    c.relay.stop().await;
    let gone = until(Duration::from_secs(5), "A forgets the stopped C", || {
        !a.hub.is_connected("HB")
    })
    .await;
    assert!(gone < Duration::from_millis(500), "{gone:?}");
}

/// A frame as `media::voice::Frame::to_bytes` makes them: length, kind, body.
fn frame(kind: u8, body: &[u8]) -> Bytes {
    let mut f = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    f.push(kind);
    f.extend_from_slice(body);
    Bytes::from(f)
}

#[test]
fn live_frames_are_cut_into_payloads_postgres_takes() {
    // 40 ms of IMA ADPCM at 14 kHz is about 300 bytes: a second of backlog at once.
    let frames: Vec<Bytes> = (0..25u8).map(|i| frame(1, &[i; 300])).collect();
    let payloads = live_payloads(vec![("L1".into(), frames.clone())]);
    assert!(payloads.len() > 1);
    let mut back = Vec::new();
    for p in &payloads {
        assert!(p.len() <= bus::LIVE_PAYLOAD, "{}", p.len());
        let (id, b64) = p.strip_prefix("f ").unwrap().split_once(' ').unwrap();
        assert_eq!(id, "L1");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        back.extend(live::split_frames(&raw).unwrap());
    }
    assert_eq!(back, frames);
    assert!(live::split_frames(&frames[0][..10]).is_none());
}

#[tokio::test]
async fn live_frames_of_a_session_on_one_node_reach_the_stations_of_the_other_in_order_and_their_states_come_back(
) {
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    // A station of B connects before the first audio.
    let (backlog, mut rx) = b.hub.live_frames("L1").unwrap();
    assert!(backlog.is_empty());

    let mut delays = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(40));
    for i in 0..50u8 {
        tick.tick().await;
        let f = frame(1, &[i; 300]);
        let sent = Instant::now();
        a.hub.publish_live("L1", vec![f.clone()]);
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        delays.push(sent.elapsed());
        assert_eq!(got, f);
    }
    delays.sort();
    eprintln!(
        "live frame A→B over NOTIFY: median {:?}, 95th {:?}, max {:?} (50 frames of 40 ms)",
        delays[25], delays[47], delays[49]
    );

    // A second of frames at once (a sender catching up), then the end.
    let burst: Vec<Bytes> = (0..25u8).map(|i| frame(1, &[i; 300])).collect();
    a.hub.publish_live("L1", burst.clone());
    let end = frame(2, b"{\"reason\":\"stop\",\"archive\":null}");
    a.hub.publish_live("L1", vec![end.clone()]);
    for f in burst.iter().chain([&end]) {
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got, f);
    }
    assert!(live::is_end(&end));
    // A station of B connecting late gets the last second, end included.
    let (late, _) = b.hub.live_frames("L1").unwrap();
    assert_eq!(late.last(), Some(&end));
    assert_eq!(late.len(), 25);

    // What became of B's station goes back to A, the session's node.
    let mut updates = a.hub.live_station_updates();
    let u = live::StationUpdate {
        session: "L1".into(),
        code: "XB".into(),
        change: live::StationChange::Report(schedules::wire::LiveReport {
            state: "airing".into(),
            behind_ms: 0,
            played_ms: 2000,
            gaps: 0,
        }),
    };
    b.hub.publish_live_station(u.clone());
    let got = tokio::time::timeout(Duration::from_secs(5), updates.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, u);

    // Without a relay there are no other nodes' sessions.
    drop(b.relay);
    assert!(b.hub.live_frames("L1").is_none());
}

#[tokio::test]
async fn two_nodes_given_the_same_name_still_reach_each_other() {
    let url = postgres_database();
    let (a, b) = (node(&url, "web").await, node(&url, "web").await);
    let mut on_b = b.hub.subscribe("LQ");
    a.hub.publish("LQ", Event::Command, "{}");
    assert_eq!(next(&mut on_b).await.event, Event::Command);
    until(Duration::from_secs(5), "A sees LQ on B", || {
        a.hub.is_connected("LQ")
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_a_thousand_publications_reaches_the_other_node_whole() {
    // A province-wide schedule change: one publication per station, all at once.
    let url = postgres_database();
    let (a, b) = (node(&url, "A").await, node(&url, "B").await);
    let stations: Vec<String> = (0..1000).map(|i| format!("S{i:04}")).collect();
    let mut subs: Vec<Subscription> = stations.iter().map(|s| b.hub.subscribe(s)).collect();
    let start = Instant::now();
    for s in &stations {
        a.hub
            .publish(s, Event::Schedule, format!("{{\"station\":\"{s}\"}}"));
    }
    let mut last_id = 0;
    for (s, sub) in stations.iter().zip(&mut subs) {
        let got = next(sub).await;
        assert_eq!(&*got.data, format!("{{\"station\":\"{s}\"}}"));
        assert!(got.id > last_id, "in the order published");
        last_id = got.id;
    }
    eprintln!("1,000 publications A→B: {:?}", start.elapsed());
    let db = client(&url).await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM push_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1000);
    assert!(
        subs.iter_mut().all(|s| s.rx.try_recv().is_err()),
        "once each"
    );
}
