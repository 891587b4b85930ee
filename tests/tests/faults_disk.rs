//! The controller's media cache fills its disk: a small tmpfs mounted over `DATA/media`
//! (the test runs as root, as `make test` does on the CI machine). The download fails with
//! a clear "disk full" error and leaves nothing behind under a media name; when space
//! returns the file is fetched, verified and played, and every bulletin is logged once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tests::e2e::{at_in, eventually};
use tests::scenarios::{exactly_once, sleep_until, World, STATION};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount(8) runs");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .expect("mount(8) runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cache_disk_gives_a_clear_error_and_recovers_when_space_returns() {
    let world = World::start().await.unwrap();
    let media_dir = world.controller_data().join("media");
    let disk = Tmpfs::mount(&media_dir, "256k");
    // 4 s at 48 kHz, 16 bit: 384 kB, more than the disk holds.
    let media = world.api.upload_tone(440.0, 4000).await.unwrap();
    let first = at_in(10);
    world
        .api
        .schedule_at("while full", &media, STATION, first)
        .await
        .unwrap();
    let ctl = world.controller(&world.url(), "null").unwrap();
    eventually(Duration::from_secs(30), "the disk-full error", || async {
        Ok(world.controller_log().contains("disk full").then_some(()))
    })
    .await
    .unwrap();
    let log = world.controller_log();
    assert!(
        log.contains(&format!("media {media} does not fit")),
        "the error names the file:\n{log}"
    );
    // Nothing under a media name, and the partial download gave its space back.
    let left: Vec<String> = std::fs::read_dir(&media_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !left.contains(&media),
        "an unverified file was kept: {left:?}"
    );

    // Space returns after the bulletin was due: it plays late, then one more on time.
    sleep_until(first + chrono::Duration::seconds(1)).await;
    disk.resize("8m");
    let second = at_in(12);
    world
        .api
        .schedule_at("after", &media, STATION, second)
        .await
        .unwrap();
    let rows = world
        .wait_for_logs(Duration::from_secs(60), |r| r.len() >= 2)
        .await
        .unwrap();
    ctl.terminate().unwrap();
    let by = exactly_once(&rows, &[first, second], &["played"])
        .unwrap_or_else(|e| panic!("{e}\n{rows:#?}"));
    assert_eq!(by.get("played"), Some(&2));
    assert_eq!(
        controller::fetch::sha256_file(&media_dir.join(&media)).unwrap(),
        media,
        "the cached file is whole"
    );
    drop(disk);
}
