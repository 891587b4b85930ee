//! Text to speech: `espeak-ng -v vi` writes a WAV, which enters the library through the
//! same probe as any upload.

use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use schedules::Sha256;
use std::process::Stdio;
use std::time::Duration;

/// Longest text spoken, in characters.
pub const MAX_TEXT_CHARS: usize = 5000;

/// Longest `espeak-ng` may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Check text to speak: 1 to [`MAX_TEXT_CHARS`] characters once trimmed.
pub fn validate(text: &str) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::invalid("text: is empty"));
    }
    let n = t.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(AppError::invalid(format!(
            "text: {n} characters; at most {MAX_TEXT_CHARS}"
        )));
    }
    Ok(t.to_string())
}

/// Speak `text` in Vietnamese into a WAV in the library's temporary directory, bounded by
/// [`TIMEOUT`]; the process is killed if it runs over.
pub async fn speak(state: &AppState, text: &str) -> AppResult<tempfile::NamedTempFile> {
    let store = state.media.clone();
    let (wav, txt) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        Ok((store.temp_file()?, store.temp_file()?))
    })
    .await
    .map_err(AppError::internal)??;
    tokio::fs::write(txt.path(), text.as_bytes()).await?;
    let mut cmd = tokio::process::Command::new("espeak-ng");
    cmd.arg("-v")
        .arg("vi")
        .arg("-w")
        .arg(wav.path())
        .arg("-f")
        .arg(txt.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| AppError::internal(format!("espeak-ng could not start: {e}")))?;
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| AppError::internal(format!("espeak-ng ran over {TIMEOUT:?}")))??;
    if !out.status.success() {
        return Err(AppError::internal(format!(
            "espeak-ng failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(wav)
}

/// Speak `text` and take the result into the library of the user's area.
pub async fn speak_into_library(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    title: &str,
    text: &str,
) -> AppResult<Sha256> {
    let wav = speak(state, text).await?;
    super::made::into_library(state, user, now, wav, format!("{title} (TTS)")).await
}
