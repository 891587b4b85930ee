//! The output's sample format, shared by the mixer and the decoders that fill it.

/// The output's sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
}
