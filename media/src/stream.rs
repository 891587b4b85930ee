//! Opening a file with symphonia: container probe, audio track choice, codec
//! decoder. Shared by the prober and the playback decoder so both accept and
//! refuse exactly the same files.

use std::path::Path;

use symphonia::core::codecs::{self, CodecParameters, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::MediaError;

/// A container opened on its audio track, with a decoder ready.
pub(crate) struct Opened {
    pub(crate) format: Box<dyn FormatReader>,
    pub(crate) decoder: Box<dyn codecs::Decoder>,
    pub(crate) track_id: u32,
    pub(crate) codec: String,
    pub(crate) params: CodecParameters,
    /// Which decoded frames are real audio (encoder priming and padding
    /// removed).
    pub(crate) trim: Trim,
}

/// Makes a fresh source for the file; `seekable` says whether the format
/// reader may seek in it.
pub(crate) type SourceFactory<'a> =
    dyn FnMut(bool) -> Result<Box<dyn MediaSource>, MediaError> + 'a;

/// Keeps frames `skip .. skip + keep` of the decoded stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Trim {
    skip: u64,
    keep: Option<u64>,
    seen: u64,
}

impl Trim {
    /// Frames the edit promises, if it says.
    pub(crate) fn expected_frames(&self) -> Option<u64> {
        self.keep
    }

    /// For a decoded buffer of `n` frames, the range of frames to keep.
    pub(crate) fn window(&mut self, n: usize) -> (usize, usize) {
        let start = self.seen;
        let end = start.saturating_add(n as u64);
        let lo = self.skip.clamp(start, end);
        let hi = match self.keep {
            Some(k) => self.skip.saturating_add(k).clamp(lo, end),
            None => end,
        };
        self.seen = end;
        // Both are within 0..=n.
        ((lo - start) as usize, (hi - start) as usize)
    }
}

/// Where a file's bytes are: on disk, or already in memory (an urgent notice's audio that
/// came with its push, played before it is written down).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin<'a> {
    File(&'a Path),
    Memory(&'a [u8]),
}

impl Origin<'_> {
    /// The file name's extension, a hint for the probe.
    fn ext(&self) -> Option<&str> {
        match self {
            Origin::File(p) => p.extension().and_then(|e| e.to_str()),
            Origin::Memory(_) => None,
        }
    }

    /// `f` on the whole file and its length; None when the file cannot be read.
    fn read<T>(&self, f: impl FnOnce(&mut dyn ReadSeek, u64) -> T) -> Option<T> {
        match self {
            Origin::File(p) => {
                let file = std::fs::File::open(p).ok()?;
                let len = file.metadata().ok()?.len();
                Some(f(&mut std::io::BufReader::new(file), len))
            }
            Origin::Memory(b) => Some(f(&mut std::io::Cursor::new(b), b.len() as u64)),
        }
    }
}

/// What the MP4 checks read.
trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

/// Probe the file at `origin`, pick the first audio track and make its decoder.
pub(crate) fn open(
    origin: Origin<'_>,
    make_source: &mut SourceFactory<'_>,
) -> Result<Opened, MediaError> {
    let opened = open_source(origin, make_source(true)?)?;
    // An MP3 without a LAME tag has only a bitrate *estimate* of its length,
    // which symphonia's gapless mode would cut the audio to. Reopen without
    // seeking so no estimate is made and every frame is kept.
    if opened.codec == "mp3" && opened.params.delay.is_none() && opened.params.n_frames.is_some() {
        return open_source(origin, make_source(false)?);
    }
    Ok(opened)
}

fn open_source(origin: Origin<'_>, source: Box<dyn MediaSource>) -> Result<Opened, MediaError> {
    // Not MP4, or unreadable here: not ours to judge (the probe decides).
    if !origin
        .read(|r, len| crate::mp4_edit::tables_are_sane(r, len))
        .unwrap_or(true)
    {
        return Err(MediaError::NotAudio);
    }
    let mut opened = open_probed(source, origin.ext())?;
    if let ("aac", Some(rate)) = (opened.codec.as_str(), opened.params.sample_rate) {
        if let Some(e) = origin
            .read(|r, len| crate::mp4_edit::audio_edit(r, len, rate))
            .flatten()
        {
            opened.trim = Trim {
                skip: e.skip,
                keep: e.keep,
                seen: 0,
            };
        }
    }
    Ok(opened)
}

/// Open a stream that has no file behind it (a live channel over HTTP): not seekable, its
/// length unknown; `ext` ("mp3", "aac", "ogg", "wav") is a hint for the probe.
pub(crate) fn open_stream(
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
) -> Result<Opened, MediaError> {
    open_probed(source, ext)
}

fn open_probed(source: Box<dyn MediaSource>, ext: Option<&str>) -> Result<Opened, MediaError> {
    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    // Gapless: trim encoder delay and padding (LAME tag, Ogg granules) so the
    // duration is that of the audio the encoder was given.
    let format_opts = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
                MediaError::Io(io)
            }
            _ => MediaError::NotAudio,
        })?;
    let format = probed.format;

    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .ok_or(MediaError::NoAudioTrack)?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let codec = codec_name(params.codec);

    // No verification: for FLAC it is an MD5 of all the decoded audio (a third of the
    // decoding's time), whose result nobody read. Each FLAC frame's CRC is still checked,
    // a frame that fails it counts as damage, and sha256 covers the file's bytes.
    let decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions { verify: false })
        .map_err(|e| match e {
            SymError::Unsupported(_) => MediaError::UnsupportedCodec {
                codec: codec.clone(),
            },
            other => MediaError::Corrupt {
                at_ms: 0,
                detail: format!("decoder setup: {other}"),
            },
        })?;

    Ok(Opened {
        format,
        decoder,
        track_id,
        codec,
        params,
        trim: Trim::default(),
    })
}

/// A short, lowercase codec name an operator can search for.
pub(crate) fn codec_name(codec: CodecType) -> String {
    if let Some(desc) = symphonia::default::get_codecs().get_codec(codec) {
        return desc.short_name.to_string();
    }
    let name = match codec {
        codecs::CODEC_TYPE_OPUS => "opus",
        codecs::CODEC_TYPE_SPEEX => "speex",
        codecs::CODEC_TYPE_ALAC => "alac",
        codecs::CODEC_TYPE_MP1 => "mp1",
        codecs::CODEC_TYPE_MP2 => "mp2",
        codecs::CODEC_TYPE_ADPCM_MS => "adpcm_ms",
        codecs::CODEC_TYPE_ADPCM_IMA_WAV => "adpcm_ima_wav",
        codecs::CODEC_TYPE_ADPCM_IMA_QT => "adpcm_ima_qt",
        codecs::CODEC_TYPE_ADPCM_G722 => "g722",
        codecs::CODEC_TYPE_ADPCM_G726 | codecs::CODEC_TYPE_ADPCM_G726LE => "g726",
        codecs::CODEC_TYPE_PCM_ALAW => "pcm_alaw",
        codecs::CODEC_TYPE_PCM_MULAW => "pcm_mulaw",
        codecs::CODEC_TYPE_WMA => "wma",
        codecs::CODEC_TYPE_EAC3 => "eac3",
        codecs::CODEC_TYPE_AC4 => "ac4",
        codecs::CODEC_TYPE_DCA => "dts",
        codecs::CODEC_TYPE_WAVPACK => "wavpack",
        codecs::CODEC_TYPE_MONKEYS_AUDIO => "ape",
        codecs::CODEC_TYPE_TTA => "tta",
        codecs::CODEC_TYPE_MUSEPACK => "musepack",
        codecs::CODEC_TYPE_ATRAC1
        | codecs::CODEC_TYPE_ATRAC3
        | codecs::CODEC_TYPE_ATRAC3PLUS
        | codecs::CODEC_TYPE_ATRAC9 => "atrac",
        other => return format!("unknown codec {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::Trim;

    #[test]
    fn trim_keeps_only_the_edited_frames_across_buffers() {
        let mut t = Trim {
            skip: 1500,
            keep: Some(1000),
            seen: 0,
        };
        assert_eq!(t.window(1024), (1024, 1024));
        assert_eq!(t.window(1024), (476, 1024));
        assert_eq!(t.window(1024), (0, 452));
        assert_eq!(t.window(1024), (0, 0));
        let mut all = Trim::default();
        assert_eq!(all.window(7), (0, 7));
    }
}
