//! Fault scenarios shared by the fault tests (short runs, in `make test`) and the soak
//! benchmark (long runs, in `make bench`). Each one answers what it did and whether the
//! nothing-lost promise held.

use crate::harness::{exactly_once, now, LogRow, World};
use crate::proxy::{FaultProxy, Faults};
use chrono::{DateTime, Duration as CDuration, DurationRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::time::Duration;

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

/// `count` due times `spacing` apart, the first `lead` from now, on whole seconds.
pub fn due_times(lead: Duration, spacing: Duration, count: usize) -> Vec<DateTime<Utc>> {
    let first = (now() + CDuration::from_std(lead).unwrap_or_default())
        .duration_trunc(CDuration::seconds(1))
        .unwrap_or_else(|_| now());
    (0..count)
        .map(|i| first + CDuration::from_std(spacing * i as u32).unwrap_or_default())
        .collect()
}

async fn sleep_until(at: DateTime<Utc>) {
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
) {
    let rows = world
        .wait_for_logs(patience, |rows| {
            due.iter()
                .all(|at| rows.iter().any(|r| r.scheduled_at == *at))
        })
        .await;
    check(outcome, rows, due, allowed);
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
) -> anyhow::Result<Outcome> {
    let world = World::start().await?;
    let media = world.upload_tone(440.0, bulletin_ms).await?;
    let due = due_times(Duration::from_secs(5), spacing, bulletins);
    for (i, at) in due.iter().enumerate() {
        world.schedule_at(&format!("kill {i}"), &media, *at).await?;
    }
    let data = world.dir.path().join("controller");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut outcome = Outcome::default();
    let end =
        *due.last().unwrap_or(&now()) + CDuration::milliseconds(i64::from(bulletin_ms) + 1000);
    let mut ctl = world.controller(&world.url(), &data, "null")?;
    // The first run gets the schedule and the media before the storm begins.
    sleep_until(due[0] - CDuration::milliseconds(500)).await;
    while now() < end {
        let alive = rng.gen_range(300..(spacing.as_millis() as u64 * 3 / 2).max(400));
        tokio::time::sleep(Duration::from_millis(alive)).await;
        ctl.kill9();
        outcome.kills += 1;
        let dead = rng.gen_range(0..800);
        tokio::time::sleep(Duration::from_millis(dead)).await;
        ctl = world.controller(&world.url(), &data, "null")?;
    }
    let allowed = ["played", "interrupted", "missed"];
    settle(
        &world,
        &mut outcome,
        &due,
        &allowed,
        Duration::from_secs(60),
    )
    .await;
    ctl.terminate();
    Ok(outcome)
}

/// The server goes away for a window during which `during` bulletins come due: they play
/// from the cache, and their logs arrive exactly once after the server is back.
pub async fn server_outage(during: usize, spacing: Duration) -> anyhow::Result<Outcome> {
    let mut world = World::start().await?;
    let media = world.upload_tone(660.0, 1000).await?;
    // One bulletin before the outage proves that the schedule and media are cached.
    let due = due_times(Duration::from_secs(4), spacing, during + 1);
    for (i, at) in due.iter().enumerate() {
        world
            .schedule_at(&format!("outage {i}"), &media, *at)
            .await?;
    }
    let data = world.dir.path().join("controller");
    let ctl = world.controller(&world.url(), &data, "null")?;
    let first = world
        .wait_for_logs(Duration::from_secs(30), |rows| {
            rows.iter().any(|r| r.scheduled_at == due[0])
        })
        .await;
    anyhow::ensure!(
        first.iter().any(|r| r.scheduled_at == due[0]),
        "the first bulletin never reached the server"
    );
    world.stop_server().await;
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
    .await;
    ctl.terminate();
    Ok(outcome)
}

/// The controller talks to the server through a [`FaultProxy`] whose plan changes every
/// `period`: latency, dropped connections, resets, half-closes, stalls. Sync, the media
/// download and the logs must converge; every bulletin is logged exactly once.
pub async fn proxy_faults(
    bulletins: usize,
    spacing: Duration,
    seed: u64,
) -> anyhow::Result<Outcome> {
    let world = World::start().await?;
    // A bigger file, so that the download is cut and resumed mid-way.
    let media = world.upload_tone(550.0, 1500).await?;
    let due = due_times(Duration::from_secs(10), spacing, bulletins);
    for (i, at) in due.iter().enumerate() {
        world
            .schedule_at(&format!("proxy {i}"), &media, *at)
            .await?;
    }
    let proxy = FaultProxy::start(world.addr).await?;
    // Start stalled mid-file: the first media download must resume with Range.
    proxy.set(Faults {
        stall_after: Some(20_000),
        seed,
        ..Faults::default()
    });
    let data = world.dir.path().join("controller");
    let ctl = world.controller(&proxy.url(), &data, "null")?;
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
    sleep_until(due[0] - CDuration::seconds(6)).await;
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
    .await;
    let st = proxy.stats();
    outcome.proxy_faults = st.dropped + st.resets + st.reset_all + st.half_closes + st.stalls;
    ctl.terminate();
    proxy.shutdown().await;
    Ok(outcome)
}
