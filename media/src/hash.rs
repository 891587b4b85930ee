//! Content hashing: media is stored by the sha256 of its bytes.
//!
//! [`HashingSource`] hashes a file *while* symphonia reads it, so a probe reads
//! the file once. Format readers may seek (an MP4 whose `moov` box is at the
//! end is read end-first), so the source hashes only the contiguous prefix it
//! has seen; [`HashingSource::finish`] reads whatever was skipped.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use symphonia::core::io::MediaSource;

/// Hex sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Hash state shared between the source (owned by symphonia) and the prober.
#[derive(Debug)]
pub(crate) struct HashState {
    hasher: Sha256,
    /// Bytes `0..hashed_upto` have been fed to the hasher.
    hashed_upto: u64,
}

/// A file that feeds every byte read, in order, to a sha256 hasher.
pub(crate) struct HashingSource {
    file: File,
    pos: u64,
    len: u64,
    seekable: bool,
    state: Arc<Mutex<HashState>>,
}

/// Handle kept by the prober to finish the hash after decoding.
pub(crate) struct HashHandle {
    state: Arc<Mutex<HashState>>,
}

impl HashingSource {
    pub(crate) fn new(file: File, len: u64, seekable: bool) -> (Self, HashHandle) {
        let state = Arc::new(Mutex::new(HashState {
            hasher: Sha256::new(),
            hashed_upto: 0,
        }));
        (
            HashingSource {
                file,
                pos: 0,
                len,
                seekable,
                state: Arc::clone(&state),
            },
            HashHandle { state },
        )
    }
}

impl HashHandle {
    /// Hash whatever the format reader skipped, and return the hex digest.
    pub(crate) fn finish(self, path: &Path) -> io::Result<String> {
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(state.hashed_upto))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            state.hasher.update(&buf[..n]);
        }
        let hasher = std::mem::take(&mut state.hasher);
        Ok(hex::encode(hasher.finalize()))
    }
}

impl Read for HashingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let start = self.pos;
        let end = start + n as u64;
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if start <= state.hashed_upto && state.hashed_upto < end {
            // `hashed_upto - start` < n, so the cast cannot truncate.
            let from = (state.hashed_upto - start) as usize;
            state.hasher.update(&buf[from..n]);
            state.hashed_upto = end;
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for HashingSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

impl MediaSource for HashingSource {
    fn is_seekable(&self) -> bool {
        self.seekable
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn expected(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn hash_of_a_file_read_out_of_order_equals_the_hash_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        File::create(&path).unwrap().write_all(&bytes).unwrap();

        let (mut src, handle) =
            HashingSource::new(File::open(&path).unwrap(), bytes.len() as u64, true);
        let mut buf = vec![0u8; 1000];
        src.read_exact(&mut buf).unwrap();
        // Skip ahead (like an MP4 reader looking for `moov`), read, come back.
        src.seek(SeekFrom::Start(90_000)).unwrap();
        src.read_exact(&mut buf).unwrap();
        src.seek(SeekFrom::Start(500)).unwrap();
        src.read_exact(&mut buf).unwrap();
        assert_eq!(handle.finish(&path).unwrap(), expected(&bytes));
        assert_eq!(sha256_file(&path).unwrap(), expected(&bytes));
    }
}
