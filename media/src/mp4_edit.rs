//! MP4/M4A boxes we read ourselves.
//!
//! **Sanity of sample tables.** symphonia 0.5 preallocates sample tables
//! from the entry counts in the file, so one flipped bit in an `stts` count
//! asks for tens of gigabytes and aborts the process (an allocation failure
//! is not a panic and cannot be caught). [`tables_are_sane`] checks every
//! table's count against its box size before symphonia sees the file.
//!
//! **Edit list.** The edit list of an MP4/M4A audio track, which says which decoded frames
//! are real audio. AAC encoders put ~1024–2112 frames of priming before the
//! audio and pad the end to a whole packet; symphonia 0.5 decodes them all.
//! We read `moov/mvhd`, the sound track's `mdhd` and `edts/elst` ourselves and
//! trim, so the duration is the one the encoder was given (as ffmpeg and
//! iTunes do).

use std::io::{self, Read, Seek, SeekFrom};

/// Frames to drop at the start, and how many to keep after that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) skip: u64,
    pub(crate) keep: Option<u64>,
}

/// More boxes than this means a broken (or hostile) file.
const MAX_BOXES: u32 = 10_000;

/// The edit of the first sound track, converted to frames at `rate`.
/// `None` when the file has no usable edit list (then nothing is trimmed).
pub(crate) fn audio_edit<R: Read + Seek>(mut r: R, len: u64, rate: u32) -> Option<Edit> {
    let mut budget = MAX_BOXES;
    let moov = find_child(&mut r, 0, len, b"moov", &mut budget).ok()??;
    let mvhd = find_child(&mut r, moov.0, moov.1, b"mvhd", &mut budget).ok()??;
    let movie_ts = timescale(&mut r, mvhd.0).ok()?;

    // Walk the tracks: the first whose handler is `soun`.
    let mut pos = moov.0;
    while let Ok(Some((start, end))) = find_child(&mut r, pos, moov.1, b"trak", &mut budget) {
        pos = end;
        let Ok(Some(mdia)) = find_child(&mut r, start, end, b"mdia", &mut budget) else {
            continue;
        };
        let Ok(Some(hdlr)) = find_child(&mut r, mdia.0, mdia.1, b"hdlr", &mut budget) else {
            continue;
        };
        // hdlr: version/flags (4), pre_defined (4), handler_type (4).
        let mut h = [0u8; 12];
        if r.seek(SeekFrom::Start(hdlr.0)).is_err() || r.read_exact(&mut h).is_err() {
            continue;
        }
        if &h[8..12] != b"soun" {
            continue;
        }
        let mdhd = find_child(&mut r, mdia.0, mdia.1, b"mdhd", &mut budget).ok()??;
        let media_ts = timescale(&mut r, mdhd.0).ok()?;
        let edts = find_child(&mut r, start, end, b"edts", &mut budget).ok()??;
        let elst = find_child(&mut r, edts.0, edts.1, b"elst", &mut budget).ok()??;
        let (seg_dur, media_time) = first_edit(&mut r, elst.0).ok()??;
        let rate = u128::from(rate);
        let conv = |v: u64, ts: u32| -> Option<u64> {
            (ts > 0)
                .then(|| (u128::from(v) * rate / u128::from(ts)).min(u128::from(u64::MAX)) as u64)
        };
        let skip = conv(media_time, media_ts)?;
        let keep = if seg_dur > 0 {
            conv(seg_dur, movie_ts)
        } else {
            None
        };
        return Some(Edit { skip, keep });
    }
    None
}

/// Container boxes on the way to the sample tables.
const CONTAINERS: [&[u8; 4]; 7] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex",
];

/// `false` if the file is an MP4 whose sample tables claim more entries than
/// their boxes hold. Files that are not MP4 are "sane" (not ours to judge).
pub(crate) fn tables_are_sane<R: Read + Seek>(mut r: R, len: u64) -> bool {
    let mut budget = MAX_BOXES;
    walk_tables(&mut r, 0, len, 0, &mut budget).unwrap_or(true)
}

/// Visit the boxes in `[from, to)`; `Ok(false)` on an impossible table.
fn walk_tables<R: Read + Seek>(
    r: &mut R,
    from: u64,
    to: u64,
    depth: u32,
    budget: &mut u32,
) -> io::Result<bool> {
    let mut pos = from;
    while pos.saturating_add(8) <= to && *budget > 0 && depth < 8 {
        *budget -= 1;
        r.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 8];
        r.read_exact(&mut h)?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let (header, size) = match size32 {
            0 => (8, to - pos),
            1 => {
                let mut b = [0u8; 8];
                r.read_exact(&mut b)?;
                (16, u64::from_be_bytes(b))
            }
            n => (8, u64::from(n)),
        };
        if size < header || pos.saturating_add(size) > to {
            // Not a box structure we can follow: symphonia will judge it.
            return Ok(true);
        }
        let (body, end) = (pos + header, pos + size);
        let kind: [u8; 4] = [h[4], h[5], h[6], h[7]];
        if CONTAINERS.contains(&&kind) {
            if !walk_tables(r, body, end, depth + 1, budget)? {
                return Ok(false);
            }
        } else if let Some((fixed, entry)) = table_layout(&kind) {
            // version/flags (4), then `fixed` bytes ending in the count.
            let mut f = [0u8; 12];
            let n = 4 + fixed;
            if end - body < n as u64 {
                return Ok(false);
            }
            r.seek(SeekFrom::Start(body))?;
            r.read_exact(&mut f[..n])?;
            let count = u64::from(u32::from_be_bytes([f[n - 4], f[n - 3], f[n - 2], f[n - 1]]));
            // stsz with a constant sample size has no table.
            let entry = if &kind == b"stsz" && f[4..8] != [0, 0, 0, 0] {
                0
            } else {
                entry
            };
            if count.saturating_mul(entry) > end - body - n as u64 {
                return Ok(false);
            }
        }
        pos = end;
    }
    Ok(true)
}

/// For a sample-table box: bytes after version/flags up to and including
/// the entry count, and the size of one entry.
fn table_layout(kind: &[u8; 4]) -> Option<(usize, u64)> {
    match kind {
        b"stts" | b"ctts" => Some((4, 8)),
        b"stsc" => Some((4, 12)),
        b"stsz" => Some((8, 4)),
        b"stco" | b"stss" => Some((4, 4)),
        b"co64" => Some((4, 8)),
        _ => None,
    }
}

/// Find the first child box `kind` among the boxes in `[from, to)`; returns
/// the byte range of its payload.
fn find_child<R: Read + Seek>(
    r: &mut R,
    from: u64,
    to: u64,
    kind: &[u8; 4],
    budget: &mut u32,
) -> io::Result<Option<(u64, u64)>> {
    let mut pos = from;
    while pos.saturating_add(8) <= to {
        if *budget == 0 {
            return Ok(None);
        }
        *budget -= 1;
        r.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 8];
        r.read_exact(&mut h)?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let (header, size) = match size32 {
            0 => (8, to - pos), // extends to the end of its parent
            1 => {
                let mut b = [0u8; 8];
                r.read_exact(&mut b)?;
                (16, u64::from_be_bytes(b))
            }
            n => (8, u64::from(n)),
        };
        if size < header || pos.saturating_add(size) > to {
            return Ok(None);
        }
        if &h[4..8] == kind {
            return Ok(Some((pos + header, pos + size)));
        }
        pos += size;
    }
    Ok(None)
}

/// The timescale field of an `mvhd` or `mdhd` payload.
fn timescale<R: Read + Seek>(r: &mut R, payload: u64) -> io::Result<u32> {
    r.seek(SeekFrom::Start(payload))?;
    let mut vf = [0u8; 4];
    r.read_exact(&mut vf)?;
    // Creation and modification times: 4 bytes each (v0) or 8 (v1).
    let skip = if vf[0] == 1 { 16 } else { 8 };
    r.seek(SeekFrom::Current(skip))?;
    let mut ts = [0u8; 4];
    r.read_exact(&mut ts)?;
    Ok(u32::from_be_bytes(ts))
}

/// The first edit that maps media (skipping empty edits): (segment
/// duration in movie timescale, media time in media timescale).
fn first_edit<R: Read + Seek>(r: &mut R, payload: u64) -> io::Result<Option<(u64, u64)>> {
    r.seek(SeekFrom::Start(payload))?;
    let mut vf = [0u8; 8];
    r.read_exact(&mut vf)?;
    let v1 = vf[0] == 1;
    let count = u32::from_be_bytes([vf[4], vf[5], vf[6], vf[7]]).min(64);
    for _ in 0..count {
        let (dur, time) = if v1 {
            let mut e = [0u8; 20];
            r.read_exact(&mut e)?;
            let d = u64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
            let t = i64::from_be_bytes([e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]]);
            (d, t)
        } else {
            let mut e = [0u8; 12];
            r.read_exact(&mut e)?;
            let d = u64::from(u32::from_be_bytes([e[0], e[1], e[2], e[3]]));
            let t = i64::from(i32::from_be_bytes([e[4], e[5], e[6], e[7]]));
            (d, t)
        };
        if time >= 0 {
            return Ok(Some((dur, time as u64)));
        }
    }
    Ok(None)
}
