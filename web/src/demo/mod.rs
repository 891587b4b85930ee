//! The demo district: Thạch Thất (Hà Nội) with its 23 communes and towns, one station each,
//! two users, a few generated bulletins, a daily programme and a month of as-run history
//! ([`history`], marked as demo data). Seeded only into an empty data directory.

pub mod history;

use crate::admin;
use crate::db::{self, schedules::ScheduleSpec, users::Role};
use crate::error::AppError;
use crate::library;
use crate::state::AppState;
use media::signal;
use media::Pcm;
use rand::distributions::{Alphanumeric, DistString};
use schedules::Priority;
use std::io::Write;
use std::path::PathBuf;

/// The communes of Thạch Thất: (code, kind, name).
pub const COMMUNES: [(&str, &str, &str); 23] = [
    ("LQ", "thị trấn", "Liên Quan"),
    ("BINHPHU", "xã", "Bình Phú"),
    ("BINHYEN", "xã", "Bình Yên"),
    ("CANHNAU", "xã", "Canh Nậu"),
    ("CAMYEN", "xã", "Cẩm Yên"),
    ("CANKIEM", "xã", "Cần Kiệm"),
    ("CHANGSON", "xã", "Chàng Sơn"),
    ("DINAU", "xã", "Dị Nậu"),
    ("DAIDONG", "xã", "Đại Đồng"),
    ("DONGTRUC", "xã", "Đồng Trúc"),
    ("HABANG", "xã", "Hạ Bằng"),
    ("HUONGNGAI", "xã", "Hương Ngải"),
    ("HUUBANG", "xã", "Hữu Bằng"),
    ("KIMQUAN", "xã", "Kim Quan"),
    ("LAITHUONG", "xã", "Lại Thượng"),
    ("PHUKIM", "xã", "Phú Kim"),
    ("PHUNGXA", "xã", "Phùng Xá"),
    ("TANXA", "xã", "Tân Xã"),
    ("THACHHOA", "xã", "Thạch Hoà"),
    ("THACHXA", "xã", "Thạch Xá"),
    ("TIENXUAN", "xã", "Tiến Xuân"),
    ("YENBINH", "xã", "Yên Bình"),
    ("YENTRUNG", "xã", "Yên Trung"),
];

/// What the demo created that people need to know.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// (username, role, area, password), printed once.
    pub users: Vec<(String, Role, String, String)>,
    /// Where station LQ's device token was written.
    pub lq_token_file: PathBuf,
    /// Stations created.
    pub stations: usize,
    /// Whether the spoken bulletin came from espeak-ng.
    pub spoken: bool,
    /// Demo log entries written for the last [`history::DAYS`] days.
    pub history: usize,
}

impl Seeded {
    /// Print the demo's credentials (once: only hashes are stored).
    pub fn print(&self) {
        println!(
            "Demo district Thạch Thất seeded: {} stations.",
            self.stations
        );
        for (u, role, area, pw) in &self.users {
            println!("  user {u:<10} ({role} on {area})  password: {pw}");
        }
        println!(
            "  device token of station LQ written to {}",
            self.lq_token_file.display()
        );
        println!(
            "  {} demo log entries for the last {} days (ids start with {:?}: not real broadcasts)",
            self.history,
            history::DAYS,
            history::ID_PREFIX
        );
        if !self.spoken {
            println!("  (espeak-ng not found: the bulletins are tones only)");
        }
    }
}

fn capitalised(kind: &str) -> String {
    let mut c = kind.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A short tune standing in for a bulletin's music bed.
fn tune(notes: &[(f32, u32)]) -> Pcm {
    let rate = signal::DEFAULT_RATE;
    let mut samples = Vec::new();
    for &(f, ms) in notes {
        samples.extend(signal::tone(f, ms, rate, 0.4));
        samples.extend(signal::silence(80, rate));
    }
    Pcm {
        samples,
        sample_rate: rate,
        channels: 1,
    }
}

/// Speech from espeak-ng, if it is installed.
fn speak(text: &str, dir: &std::path::Path) -> Option<Pcm> {
    let out = tempfile::Builder::new()
        .suffix(".wav")
        .tempfile_in(dir)
        .ok()?;
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", "vi", "-s", "150", "-w"])
        .arg(out.path())
        .arg(text)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    media::decode_all(out.path()).ok()
}

async fn store(state: &AppState, pcm: Pcm, title: &str, area: &str) -> Result<String, AppError> {
    let mut tmp = state.media.temp_file()?;
    tmp.write_all(&signal::wav_bytes(&pcm))?;
    tmp.flush()?;
    let row = library::ingest(
        &state.media,
        &state.db,
        tmp,
        title.to_string(),
        area.to_string(),
        "demo".to_string(),
        state.clock.now(),
    )
    .await?;
    Ok(row.sha256)
}

fn password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
}

/// Seed the demo if there are no areas yet; `None` when the data directory was not empty.
pub async fn seed_if_empty(state: &AppState) -> Result<Option<Seeded>, AppError> {
    if state.db.call(|c| Ok(db::areas::count(c)?)).await? > 0 {
        return Ok(None);
    }
    let now = state.clock.now();
    let db = state.db.clone();
    let data_dir = state.data_dir.clone();
    let (users, lq_token_file) = tokio::task::spawn_blocking(move || {
        admin::add_area(&db, "demo", "HN", "Thành phố Hà Nội", None, now)?;
        admin::add_area(&db, "demo", "TT", "Huyện Thạch Thất", Some("HN"), now)?;
        let mut lq_token = String::new();
        for (code, kind, name) in COMMUNES {
            admin::add_area(
                &db,
                "demo",
                code,
                &format!("{} {name}", capitalised(kind)),
                Some("TT"),
                now,
            )?;
            let token = admin::add_station(
                &db,
                "demo",
                code,
                &format!("Đài truyền thanh {kind} {name}"),
                code,
                None,
                now,
            )?;
            if code == "LQ" {
                lq_token = token;
            }
        }
        let users = vec![
            (
                "admin".to_string(),
                Role::Admin,
                "TT".to_string(),
                password(),
            ),
            (
                "lienquan".to_string(),
                Role::Operator,
                "LQ".to_string(),
                password(),
            ),
        ];
        for (u, role, area, pw) in &users {
            admin::add_user(&db, "demo", u, pw, *role, area, now)?;
        }
        let file = data_dir.join("LQ.token");
        std::fs::write(&file, format!("{lq_token}\n"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok::<_, AppError>((users, file))
    })
    .await
    .map_err(AppError::internal)??;

    let dir = state.data_dir.join("tmp");
    let spoken_text = "Kính thưa bà con nhân dân. Sau đây là bản tin cải cách hành chính \
                       của huyện Thạch Thất.";
    let notice_text = "Thông báo của thị trấn Liên Quan về lịch tiêm phòng cho đàn gia súc.";
    let (bulletin_voice, notice_voice) = tokio::task::spawn_blocking(move || {
        (
            speak(spoken_text, &dir),
            speak(notice_text, &PathBuf::from(&dir)),
        )
    })
    .await
    .map_err(AppError::internal)?;
    let spoken = bulletin_voice.is_some();
    let rate = signal::DEFAULT_RATE;
    let bed = tune(&[(523.3, 400), (659.3, 400), (784.0, 400), (1046.5, 800)]);
    let mut bulletin = vec![signal::chime(rate)];
    bulletin.extend(bulletin_voice);
    bulletin.push(bed.clone());
    let bulletin = store(
        state,
        signal::concat(&bulletin),
        "Bản tin cải cách hành chính",
        "TT",
    )
    .await?;
    let mut notice = vec![signal::chime(rate)];
    notice.extend(notice_voice);
    notice.push(tune(&[(440.0, 600), (554.4, 600), (659.3, 900)]));
    let notice = store(
        state,
        signal::concat(&notice),
        "Thông báo tiêm phòng gia súc",
        "LQ",
    )
    .await?;
    let storm = signal::concat(&[
        signal::chime(rate),
        signal::chime(rate),
        tune(&[(880.0, 700), (660.0, 700), (880.0, 700), (660.0, 700)]),
    ]);
    let storm = store(state, storm, "Tin khẩn: phòng chống bão", "TT").await?;

    let programme = [
        (
            "Bản tin cải cách hành chính (sáng)",
            "30 5 * * *",
            bulletin.clone(),
            "TT",
            Priority::Priority,
            "cải cách hành chính",
            "admin",
        ),
        (
            "Bản tin cải cách hành chính (chiều)",
            "0 17 * * *",
            bulletin.clone(),
            "TT",
            Priority::Priority,
            "cải cách hành chính",
            "admin",
        ),
        (
            "Thông báo tiêm phòng gia súc",
            "0 18 * * 1-5",
            notice.clone(),
            "LQ",
            Priority::Normal,
            "thông báo",
            "lienquan",
        ),
    ];
    let ids: Vec<String> = (0..programme.len())
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let history = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            for ((title, cron, media, area, priority, category, by), id) in
                programme.into_iter().zip(&ids)
            {
                let spec = ScheduleSpec {
                    title: title.to_string(),
                    media_sha256: Some(media.clone()),
                    relay: None,
                    stations: Vec::new(),
                    areas: vec![area.to_string()],
                    cron: Some(cron.to_string()),
                    at: None,
                    starts_on: None,
                    ends_on: None,
                    excluded_dates: Vec::new(),
                    priority,
                    category: category.to_string(),
                    max_wait_ms: schedules::DEFAULT_MAX_WAIT_MS,
                    programme_id: None,
                };
                db::schedules::insert(&tx, id, &spec, area, by, now)?;
                let detail = serde_json::json!({"title": title, "cron": cron});
                db::audit::record(
                    &tx,
                    &db::audit::Change {
                        at: now,
                        user: "demo",
                        area,
                        action: "schedule.create",
                        target: id,
                        detail: &detail,
                        remote: None,
                    },
                )?;
            }
            let ms = |sha: &str| -> crate::db::sql::Result<i64> {
                tx.query_row(
                    "SELECT duration_ms FROM media WHERE sha256 = ?1",
                    [sha],
                    |r| r.get(0),
                )
            };
            let (b_ms, n_ms, s_ms) = (ms(&bulletin)?, ms(&notice)?, ms(&storm)?);
            let refs = history::Refs {
                morning: (&ids[0], &bulletin, b_ms),
                evening: (&ids[1], &bulletin, b_ms),
                notice: (&ids[2], &notice, n_ms),
                storm: (&storm, s_ms),
            };
            let codes: Vec<&str> = COMMUNES.iter().map(|c| c.0).collect();
            let n = history::seed(&tx, &codes, &refs, now)?;
            let detail = serde_json::json!({"days": history::DAYS, "entries": n});
            db::audit::record(
                &tx,
                &db::audit::Change {
                    at: now,
                    user: "demo",
                    area: "TT",
                    action: "demo.history",
                    target: "logs",
                    detail: &detail,
                    remote: None,
                },
            )?;
            tx.commit()?;
            Ok(n)
        })
        .await?;
    Ok(Some(Seeded {
        history,
        users,
        lq_token_file,
        stations: COMMUNES.len(),
        spoken,
    }))
}
