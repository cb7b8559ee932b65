//! An RGBA frame in memory: the target the UI is drawn into, the buffer `appsrc` pushes over the
//! video, and what `--render-screens` saves as PNG. Pixels the UI does not draw stay transparent,
//! so the video below shows through.

use std::convert::Infallible;

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::{Dimensions, DrawTarget, OriginDimensions, Pixel, Size};
use embedded_graphics::primitives::Rectangle;

#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl Frame {
    /// A fully transparent frame.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            rgba: vec![0; (width * height * 4) as usize],
        }
    }

    /// A frame from RGBA bytes; `None` when their length does not fit the size.
    pub fn from_rgba(width: u32, height: u32, rgba: Vec<u8>) -> Option<Self> {
        (rgba.len() == (width * height * 4) as usize).then_some(Self {
            width,
            height,
            rgba,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn rgba(&self) -> &[u8] {
        &self.rgba
    }

    /// Makes `area` transparent again (where video shows through).
    pub fn clear_area(&mut self, area: &Rectangle) {
        let area = area.intersection(&self.bounding_box());
        for y in area.rows() {
            let start = ((y as u32 * self.width + area.top_left.x as u32) * 4) as usize;
            let end = start + area.size.width as usize * 4;
            self.rgba[start..end].fill(0);
        }
    }

    /// The colour at a point, `None` where transparent or outside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb888> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = ((y * self.width + x) * 4) as usize;
        let p = &self.rgba[i..i + 4];
        (p[3] != 0).then(|| Rgb888::new(p[0], p[1], p[2]))
    }

    /// PNG bytes of the frame.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("PNG header into memory");
        writer
            .write_image_data(&self.rgba)
            .expect("PNG data into memory");
        writer.finish().expect("PNG end into memory");
        out
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Frame {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Infallible> {
        for Pixel(point, color) in pixels {
            if point.x < 0
                || point.y < 0
                || point.x as u32 >= self.width
                || point.y as u32 >= self.height
            {
                continue;
            }
            let i = ((point.y as u32 * self.width + point.x as u32) * 4) as usize;
            self.rgba[i..i + 4].copy_from_slice(&[color.r(), color.g(), color.b(), 255]);
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Infallible> {
        let area = area.intersection(&self.bounding_box());
        let px = [color.r(), color.g(), color.b(), 255];
        for y in area.rows() {
            let start = ((y as u32 * self.width + area.top_left.x as u32) * 4) as usize;
            for chunk in self.rgba[start..start + area.size.width as usize * 4].chunks_exact_mut(4)
            {
                chunk.copy_from_slice(&px);
            }
        }
        Ok(())
    }
}
