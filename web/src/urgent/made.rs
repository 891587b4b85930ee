//! Audio the server makes for a notice (its spoken text, the chime joined in front, the
//! copy sent to the stations, a CAP message's resource) goes into the library like an
//! upload: probed, measured, hashed, owned by the area of the person who sent the notice.

use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::library;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use schedules::Sha256;
use tempfile::NamedTempFile;

/// Take `tmp` into the library of `user`'s area as `title`; answers its hash.
pub async fn into_library(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    tmp: NamedTempFile,
    title: String,
) -> AppResult<Sha256> {
    let row = library::ingest(
        &state.media,
        &state.db,
        tmp,
        title,
        user.area.clone(),
        user.username.clone(),
        now,
    )
    .await?;
    Sha256::parse(&row.sha256).map_err(AppError::internal)
}
