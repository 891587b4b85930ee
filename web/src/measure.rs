//! Measuring a live channel from a sample of its stream: the server connects to the
//! channel's address, decodes a few seconds with `media`'s streaming decoder (the one the
//! controllers relay with) and measures their EBU R128 loudness, from which the channel's
//! fixed gain is set (`POST /channels/{id}/measure`).
//!
//! Bounded in time: the connection must be made within [`CONNECT_TIMEOUT`], the stream may
//! not pause for [`STALL`], and the whole measurement may not take more than the sample's
//! length and [`SLACK`]. Every way a stream can fail answers an error that names the cause.

use crate::error::{AppError, AppResult};
use media::MediaError;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// How long the connection (up to the response's headers) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A stream that sends nothing for this long has failed.
pub const STALL: Duration = Duration::from_secs(5);
/// Beyond the sample's own length, how long a measurement may take in all (a stream sent
/// in real time takes the sample's length, less the burst a server sends at first).
pub const SLACK: Duration = Duration::from_secs(15);

/// What a sample of a stream measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    /// Integrated loudness, LUFS.
    pub loudness_lufs: f64,
    /// True peak, dBTP.
    pub true_peak_dbtp: f64,
}

/// Measure `seconds` of the stream at `url`. Errors: 502 when the stream cannot be had
/// (`stream_unreachable`, `stream_refused`, `stream_failed`, `stream_ended`), 422 when what
/// it sends cannot be used (`not_audio`, `silent`).
pub async fn sample(url: &str, seconds: u32) -> AppResult<Sampled> {
    let deadline = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(seconds.into()) + SLACK;
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("loaxa-web/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(AppError::internal)?;
    let resp = match tokio::time::timeout(CONNECT_TIMEOUT, client.get(url).send()).await {
        Err(_) => {
            return Err(unreachable(format!(
                "cannot connect to {url}: no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(e)) => {
            return Err(unreachable(format!(
                "cannot connect to {url}: {}",
                root_cause(&e)
            )))
        }
        Ok(Ok(r)) => r,
    };
    if !resp.status().is_success() {
        return Err(
            AppError::bad_gateway(format!("{url} answered {}", resp.status()))
                .with_code("stream_refused"),
        );
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(ct) = content_type.as_deref().filter(|ct| is_document(ct)) {
        return Err(not_audio(format!(
            "{url} sent {ct}, not an audio stream (MP3, AAC, Ogg Vorbis or WAV)"
        )));
    }
    let ext = media::format_hint(content_type.as_deref(), url);

    // The body's chunks are read here, on the runtime, and decoded on a blocking thread.
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, String>>(32);
    let mut resp = resp;
    let pump = tokio::spawn(async move {
        loop {
            let next = match resp.chunk().await {
                Ok(Some(b)) => Ok(b.to_vec()),
                Ok(None) => break,
                Err(e) => Err(format!("the stream broke: {}", root_cause(&e))),
            };
            let failed = next.is_err();
            if tx.send(next).await.is_err() || failed {
                break;
            }
        }
    });
    let failure = Arc::new(Mutex::new(None::<String>));
    let reader = Pipe {
        rt: Handle::current(),
        rx,
        buf: Vec::new(),
        pos: 0,
        deadline,
        failure: failure.clone(),
    };
    let ms = u64::from(seconds) * 1000;
    let measured =
        tokio::task::spawn_blocking(move || media::measure_stream(reader, ext, ms)).await;
    pump.abort();
    let failure = failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match measured.map_err(AppError::internal)? {
        Ok(s) => Ok(Sampled {
            loudness_lufs: s.loudness.integrated_lufs,
            true_peak_dbtp: s.loudness.true_peak_dbtp,
        }),
        Err(e) => Err(refusal(url, e, failure)),
    }
}

/// The error for a measurement that failed with `e`; `failure` is what went wrong reading
/// the stream, if anything did (it explains an early end or an unreadable header).
fn refusal(url: &str, e: MediaError, failure: Option<String>) -> AppError {
    match (e, failure) {
        (MediaError::StreamEnded { got_ms, .. }, Some(why)) => AppError::bad_gateway(format!(
            "{url}: {why} after {:.1} s of audio",
            got_ms as f64 / 1000.0
        ))
        .with_code("stream_failed"),
        (MediaError::StreamEnded { got_ms, wanted_ms }, None) => AppError::bad_gateway(format!(
            "the stream at {url} ended after {:.1} s of audio; {} s are needed",
            got_ms as f64 / 1000.0,
            wanted_ms / 1000
        ))
        .with_code("stream_ended"),
        (MediaError::Silent, _) => AppError::invalid(format!(
            "the stream at {url} is silent: there is nothing to measure"
        ))
        .with_code("silent"),
        (_, Some(why)) => AppError::bad_gateway(format!("{url}: {why} before any audio"))
            .with_code("stream_failed"),
        (e, None) => not_audio(format!("{url} did not send audio: {e}")),
    }
}

/// The innermost cause of an error (reqwest's own message only repeats the address; the
/// cause says "Connection refused", "dns error", …).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn unreachable(message: String) -> AppError {
    AppError::bad_gateway(message).with_code("stream_unreachable")
}

fn not_audio(message: String) -> AppError {
    AppError::invalid(message).with_code("not_audio")
}

/// A `Content-Type` no audio stream has: a web page, a document, JSON.
fn is_document(content_type: &str) -> bool {
    let ct = content_type.trim().to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.starts_with("application/json")
        || ct.starts_with("application/xml")
        || ct.starts_with("application/xhtml")
        || ct.starts_with("image/")
        || ct.starts_with("video/")
}

/// The response's chunks as a blocking reader for the decoder. A read waits at most
/// [`STALL`], and never past the deadline; why it failed is kept for the answer.
struct Pipe {
    rt: Handle,
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    buf: Vec<u8>,
    pos: usize,
    deadline: Instant,
    failure: Arc<Mutex<Option<String>>>,
}

impl Pipe {
    fn fail(&self, why: String) -> std::io::Error {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        std::io::Error::other(why)
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.fail("the stream is too slow (not enough audio in time)".into()));
            }
            let wait = STALL.min(left);
            let rx = &mut self.rx;
            match self
                .rt
                .block_on(async { tokio::time::timeout(wait, rx.recv()).await })
            {
                Ok(Some(Ok(bytes))) => {
                    self.buf = bytes;
                    self.pos = 0;
                }
                Ok(Some(Err(why))) => return Err(self.fail(why)),
                Ok(None) => return Ok(0),
                Err(_) if wait < STALL => {
                    return Err(
                        self.fail("the stream is too slow (not enough audio in time)".into())
                    )
                }
                Err(_) => return Err(self.fail(format!("no data for {} s", STALL.as_secs()))),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_documents_are_not_audio_streams() {
        for doc in ["text/html; charset=utf-8", "application/json", "image/png"] {
            assert!(is_document(doc), "{doc}");
        }
        for audio in ["audio/mpeg", "application/ogg", "application/octet-stream"] {
            assert!(!is_document(audio), "{audio}");
        }
    }

    #[test]
    fn each_failure_names_its_cause() {
        let u = "http://h/live";
        let ended = || MediaError::StreamEnded {
            got_ms: 2_500,
            wanted_ms: 20_000,
        };
        let cases = [
            (
                refusal(u, ended(), None),
                502,
                "stream_ended",
                "ended after 2.5 s",
            ),
            (
                refusal(u, ended(), Some("no data for 5 s".into())),
                502,
                "stream_failed",
                "no data for 5 s after 2.5 s",
            ),
            (
                refusal(u, MediaError::Silent, None),
                422,
                "silent",
                "silent",
            ),
            (
                refusal(u, MediaError::NotAudio, None),
                422,
                "not_audio",
                "did not send audio",
            ),
        ];
        for (e, status, code, text) in cases {
            assert_eq!((e.status.as_u16(), e.code), (status, code), "{e}");
            assert!(e.message.contains(text), "{e}");
        }
    }
}
