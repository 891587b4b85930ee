//! Test support: a fresh PostgreSQL database per test.
//!
//! [`postgres_database`] answers the URL of a new, empty database. The cluster it lives in
//! is the one of `LOAXA_TEST_POSTGRES` (`scripts/with-postgres.sh` starts one and sets it,
//! so every test process of a run shares it), or else a private cluster this process
//! starts on first use: `initdb` in a temporary directory, a free port on 127.0.0.1, its
//! own socket directory. A static has no destructor, so that cluster is stopped by a small
//! watchdog shell that waits for this process to disappear, then stops it and removes its
//! directory.
//!
//! The databases are made through `tokio_postgres`: with `LOAXA_TEST_POSTGRES` set no
//! PostgreSQL program is needed on this machine.
//!
//! Tests never skip: without PostgreSQL this panics and says what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable naming a running cluster, `postgres://USER@HOST:PORT`.
pub const ENV: &str = "LOAXA_TEST_POSTGRES";

/// The URL of a fresh, empty database (UTF-8, `C` locale) made for the caller.
///
/// Panics when no cluster can be had, with what to install.
pub fn postgres_database() -> String {
    let base = cluster_url();
    let name = fresh_name();
    execute(
        &format!("{base}/postgres"),
        &format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"),
    )
    .unwrap_or_else(|e| panic!("cannot create a test database on {base}: {e}"));
    format!("{base}/{name}")
}

/// The URL of a fresh database holding the latest schema (and nothing else): a copy of a
/// template migrated once per process, quicker than migrating an empty one each time.
///
/// Panics when no cluster can be had, with what to install.
pub fn postgres_database_migrated() -> String {
    let base = cluster_url();
    static TEMPLATE: OnceLock<Result<String, String>> = OnceLock::new();
    let template = match TEMPLATE.get_or_init(|| {
        let url = postgres_database();
        let at = crate::db::Location::Postgres(url.clone());
        // Opened and dropped on a thread of its own: its connections close as its threads
        // end, and a copy waits for that below.
        std::thread::spawn(move || crate::db::Db::open_at(&at).map(drop))
            .join()
            .map_err(|_| "migrating the template panicked".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(url.rsplit('/').next().unwrap_or_default().to_string())
    }) {
        Ok(t) => t.clone(),
        Err(e) => panic!("cannot prepare the template database on {base}: {e}"),
    };
    let name = fresh_name();
    let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
    let mut last = String::new();
    // The template's last connections may still be closing, or another copy running.
    for _ in 0..100 {
        match execute(&format!("{base}/postgres"), &sql) {
            Ok(()) => return format!("{base}/{name}"),
            Err(e) if e.contains("is being accessed by other users") => {
                last = e;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("cannot create a test database on {base}: {e}"),
        }
    }
    panic!("cannot copy the template database on {base}: {last}")
}

/// A database name no other test of any process uses.
fn fresh_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "loaxa_test_{}_{}_{:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// For benchmarks: the URL of a fresh, empty database on a cluster with PostgreSQL's
/// default, durable settings (fsync on): `LOAXA_BENCH_POSTGRES`'s, else a private one this
/// process starts. The tests' cluster runs without fsync and is no place to measure.
pub fn postgres_database_durable() -> String {
    let base = match std::env::var("LOAXA_BENCH_POSTGRES") {
        Ok(url) => strip_database(&url),
        Err(_) => {
            static DURABLE: OnceLock<Result<String, String>> = OnceLock::new();
            match DURABLE.get_or_init(|| start_private(true)) {
                Ok(url) => url.clone(),
                Err(e) => panic!("no PostgreSQL for the benchmark: {e}"),
            }
        }
    };
    let name = fresh_name();
    execute(
        &format!("{base}/postgres"),
        &format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"),
    )
    .unwrap_or_else(|e| panic!("cannot create a database on {base}: {e}"));
    format!("{base}/{name}")
}

/// `postgres://user@host:port` without a database or parameters.
fn cluster_url() -> String {
    if let Ok(url) = std::env::var(ENV) {
        return strip_database(&url);
    }
    static PRIVATE: OnceLock<Result<String, String>> = OnceLock::new();
    match PRIVATE.get_or_init(|| start_private(false)) {
        Ok(url) => url.clone(),
        Err(e) => panic!(
            "the tests need PostgreSQL and none could be started: {e}\n\
             Install it (Debian: apt-get install -y postgresql), or run the tests under \
             scripts/with-postgres.sh, or set {ENV}=postgres://USER@HOST:PORT"
        ),
    }
}

fn strip_database(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?']) {
        Some(i) => url[..after_scheme + i].to_string(),
        None => url.to_string(),
    }
}

/// The directory of `initdb` and `pg_ctl`.
fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|d| d.join("initdb").is_file());
    found.sort();
    if let Some(d) = found.pop() {
        return Ok(d);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").is_file())
        .ok_or_else(|| "no initdb in /usr/lib/postgresql/*/bin nor on PATH".to_string())
}

/// Run as the cluster's owner: `postgres` when we are root (initdb refuses root).
fn as_owner(program: &Path) -> Command {
    if rustix::process::getuid().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Run `sql` on `url`, on a thread of its own (callers may be inside a runtime or not).
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| crate::push::relay::describe(&e))?;
            let connection = tokio::spawn(connection);
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| crate::push::relay::describe(&e))?;
            drop(client);
            let _ = connection.await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_string())?
}

/// Start a private cluster: `durable`, with PostgreSQL's default settings; else thrown
/// away at the end, without fsync.
fn start_private(durable: bool) -> Result<String, String> {
    let bin = bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("loaxa-pg.")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?
        .keep();
    let (data, sock, log) = (dir.join("data"), dir.join("sock"), dir.join("server.log"));
    std::fs::create_dir(&sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    if rustix::process::getuid().is_root() {
        let mut c = Command::new("chown");
        c.args(["-R", "postgres:"]).arg(&dir);
        run(c, "chown to postgres (is the postgres user there?)")?;
    }
    let mut c = as_owner(&bin.join("initdb"));
    c.arg("-D").arg(&data).args([
        "--auth=trust",
        "-U",
        "postgres",
        "--no-locale",
        "-E",
        "UTF8",
    ]);
    run(c, "initdb")?;

    // The watchdog first, so that the directory goes even if the start fails half-way.
    watchdog(&bin, &dir, &data)?;
    let mut last = String::new();
    for _ in 0..8 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        let mut c = as_owner(&bin.join("pg_ctl"));
        c.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-s", "-o"])
            // Each test server opens a few connections.
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400{}",
                sock.display(),
                if durable { "" } else { " -c fsync=off" }
            ))
            .arg("start")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: a Ctrl-C on the tests leaves the stop to the watchdog.
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        match run(c, "pg_ctl start") {
            Ok(()) => return Ok(format!("postgres://postgres@127.0.0.1:{port}")),
            Err(e) => last = e,
        }
    }
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    Err(format!("{last}\n{log}"))
}

/// A shell that waits for this process to end, then stops the cluster and removes `dir`.
fn watchdog(bin: &Path, dir: &Path, data: &Path) -> Result<(), String> {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if rustix::process::getuid().is_root() {
        "runuser -u postgres -- \"$2\" -D \"$3\" -m immediate -s stop"
    } else {
        "\"$2\" -D \"$3\" -m immediate -s stop"
    };
    let script = format!(
        "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
         if [ -f \"$3/postmaster.pid\" ]; then {stop}; fi; rm -rf \"$4\""
    );
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .arg("loaxa-pg-watchdog")
        .arg(std::process::id().to_string())
        .arg(&pg_ctl)
        .arg(data)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.spawn()
        .map(drop)
        .map_err(|e| format!("the cluster's watchdog: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_loses_its_database_and_parameters() {
        for (url, base) in [
            (
                "postgres://postgres@127.0.0.1:5432",
                "postgres://postgres@127.0.0.1:5432",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/",
                "postgres://postgres@127.0.0.1:5432",
            ),
            ("postgres://u@h:1/db?sslmode=disable", "postgres://u@h:1"),
            ("postgres://u@h:1?x=y", "postgres://u@h:1"),
        ] {
            assert_eq!(strip_database(url), base, "{url}");
        }
    }

    #[test]
    fn each_call_is_a_new_empty_database() {
        let (a, b) = (postgres_database(), postgres_database());
        assert_ne!(a, b);
        execute(&a, "CREATE TABLE t (x INT)").unwrap();
        execute(&b, "CREATE TABLE t (x INT)").unwrap();
    }
}
