//! The media library on disk: files named by their sha256 under `media/ab/abcdef…`,
//! uploads written to `tmp/` first, probed, then moved into place. A refused file leaves
//! nothing behind; the same file twice is stored once.

pub mod probe;

use crate::db;
use crate::db::media::MediaRow;
use crate::error::AppError;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tempfile::NamedTempFile;

/// Where media files live.
#[derive(Debug)]
pub struct MediaStore {
    dir: PathBuf,
    tmp: PathBuf,
    max_bytes: u64,
    hot: Mutex<HotFiles>,
}

/// Files up to this size are read whole and kept in memory once served.
pub const HOT_FILE_MAX: u64 = 4 << 20;
/// The most the in-memory files hold together.
const HOT_TOTAL_MAX: usize = 32 << 20;

/// The small files served last, least recently served first. An urgent notice's audio is
/// asked for by every station within a second; from memory, each request costs no disk
/// read and no blocking-thread hop. Files are named by their content, so an entry never
/// goes stale.
#[derive(Debug, Default)]
struct HotFiles {
    entries: VecDeque<(String, Bytes)>,
    bytes: usize,
}

impl HotFiles {
    fn get(&mut self, sha: &str) -> Option<Bytes> {
        let i = self.entries.iter().position(|(s, _)| s == sha)?;
        let e = self.entries.remove(i)?;
        let b = e.1.clone();
        self.entries.push_back(e);
        Some(b)
    }

    fn remove(&mut self, sha: &str) {
        if let Some(i) = self.entries.iter().position(|(s, _)| s == sha) {
            if let Some((_, b)) = self.entries.remove(i) {
                self.bytes -= b.len();
            }
        }
    }

    fn put(&mut self, sha: &str, bytes: Bytes) {
        if bytes.len() as u64 > HOT_FILE_MAX || self.get(sha).is_some() {
            return;
        }
        self.bytes += bytes.len();
        self.entries.push_back((sha.to_string(), bytes));
        while self.bytes > HOT_TOTAL_MAX {
            match self.entries.pop_front() {
                Some((_, b)) => self.bytes -= b.len(),
                None => break,
            }
        }
    }
}

/// A stored file opened to be served: its length, and its bytes when it is small.
#[derive(Debug)]
pub struct Opened {
    /// The open file.
    pub file: std::fs::File,
    /// Its length.
    pub len: u64,
    /// The whole file, read at once, when it is at most [`HOT_FILE_MAX`] bytes.
    pub whole: Option<Bytes>,
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
            hot: Mutex::default(),
        })
    }

    /// The path of the file with hash `sha256` (lowercase hex).
    pub fn path_of(&self, sha256: &schedules::Sha256) -> PathBuf {
        let s = sha256.as_str();
        self.dir.join(&s[..2]).join(s)
    }

    /// The whole file `sha256` if it was served lately and is small (no disk access).
    pub fn hot(&self, sha256: &schedules::Sha256) -> Option<Bytes> {
        self.hot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha256.as_str())
    }

    /// Open the file `sha256` to serve it (blocking): a small one is read whole and kept
    /// in memory for the next requests.
    pub fn open_file(&self, sha256: &schedules::Sha256) -> io::Result<Opened> {
        use std::io::Read;
        let mut file = std::fs::File::open(self.path_of(sha256))?;
        let len = file.metadata()?.len();
        let whole = if len <= HOT_FILE_MAX {
            let mut buf = Vec::with_capacity(len as usize);
            (&mut file).take(len).read_to_end(&mut buf)?;
            let b = Bytes::from(buf);
            self.hot
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(sha256.as_str(), b.clone());
            Some(b)
        } else {
            None
        };
        Ok(Opened { file, len, whole })
    }

    /// The whole file `sha256` (blocking): from memory when it was served lately, else
    /// read (and, when small, kept in memory as [`MediaStore::open_file`] does).
    pub fn read_whole(&self, sha256: &schedules::Sha256) -> io::Result<Bytes> {
        if let Some(b) = self.hot(sha256) {
            return Ok(b);
        }
        match self.open_file(sha256)?.whole {
            Some(b) => Ok(b),
            None => std::fs::read(self.path_of(sha256)).map(Bytes::from),
        }
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

    /// Probe `tmp` (blocking): its row, or a clear refusal (the file is then deleted).
    /// The file moves into place with [`MediaStore::place`], on the database thread.
    pub fn admit(&self, tmp: &NamedTempFile, title: &str) -> Result<MediaRow, AppError> {
        let info = probe::probe(tmp.path(), self.max_bytes).map_err(AppError::invalid)?;
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

    /// Move a probed upload into place unless its content is there already. Called on the
    /// database thread, together with the row's insert, so that a delete of the same
    /// content (also on that thread) cannot fall between the two.
    pub fn place(&self, tmp: NamedTempFile, sha256: &schedules::Sha256) -> io::Result<()> {
        let target = self.path_of(sha256);
        if !target.exists() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            tmp.persist(&target).map_err(|e| e.error)?;
        }
        Ok(())
    }

    /// Remove a file from disk (and from memory), on the database thread with its row's
    /// delete: see [`MediaStore::place`].
    pub fn remove(&self, sha256: &schedules::Sha256) {
        self.hot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(sha256.as_str());
        let path = self.path_of(sha256);
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove media file");
        }
    }
}

/// Make sure the file `sha256` is on this node's disk: with several nodes it may have been
/// uploaded to another, and is then fetched once from the shared store, checked against
/// its hash and kept here (files are named by their content: a kept copy never goes stale).
/// Nothing to do on one SQLite node, or when the file is here.
pub async fn ensure_local(
    store: &std::sync::Arc<MediaStore>,
    db: &crate::db::Db,
    sha256: &schedules::Sha256,
) -> Result<(), AppError> {
    if db.backend() != db::sql::Backend::Postgres
        || store.hot(sha256).is_some()
        || store.path_of(sha256).exists()
    {
        return Ok(());
    }
    let s = sha256.as_str().to_string();
    let Some(bytes) = db.call(move |c| Ok(db::media::blob(c, &s)?)).await? else {
        return Ok(());
    };
    let (store, sha) = (store.clone(), sha256.clone());
    tokio::task::spawn_blocking(move || -> Result<(), AppError> {
        use sha2::Digest;
        let got = hex::encode(sha2::Sha256::digest(&bytes));
        if got != sha.as_str() {
            return Err(AppError::internal(format!(
                "the shared copy of media {sha} has hash {got}: not kept"
            )));
        }
        let mut tmp = store.temp_file()?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        store.place(tmp, &sha)?;
        Ok(())
    })
    .await
    .map_err(|e| AppError::internal(format!("media fetch task failed: {e}")))?
}

/// Take a complete temporary file into the library for `area`: probe, store, index. The
/// one path every media file takes (uploads and the demo's generated bulletins alike).
pub async fn ingest(
    store: &std::sync::Arc<MediaStore>,
    db: &crate::db::Db,
    tmp: NamedTempFile,
    title: String,
    area: String,
    uploaded_by: String,
    now: DateTime<Utc>,
) -> Result<MediaRow, AppError> {
    let admit = store.clone();
    let (tmp, row) = tokio::task::spawn_blocking(move || {
        let row = admit.admit(&tmp, &title)?;
        Ok::<_, AppError>((tmp, row))
    })
    .await
    .map_err(|e| AppError::internal(format!("probe task failed: {e}")))??;
    let store = store.clone();
    db.call(move |conn| {
        let sha = schedules::Sha256::parse(&row.sha256).map_err(AppError::internal)?;
        let tx = conn.transaction()?;
        let row = db::media::insert_or_keep(&tx, &row, &area, &uploaded_by, now)?;
        if tx.backend() == db::sql::Backend::Postgres {
            // Every node serves every file: the bytes go to the shared store with the row.
            db::media::put_blob(&tx, sha.as_str(), &std::fs::read(tmp.path())?)?;
        }
        store.place(tmp, &sha)?;
        tx.commit()?;
        Ok(row)
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

    #[test]
    fn the_hot_files_keep_the_last_served_within_their_bound() {
        let mut h = HotFiles::default();
        let mb = |n: usize| Bytes::from(vec![n as u8; 3 << 20]);
        for i in 0..12 {
            h.put(&format!("f{i}"), mb(i));
        }
        assert!(h.bytes <= HOT_TOTAL_MAX, "{}", h.bytes);
        assert!(
            h.get("f0").is_none() && h.get("f1").is_none(),
            "the oldest went first"
        );
        assert_eq!(h.get("f11").unwrap()[0], 11);
        // Serving one makes it the newest: it outlives those served before it.
        assert!(h.get("f2").is_some());
        h.put("g", mb(99));
        assert!(h.get("f3").is_none(), "the least recently served went");
        assert!(h.get("f2").is_some());
        assert!(h.get("f11").is_some() && h.get("g").is_some());
        // Too big to keep.
        h.put("big", Bytes::from(vec![0u8; HOT_FILE_MAX as usize + 1]));
        assert!(h.get("big").is_none());
    }
}
