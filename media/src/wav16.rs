//! 16-bit PCM WAV in memory, read directly: the common case of an urgent notice's audio
//! (text-to-speech, a recorded announcement) that came with its push. Symphonia would copy
//! the file into a 64 KiB read buffer of its own, cut it into packets, decode each into a
//! planar buffer and interleave that again; here each block of samples is converted
//! straight from the file's bytes. The samples are exactly symphonia's (`i16 / 32768`),
//! and anything but a plain, whole file (another sample format, a channel mask, a `data`
//! chunk longer than the file or not of whole frames, an odd-sized chunk before it) is
//! left to symphonia, which the caller then uses.

use bytes::Bytes;

/// Frames converted at a time.
const BLOCK_FRAMES: usize = 1024;

/// The channels read this way at most (mono and stereo; symphonia maps the others).
const MAX_CHANNELS: u16 = 2;

/// A 16-bit PCM WAV file in memory, read from its `data` chunk.
#[derive(Debug)]
pub(crate) struct Wav16 {
    bytes: Bytes,
    /// The next byte to read, and the end of the `data` chunk.
    at: usize,
    end: usize,
    pub(crate) sample_rate: u32,
    pub(crate) channels: u16,
    /// The block converted last.
    pub(crate) buf: Vec<f32>,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

impl Wav16 {
    /// `bytes` as a plain 16-bit PCM WAV file with at least one frame, or None (for
    /// symphonia to read, or refuse).
    pub(crate) fn parse(bytes: &Bytes) -> Option<Self> {
        let b = &bytes[..];
        if b.get(0..4)? != b"RIFF" || b.get(8..12)? != b"WAVE" {
            return None;
        }
        let mut at = 12;
        let mut format: Option<(u32, u16)> = None;
        loop {
            let id = b.get(at..at + 4)?;
            let size = usize::try_from(u32_at(b, at + 4)?).ok()?;
            let body = at + 8;
            if id == b"data" {
                let (sample_rate, channels) = format?;
                let frame = 2 * usize::from(channels);
                let end = body.checked_add(size)?;
                if size == 0 || size % frame != 0 || end > b.len() {
                    return None;
                }
                return Some(Wav16 {
                    bytes: bytes.clone(),
                    at: body,
                    end,
                    sample_rate,
                    channels,
                    buf: Vec::new(),
                });
            }
            if size % 2 != 0 {
                return None;
            }
            if id == b"fmt " {
                let tag = u16_at(b, body)?;
                let channels = u16_at(b, body + 2)?;
                let sample_rate = u32_at(b, body + 4)?;
                let block_align = u16_at(b, body + 12)?;
                let bits = u16_at(b, body + 14)?;
                let plain = size >= 16
                    && tag == 1
                    && (1..=MAX_CHANNELS).contains(&channels)
                    && sample_rate > 0
                    && bits == 16
                    && block_align == 2 * channels;
                if !plain || format.is_some() {
                    return None;
                }
                format = Some((sample_rate, channels));
            }
            at = body.checked_add(size)?;
        }
    }

    /// Convert the next block into [`Wav16::buf`], `gain` applied as symphonia's samples
    /// are; false at the end of the data.
    pub(crate) fn fill(&mut self, gain: f32) -> bool {
        let frame = 2 * usize::from(self.channels);
        let take = (self.end - self.at).min(BLOCK_FRAMES * frame);
        if take == 0 {
            return false;
        }
        let src = &self.bytes[self.at..self.at + take];
        self.at += take;
        self.buf.clear();
        self.buf.extend(src.chunks_exact(2).map(|s| {
            let v = f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0;
            (v * gain).clamp(-1.0, 1.0)
        }));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file of `samples` in format (tag, channels, rate, bits), with `extra` chunks
    /// between `fmt ` and `data`.
    fn wav(fmt: (u16, u16, u32, u16), extra: &[(&[u8; 4], &[u8])], samples: &[i16]) -> Vec<u8> {
        let (tag, channels, rate, bits) = fmt;
        let mut body = b"WAVE".to_vec();
        let mut chunk = |id: &[u8; 4], data: &[u8]| {
            body.extend_from_slice(id);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
        };
        let align = channels * bits / 8;
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        f.extend_from_slice(&align.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        chunk(b"fmt ", &f);
        for (id, data) in extra {
            chunk(id, data);
        }
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        chunk(b"data", &data);
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn a_plain_file_is_read_in_blocks_and_anything_else_is_left_to_symphonia() {
        let samples: Vec<i16> = (0..5000).map(|i| (i * 13 % 65536 - 32768) as i16).collect();
        let plain = wav((1, 2, 16_000, 16), &[(b"LIST", b"INFOxx")], &samples);
        let mut w = Wav16::parse(&Bytes::from(plain.clone())).expect("plain");
        assert_eq!((w.sample_rate, w.channels), (16_000, 2));
        let mut got = Vec::new();
        while w.fill(1.0) {
            assert!(w.buf.len() <= BLOCK_FRAMES * 2);
            got.extend_from_slice(&w.buf);
        }
        let want: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        assert_eq!(got, want);
        assert!(!w.fill(1.0), "the end stays the end");

        let refused = |bytes: Vec<u8>, why: &str| {
            assert!(Wav16::parse(&Bytes::from(bytes)).is_none(), "{why}");
        };
        refused(wav((1, 1, 16_000, 24), &[], &samples), "24 bits");
        refused(wav((3, 1, 16_000, 16), &[], &samples), "float tag");
        refused(wav((0xFFFE, 1, 16_000, 16), &[], &samples), "extensible");
        refused(wav((1, 6, 16_000, 16), &[], &samples), "six channels");
        refused(wav((1, 1, 0, 16), &[], &samples), "rate 0");
        refused(wav((1, 1, 16_000, 16), &[], &[]), "no frames");
        refused(wav((1, 2, 16_000, 16), &[], &samples[..3]), "half a frame");
        refused(
            wav((1, 1, 16_000, 16), &[(b"LIST", b"odd")], &samples),
            "odd chunk",
        );
        refused(plain[..plain.len() - 2].to_vec(), "data cut short");
        refused(plain[..30].to_vec(), "header cut short");
        let mut no_fmt = plain.clone();
        no_fmt[12..16].copy_from_slice(b"fmx ");
        refused(no_fmt, "no fmt chunk");
        let mut not_riff = plain;
        not_riff[0..4].copy_from_slice(b"RIFX");
        refused(not_riff, "not RIFF");
    }

    #[test]
    fn the_gain_is_applied_and_clamped() {
        let samples = [i16::MIN, -16384, 0, 16384, i16::MAX];
        let mut w = Wav16::parse(&Bytes::from(wav((1, 1, 8_000, 16), &[], &samples))).unwrap();
        assert!(w.fill(4.0));
        assert_eq!(w.buf, [-1.0, -1.0, 0.0, 1.0, 1.0]);
    }
}
