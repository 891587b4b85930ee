//! The media library: upload (validated, content-addressed), list, download with Range and
//! ETag, delete when nothing uses it.

use crate::app::approval::submit_if_required;
use crate::app::audit::record as audit;
use crate::app::audit::Audited;
use crate::app::{objects, Action};
use crate::auth::{Caller, User};
use crate::db::approvals::{self, Kind};
use crate::db::{self, media::MediaRow, users::Role};
use crate::error::{AppError, AppResult, PathArg};
use crate::library;
use crate::planning::document;
use crate::state::{AppState, Now};
use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schedules::Sha256;
use serde_json::json;
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// The largest `title` field `POST /media` reads (the title keeps 200 characters).
pub const MAX_TITLE_FIELD_BYTES: usize = 4096;

/// The form `POST /media` reads (`multipart/form-data`).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // Only described: the handler reads the fields as they stream in.
pub struct MediaUpload {
    /// The audio file (MP3, AAC/M4A, Ogg Vorbis, FLAC or WAV).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Its title; default the file's name.
    title: Option<String>,
}

/// `POST /media`: multipart field `file` (and optional `title`) → 201 with the stored file's
/// measurements. A refused file answers 422 with the reason and leaves nothing behind.
#[utoipa::path(
    post,
    path = "/api/v1/media",
    summary = "Upload a bulletin (validated and measured; stored once per sha256).",
    request_body(content = MediaUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "stored", body = MediaRow), (status = 413, description = "larger than max_upload_mib"))
)]
pub async fn upload(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<MediaRow>)> {
    user.require(Role::Operator)?;
    let mut multipart = multipart.map_err(|e| AppError::bad_request(e.body_text()))?;
    let max = state.config.max_upload_bytes;
    let mut file = None;
    let mut title: Option<String> = None;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::too_large(e.body_text())
        } else {
            AppError::bad_request(format!("multipart: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => {
                if file.is_some() {
                    return Err(AppError::bad_request(
                        "multipart: more than one \"file\" field",
                    ));
                }
                let filename = field.file_name().map(str::to_string);
                let tmp = state.media.temp_file()?;
                let mut out = tokio::fs::File::from_std(tmp.reopen()?);
                let mut size: u64 = 0;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    size += chunk.len() as u64;
                    if size > max {
                        return Err(AppError::too_large(format!(
                            "file: larger than the limit of {} MB",
                            max / 1_000_000
                        )));
                    }
                    out.write_all(&chunk).await?;
                }
                out.flush().await?;
                out.sync_all().await?;
                drop(out);
                file = Some((tmp, filename));
            }
            Some("title") => {
                if title.is_some() {
                    return Err(AppError::bad_request(
                        "multipart: more than one \"title\" field",
                    ));
                }
                // Read by chunks up to a bound: the upload route has no body limit.
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if bytes.len() + chunk.len() > MAX_TITLE_FIELD_BYTES {
                        return Err(AppError::too_large(format!(
                            "title: longer than {MAX_TITLE_FIELD_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                // Bytes that are not UTF-8 become U+FFFD, as before.
                let t = String::from_utf8_lossy(&bytes);
                title = Some(t.trim().chars().take(200).collect());
            }
            other => {
                return Err(AppError::bad_request(format!(
                    "multipart: unknown field {:?}: expected \"file\" and optional \"title\"",
                    other.unwrap_or("")
                )))
            }
        }
    }
    let Some((tmp, filename)) = file else {
        return Err(AppError::invalid("file: missing multipart field \"file\""));
    };
    let title = title
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| library::title_from_filename(filename.as_deref()));
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
    let (u, r) = (user.clone(), row.clone());
    state
        .db
        .call(move |conn| {
            audit(
                conn,
                now,
                &u,
                "media.upload",
                &r.sha256,
                json!({"title": r.title, "size_bytes": r.size_bytes, "codec": r.codec}),
            )?;
            // Uploading again a file already approved in this area submits nothing.
            let signed_off = approvals::history(conn, Kind::Media, &r.sha256)?
                .iter()
                .any(|s| s.action == "approved");
            let st = approvals::state(conn, Kind::Media, &r.sha256, &u.area)?;
            if !(signed_off && st == Some(approvals::State::Approved)) {
                submit_if_required(conn, &u, Kind::Media, &r.sha256, &u.area, now)?;
            }
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /media`: the files visible in the user's area, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/media",
    summary = "The media library.",
    responses((status = 200, description = "the media", body = [MediaRow]))
)]
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<MediaRow>>> {
    let rows = state
        .db
        .call(move |conn| Ok(db::media::list_visible(conn, &user.area)?))
        .await?;
    Ok(Json(rows))
}

fn parse_sha(s: &str) -> AppResult<Sha256> {
    Sha256::parse(s).map_err(|e| AppError::not_found(format!("no media {s:?}: {e}")))
}

/// `GET /media/{sha256}`: the stored file. People get any file they can see; a station's
/// controller only the files its schedule document names.
#[utoipa::path(
    get,
    path = "/api/v1/media/{sha256}",
    summary = "The stored file (Range and ETag supported; device tokens too).",
    responses(
        (status = 200, description = "the file", body = String, content_type = "application/octet-stream"),
        (status = 404, description = "no such media in reach"),
        (status = 416, description = "the range is outside the file")
    )
)]
pub async fn download(
    State(state): State<AppState>,
    Now(now): Now,
    caller: Caller,
    PathArg(sha): PathArg<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let sha = parse_sha(&sha)?;
    let s = sha.to_string();
    let row = state
        .db
        .call(move |conn| {
            let Some(row) = db::media::get(conn, &s)? else {
                return Ok(None);
            };
            let allowed = match &caller {
                Caller::User(u) => objects::media(conn, u, Action::Read, &s).is_ok(),
                Caller::Device(d) => {
                    db::urgent::airs_media(conn, &d.station.code, &s)?
                        || document::build(conn, &d.station, now)?
                            .media
                            .iter()
                            .any(|m| m.sha256.as_str() == s)
                }
            };
            Ok(allowed.then_some(row))
        })
        .await?
        .ok_or_else(|| AppError::not_found(format!("no media {sha} for you")))?;
    serve_file(&state, &sha, &row, &headers).await
}

fn content_type(codec: &str) -> &'static str {
    match codec {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "vorbis" => "audio/ogg",
        "aac" => "audio/mp4",
        c if c.starts_with("pcm") => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// A requested byte range, inclusive, or why it cannot be served.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    Full,
    Part(u64, u64),
    Unsatisfiable,
}

/// Read a `Range` header for a file of `len` bytes. Only a single `bytes=` range is
/// honoured; anything else is served whole, as RFC 9110 allows.
fn parse_range(value: Option<&str>, len: u64) -> Range {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Range::Full;
        };
        if n == 0 || len == 0 {
            return Range::Unsatisfiable;
        }
        return Range::Part(len.saturating_sub(n), len - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return Range::Full;
    };
    let end = if b.is_empty() {
        len.saturating_sub(1)
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(len.saturating_sub(1)),
            _ => return Range::Full,
        }
    };
    if start >= len {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end)
}

fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t == etag || t.strip_prefix("W/") == Some(etag)
        })
    })
}

async fn serve_file(
    state: &AppState,
    sha: &Sha256,
    row: &MediaRow,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let etag = format!("\"{sha}\"");
    let mut h = HeaderMap::new();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(AppError::internal)?,
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if etag_matches(inm, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&row.codec)),
    );
    let asked = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    if asked.is_none() {
        if let Some(bytes) = state.media.hot(sha) {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            return Ok((StatusCode::OK, h, Body::from(bytes)).into_response());
        }
    }
    crate::library::ensure_local(&state.media, &state.db, sha).await?;
    // Open, measure and (a small file) read in one blocking step.
    let (store, s) = (state.media.clone(), sha.clone());
    let opened = tokio::task::spawn_blocking(move || store.open_file(&s))
        .await
        .map_err(|e| AppError::internal(format!("media read task failed: {e}")))?
        .map_err(|e| {
            AppError::internal(format!(
                "media {sha} indexed but unreadable at {}: {e}",
                state.media.path_of(sha).display()
            ))
        })?;
    let len = opened.len;
    match parse_range(asked, len) {
        Range::Unsatisfiable => {
            let mut e =
                AppError::range_not_satisfiable(format!("range outside the file's {len} bytes"))
                    .into_response();
            e.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}")).map_err(AppError::internal)?,
            );
            Ok(e)
        }
        Range::Full => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            let body = match opened.whole {
                Some(bytes) => Body::from(bytes),
                None => Body::from_stream(ReaderStream::with_capacity(
                    tokio::fs::File::from_std(opened.file),
                    STREAM_CHUNK,
                )),
            };
            Ok((StatusCode::OK, h, body).into_response())
        }
        Range::Part(start, end) => {
            let n = end - start + 1;
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            h.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
                    .map_err(AppError::internal)?,
            );
            let body = match opened.whole {
                Some(bytes) => Body::from(bytes.slice(start as usize..=end as usize)),
                None => {
                    let mut file = tokio::fs::File::from_std(opened.file);
                    file.seek(SeekFrom::Start(start)).await?;
                    Body::from_stream(ReaderStream::with_capacity(file.take(n), STREAM_CHUNK))
                }
            };
            Ok((StatusCode::PARTIAL_CONTENT, h, body).into_response())
        }
    }
}

/// The read size when a large file is streamed from disk.
const STREAM_CHUNK: usize = 256 * 1024;

/// `DELETE /media/{sha256}`: refused (409) while a schedule or urgent notice uses it.
#[utoipa::path(
    delete,
    path = "/api/v1/media/{sha256}",
    summary = "Delete media no schedule or log refers to.",
    responses((status = 204, description = "deleted"), (status = 404, description = "no such media in reach"), (status = 409, description = "a schedule or log refers to it"))
)]
pub async fn remove(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(sha): PathArg<String>,
) -> AppResult<StatusCode> {
    let sha = parse_sha(&sha)?;
    let store = state.media.clone();
    state
        .db
        .call(move |conn| {
            let s = sha.to_string();
            // The areas of the caller's subtree that uploaded it: the delete takes the
            // file out of their libraries only; other areas keep theirs.
            let mine = objects::media(conn, &user, Action::Change, &s)?;
            let others = db::media::areas_of(conn, &s)?.len() > mine.len();
            if !others {
                let (schedules, urgent) = db::media::references(conn, &s)?;
                if schedules + urgent > 0 {
                    return Err(AppError::conflict(format!(
                        "media {s} is used by {schedules} schedule(s) and {urgent} urgent \
                         notice(s); delete those first"
                    )));
                }
                let programmes = db::programmes::using_media(conn, &s)?;
                let jingles = db::stations::jingle_users(conn, &s)?;
                if programmes > 0 || !jingles.is_empty() {
                    return Err(AppError::conflict(format!(
                        "media {s} is a part of {programmes} programme(s) and the jingle of \
                         station(s) [{}]; change those first",
                        jingles.join(", ")
                    )));
                }
            }
            let tx = Audited::begin(conn, &user, now)?;
            db::media::forget_areas(&tx, &s, &mine)?;
            if !others {
                db::media::delete(&tx, &s)?;
            }
            tx.commit(
                "media.delete",
                &s,
                json!({"areas": mine, "kept_by_other_areas": others}),
            )?;
            // The file goes on this thread, after its row: an upload of the same bytes
            // (placed on this thread too) comes wholly before or wholly after.
            if !others {
                store.remove(&sha);
            }
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_byte_ranges_are_read_as_rfc_9110_says() {
        use Range::*;
        let cases = [
            (None, Full),
            (Some("bytes=0-9"), Part(0, 9)),
            (Some("bytes=10-"), Part(10, 99)),
            (Some("bytes=-10"), Part(90, 99)),
            (Some("bytes=-1000"), Part(0, 99)),
            (Some("bytes=90-1000"), Part(90, 99)),
            (Some("bytes=100-"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=5-2"), Full),
            (Some("bytes=0-1,5-6"), Full),
            (Some("items=0-1"), Full),
            (Some("bytes=x-"), Full),
        ];
        for (h, want) in cases {
            assert_eq!(parse_range(h, 100), want, "{h:?}");
        }
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(etag_matches(Some("\"a\", \"b\""), "\"b\""));
        assert!(etag_matches(Some("W/\"b\""), "\"b\""));
        assert!(etag_matches(Some("*"), "\"b\""));
        assert!(!etag_matches(Some("\"c\""), "\"b\""));
        assert!(!etag_matches(None, "\"b\""));
    }
}
