//! `loaxa-web backup` and `restore`: the database and the media in one tar file.
//!
//! The backup is taken while the server keeps serving: SQLite's online backup copies a
//! consistent snapshot of the database (WAL readers never block the server's writer), then
//! the media files that snapshot names are copied, each checked against its sha256 (they
//! are stored by hash and never changed). The archive is written to a temporary file next
//! to the target and renamed into place, so a backup file is whole or absent.
//!
//! A restore checks everything before it touches the data directory: every entry's name,
//! every media file's hash, the database's integrity and schema version, and that every
//! media row has its file. Only then is the restored data moved in; with `--force`, what
//! was there is moved aside into `replaced-<time>/`, never deleted.

use crate::db::migrations::latest_version;
use rusqlite::{Connection, OpenFlags};
use schedules::{Clock, SystemClock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// The archive's description of itself, its first entry.
const MANIFEST: &str = "loaxa-backup.json";
/// The database's name, in the archive and in the data directory.
const DB: &str = "loaxa.db";
/// This program writes and reads archives of this format.
const FORMAT: u32 = 1;
/// How many times a snapshot is retaken when a media file it names was deleted meanwhile.
const ATTEMPTS: usize = 3;

/// What went wrong, and the exit status it deserves.
#[derive(Debug)]
pub struct BackupError {
    message: String,
    /// The request was refused (bad archive, existing data): 2; the machine failed: 1.
    refused: bool,
}

impl BackupError {
    fn refused(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            refused: true,
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            refused: false,
        }
    }

    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        if self.refused {
            2
        } else {
            1
        }
    }
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn io_at(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError {
    let path = path.display().to_string();
    move |e| BackupError::failed(format!("{what} {path}: {e}"))
}

fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> BackupError {
    move |e| BackupError::failed(format!("{what}: {e}"))
}

/// The manifest: enough to refuse an archive that is not ours or not whole.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    created_at: String,
    schema_version: i64,
    media_files: usize,
    media_bytes: u64,
}

/// What a backup or restore did, printed on success.
#[derive(Debug)]
pub struct Summary {
    /// The archive written or read.
    pub archive: PathBuf,
    /// The database's schema version.
    pub schema_version: i64,
    /// Media files in the archive.
    pub media_files: usize,
    /// Their total size.
    pub media_bytes: u64,
    /// Restore only: where the replaced data was moved.
    pub replaced: Option<PathBuf>,
    restored: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.restored {
            "restored from"
        } else {
            "backup written to"
        };
        write!(
            f,
            "{verb} {}: database schema {}, {} media files ({} bytes)",
            self.archive.display(),
            self.schema_version,
            self.media_files,
            self.media_bytes
        )?;
        if let Some(r) = &self.replaced {
            write!(f, "; the data it replaced was moved to {}", r.display())?;
        }
        Ok(())
    }
}

/// The relative path of a media file in the data directory and in the archive.
fn media_path(sha256: &str) -> PathBuf {
    Path::new("media").join(&sha256[..2]).join(sha256)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Can `backup` and `restore` handle the store at `at`? They copy the data directory's
/// `loaxa.db` and media; PostgreSQL, which holds the media too, is backed up with its own
/// tools.
pub fn supported(at: &crate::db::Location, data: &Path) -> Result<(), String> {
    match at {
        crate::db::Location::Sqlite(p) if p == &data.join(DB) => Ok(()),
        crate::db::Location::Sqlite(p) => Err(format!(
            "backup and restore copy the data directory's {DB}; the database is {}: \
             point --data at its directory (named {DB}) or copy it with sqlite3's .backup",
            p.display()
        )),
        crate::db::Location::Postgres(_) => Err(format!(
            "the store is PostgreSQL ({at}), which holds the media files too: back it up with \
             pg_dump --format=custom and restore with pg_restore (see docs/several-nodes.md)"
        )),
    }
}

/// Write a backup of the data directory `data` to `to`.
pub fn backup(data: &Path, to: &Path) -> Result<Summary, BackupError> {
    let db_path = data.join(DB);
    if !db_path.is_file() {
        return Err(BackupError::refused(format!(
            "no database at {}: is --data the server's data directory?",
            db_path.display()
        )));
    }
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let work = tempfile::Builder::new()
        .prefix(".loaxa-backup-")
        .tempdir_in(&dir)
        .map_err(io_at("cannot write in", &dir))?;
    let snapshot = work.path().join(DB);
    let mut last_missing = String::new();
    for _ in 0..ATTEMPTS {
        let media = snapshot_db(&db_path, &snapshot)?;
        match write_archive(data, &snapshot, &media, work.path()) {
            Ok((archive, manifest)) => {
                archive.persist(to).map_err(|e| {
                    BackupError::failed(format!("cannot write {}: {e}", to.display()))
                })?;
                return Ok(Summary {
                    archive: to.to_path_buf(),
                    schema_version: manifest.schema_version,
                    media_files: manifest.media_files,
                    media_bytes: manifest.media_bytes,
                    replaced: None,
                    restored: false,
                });
            }
            // Deleted between the snapshot and the copy: a new snapshot no longer names it.
            Err(Copy::Missing(sha)) => last_missing = sha,
            Err(Copy::Failed(e)) => return Err(e),
        }
    }
    Err(BackupError::failed(format!(
        "media file {last_missing} named by the database is missing from {}",
        data.join("media").display()
    )))
}

/// Copy a consistent snapshot of `source` to `snapshot`; return the media it names.
fn snapshot_db(source: &Path, snapshot: &Path) -> Result<Vec<(String, u64)>, BackupError> {
    let _ = fs::remove_file(snapshot);
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql("cannot open the database"))?;
    src.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql("cannot open the database"))?;
    let mut dst = Connection::open(snapshot).map_err(sql("cannot create the snapshot"))?;
    {
        let copy = rusqlite::backup::Backup::new(&src, &mut dst)
            .map_err(sql("cannot start the backup"))?;
        // All pages in one step (-1): one read transaction, so one consistent state.
        use rusqlite::backup::StepResult;
        let mut waited = 0;
        loop {
            match copy.step(-1).map_err(sql("online backup failed"))? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if waited < 200 => {
                    waited += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                _ => {
                    return Err(BackupError::failed(
                        "online backup failed: the database stayed locked for 10 s",
                    ))
                }
            }
        }
    }
    dst.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sql("cannot finish the snapshot"))?;
    let mut stmt = dst
        .prepare_cached("SELECT sha256, size_bytes FROM media ORDER BY sha256")
        .map_err(sql("cannot read the media table"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(sql("cannot read the media table"))?;
    let mut media = Vec::new();
    for row in rows {
        let (sha, size) = row.map_err(sql("cannot read the media table"))?;
        if !is_sha256(&sha) {
            return Err(BackupError::failed(format!(
                "the media table names {sha:?}, which is not a sha256"
            )));
        }
        media.push((sha, u64::try_from(size).unwrap_or(0)));
    }
    Ok(media)
}

enum Copy {
    Missing(String),
    Failed(BackupError),
}

impl From<BackupError> for Copy {
    fn from(e: BackupError) -> Self {
        Copy::Failed(e)
    }
}

/// Write the archive into a temporary file in `work`'s parent.
fn write_archive(
    data: &Path,
    snapshot: &Path,
    media: &[(String, u64)],
    work: &Path,
) -> Result<(tempfile::NamedTempFile, Manifest), Copy> {
    let schema_version: i64 = Connection::open(snapshot)
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
        .map_err(sql("cannot read the snapshot"))?;
    let parent = work.parent().unwrap_or(Path::new("."));
    let file = tempfile::Builder::new()
        .prefix(".loaxa-backup-")
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(io_at("cannot write in", parent))?;
    let manifest = Manifest {
        format: FORMAT,
        created_at: crate::db::ts(SystemClock.now()),
        schema_version,
        media_files: media.len(),
        media_bytes: media.iter().map(|(_, n)| n).sum(),
    };
    let mut tar = tar::Builder::new(io::BufWriter::new(file));
    tar.mode(tar::HeaderMode::Deterministic);
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::failed(format!("cannot write the manifest: {e}")))?;
    append(&mut tar, Path::new(MANIFEST), text.len() as u64, &text[..])?;
    let db = File::open(snapshot).map_err(io_at("cannot read", snapshot))?;
    let len = db.metadata().map_err(io_at("cannot read", snapshot))?.len();
    append(&mut tar, Path::new(DB), len, db)?;
    for (sha, _) in media {
        let rel = media_path(sha);
        let path = data.join(&rel);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Copy::Missing(sha.clone()))
            }
            Err(e) => return Err(io_at("cannot read", &path)(e).into()),
        };
        let len = file.metadata().map_err(io_at("cannot read", &path))?.len();
        let mut hashing = Hashing::new(file);
        append(&mut tar, &rel, len, &mut hashing)?;
        let got = hashing.hex();
        if &got != sha {
            return Err(BackupError::failed(format!(
                "media file {} is corrupt: its content hashes to {got}; restore it from an \
                 older backup or delete the media item",
                path.display()
            ))
            .into());
        }
    }
    let out = tar
        .into_inner()
        .map_err(|e| BackupError::failed(format!("cannot write the backup: {e}")))?;
    let file = out
        .into_inner()
        .map_err(|e| BackupError::failed(format!("cannot write the backup: {}", e.error())))?;
    file.as_file()
        .sync_all()
        .map_err(|e| BackupError::failed(format!("cannot write the backup: {e}")))?;
    Ok((file, manifest))
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    len: u64,
    data: impl Read,
) -> Result<(), BackupError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(0o640);
    header.set_entry_type(tar::EntryType::Regular);
    // A file that changed size while read would make a broken archive: `take` and the
    // hash check catch it.
    tar.append_data(&mut header, path, data.take(len))
        .map_err(|e| BackupError::failed(format!("cannot write {}: {e}", path.display())))
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn hex(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Restore the archive `from` into the data directory `data`.
pub fn restore(from: &Path, data: &Path, force: bool) -> Result<Summary, BackupError> {
    let target_db = data.join(DB);
    if target_db.exists() && !force {
        return Err(BackupError::refused(format!(
            "{} already holds a database; stop the server and pass --force to replace it \
             (the current data is moved aside, not deleted)",
            data.display()
        )));
    }
    let archive = File::open(from).map_err(|e| {
        BackupError::refused(format!("cannot read the backup {}: {e}", from.display()))
    })?;
    fs::create_dir_all(data).map_err(io_at("cannot create", data))?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data)
        .map_err(io_at("cannot write in", data))?;
    let manifest = unpack(archive, staging.path(), from)?;
    let staged_db = staging.path().join(DB);
    check_db(&staged_db, &manifest, staging.path())?;

    // Everything checked: move the current data aside (if any), then the restored data in.
    let replaced = if target_db.exists() || data.join("media").exists() {
        let stamp = SystemClock.now().format("%Y%m%dT%H%M%SZ").to_string();
        let aside = data.join(format!("replaced-{stamp}"));
        fs::create_dir_all(&aside).map_err(io_at("cannot create", &aside))?;
        for name in [
            DB.to_owned(),
            format!("{DB}-wal"),
            format!("{DB}-shm"),
            "media".to_owned(),
        ] {
            let p = data.join(&name);
            if p.exists() {
                fs::rename(&p, aside.join(&name)).map_err(io_at("cannot move aside", &p))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    let staged_media = staging.path().join("media");
    if staged_media.exists() {
        fs::rename(&staged_media, data.join("media"))
            .map_err(io_at("cannot move into place", &staged_media))?;
    }
    fs::rename(&staged_db, &target_db).map_err(io_at("cannot move into place", &staged_db))?;
    Ok(Summary {
        archive: from.to_path_buf(),
        schema_version: manifest.schema_version,
        media_files: manifest.media_files,
        media_bytes: manifest.media_bytes,
        replaced,
        restored: true,
    })
}

/// Unpack `archive` into `dir`, refusing any entry that is not ours, and checking every
/// media file against its name.
fn unpack(archive: File, dir: &Path, from: &Path) -> Result<Manifest, BackupError> {
    let bad = |what: String| {
        BackupError::refused(format!(
            "{} is not a whole Loa Xã backup: {what}",
            from.display()
        ))
    };
    let mut tar = tar::Archive::new(io::BufReader::new(archive));
    let mut manifest: Option<Manifest> = None;
    let mut has_db = false;
    let mut media_files = 0usize;
    let entries = tar.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let name = path.to_string_lossy().into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(bad(format!("entry {name:?} is not a regular file")));
        }
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(bad(format!(
                "entry {name:?} leaves the archive's directory"
            )));
        }
        if name == MANIFEST {
            let mut text = Vec::new();
            entry
                .read_to_end(&mut text)
                .map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
            let m: Manifest =
                serde_json::from_slice(&text).map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
            if m.format != FORMAT {
                return Err(bad(format!(
                    "archive format {} (this program reads format {FORMAT})",
                    m.format
                )));
            }
            manifest = Some(m);
        } else if name == DB {
            let target = dir.join(DB);
            let mut out = File::create(&target).map_err(io_at("cannot write", &target))?;
            io::copy(&mut entry, &mut out).map_err(|e| bad(format!("{DB}: {e}")))?;
            out.sync_all().map_err(io_at("cannot write", &target))?;
            has_db = true;
        } else {
            let sha = media_name(&path).ok_or_else(|| bad(format!("unexpected entry {name:?}")))?;
            let rel = media_path(&sha);
            let target = dir.join(&rel);
            if let Some(p) = target.parent() {
                fs::create_dir_all(p).map_err(io_at("cannot create", p))?;
            }
            let mut out = File::create(&target).map_err(io_at("cannot write", &target))?;
            let mut hashing = Hashing::new(&mut entry);
            io::copy(&mut hashing, &mut out).map_err(|e| bad(format!("{name}: {e}")))?;
            let got = hashing.hex();
            if got != sha {
                return Err(bad(format!(
                    "media file {name} is damaged (its content hashes to {got})"
                )));
            }
            media_files += 1;
        }
    }
    let manifest = manifest.ok_or_else(|| bad(format!("no {MANIFEST}")))?;
    if !has_db {
        return Err(bad(format!("no {DB}")));
    }
    if media_files != manifest.media_files {
        return Err(bad(format!(
            "{media_files} media files where the manifest says {}",
            manifest.media_files
        )));
    }
    Ok(manifest)
}

/// `media/ab/ab…` → the sha256, for archive entries shaped like a media file.
fn media_name(path: &Path) -> Option<String> {
    let parts: Vec<&str> = path.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    match parts.as_slice() {
        ["media", prefix, sha]
            if is_sha256(sha) && sha.starts_with(prefix) && prefix.len() == 2 =>
        {
            Some((*sha).to_owned())
        }
        _ => None,
    }
}

/// The restored database: intact, not from a newer program, every media row with its file.
fn check_db(db: &Path, manifest: &Manifest, dir: &Path) -> Result<(), BackupError> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
        BackupError::refused(format!("the backup's database cannot be opened: {e}"))
    })?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| BackupError::refused(format!("the backup's database is damaged: {e}")))?;
    if check != "ok" {
        return Err(BackupError::refused(format!(
            "the backup's database is damaged: {check}"
        )));
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql("cannot read the backup's schema version"))?;
    if version > latest_version() {
        return Err(BackupError::refused(format!(
            "the backup has schema version {version}, newer than this program knows ({}); \
             restore it with a newer loaxa-web",
            latest_version()
        )));
    }
    if version != manifest.schema_version {
        return Err(BackupError::refused(format!(
            "the backup's database has schema version {version} where its manifest says {}",
            manifest.schema_version
        )));
    }
    let mut stmt = conn
        .prepare_cached("SELECT sha256 FROM media")
        .map_err(sql("cannot read the backup's media table"))?;
    let shas = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sql("cannot read the backup's media table"))?;
    for sha in shas {
        let sha = sha.map_err(sql("cannot read the backup's media table"))?;
        if !is_sha256(&sha) || !dir.join(media_path(&sha)).is_file() {
            return Err(BackupError::refused(format!(
                "the backup's database names media {sha} but the archive does not hold it"
            )));
        }
    }
    Ok(())
}
