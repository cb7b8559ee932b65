//! The UI layer cut into bands of whole rows, so the composition touches only what the UI draws.
//!
//! During a call most of the layer is transparent (the picture shows through): only the status
//! row, the self-view's frame and the bar of buttons are drawn. `compositor` blends every pixel of
//! every input 25 times a second, transparent or not, so the full layer cost as much as the
//! picture itself. Bands of rows that hold something are all it needs; a band with no
//! transparent pixel is copied instead of blended. Pure: no GStreamer here.

/// Rows `y .. y + height` of the layer; `opaque` when none of its pixels lets video through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Band {
    pub y: u32,
    pub height: u32,
    pub opaque: bool,
}

impl Band {
    fn end(&self) -> u32 {
        self.y + self.height
    }

    /// Rows the composition blends per frame, with copied rows at a fraction of a blended one
    /// (a copy is a `memcpy`; a blend reads both layers and mixes every channel).
    fn cost(&self) -> u32 {
        if self.opaque {
            self.height.div_ceil(4)
        } else {
            self.height
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Transparent,
    Opaque,
    Mixed,
}

fn row_kind(row: &[u8]) -> Row {
    let mut alphas = row.iter().skip(3).step_by(4);
    match alphas.next() {
        Some(0) if alphas.all(|&a| a == 0) => Row::Transparent,
        Some(255) if alphas.all(|&a| a == 255) => Row::Opaque,
        _ => Row::Mixed,
    }
}

/// The bands of an RGBA layer `width` pixels wide that hold anything, at most `max` of them:
/// where there are more, the neighbours whose joining costs least are joined (the rows between
/// them are blended too, though transparent).
pub(super) fn bands(rgba: &[u8], width: u32, max: usize) -> Vec<Band> {
    let stride = width as usize * 4;
    let mut out: Vec<Band> = Vec::new();
    for (y, row) in rgba.chunks_exact(stride).enumerate() {
        let opaque = match row_kind(row) {
            Row::Transparent => continue,
            kind => kind == Row::Opaque,
        };
        match out.last_mut() {
            Some(last) if last.end() == y as u32 && last.opaque == opaque => last.height += 1,
            _ => out.push(Band {
                y: y as u32,
                height: 1,
                opaque,
            }),
        }
    }
    while out.len() > max.max(1) {
        let Some(i) = (0..out.len() - 1).min_by_key(|&i| {
            let (a, b) = (out[i], out[i + 1]);
            joined(a, b).cost() - a.cost() - b.cost()
        }) else {
            break;
        };
        out[i] = joined(out[i], out[i + 1]);
        out.remove(i + 1);
    }
    out
}

fn joined(a: Band, b: Band) -> Band {
    Band {
        y: a.y,
        height: b.end() - a.y,
        opaque: a.opaque && b.opaque && a.end() == b.y,
    }
}

/// The rows of `band` in BGRA, the composition's format (so `compositor` never converts them).
pub(super) fn to_bgra(rgba: &[u8], width: u32, band: Band) -> Vec<u8> {
    let stride = width as usize * 4;
    let rows = &rgba[band.y as usize * stride..band.end() as usize * stride];
    let mut bgra = rows.to_vec();
    for pixel in bgra.chunks_exact_mut(4) {
        pixel.swap(0, 2);
    }
    bgra
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 8;

    /// A layer of `rows`: `.` transparent, `#` opaque, `+` opaque in its left half only.
    fn layer(rows: &str) -> Vec<u8> {
        rows.chars()
            .flat_map(|kind| {
                (0..W).flat_map(move |x| match kind {
                    '#' => [9, 8, 7, 255],
                    '+' if x < W / 2 => [9, 8, 7, 255],
                    _ => [0, 0, 0, 0],
                })
            })
            .collect()
    }

    fn band(y: u32, height: u32, opaque: bool) -> Band {
        Band { y, height, opaque }
    }

    #[test]
    fn the_call_screen_is_a_blended_band_on_top_and_a_copied_bar_below() {
        let rgba = layer("..++++....####");
        assert_eq!(bands(&rgba, W, 4), [band(2, 4, false), band(10, 4, true)]);
    }

    #[test]
    fn a_screen_without_video_is_one_copied_band_and_a_transparent_one_none() {
        assert_eq!(bands(&layer("######"), W, 4), [band(0, 6, true)]);
        assert_eq!(bands(&layer("......"), W, 4), []);
    }

    #[test]
    fn too_many_bands_join_where_it_costs_least() {
        // Five runs for three pads: blending the two short opaque runs with the label between
        // them costs less than blending the transparent rows around the small label below.
        let rgba = layer("##++##..+.##");
        assert_eq!(
            bands(&rgba, W, 3),
            [band(0, 6, false), band(8, 1, false), band(10, 2, true)]
        );
        assert_eq!(bands(&rgba, W, 1), [band(0, 12, false)]);
    }

    #[test]
    fn bands_go_out_as_bgra_rows() {
        let mut rgba = layer("..#.");
        rgba[2 * W as usize * 4..][..4].copy_from_slice(&[1, 2, 3, 255]);
        let bgra = to_bgra(&rgba, W, band(2, 1, true));
        assert_eq!(bgra.len(), W as usize * 4);
        assert_eq!(&bgra[..8], &[3, 2, 1, 255, 7, 8, 9, 255]);
    }
}
