//! Reads the touchscreen: one thread owns the evdev device and sends finished touches to the
//! daemon. A device that is missing or goes away (a loose cable) is retried every few seconds;
//! the daemon keeps running, and the control socket still works.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use evdev::AbsoluteAxisCode;
use evdev::raw_stream::RawDevice;
use tokio::sync::mpsc;

use crate::ui::Panel;
use crate::ui::touch::{Calibration, Rotation, Touch, TouchDecoder};

const RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct TouchSpec {
    pub device: PathBuf,
    pub rotation: Rotation,
    /// Raw axis ranges from config; `None` takes the device's own.
    pub x_range: Option<(i32, i32)>,
    pub y_range: Option<(i32, i32)>,
    pub panel: Panel,
}

/// Starts the reader thread. It ends when the receiver is dropped.
pub fn spawn(
    spec: TouchSpec,
    touches: mpsc::Sender<Touch>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("touch".into()).spawn(move || {
        let mut warned = false;
        loop {
            match read(&spec, &touches) {
                Ok(()) => return,
                Err(e) => {
                    if !warned {
                        tracing::warn!(device = %spec.device.display(), error = %e, "touchscreen unavailable; retrying");
                    }
                    warned = true;
                }
            }
            if touches.is_closed() {
                return;
            }
            std::thread::sleep(RETRY);
        }
    })
}

/// Reads touches until the daemon stops listening (`Ok`) or the device fails (`Err`).
fn read(spec: &TouchSpec, touches: &mpsc::Sender<Touch>) -> std::io::Result<()> {
    let mut device = RawDevice::open(&spec.device)?;
    let axes = device.get_abs_state()?;
    let range = |mt: AbsoluteAxisCode, plain: AbsoluteAxisCode| {
        let info = if axes[mt.0 as usize].maximum > 0 {
            axes[mt.0 as usize]
        } else {
            axes[plain.0 as usize]
        };
        (info.minimum, info.maximum)
    };
    let calibration = Calibration {
        x: spec
            .x_range
            .unwrap_or_else(|| range(AbsoluteAxisCode::ABS_MT_POSITION_X, AbsoluteAxisCode::ABS_X)),
        y: spec
            .y_range
            .unwrap_or_else(|| range(AbsoluteAxisCode::ABS_MT_POSITION_Y, AbsoluteAxisCode::ABS_Y)),
        rotation: spec.rotation,
    };
    tracing::info!(device = %spec.device.display(), ?calibration, "touchscreen opened");
    let mut decoder = TouchDecoder::new(calibration, spec.panel);
    loop {
        for event in device.fetch_events()? {
            if let Some(touch) = decoder.feed(
                event.event_type().0,
                event.code(),
                event.value(),
                Instant::now(),
            ) && touches.blocking_send(touch).is_err()
            {
                return Ok(());
            }
        }
    }
}
