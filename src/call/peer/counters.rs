//! What a call counts as media passes (frames, buffers, the encoder's target, the remote
//! picture's size, the remote voice's level), shared by every peer the call builds.

use std::sync::atomic::{AtomicU64, Ordering};

/// Media counters of a call, shared by every peer the call builds (a doctor's reload replaces the
/// peer, not the counts).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub video_in: AtomicU64,
    pub audio_in: AtomicU64,
    pub video_out: AtomicU64,
    pub audio_out: AtomicU64,
    /// What the video encoder aims at now, in bit/s (see `rate.rs`).
    pub video_target: AtomicU64,
    /// Congestion control's estimate of what the link takes, its share for video, in bit/s.
    pub video_estimate: AtomicU64,
    /// Transport-wide feedback reports congestion control got from the other side so far: when
    /// they stop coming, the link has drowned them (`rate.rs` backs off).
    pub feedback_in: AtomicU64,
    /// The size of the remote picture now, as `width << 32 | height` (0: none yet).
    pub video_size_in: AtomicU64,
    /// The remote voice's energy, read once a second as a level.
    pub voice_level: VoiceLevel,
}

/// The energy of the remote voice since it was last read.
#[derive(Debug, Default)]
pub(crate) struct VoiceLevel(std::sync::Mutex<(f64, u64)>);

impl VoiceLevel {
    /// Adds 16-bit samples (native endian, as the voice path decodes them).
    pub fn add_s16(&self, bytes: &[u8]) {
        let energy: f64 = bytes
            .chunks_exact(2)
            .map(|s| f64::from(i16::from_ne_bytes([s[0], s[1]])) / 32768.0)
            .map(|v| v * v)
            .sum();
        let mut level = self.0.lock().unwrap_or_else(|e| e.into_inner());
        level.0 += energy;
        level.1 += (bytes.len() / 2) as u64;
    }

    /// The mean power since the last read, in dB of full scale (`None`: nothing came).
    pub fn take_dbfs(&self) -> Option<f64> {
        let (energy, samples) =
            std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        (samples > 0).then(|| 10.0 * (energy / samples as f64).max(1e-12).log10())
    }
}

impl Counters {
    /// The remote picture's size, once one was decoded.
    pub fn video_size_in(&self) -> Option<(u32, u32)> {
        let packed = self.video_size_in.load(Ordering::Relaxed);
        (packed != 0).then_some(((packed >> 32) as u32, packed as u32))
    }
}
