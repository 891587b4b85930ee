//! The copy of a notice's audio that goes to the stations: mono MP3 at `urgent_mp3_kbps`
//! (48 kb/s by default), stored in the library beside the file it was made from.
//!
//! An urgent notice goes to every target station at once, over links that are often
//! mobile: the bytes sent are what delays the loudspeakers. Spoken notices are WAV (text to
//! speech, the chime joined in front), a second of 48 kHz WAV is 96 KB, and 10,000 stations
//! take 10,000 copies. The same second at 48 kb/s is 6 KB, small enough to ride in the push
//! for notices up to about 40 s, and a horn loudspeaker carries speech at that rate as well
//! as the original. The copy is ordinary media (checked, measured and hashed by
//! [`library::ingest`], titled "… (48 kb/s)"), so the stations fetch, verify and log it as
//! any file, and the library shows what was sent.
//!
//! Not copied: a file already at most a quarter above the bit rate (an MP3 recorded for
//! speech), one longer than [`MAX_MS`] (a programme, not a warning: encoding it would delay
//! the notice by seconds), and anything when the setting is 0. A copy that cannot be made
//! leaves the notice with its file as uploaded: the notice goes out regardless.

use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::library;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use schedules::Sha256;

/// The longest audio copied: five minutes, about a second of encoding on one core.
pub const MAX_MS: u64 = 5 * 60 * 1000;

/// The file to send for `sha`: its compact copy, made now, or `sha` itself (see the module).
pub async fn for_sending(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    title: &str,
    sha: &Sha256,
) -> AppResult<Sha256> {
    let kbps = state.config.urgent_mp3_kbps;
    if kbps == 0 {
        return Ok(sha.clone());
    }
    let s = sha.as_str().to_string();
    let Some(m) = state.db.call(move |c| Ok(db::media::get(c, &s)?)).await? else {
        return Ok(sha.clone());
    };
    if !worth_copying(m.size_bytes, m.duration_ms, kbps) {
        return Ok(sha.clone());
    }
    match copy(state, user, now, title, sha, kbps).await {
        Ok(copied) => Ok(copied),
        Err(e) => {
            tracing::warn!("urgent audio {sha}: no {kbps} kb/s copy ({e}); sent as uploaded");
            Ok(sha.clone())
        }
    }
}

/// A file of `size` bytes lasting `ms` is copied at `kbps` when that saves more than a fifth.
fn worth_copying(size: u64, ms: u64, kbps: u16) -> bool {
    if ms == 0 || ms > MAX_MS {
        return false;
    }
    // Bits per second of the file against the copy's, with a quarter to spare.
    size * 8 * 1000 / ms > u64::from(kbps) * 1000 * 5 / 4
}

async fn copy(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    title: &str,
    sha: &Sha256,
    kbps: u16,
) -> AppResult<Sha256> {
    library::ensure_local(&state.media, &state.db, sha).await?;
    let store = state.media.clone();
    let path = store.path_of(sha);
    let tmp = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let pcm = media::decode_all(&path)
            .map_err(|e| AppError::internal(format!("decoding {}: {e}", path.display())))?;
        let mp3 = media::encode::mp3_mono(&pcm, kbps).map_err(AppError::internal)?;
        let mut tmp = store.temp_file()?;
        std::io::Write::write_all(&mut tmp, &mp3)?;
        Ok(tmp)
    })
    .await
    .map_err(AppError::internal)??;
    super::made::into_library(state, user, now, tmp, format!("{title} ({kbps} kb/s)")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_is_copied_and_speech_mp3_is_not() {
        // A second of 48 kHz 16-bit mono WAV.
        assert!(worth_copying(96_044, 1_000, 48));
        // A second at 48 and at 56 kb/s: within a quarter of the rate.
        assert!(!worth_copying(6_000, 1_000, 48));
        assert!(!worth_copying(7_000, 1_000, 48));
        // 128 kb/s music is copied.
        assert!(worth_copying(16_000, 1_000, 48));
        // Longer than five minutes, or of no length: sent as it is.
        assert!(!worth_copying(96_000 * 301, 301_000, 48));
        assert!(worth_copying(96_000 * 300, 300_000, 48));
        assert!(!worth_copying(96_000, 0, 48));
    }
}
