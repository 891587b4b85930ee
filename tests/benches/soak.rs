//! The long fault soak (`cargo bench -p tests --bench soak`, in `make bench`): more kills,
//! longer outages and more proxy faults than the fault tests, against the real server and
//! real `loaxa-controller` processes. Prints the figures and `BENCH|` lines; exits 1 if
//! any occurrence was lost or duplicated.

use std::time::Duration;
use tests::scenarios::{kill_storm, proxy_faults, server_outage, Outcome};

fn report(name: &str, o: &Outcome) {
    println!(
        "{name}: due {} kills {} outages {} proxy faults {} statuses {:?} lost/duplicated {}",
        o.due, o.kills, o.outages, o.proxy_faults, o.by_status, o.lost_or_duplicated
    );
    if let Some(p) = &o.problems {
        println!("{name} problems:\n{p}");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rounds: u64 = std::env::var("LOAXA_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let (mut kills, mut outages, mut faults, mut due, mut lost, mut failed_runs) =
        (0, 0, 0, 0, 0, 0);
    rt.block_on(async {
        for round in 0..rounds {
            let runs = [
                (
                    "kill storm",
                    kill_storm(20, Duration::from_secs(3), 1500, 1000 + round).await,
                ),
                (
                    "server outage",
                    server_outage(5, Duration::from_millis(2500)).await,
                ),
                (
                    "proxy faults",
                    proxy_faults(8, Duration::from_secs(3), 2000 + round).await,
                ),
            ];
            for (name, r) in runs {
                match r {
                    Ok(o) => {
                        report(name, &o);
                        kills += o.kills;
                        outages += o.outages;
                        faults += o.proxy_faults;
                        due += o.due;
                        lost += o.lost_or_duplicated;
                        if o.problems.is_some() {
                            failed_runs += 1;
                        }
                    }
                    Err(e) => {
                        println!("{name}: could not run: {e:#}");
                        failed_runs += 1;
                    }
                }
            }
        }
    });
    println!("BENCH|soak controller kills survived|{kills}|-|-");
    println!("BENCH|soak server outages survived|{outages}|-|-");
    println!("BENCH|soak proxy faults injected|{faults}|-|-");
    println!("BENCH|soak occurrences due|{due}|-|-");
    println!("BENCH|soak log entries lost or duplicated|{lost}|0|-");
    if lost > 0 || failed_runs > 0 {
        std::process::exit(1);
    }
}
