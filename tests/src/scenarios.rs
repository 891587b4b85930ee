//! Fault scenarios shared by the fault tests (short runs, in `make test`) and the soak
//! benchmark (long runs, in `make bench`). Each one answers what it did and whether the
//! nothing-lost promise held. They are built from the [`crate::e2e`] pieces: the real
//! server in-process, real `loaxa-controller` processes, the public API.

use crate::e2e::{seed, Api, ControllerProcess, Server, OP_PASSWORD};
use crate::proxy::{FaultProxy, Faults};
use anyhow::Result;
use chrono::{DateTime, Duration as CDuration, DurationRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schedules::{Clock, SystemClock};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The station every fault scenario plays on.
pub const STATION: &str = "LQ";

/// The wall clock, through the one `Clock`.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// One row of `GET /logs`, the fields the checks read.
#[derive(Debug, Clone, Deserialize)]
pub struct LogRow {
    /// The occurrence key the device made.
    pub id: String,
    /// Due time.
    pub scheduled_at: DateTime<Utc>,
    /// played, interrupted, skipped, failed or missed.
    pub status: String,
    /// Milliseconds aired.
    pub played_ms: u64,
    /// Why it did not play in full, when it did not.
    pub reason: Option<String>,
}

/// A seeded server data directory with one station ([`STATION`]), the server serving it,
/// the operator's API client and the station's device token.
pub struct World {
    /// Everything lives under here (server data, controller data, WAV output).
    pub dir: tempfile::TempDir,
    /// The server, while it runs.
    pub server: Option<Server>,
    /// Where the server listens (kept across restarts).
    pub addr: SocketAddr,
    /// The operator, over the district.
    pub api: Api,
    /// The station's device token.
    pub token: String,
}

impl World {
    /// Seed a fresh data directory and start the server on a free port.
    pub async fn start() -> Result<World> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("server");
        let token = seed(&data, &[STATION])?.remove(0);
        let server = Server::start(&data).await?;
        let api = Api::login(&server, "op", OP_PASSWORD).await?;
        Ok(World {
            addr: server.addr,
            server: Some(server),
            dir,
            api,
            token,
        })
    }

    /// The server's base URL (no `/api/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The controller's data directory.
    pub fn controller_data(&self) -> PathBuf {
        self.dir.path().join("controller")
    }

    /// What the controllers wrote to stderr, all runs together.
    pub fn controller_log(&self) -> String {
        std::fs::read_to_string(self.controller_data().join("controller.log")).unwrap_or_default()
    }

    /// Start a controller process for the station against `server_url` (the server, or a
    /// proxy in front of it).
    pub fn controller(&self, server_url: &str, output: &str) -> Result<ControllerProcess> {
        ControllerProcess::spawn(
            server_url,
            STATION,
            &self.token,
            &self.controller_data(),
            output,
        )
    }

    /// Stop the server (its address stays for [`World::restart_server`]).
    pub async fn stop_server(&mut self) -> Result<()> {
        match self.server.take() {
            Some(s) => s.stop().await,
            None => Ok(()),
        }
    }

    /// Start the server again on the same address and data directory.
    pub async fn restart_server(&mut self) -> Result<()> {
        let s = Server::start_on(&self.dir.path().join("server"), self.addr).await?;
        self.api = self.api.at(&s);
        self.server = Some(s);
        Ok(())
    }

    /// Every log row of the station.
    pub async fn logs(&self) -> Result<Vec<LogRow>> {
        self.api
            .logs(STATION)
            .await?
            .into_iter()
            .map(|v| Ok(serde_json::from_value(v)?))
            .collect()
    }

    /// Read the logs until `done` holds on them, up to `patience`; answers the last rows
    /// read. (Nothing pushes logs to a client, so this asks every 200 ms.) A read that
    /// fails is an error unless a later one succeeds.
    pub async fn wait_for_logs(
        &self,
        patience: Duration,
        done: impl Fn(&[LogRow]) -> bool,
    ) -> Result<Vec<LogRow>> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let read = self.logs().await;
            if let Ok(rows) = &read {
                if done(rows) {
                    return read;
                }
            }
            if tokio::time::Instant::now() > deadline {
                return read;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What a scenario did and what the server holds at the end.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Occurrences that came due.
    pub due: usize,
    /// Controller processes killed with SIGKILL.
    pub kills: usize,
    /// Server outages the station lived through.
    pub outages: usize,
    /// Faults the proxy injected (drops, resets, half-closes, stalls).
    pub proxy_faults: u64,
    /// Log rows at the server by status.
    pub by_status: BTreeMap<String, usize>,
    /// Occurrences without exactly one log row (must be 0).
    pub lost_or_duplicated: usize,
    /// What went wrong, if anything.
    pub problems: Option<String>,
    /// The rows read last.
    pub rows: Vec<LogRow>,
}

/// Check the nothing-lost promise for `due` (the due times of the occurrences that came
/// due): exactly one row per due time, no row for anything else, statuses from `allowed`,
/// no id twice. Answers counts by status, or a description of what is wrong.
pub fn exactly_once(
    rows: &[LogRow],
    due: &[DateTime<Utc>],
    allowed: &[&str],
) -> std::result::Result<BTreeMap<String, usize>, String> {
    let mut problems = Vec::new();
    let mut by_status = BTreeMap::new();
    for at in due {
        let n = rows.iter().filter(|r| r.scheduled_at == *at).count();
        if n != 1 {
            problems.push(format!("{at}: {n} log rows"));
        }
    }
    for r in rows {
        if !due.contains(&r.scheduled_at) {
            problems.push(format!("unexpected row {r:?}"));
        }
        if !allowed.contains(&r.status.as_str()) {
            problems.push(format!("status {} not allowed: {r:?}", r.status));
        }
        *by_status.entry(r.status.clone()).or_insert(0) += 1;
    }
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != rows.len() {
        problems.push("duplicate ids".into());
    }
    if problems.is_empty() {
        Ok(by_status)
    } else {
        Err(problems.join("\n"))
    }
}

/// `count` due times `spacing` apart, the first `lead` from now, on whole seconds.
pub fn due_times(lead: Duration, spacing: Duration, count: usize) -> Vec<DateTime<Utc>> {
    let first = (now() + CDuration::from_std(lead).unwrap_or_default())
        .duration_trunc(CDuration::seconds(1))
        .unwrap_or_else(|_| now());
    (0..count)
        .map(|i| first + CDuration::from_std(spacing * i as u32).unwrap_or_default())
        .collect()
}

/// Sleep until the wall clock reads `at`.
pub async fn sleep_until(at: DateTime<Utc>) {
    let wait = (at - now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
}

fn check(outcome: &mut Outcome, rows: Vec<LogRow>, due: &[DateTime<Utc>], allowed: &[&str]) {
    outcome.due = due.len();
    match exactly_once(&rows, due, allowed) {
        Ok(by) => outcome.by_status = by,
        Err(p) => {
            outcome.lost_or_duplicated = due
                .iter()
                .filter(|at| rows.iter().filter(|r| r.scheduled_at == **at).count() != 1)
                .count();
            outcome.problems = Some(p);
        }
    }
    outcome.rows = rows;
}

/// Wait until every due time has a row (or patience runs out) and check the rows.
async fn settle(
    world: &World,
    outcome: &mut Outcome,
    due: &[DateTime<Utc>],
    allowed: &[&str],
    patience: Duration,
) -> Result<()> {
    let rows = world
        .wait_for_logs(patience, |rows| {
            due.iter()
                .all(|at| rows.iter().any(|r| r.scheduled_at == *at))
        })
        .await?;
    check(outcome, rows, due, allowed);
    Ok(())
}

/// Upload one tone and schedule it at every time of `due`, titled `what i`.
async fn schedule_all(
    world: &World,
    what: &str,
    freq: f32,
    ms: u32,
    due: &[DateTime<Utc>],
) -> Result<()> {
    let media = world.api.upload_tone(freq, ms).await?;
    for (i, at) in due.iter().enumerate() {
        world
            .api
            .schedule_at(&format!("{what} {i}"), &media, STATION, *at)
            .await?;
    }
    Ok(())
}

/// Bulletins of `bulletin_ms` every `spacing`; the controller is killed with SIGKILL at
/// seeded random moments and started again after a short random pause, until the last
/// bulletin has had time to end. Statuses may be played, interrupted or missed; each
/// occurrence must have exactly one row.
pub async fn kill_storm(
    bulletins: usize,
    spacing: Duration,
    bulletin_ms: u32,
    seed: u64,
) -> Result<Outcome> {
    let world = World::start().await?;
    let due = due_times(Duration::from_secs(6), spacing, bulletins);
    schedule_all(&world, "kill", 440.0, bulletin_ms, &due).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcome = Outcome::default();
    let end =
        *due.last().unwrap_or(&now()) + CDuration::milliseconds(i64::from(bulletin_ms) + 1000);
    let mut ctl = world.controller(&world.url(), "null")?;
    // The first run gets the schedule and the media before the storm begins.
    sleep_until(due[0] - CDuration::milliseconds(500)).await;
    while now() < end {
        let alive = rng.gen_range(300..(spacing.as_millis() as u64 * 3 / 2).max(400));
        tokio::time::sleep(Duration::from_millis(alive)).await;
        ctl.kill9()?;
        outcome.kills += 1;
        let dead = rng.gen_range(0..800);
        tokio::time::sleep(Duration::from_millis(dead)).await;
        ctl = world.controller(&world.url(), "null")?;
    }
    let allowed = ["played", "interrupted", "missed"];
    settle(
        &world,
        &mut outcome,
        &due,
        &allowed,
        Duration::from_secs(60),
    )
    .await?;
    ctl.terminate()?;
    Ok(outcome)
}

/// The server goes away for a window during which `during` bulletins come due: they play
/// from the cache, and their logs arrive exactly once after the server is back.
pub async fn server_outage(during: usize, spacing: Duration) -> Result<Outcome> {
    let mut world = World::start().await?;
    // One bulletin before the outage proves that the schedule and media are cached.
    let due = due_times(Duration::from_secs(5), spacing, during + 1);
    schedule_all(&world, "outage", 660.0, 1000, &due).await?;
    let ctl = world.controller(&world.url(), "null")?;
    let first = world
        .wait_for_logs(Duration::from_secs(30), |rows| {
            rows.iter().any(|r| r.scheduled_at == due[0])
        })
        .await?;
    anyhow::ensure!(
        first.iter().any(|r| r.scheduled_at == due[0]),
        "the first bulletin never reached the server: {first:?}"
    );
    world.stop_server().await?;
    let mut outcome = Outcome {
        outages: 1,
        ..Outcome::default()
    };
    sleep_until(*due.last().unwrap_or(&now()) + CDuration::milliseconds(1500)).await;
    world.restart_server().await?;
    settle(
        &world,
        &mut outcome,
        &due,
        &["played"],
        Duration::from_secs(60),
    )
    .await?;
    ctl.terminate()?;
    Ok(outcome)
}

/// The controller talks to the server through a [`FaultProxy`] whose plan changes every
/// half second to two: latency, dropped connections, resets, half-closes, stalls. Sync,
/// the media download and the logs must converge; every bulletin is logged exactly once.
pub async fn proxy_faults(bulletins: usize, spacing: Duration, seed: u64) -> Result<Outcome> {
    let world = World::start().await?;
    let due = due_times(Duration::from_secs(30), spacing, bulletins);
    // 144 kB: a download the proxy can stall mid-way.
    schedule_all(&world, "proxy", 550.0, 1500, &due).await?;
    let proxy = FaultProxy::start(world.addr).await?;
    // Start with every connection stalled after 20 kB: the controller must notice that the
    // media download stopped and resume it with Range once the network is well again.
    proxy.set(Faults {
        stall_after: Some(20_000),
        seed,
        ..Faults::default()
    });
    let ctl = world.controller(&proxy.url(), "null")?;
    // The proxy holds the connection open and silent; the controller must give up on it.
    crate::e2e::eventually(
        controller::fetch::STALL_TIMEOUT + Duration::from_secs(15),
        "the controller to notice the stalled download",
        || async {
            Ok(world
                .controller_log()
                .contains("download stalled")
                .then_some(()))
        },
    )
    .await?;
    proxy.set(Faults::default());
    crate::e2e::eventually(
        controller::fetch::STALL_TIMEOUT + Duration::from_secs(15),
        "the stalled download to resume",
        || async {
            Ok(world
                .controller_log()
                .contains("resuming at byte")
                .then_some(()))
        },
    )
    .await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let plans = [
        Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        },
        Faults {
            drop_probability: 0.5,
            ..Faults::default()
        },
        Faults {
            reset_probability: 0.05,
            ..Faults::default()
        },
        Faults {
            half_close_after: Some(3000),
            ..Faults::default()
        },
        Faults {
            stall_after: Some(5000),
            ..Faults::default()
        },
        Faults::default(),
    ];
    let end = *due.last().unwrap_or(&now()) + CDuration::seconds(3);
    sleep_until(due[0] - CDuration::seconds(8)).await;
    while now() < end {
        let mut plan = plans[rng.gen_range(0..plans.len())].clone();
        plan.seed = rng.gen();
        proxy.set(plan);
        if rng.gen_bool(0.3) {
            proxy.reset_all();
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2000))).await;
    }
    // Faults off: everything must now converge.
    proxy.set(Faults::default());
    let mut outcome = Outcome::default();
    settle(
        &world,
        &mut outcome,
        &due,
        &["played"],
        Duration::from_secs(60),
    )
    .await?;
    let st = proxy.stats();
    outcome.proxy_faults = st.dropped + st.resets + st.reset_all + st.half_closes + st.stalls;
    ctl.terminate()?;
    proxy.shutdown().await;
    Ok(outcome)
}
