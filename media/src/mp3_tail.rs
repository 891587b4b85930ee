//! Does an MP3 end in the middle of a frame?
//!
//! symphonia reports a frame cut short by the end of the file exactly as it
//! reports a clean end of file, and an MP3 without a Xing/LAME tag carries no
//! frame count to compare against. So we walk the frame headers ourselves: if
//! the last frame's header promises more bytes than the file has, the file was
//! truncated (an interrupted copy or upload).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// How far into the file we look for the first frame (after any ID3v2 tag).
const SYNC_SEARCH_BYTES: u64 = 64 * 1024;

/// `Ok(true)` if the file's frame chain ends with a frame cut short.
/// `Ok(false)` for a clean end, or when the chain cannot be followed (free
/// format, junk, trailing tags): we then say nothing rather than guess.
pub(crate) fn ends_mid_frame(path: &Path) -> io::Result<bool> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut r = Cursor {
        inner: BufReader::with_capacity(1 << 16, file),
        pos: 0,
    };

    let mut pos = id3v2_len(&mut r)?;
    // Find the first frame whose successor is also a frame (or the end).
    let search_end = pos.saturating_add(SYNC_SEARCH_BYTES).min(len);
    let first = loop {
        if pos >= search_end {
            return Ok(false);
        }
        if let Some(flen) = frame_len_at(&mut r, pos, len)? {
            let next = pos + flen;
            if next >= len || frame_len_at(&mut r, next, len)?.is_some() {
                break pos;
            }
        }
        pos += 1;
    };

    pos = first;
    loop {
        if len.saturating_sub(pos) < 4 {
            return Ok(false);
        }
        match frame_len_at(&mut r, pos, len)? {
            Some(flen) if pos + flen > len => return Ok(true),
            Some(flen) => pos += flen,
            None => return Ok(false),
        }
    }
}

/// Length of an ID3v2 tag at the start of the file (0 if none).
fn id3v2_len(r: &mut Cursor) -> io::Result<u64> {
    let mut h = [0u8; 10];
    if r.read_at(0, &mut h)? < 10 || &h[0..3] != b"ID3" {
        return Ok(0);
    }
    let size = h[6..10]
        .iter()
        .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7f));
    let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
    Ok(10 + size + footer)
}

/// If a valid MPEG-1/2/2.5 Layer III header starts at `pos`, its frame length.
fn frame_len_at(r: &mut Cursor, pos: u64, len: u64) -> io::Result<Option<u64>> {
    if pos.saturating_add(4) > len {
        return Ok(None);
    }
    let mut b = [0u8; 4];
    if r.read_at(pos, &mut b)? < 4 {
        return Ok(None);
    }
    Ok(layer3_frame_len(u32::from_be_bytes(b)))
}

/// Frame length in bytes of a Layer III header word, `None` if invalid.
pub(crate) fn layer3_frame_len(h: u32) -> Option<u64> {
    const BR_V1: [u64; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const BR_V2: [u64; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    if h & 0xffe0_0000 != 0xffe0_0000 {
        return None;
    }
    let version = (h >> 19) & 3; // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    let layer = (h >> 17) & 3; // 1: Layer III
    let br_idx = ((h >> 12) & 0xf) as usize;
    let sr_idx = ((h >> 10) & 3) as usize;
    let padding = u64::from((h >> 9) & 1);
    if version == 1 || layer != 1 || br_idx == 0 || br_idx == 15 || sr_idx == 3 {
        return None;
    }
    let (kbps, rate, coef) = match version {
        3 => (BR_V1[br_idx], [44_100u64, 48_000, 32_000][sr_idx], 144_000),
        2 => (BR_V2[br_idx], [22_050u64, 24_000, 16_000][sr_idx], 72_000),
        _ => (BR_V2[br_idx], [11_025u64, 12_000, 8_000][sr_idx], 72_000),
    };
    Some(coef * kbps / rate + padding)
}

/// A buffered file read at absolute positions; short forward jumps stay
/// inside the buffer (frames are a few hundred bytes apart).
struct Cursor {
    inner: BufReader<File>,
    pos: u64,
}

impl Cursor {
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        if pos != self.pos {
            let delta = i64::try_from(pos).unwrap_or(i64::MAX)
                - i64::try_from(self.pos).unwrap_or(i64::MAX);
            self.inner.seek_relative(delta)?;
            self.pos = pos;
        }
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer3_frame_lengths_match_the_standard() {
        // MPEG-1 Layer III, 128 kb/s, 44.1 kHz, no padding: 417 bytes.
        assert_eq!(layer3_frame_len(0xfffb_9000), Some(417));
        // Same with padding: 418.
        assert_eq!(layer3_frame_len(0xfffb_9200), Some(418));
        // Bad bitrate index, bad sample rate, layer II, no sync.
        assert_eq!(layer3_frame_len(0xfffb_f000), None);
        assert_eq!(layer3_frame_len(0xfffb_9c00), None);
        assert_eq!(layer3_frame_len(0xfffd_9000), None);
        assert_eq!(layer3_frame_len(0x1234_5678), None);
    }
}
