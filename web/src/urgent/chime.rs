//! The chime before a notice: [`media::signal::chime`] joined in front of the notice's audio,
//! in the audio's own rate and channels, stored as new media.

use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use media::signal;
use schedules::Sha256;

/// Store chime + `sha`'s audio as a new WAV in the library; answers its hash.
pub async fn prepend(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    title: &str,
    sha: &Sha256,
) -> AppResult<Sha256> {
    let store = state.media.clone();
    let path = store.path_of(sha);
    let tmp = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let pcm = media::decode_all(&path)
            .map_err(|e| AppError::internal(format!("decoding {}: {e}", path.display())))?;
        let chime = signal::to_channels(&signal::chime(pcm.sample_rate), pcm.channels);
        let joined = signal::concat(&[chime, pcm]);
        let tmp = store.temp_file()?;
        signal::write_wav(tmp.path(), &joined).map_err(AppError::internal)?;
        Ok(tmp)
    })
    .await
    .map_err(AppError::internal)??;
    super::made::into_library(state, user, now, tmp, format!("{title} (chime)")).await
}
