//! The one error type of the crate. Every message is written for the radio
//! operator who uploaded the file: it says what is wrong and, where it helps,
//! what to do.

use std::fmt;

/// Why a file was refused or could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file could not be opened or read (permissions, disk error).
    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),

    /// The file has no bytes at all.
    #[error("the file is empty (0 bytes)")]
    EmptyFile,

    /// No known audio container was recognised, or its header is unreadable.
    #[error(
        "not an audio file (or its header is damaged): expected MP3, WAV, FLAC, Ogg Vorbis or M4A/AAC"
    )]
    NotAudio,

    /// The container is known but the audio inside uses a codec we cannot play.
    #[error("unsupported audio codec \"{codec}\": please convert the file to MP3, WAV, FLAC, Ogg Vorbis or M4A/AAC")]
    UnsupportedCodec {
        /// Short name of the codec, e.g. `opus`, `adpcm_ima_wav`.
        codec: String,
    },

    /// The container holds no audio track (e.g. a video-only MP4).
    #[error("the file contains no audio track")]
    NoAudioTrack,

    /// The container is valid but holds no audio samples (header only).
    #[error("the file contains no audio (it is empty apart from its header)")]
    NoAudio,

    /// Decoding failed part-way: the file is truncated or damaged.
    #[error("the file is damaged or truncated at about {} s ({detail}); please export or copy it again", Seconds(*.at_ms))]
    Corrupt {
        /// Where, in milliseconds of audio from the start, the damage was found.
        at_ms: u64,
        /// What was found, for the log.
        detail: String,
    },

    /// The audio decodes but is silent (integrated loudness below the gate).
    #[error("the audio is silent: nothing would be heard on the loudspeakers")]
    Silent,

    /// The audio is longer than allowed.
    #[error("the audio is too long: {} exceeds the limit of {}", Hms(*.duration_ms), Hms(*.limit_ms))]
    TooLong {
        /// Duration decoded so far (at least this long).
        duration_ms: u64,
        /// The configured limit.
        limit_ms: u64,
    },

    /// The file is larger than allowed.
    #[error("the file is too large: {} MB exceeds the limit of {} MB", Mb(*.size_bytes), Mb(*.limit_bytes))]
    TooLarge {
        /// Size of the file.
        size_bytes: u64,
        /// The configured limit.
        limit_bytes: u64,
    },

    /// A live stream ended (or could no longer be read) before the sample asked for.
    #[error("the stream ended after {} s of audio; {} s were asked for", Seconds(*.got_ms), Seconds(*.wanted_ms))]
    StreamEnded {
        /// Audio received, milliseconds.
        got_ms: u64,
        /// Audio asked for, milliseconds.
        wanted_ms: u64,
    },

    /// A generated signal could not be written (e.g. invalid WAV parameters).
    #[error("could not write WAV: {0}")]
    Wav(String),

    /// Audio could not be encoded (the server's MP3 copy of a notice).
    #[error("could not encode MP3: {0}")]
    Encode(String),
}

/// Milliseconds shown as seconds with one decimal, e.g. `12.3`.
struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 1000, (self.0 % 1000) / 100)
    }
}

/// Milliseconds shown as `h:mm:ss`.
struct Hms(u64);

impl fmt::Display for Hms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / 1000;
        write!(f, "{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// Bytes shown as megabytes with one decimal.
struct Mb(u64);

impl fmt::Display for Mb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0 / 100_000;
        write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well_for_an_operator() {
        let e = MediaError::Corrupt {
            at_ms: 12_345,
            detail: "truncated".into(),
        };
        assert_eq!(
            e.to_string(),
            "the file is damaged or truncated at about 12.3 s (truncated); please export or copy it again"
        );
        let e = MediaError::TooLong {
            duration_ms: 7_300_000,
            limit_ms: 7_200_000,
        };
        assert_eq!(
            e.to_string(),
            "the audio is too long: 2:01:40 exceeds the limit of 2:00:00"
        );
        let e = MediaError::TooLarge {
            size_bytes: 250_000_000,
            limit_bytes: 200_000_000,
        };
        assert_eq!(
            e.to_string(),
            "the file is too large: 250.0 MB exceeds the limit of 200.0 MB"
        );
        let e = MediaError::UnsupportedCodec {
            codec: "opus".into(),
        };
        assert!(e.to_string().contains("\"opus\""));
    }
}
