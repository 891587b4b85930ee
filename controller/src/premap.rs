//! Memory mapped ahead of need, for what must not wait for the kernel at an urgent
//! notice's start.

/// An empty vector with room for `capacity` items whose memory is already mapped: every
/// page written once with `fill`, which must not be zero (the optimiser makes an allocation
/// followed by zeros a zeroed allocation, which fresh memory satisfies without touching a
/// page). What must not wait for the kernel to map pages at an urgent notice's start (the
/// decoders' warm chunks, the event parser's first long line) starts in such memory.
pub fn premapped<T: Clone>(capacity: usize, fill: T) -> Vec<T> {
    let mut v = Vec::with_capacity(capacity);
    v.resize(capacity, fill);
    v.clear();
    v
}
