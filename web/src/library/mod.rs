//! The media library on disk: files named by their sha256 under `media/ab/abcdef…`,
//! uploads written to `tmp/` first, probed, then moved into place. A refused file leaves
//! nothing behind; the same file twice is stored once.

pub mod probe;

use crate::db;
use crate::db::media::MediaRow;
use crate::error::AppError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use std::io;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Where media files live.
#[derive(Debug)]
pub struct MediaStore {
    dir: PathBuf,
    tmp: PathBuf,
    max_bytes: u64,
}

impl MediaStore {
    /// The store under `data_dir`, creating `media/` and `tmp/`.
    pub fn open(data_dir: &Path, max_bytes: u64) -> io::Result<Self> {
        let dir = data_dir.join("media");
        let tmp = data_dir.join("tmp");
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(&tmp)?;
        Ok(Self {
            dir,
            tmp,
            max_bytes,
        })
    }

    /// The path of the file with hash `sha256` (lowercase hex).
    pub fn path_of(&self, sha256: &schedules::Sha256) -> PathBuf {
        let s = sha256.as_str();
        self.dir.join(&s[..2]).join(s)
    }

    /// Remove uploads left in `tmp/` by a crash. Only the server calls this, at start:
    /// a command run beside a live server must not delete its uploads in progress.
    pub fn clean_tmp(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.tmp)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Largest accepted file, bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// A new temporary file for an upload (deleted when dropped).
    pub fn temp_file(&self) -> io::Result<NamedTempFile> {
        tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&self.tmp)
    }

    /// Probe `tmp` and move it into place (blocking). A refused file is deleted.
    pub fn admit(&self, tmp: NamedTempFile, title: &str) -> Result<MediaRow, AppError> {
        let info = probe::probe(tmp.path(), self.max_bytes).map_err(AppError::invalid)?;
        let sha = schedules::Sha256::parse(&info.sha256).map_err(AppError::internal)?;
        let target = self.path_of(&sha);
        if !target.exists() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            tmp.persist(&target).map_err(|e| AppError::from(e.error))?;
        }
        Ok(MediaRow {
            id: info.sha256.clone(),
            sha256: info.sha256,
            title: title.to_string(),
            size_bytes: info.size_bytes,
            duration_ms: info.duration_ms,
            codec: info.codec,
            sample_rate: info.sample_rate,
            channels: info.channels,
            loudness_lufs: info.loudness_lufs,
            true_peak_dbtp: info.true_peak_dbtp,
            gain_db: info.gain_db,
        })
    }
}

/// Take a complete temporary file into the library for `area`: probe, store, index. The
/// one path every media file takes (uploads and the demo's generated bulletins alike).
pub async fn ingest(
    state: &AppState,
    tmp: NamedTempFile,
    title: String,
    area: String,
    uploaded_by: String,
    now: DateTime<Utc>,
) -> Result<MediaRow, AppError> {
    let store = state.media.clone();
    let row = tokio::task::spawn_blocking(move || store.admit(tmp, &title))
        .await
        .map_err(|e| AppError::internal(format!("probe task failed: {e}")))??;
    state
        .db
        .call(move |conn| {
            Ok(db::media::insert_or_keep(
                conn,
                &row,
                &area,
                &uploaded_by,
                now,
            )?)
        })
        .await
}

/// A title from an uploaded file name: its stem, or "untitled".
pub fn title_from_filename(name: Option<&str>) -> String {
    let stem = name
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
        .map(|n| n.rsplit_once('.').map_or(n, |(s, _)| s))
        .map(str::trim)
        .unwrap_or("");
    if stem.is_empty() {
        "untitled".to_string()
    } else {
        stem.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_file_stem() {
        assert_eq!(title_from_filename(Some("C:\\x\\Bản tin.mp3")), "Bản tin");
        assert_eq!(title_from_filename(Some("a/b/c.wav")), "c");
        assert_eq!(title_from_filename(None), "untitled");
        assert_eq!(title_from_filename(Some(".wav")), "untitled");
    }
}
