//! What the screenshots of the console pages hold: the report `scripts/lib/shoot.py` writes
//! beside its PNGs (per panel: the graph's box, its lines' colours and point counts, the
//! error the console library shows instead of a graph), and the pixels of a PNG in a box.
//!
//! The DOM says a line was drawn; the pixels say a person sees it. The end-to-end test of
//! the dashboards asks both.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One page shot by `shoot.py`.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// The name it was given (the dashboard file's stem).
    pub name: String,
    /// The URL shot, range included.
    pub url: String,
    /// The full-page PNG's file name, in the report's directory.
    pub png: PathBuf,
    /// Page width in CSS pixels (the PNG's, at scale 1).
    pub width: u32,
    /// Page height in CSS pixels.
    pub height: u32,
    /// Whether every panel had a graph or an error before the shot.
    pub complete: bool,
    /// The page's panels in document order.
    pub panels: Vec<Panel>,
}

/// One panel (`div.panel`) of a page.
#[derive(Debug, Deserialize)]
pub struct Panel {
    /// The panel's title (its `data-title`).
    pub title: String,
    /// The console library's message in place of a graph, or empty.
    pub error: String,
    /// The graph's SVG box in page pixels, when one was drawn.
    #[serde(rename = "box")]
    pub area: Option<Area>,
    /// The plotted lines.
    pub lines: Vec<Line>,
}

/// A box in page pixels.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Area {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// One plotted line of a graph.
#[derive(Debug, Deserialize)]
pub struct Line {
    /// Its stroke colour as the SVG says it (`#rrggbb`, `rgb(...)`).
    pub stroke: String,
    /// Points on the line (moves and segments of its path).
    pub points: usize,
}

/// `report.json` of a directory `shoot.py` wrote.
pub fn read_report(dir: &Path) -> Result<Vec<Page>> {
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}", path.display()))
}

/// An SVG colour as RGB: `#rgb`, `#rrggbb`, `rgb(r, g, b)` or `rgba(r, g, b, a)`.
pub fn parse_colour(s: &str) -> Option<[u8; 3]> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
            .collect::<Option<_>>()?;
        return match digits.as_slice() {
            [r, g, b] => Some([r * 17, g * 17, b * 17]),
            [r1, r2, g1, g2, b1, b2] => Some([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2]),
            _ => None,
        };
    }
    let inner = s
        .strip_prefix("rgba(")
        .or_else(|| s.strip_prefix("rgb("))?
        .strip_suffix(')')?;
    let mut parts = inner.split(',').map(|p| p.trim().parse::<u8>().ok());
    Some([parts.next()??, parts.next()??, parts.next()??])
}

/// A decoded PNG as 8-bit RGB.
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    /// Decodes an 8-bit RGB or RGBA PNG (what Chromium writes).
    pub fn load(path: &Path) -> Result<Image> {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .with_context(|| format!("{}", path.display()))?;
        let mut buf = vec![0; reader.output_buffer_size().context("PNG too large")?];
        let info = reader.next_frame(&mut buf)?;
        let step = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
            (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
            other => bail!("{}: unexpected PNG format {other:?}", path.display()),
        };
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Ok(Image {
            width: info.width,
            height: info.height,
            rgb,
        })
    }

    /// Pixels in `area` within `tolerance` (per channel) of one of `colours`: a drawn line's
    /// pixels, anti-aliased edges aside.
    pub fn pixels_like(&self, area: Area, colours: &[[u8; 3]], tolerance: u8) -> usize {
        let clamp = |v: f64, max: u32| (v.max(0.0) as u32).min(max);
        let (x0, x1) = (
            clamp(area.x, self.width),
            clamp(area.x + area.width, self.width),
        );
        let (y0, y1) = (
            clamp(area.y, self.height),
            clamp(area.y + area.height, self.height),
        );
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let p = self.rgb[(y * self.width + x) as usize];
                if colours.iter().any(|c| {
                    c.iter()
                        .zip(p.iter())
                        .all(|(a, b)| a.abs_diff(*b) <= tolerance)
                }) {
                    n += 1;
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_in_the_forms_svg_uses() {
        assert_eq!(parse_colour("#cb513a"), Some([0xcb, 0x51, 0x3a]));
        assert_eq!(parse_colour("#fff"), Some([255, 255, 255]));
        assert_eq!(parse_colour("rgb(1, 2, 3)"), Some([1, 2, 3]));
        assert_eq!(parse_colour("rgba(10,20,30,0.5)"), Some([10, 20, 30]));
        assert_eq!(parse_colour("steelblue"), None);
        assert_eq!(parse_colour("#12345"), None);
        assert_eq!(parse_colour("rgb(300, 0, 0)"), None);
    }

    #[test]
    fn counts_only_pixels_of_the_colours_inside_the_box() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.png");
        // 10x10 white with a red 3x2 block at (2, 4) and a near-red pixel at (9, 9).
        let mut data = vec![255u8; 10 * 10 * 3];
        let mut set = |x: usize, y: usize, c: [u8; 3]| {
            data[(y * 10 + x) * 3..(y * 10 + x) * 3 + 3].copy_from_slice(&c)
        };
        for (x, y) in [(2, 4), (3, 4), (4, 4), (2, 5), (3, 5), (4, 5)] {
            set(x, y, [200, 0, 0]);
        }
        set(9, 9, [210, 10, 5]);
        let mut enc = png::Encoder::new(std::fs::File::create(&path).unwrap(), 10, 10);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&data).unwrap();

        let img = Image::load(&path).unwrap();
        let all = Area {
            x: 0.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
        };
        let red = [[200, 0, 0]];
        assert_eq!(img.pixels_like(all, &red, 0), 6);
        assert_eq!(img.pixels_like(all, &red, 12), 7);
        let left = Area { width: 3.0, ..all };
        assert_eq!(img.pixels_like(left, &red, 0), 2);
        // A box running off the image is cut to it.
        let off = Area {
            x: 8.0,
            y: 8.0,
            width: 50.0,
            height: 50.0,
        };
        assert_eq!(img.pixels_like(off, &red, 12), 1);
        assert_eq!(img.pixels_like(all, &[[0, 0, 255]], 12), 0);
    }
}
