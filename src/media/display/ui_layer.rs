//! The UI layer's way into the composition: one `appsrc` per [band](super::bands), each on its
//! own `compositor` pad above the video, in the composition's format so that `compositor` takes
//! it as it is. A band's place on the screen travels with the band's buffer and is applied in
//! the moment `compositor` takes that buffer for a frame.

use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::gst_base;
use gst_video::gst_base::prelude::*;

use super::bands::{self, Band};
use super::{COLORIMETRY, FORMAT};

/// Pads for the UI layer's bands: the call screen needs two (the status row with the self-view's
/// frame, the bar), with its dialog three, the waiting room three; more are joined.
const BANDS: usize = 4;
/// The zorder of the first band; the remote picture is 0 and the self-view 1.
const ZORDER: u32 = 2;
/// The custom buffer meta that carries a band's [`Place`].
const PLACE_META: &str = "PraxiskioskUiBand";
/// Bands a source holds for `compositor` at most: the newest (see [`UiLayer::description`]).
const QUEUED: u64 = 1;
/// How long bands may wait in their sources before the log says the screen does not take them.
/// Layers painted a few ms apart (a code accepted, consent, the waiting room) wait a moment in a
/// working composition too; at 5 frames a second it takes a band within 200 ms.
const UNTAKEN_FOR: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(super) struct UiLayer {
    sources: Vec<gst::Element>,
    width: u32,
    untaken: Mutex<Untaken>,
}

/// Whether the composition takes the bands it is given, as the paints see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Untaken {
    /// The last paint found every source empty.
    #[default]
    No,
    /// Paints since `Instant` found a band still waiting.
    Since(Instant),
    /// For longer than [`UNTAKEN_FOR`]; the log said so.
    Said,
}

impl Untaken {
    /// The state after a paint that found a band `waiting` (or none) at `now`, and whether the
    /// log should now say that the screen stopped or started again taking the UI layer.
    fn seen(self, waiting: bool, now: Instant) -> (Self, Option<bool>) {
        match (self, waiting) {
            (Self::No, false) => (Self::No, None),
            (Self::Since(_), false) => (Self::No, None),
            (Self::Said, false) => (Self::No, Some(true)),
            (Self::No, true) => (Self::Since(now), None),
            (Self::Since(t), true) if now.saturating_duration_since(t) >= UNTAKEN_FOR => {
                (Self::Said, Some(false))
            }
            (Self::Since(t), true) => (Self::Since(t), None),
            (Self::Said, true) => (Self::Said, None),
        }
    }
}

/// Where a band's pad shows the band it carries, or that it shows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    shown: bool,
    y: i32,
    /// Copied over what is below, not blended: it has no transparent pixel.
    opaque: bool,
}

impl UiLayer {
    /// The layer's sources in a pipeline description, linked to `mix.sink_{first}` and on.
    ///
    /// At most one band waits in each source, the newest (`leaky-type=downstream` drops the
    /// older): a band is all its pad shows, so a newer one replaces it. Without the bound a
    /// composition that stops taking bands (a hung display driver, a starved core) would keep
    /// every layer painted meanwhile: the call screen paints its two bands again every second
    /// (its duration), 0.68 MB on an 800x480 panel. Counted in buffers, not bytes
    /// (`max-bytes=0`): one band is larger than appsrc's default of 200 kB, which bounded
    /// nothing anyway, without `leaky-type` or `block`.
    pub fn description(first: usize) -> String {
        (0..BANDS)
            .map(|i| {
                format!(
                    "appsrc name=ui{i} is-live=true format=time do-timestamp=true \
                     max-buffers={QUEUED} max-bytes=0 leaky-type=downstream \
                     ! mix.sink_{} ",
                    first + i
                )
            })
            .collect()
    }

    /// Finds the layer's sources in `pipeline` and lets their pads follow their bands.
    pub fn attach(
        pipeline: &gst::Pipeline,
        mix: &gst::Element,
        first: usize,
        width: u32,
    ) -> Result<Self, String> {
        static PLACE_META_REGISTERED: Once = Once::new();
        PLACE_META_REGISTERED.call_once(register_place_meta);
        let mut sources = Vec::new();
        let mut pads = Vec::new();
        for i in 0..BANDS {
            let name = format!("ui{i}");
            sources.push(pipeline.by_name(&name).ok_or(format!("{name} missing"))?);
            let pad = mix
                .static_pad(&format!("sink_{}", first + i))
                .and_then(|pad| pad.downcast::<gst_base::AggregatorPad>().ok())
                .ok_or(format!("mix.sink_{} missing", first + i))?;
            pad.set_property("zorder", ZORDER + i as u32);
            pad.set_property("alpha", 0.0f64);
            pads.push(pad);
        }
        let mix = mix
            .clone()
            .downcast::<gst_base::Aggregator>()
            .map_err(|_| "compositor is no aggregator".to_string())?;
        follow(&mix, pads);
        Ok(Self {
            sources,
            width,
            untaken: Mutex::default(),
        })
    }

    /// Pushes the bands of a new layer (RGBA, the panel's size).
    pub fn show(&self, rgba: &[u8]) {
        self.note_untaken();
        let width = self.width;
        let bands = bands::bands(rgba, width, BANDS);
        for (i, source) in self.sources.iter().enumerate() {
            // A pad without a band gets one transparent row marked hidden: the band it showed
            // last must go.
            let (rows, place) = match bands.get(i) {
                Some(&band) => (bands::to_bgra(rgba, width, band), Place::of(band)),
                None => (vec![0; width as usize * 4], Place::HIDDEN),
            };
            let height = rows.len() / (width as usize * 4);
            let mut buffer = gst::Buffer::from_mut_slice(rows);
            place.mark(buffer.make_mut());
            let caps = gst::Caps::builder("video/x-raw")
                .field("format", FORMAT)
                .field("colorimetry", COLORIMETRY)
                .field("width", width as i32)
                .field("height", height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .field("framerate", gst::Fraction::new(0, 1))
                .build();
            // A sample, so a band of another height brings its caps in order with it.
            let sample = gst::Sample::builder().buffer(&buffer).caps(&caps).build();
            let flow = source.emit_by_name::<gst::FlowReturn>("push-sample", &[&sample]);
            if flow != gst::FlowReturn::Ok {
                tracing::warn!(?flow, "UI band not taken by the screen pipeline");
            }
        }
    }
}

impl UiLayer {
    /// Says in the log when the composition stops taking the UI layer, and when it takes it
    /// again. Bounded, the sources no longer grow when it does; and a composition that holds
    /// the bands back while it still composes frames would leave no other trace (the watchdog
    /// reads the display's frame count).
    fn note_untaken(&self) {
        let waiting = self
            .sources
            .iter()
            .any(|source| source.property::<u64>("current-level-buffers") >= QUEUED);
        let mut untaken = self.untaken.lock().unwrap_or_else(|p| p.into_inner());
        let (next, taken) = untaken.seen(waiting, Instant::now());
        *untaken = next;
        match taken {
            Some(false) => tracing::warn!(
                "the screen is not taking the UI layer: each source keeps only the newest band"
            ),
            Some(true) => tracing::info!("the screen takes the UI layer again"),
            None => {}
        }
    }
}

impl Place {
    const HIDDEN: Self = Self {
        shown: false,
        y: 0,
        opaque: false,
    };

    fn of(band: Band) -> Self {
        Self {
            shown: true,
            y: band.y as i32,
            opaque: band.opaque,
        }
    }

    fn mark(self, buffer: &mut gst::BufferRef) {
        let Ok(mut meta) = gst::meta::CustomMeta::add(buffer, PLACE_META) else {
            return;
        };
        let fields = meta.mut_structure();
        fields.set("shown", self.shown);
        fields.set("y", self.y);
        fields.set("opaque", self.opaque);
    }

    fn read(buffer: &gst::BufferRef) -> Option<Self> {
        let meta = gst::meta::CustomMeta::from_buffer(buffer, PLACE_META).ok()?;
        let fields = meta.structure();
        Some(Self {
            shown: fields.get("shown").ok()?,
            y: fields.get("y").ok()?,
            opaque: fields.get("opaque").ok()?,
        })
    }

    fn apply(self, pad: &gst_base::AggregatorPad) {
        pad.set_property("ypos", self.y);
        pad.set_property_from_str("operator", if self.opaque { "source" } else { "over" });
        pad.set_property("alpha", if self.shown { 1.0f64 } else { 0.0 });
    }
}

fn register_place_meta() {
    // `appsrc` timestamps a copy of every buffer it is given, and a meta goes with a copy only
    // when it says how.
    gst::meta::CustomMeta::register_with_transform(PLACE_META, &[], |dest, meta, _, _| {
        let fields = meta.structure().to_owned();
        let Ok(mut copy) = gst::meta::CustomMeta::add(dest, PLACE_META) else {
            return false;
        };
        for (name, value) in fields.iter() {
            copy.mut_structure().set_value(name, value.clone());
        }
        true
    });
}

/// Moves each band's pad to its band's place when `compositor` has taken the band for the next
/// frame and not yet drawn it. Set when the band is pushed, the pad would move while it still
/// shows its old band, and that band would be drawn a frame at the new place (200 ms at 5 fps).
fn follow(mix: &gst_base::Aggregator, pads: Vec<gst_base::AggregatorPad>) {
    let pads: Vec<_> = pads.into_iter().map(|p| (p, Mutex::new(None))).collect();
    mix.connect_samples_selected(move |mix, _, _, _, _, _| {
        for (pad, applied) in &pads {
            let Some(place) = mix
                .peek_next_sample(pad)
                .and_then(|sample| sample.buffer().and_then(Place::read))
            else {
                continue;
            };
            let mut applied = applied.lock().unwrap_or_else(|p| p.into_inner());
            if *applied != Some(place) {
                place.apply(pad);
                *applied = Some(place);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_left_waiting_for_two_seconds_are_said_once_and_so_is_the_recovery() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        // Paints a few ms apart find a band waiting: nothing to say.
        let (state, said) = Untaken::No.seen(true, at(0));
        assert_eq!((state, said), (Untaken::Since(at(0)), None));
        let (state, said) = state.seen(false, at(300));
        assert_eq!((state, said), (Untaken::No, None));
        // Still waiting two seconds later: said once, not at every paint.
        let (state, _) = state.seen(true, at(1_000));
        let (state, said) = state.seen(true, at(2_000));
        assert_eq!(said, None);
        let (state, said) = state.seen(true, at(3_000));
        assert_eq!((state, said), (Untaken::Said, Some(false)));
        let (state, said) = state.seen(true, at(4_000));
        assert_eq!((state, said), (Untaken::Said, None));
        let (state, said) = state.seen(false, at(5_000));
        assert_eq!((state, said), (Untaken::No, Some(true)));
    }
}
