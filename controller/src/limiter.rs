//! The safety limiter at the mixer's output: whatever airs — a file, a programme, a spoken
//! notice, the chime, a relay, live audio — no sample leaves the controller above
//! [`CEILING_DBFS`].
//!
//! Loudness normalisation already keeps a file's gain under the -1 dBTP true-peak ceiling
//! (see `media::gain_db`); this is the net under it, for what normalisation cannot know:
//! a relayed or live stream, a file whose measurement is wrong, decoder or resampler
//! overshoot. It is a peak limiter with an instant attack and no look-ahead (so nothing is
//! delayed: stations stay in step): when a frame would exceed the ceiling the gain drops at
//! once to exactly what brings it to the ceiling, then recovers towards 1 with a
//! [`RELEASE_S`] time constant. Below the ceiling, with the gain back at 1, it leaves every
//! sample bit for bit as it was. Channels share one gain, so the stereo image holds.

/// The ceiling, dBFS.
pub const CEILING_DBFS: f32 = -1.0;

/// Time constant of the gain's recovery, seconds.
pub const RELEASE_S: f32 = 0.15;

/// A gain this close to 1 (under 0.01 dB) is taken as 1: the limiter is at rest again.
const SNAP: f32 = 1e-3;

/// The limiter's state: the gain in force and how fast it recovers.
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling: f32,
    gain: f32,
    /// Per frame, the gain moves this fraction of the way back to 1.
    release: f32,
    rate: u32,
}

impl Limiter {
    /// A limiter at [`CEILING_DBFS`] for `rate` frames a second.
    pub fn new(rate: u32) -> Limiter {
        let ceiling = 10f32.powf(CEILING_DBFS / 20.0);
        Limiter {
            ceiling,
            gain: 1.0,
            release: release_per_frame(rate),
            rate,
        }
    }

    /// The ceiling as a linear sample value.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }

    /// The gain in force (1 when idle).
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Follow a change of the output's rate.
    pub fn set_rate(&mut self, rate: u32) {
        if rate != self.rate {
            self.rate = rate;
            self.release = release_per_frame(rate);
        }
    }

    /// `frames` frames of silence went out: the gain recovers as it would have.
    pub fn idle(&mut self, frames: usize) {
        if self.gain < 1.0 {
            let left =
                (1.0 - self.gain) * (1.0 - self.release).powi(frames.min(i32::MAX as usize) as i32);
            self.gain = if left < SNAP { 1.0 } else { 1.0 - left };
        }
    }

    /// Limit `block` (interleaved frames of `channels` samples) in place.
    pub fn process(&mut self, block: &mut [f32], channels: usize) {
        let ch = channels.max(1);
        // The common case, and the one that must be transparent: nothing near the ceiling
        // and the gain at rest. One vectorisable scan, nothing written.
        if self.gain >= 1.0 {
            let peak = block.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
            if peak <= self.ceiling && peak.is_finite() {
                return;
            }
        }
        for frame in block.chunks_mut(ch) {
            // Recover first, then take exactly what this frame needs.
            if self.gain < 1.0 {
                self.gain += (1.0 - self.gain) * self.release;
                if 1.0 - self.gain < SNAP {
                    self.gain = 1.0;
                }
            }
            let mut peak = 0.0f32;
            for s in frame.iter_mut() {
                if !s.is_finite() {
                    *s = 0.0;
                }
                peak = peak.max(s.abs());
            }
            if peak * self.gain > self.ceiling {
                self.gain = self.ceiling / peak;
            }
            if self.gain < 1.0 {
                for s in frame.iter_mut() {
                    // Rounding can leave a hair above: clamp to the ceiling itself.
                    *s = (*s * self.gain).clamp(-self.ceiling, self.ceiling);
                }
            }
        }
    }
}

fn release_per_frame(rate: u32) -> f32 {
    1.0 - (-1.0 / (RELEASE_S * rate.max(1) as f32)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amp: f32, n: usize, rate: u32) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn below_the_ceiling_every_sample_is_left_exactly_as_it_was() {
        let mut l = Limiter::new(48_000);
        let x = sine(0.85, 48_000, 48_000);
        let mut y = x.clone();
        l.process(&mut y, 1);
        assert_eq!(x, y);
        assert_eq!(l.gain(), 1.0);
    }

    #[test]
    fn no_sample_exceeds_the_ceiling_whatever_comes_in() {
        let mut l = Limiter::new(48_000);
        let ceiling = l.ceiling();
        let mut inputs = vec![
            sine(1.0, 48_000, 48_000),
            sine(4.0, 4_800, 48_000),
            vec![1.0; 960],
            vec![-1.0, 1.0, f32::NAN, f32::INFINITY, 3.0, -7.0],
        ];
        // Stereo, one channel hot.
        inputs.push(
            sine(2.0, 9_600, 48_000)
                .into_iter()
                .flat_map(|x| [x * 0.1, x])
                .collect(),
        );
        for (i, mut x) in inputs.into_iter().enumerate() {
            l.process(&mut x, if i == 4 { 2 } else { 1 });
            let peak = x.iter().fold(0.0f32, |m, &s| m.max(s.abs()));
            assert!(peak <= ceiling, "input {i}: peak {peak} > {ceiling}");
            assert!(x.iter().all(|s| s.is_finite()));
        }
    }

    #[test]
    fn the_gain_recovers_after_a_peak_and_stays_in_step_across_channels() {
        let mut l = Limiter::new(48_000);
        let mut hot = vec![0.5, 1.0];
        l.process(&mut hot, 2);
        // One gain for both channels: the ratio holds.
        assert!((hot[1] / hot[0] - 2.0).abs() < 1e-5, "{hot:?}");
        assert!((hot[1] - l.ceiling()).abs() < 1e-6);
        let g = l.gain();
        assert!(g < 0.9);
        // A second of silence: back to 1.
        l.idle(48_000);
        assert_eq!(l.gain(), 1.0);
        // Quiet audio after a peak is only briefly turned down, then passes untouched.
        let mut l = Limiter::new(48_000);
        l.process(&mut [2.0], 1);
        let mut quiet = sine(0.3, 96_000, 48_000);
        let orig = quiet.clone();
        l.process(&mut quiet, 1);
        assert!(quiet[100].abs() < orig[100].abs());
        assert_eq!(&quiet[48_000..], &orig[48_000..]);
    }
}
