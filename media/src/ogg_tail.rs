//! Does an Ogg file end with its end-of-stream page?
//!
//! Every Ogg logical stream ends with a page flagged end-of-stream. A file cut
//! short (interrupted copy or upload) instead ends with a partial page or an
//! ordinary one; symphonia just stops there, so we look at the tail ourselves.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// How much of the end of the file to examine: several pages.
const TAIL_BYTES: u64 = 256 * 1024;
const EOS_FLAG: u8 = 0x04;

/// `Ok(true)` if the last Ogg page is incomplete or not flagged end-of-stream.
/// `Ok(false)` for a clean end, or when no page can be found in the tail.
pub(crate) fn ends_early(path: &Path) -> io::Result<bool> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut tail)?;
    Ok(tail_ends_early(&tail))
}

fn tail_ends_early(tail: &[u8]) -> bool {
    // The first page boundary in the window: capture pattern, version 0.
    let Some(mut pos) =
        (0..tail.len().saturating_sub(5)).find(|&i| &tail[i..i + 4] == b"OggS" && tail[i + 4] == 0)
    else {
        return false;
    };
    let mut last_flags = None;
    loop {
        if pos == tail.len() {
            return last_flags.is_none_or(|f| f & EOS_FLAG == 0);
        }
        let Some(header) = tail.get(pos..pos + 27) else {
            return true; // a partial page header
        };
        if &header[0..4] != b"OggS" || header[4] != 0 {
            return false; // junk after the pages: not ours to judge
        }
        let n_segs = usize::from(header[26]);
        let Some(table) = tail.get(pos + 27..pos + 27 + n_segs) else {
            return true;
        };
        let body: usize = table.iter().map(|&b| usize::from(b)).sum();
        let end = pos + 27 + n_segs + body;
        if end > tail.len() {
            return true; // the last page is cut short
        }
        last_flags = Some(header[5]);
        pos = end;
    }
}

#[cfg(test)]
mod tests {
    use super::tail_ends_early;

    fn page(flags: u8, body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS".to_vec();
        p.push(0);
        p.push(flags);
        p.extend_from_slice(&[0u8; 20]);
        p.push(1);
        p.push(body.len() as u8);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn ogg_tail_with_eos_page_is_clean_and_a_cut_page_is_not() {
        let mut ok = page(0, b"abc");
        ok.extend(page(0x04, b"def"));
        assert!(!tail_ends_early(&ok));
        assert!(tail_ends_early(&ok[..ok.len() - 1]));
        assert!(tail_ends_early(&page(0, b"abc")));
        assert!(!tail_ends_early(b"no pages here"));
    }
}
