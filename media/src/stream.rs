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
}

/// Probe `source` (whose name is `path`, used only as a hint), pick the first
/// audio track and make its decoder.
pub(crate) fn open(path: &Path, source: Box<dyn MediaSource>) -> Result<Opened, MediaError> {
    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
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

    let decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions { verify: true })
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
