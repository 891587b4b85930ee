//! Loa Xã audio.
//!
//! This crate owns everything about reading audio files and making samples:
//!
//! - **probe and validate** an uploaded file ([`probe_file`]): MP3, WAV
//!   (PCM 8/16/24/32-bit and float), FLAC, Ogg Vorbis, AAC in MP4/M4A are
//!   decoded in full — the only proof a file is intact — and anything else is
//!   refused with a [`MediaError`] an operator can act on;
//! - **measure** what the library stores ([`MediaInfo`]): exact duration from
//!   the decoded frames, format, sha256 (computed while reading), EBU R128
//!   integrated loudness and true peak, and the playback gain;
//! - **decode for playback** ([`Decoder`], an iterator of interleaved `f32`
//!   samples with the gain applied, which the controller wraps in a rodio
//!   `Source`) and for server-side mixing ([`decode_all`]);
//! - **measure a live stream** ([`measure_stream`]): the loudness of a sample of a
//!   channel read through the streaming decoder, from which a relay's gain is set;
//! - **generate signals** ([`signal`]): tones, silence, the announcement
//!   chime, WAV writing, resampling and channel mapping.
//!
//! It does no network I/O and never reads the clock.

mod decode;
#[cfg(feature = "encode")]
pub mod encode;
mod error;
mod hash;
mod live;
mod loudness;
mod mp3_tail;
mod mp4_edit;
mod ogg_tail;
mod probe;
pub mod signal;
mod stream;
pub mod voice;
mod wav16;

pub use decode::{decode_all, Decoder, Pcm};
pub use error::MediaError;
pub use hash::sha256_file;
pub use live::{format_hint, measure_stream, StreamSample};
pub use loudness::{db_to_linear, gain_db, measure, Loudness};
pub use probe::{probe_file, MediaInfo, ProbeOptions};
