//! Painting the program: each input's picture scaled straight into its tile of the program
//! frame, one plane at a time. Pure (planes in, plane out), so the mixer element
//! (the engine's `fourcastmix`) and the tests share it.
//!
//! Why not `compositor`: it clears the whole frame to the background and then copies every
//! tile, scaled beforehand by another element, into it. Here only what no tile covers is
//! cleared, each tile is written once by the scaler itself, and a source shown at the same
//! size in several tiles is scaled once and copied.

use std::collections::HashMap;

use crate::scale::{Plane, PlaneMut, PlaneScaler, Scratch};

/// A rectangle in one plane's own pixels (a chroma plane's are half the program's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Area {
    fn overlaps(&self, other: &Area) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }

    fn inside(&self, width: usize, height: usize) -> bool {
        self.width > 0
            && self.height > 0
            && self.x + self.width <= width
            && self.y + self.height <= height
    }
}

/// One tile to paint: `source` (or, when there is none, a flat `fill`) into `area`.
/// `key` names the source: tiles with the same key and size share one scaling.
#[derive(Clone, Copy)]
pub struct Layer<'a> {
    pub key: usize,
    pub source: Option<Plane<'a>>,
    pub area: Area,
    /// 255 is opaque; anything less is blended over what is below.
    pub alpha: u8,
    /// What an empty tile shows.
    pub fill: u8,
}

/// Width and height of a plane.
type Size = (usize, usize);

/// Paints layers onto planes, keeping its scalers and buffers between frames so that a
/// steady program allocates nothing.
#[derive(Default)]
pub struct Painter {
    scalers: HashMap<(Size, Size), PlaneScaler>,
    scratch: Scratch,
    tile: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Painter {
    /// Paints `layers` (bottom first) onto `canvas`; what no opaque tile covers becomes
    /// `background`. Layers not wholly inside the canvas are skipped.
    pub fn paint(&mut self, canvas: &mut PlaneMut, layers: &[Layer], background: u8) {
        let (cw, ch) = (canvas.width, canvas.height);
        let usable = |l: &Layer| l.area.inside(cw, ch);
        self.clear_uncovered(canvas, layers, background);
        let disjoint = layers.iter().enumerate().all(|(i, a)| {
            layers[i + 1..]
                .iter()
                .all(|b| !usable(a) || !usable(b) || !a.area.overlaps(&b.area))
        });
        for (i, layer) in layers.iter().enumerate() {
            if !usable(layer) {
                continue;
            }
            let Some(source) = layer.source else {
                if !covers(layer) {
                    fill(canvas, layer.area, layer.fill);
                }
                continue;
            };
            if layer.alpha == 255 {
                // The same source at the same size already painted: copy it (only when no
                // tile overlaps another, so what is there is still that source).
                let twin = layers[..i].iter().find(|l| {
                    disjoint
                        && usable(l)
                        && l.alpha == 255
                        && l.key == layer.key
                        && l.source.is_some()
                        && (l.area.width, l.area.height) == (layer.area.width, layer.area.height)
                });
                match twin {
                    Some(t) => copy_area(canvas, t.area, layer.area),
                    None => {
                        let mut dst = sub_plane(canvas, layer.area);
                        self.scale(source, &mut dst);
                    }
                }
            } else if layer.alpha > 0 {
                let Area { width, height, .. } = layer.area;
                let mut tile = std::mem::take(&mut self.tile);
                tile.resize(width * height, 0);
                self.scale(
                    source,
                    &mut PlaneMut {
                        data: &mut tile,
                        width,
                        height,
                        stride: width,
                    },
                );
                let over = Plane {
                    data: &tile,
                    width,
                    height,
                    stride: width,
                };
                blend(&mut sub_plane(canvas, layer.area), over, layer.alpha);
                self.tile = tile;
            }
        }
    }

    fn scale(&mut self, source: Plane, dst: &mut PlaneMut) {
        let key = ((source.width, source.height), (dst.width, dst.height));
        let scaler = self
            .scalers
            .entry(key)
            .or_insert_with(|| PlaneScaler::new(key.0, key.1));
        scaler.run(source, dst, &mut self.scratch);
    }

    /// Fills every stretch of every row that no opaque tile with a picture covers.
    fn clear_uncovered(&mut self, canvas: &mut PlaneMut, layers: &[Layer], background: u8) {
        let (cw, ch) = (canvas.width, canvas.height);
        let opaque: Vec<Area> = layers
            .iter()
            .filter(|l| covers(l) && l.area.inside(cw, ch))
            .map(|l| l.area)
            .collect();
        for y in 0..ch {
            self.spans.clear();
            self.spans.extend(
                opaque
                    .iter()
                    .filter(|a| y >= a.y && y < a.y + a.height)
                    .map(|a| (a.x, a.x + a.width)),
            );
            self.spans.sort_unstable();
            let row = &mut canvas.data[y * canvas.stride..y * canvas.stride + cw];
            let mut x = 0;
            for &(start, end) in &self.spans {
                if start > x {
                    row[x..start].fill(background);
                }
                x = x.max(end);
            }
            if x < cw {
                row[x..].fill(background);
            }
        }
    }
}

/// An opaque layer with a picture: nothing below it shows.
fn covers(l: &Layer) -> bool {
    l.alpha == 255 && l.source.is_some()
}

/// The part of `canvas` under `area`, as a plane of its own.
fn sub_plane<'a>(canvas: &'a mut PlaneMut, area: Area) -> PlaneMut<'a> {
    let start = area.y * canvas.stride + area.x;
    let end = (area.y + area.height - 1) * canvas.stride + area.x + area.width;
    PlaneMut {
        data: &mut canvas.data[start..end],
        width: area.width,
        height: area.height,
        stride: canvas.stride,
    }
}

fn fill(canvas: &mut PlaneMut, area: Area, value: u8) {
    for y in area.y..area.y + area.height {
        let at = y * canvas.stride + area.x;
        canvas.data[at..at + area.width].fill(value);
    }
}

/// Copies what is in `from` to `to` (same size, not overlapping) within one plane.
fn copy_area(canvas: &mut PlaneMut, from: Area, to: Area) {
    for k in 0..from.height {
        let src = (from.y + k) * canvas.stride + from.x;
        let dst = (to.y + k) * canvas.stride + to.x;
        canvas.data.copy_within(src..src + from.width, dst);
    }
}

/// `dst = over·α + dst·(1 − α)`, α in 255ths, rounded.
pub fn blend(dst: &mut PlaneMut, over: Plane, alpha: u8) {
    let (a, b) = (u32::from(alpha), 255 - u32::from(alpha));
    let (w, h) = (dst.width.min(over.width), dst.height.min(over.height));
    for y in 0..h {
        let d = &mut dst.data[y * dst.stride..y * dst.stride + w];
        let o = &over.data[y * over.stride..y * over.stride + w];
        for (d, &o) in d.iter_mut().zip(o) {
            *d = ((u32::from(o) * a + u32::from(*d) * b + 127) / 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(x: usize, y: usize, width: usize, height: usize) -> Area {
        Area {
            x,
            y,
            width,
            height,
        }
    }

    fn flat(v: u8, w: usize, h: usize) -> Vec<u8> {
        vec![v; w * h]
    }

    fn layer<'a>(key: usize, data: &'a [u8], size: (usize, usize), at: Area) -> Layer<'a> {
        Layer {
            key,
            source: Some(Plane {
                data,
                width: size.0,
                height: size.1,
                stride: size.0,
            }),
            area: at,
            alpha: 255,
            fill: 0,
        }
    }

    fn paint(layers: &[Layer], w: usize, h: usize, stride: usize) -> Vec<u8> {
        let mut out = vec![7u8; stride * h];
        Painter::default().paint(
            &mut PlaneMut {
                data: &mut out,
                width: w,
                height: h,
                stride,
            },
            layers,
            16,
        );
        out
    }

    #[test]
    fn a_grid_of_two_scaled_sources_covers_everything_and_leaves_padding_alone() {
        let (a, b) = (flat(50, 8, 4), flat(200, 8, 4));
        let stride = 20;
        let out = paint(
            &[
                layer(0, &a, (8, 4), area(0, 0, 8, 4)),
                layer(1, &b, (8, 4), area(8, 0, 8, 4)),
                layer(0, &a, (8, 4), area(0, 4, 4, 2)),
            ],
            16,
            8,
            stride,
        );
        for y in 0..8 {
            let row = &out[y * stride..y * stride + 16];
            if y < 4 {
                assert!(row[..8].iter().all(|&v| v == 50), "row {y}: {row:?}");
                assert!(row[8..].iter().all(|&v| v == 200), "row {y}: {row:?}");
            } else if y < 6 {
                assert!(row[..4].iter().all(|&v| v == 50), "row {y}: {row:?}");
                assert!(row[4..].iter().all(|&v| v == 16), "row {y}: {row:?}");
            } else {
                assert!(row.iter().all(|&v| v == 16), "row {y}: {row:?}");
            }
            // Bytes past the width (stride padding) are never written.
            assert!(
                out[y * stride + 16..(y + 1) * stride]
                    .iter()
                    .all(|&v| v == 7)
            );
        }
    }

    #[test]
    fn the_same_source_in_two_tiles_of_one_size_matches_scaling_each() {
        // A ramp, so that a copy from the wrong place would show.
        let src: Vec<u8> = (0..16 * 8).map(|i| (i * 2 % 251) as u8).collect();
        let shared = paint(
            &[
                layer(3, &src, (16, 8), area(0, 0, 8, 4)),
                layer(3, &src, (16, 8), area(8, 4, 8, 4)),
            ],
            16,
            8,
            16,
        );
        let separate = paint(
            &[
                layer(3, &src, (16, 8), area(0, 0, 8, 4)),
                layer(4, &src, (16, 8), area(8, 4, 8, 4)),
            ],
            16,
            8,
            16,
        );
        assert_eq!(shared, separate);
        assert_ne!(shared[0], 16, "the tile was painted");
    }

    #[test]
    fn an_inset_is_drawn_on_top_and_an_empty_tile_shows_its_fill() {
        let (main, inset) = (flat(100, 16, 8), flat(30, 4, 2));
        let mut empty = layer(9, &main, (16, 8), area(12, 0, 4, 2));
        empty.source = None;
        empty.fill = 99;
        let out = paint(
            &[
                layer(0, &main, (16, 8), area(0, 0, 16, 8)),
                layer(1, &inset, (4, 2), area(10, 4, 4, 2)),
                empty,
            ],
            16,
            8,
            16,
        );
        assert_eq!(out[5 * 16 + 11], 30);
        assert_eq!(out[5 * 16 + 2], 100);
        assert_eq!(out[1], 100);
        assert_eq!(out[13], 99);
    }

    #[test]
    fn half_transparent_layers_blend_and_do_not_count_as_cover() {
        let over = flat(200, 4, 4);
        let mut l = layer(0, &over, (4, 4), area(0, 0, 4, 4));
        l.alpha = 128;
        let out = paint(&[l], 8, 4, 8);
        // Over the background (16): 200·128/255 + 16·127/255 ≈ 108.
        assert_eq!(out[0], ((200 * 128 + 16 * 127 + 127) / 255) as u8);
        assert_eq!(out[6], 16);
    }

    #[test]
    fn tiles_outside_the_frame_or_empty_are_skipped_without_panic() {
        let src = flat(80, 4, 4);
        let out = paint(
            &[
                layer(0, &src, (4, 4), area(6, 0, 4, 4)),
                layer(0, &src, (4, 4), area(0, 0, 0, 4)),
                layer(0, &src, (4, 4), area(usize::MAX / 2, 0, 4, 4)),
            ],
            8,
            4,
            8,
        );
        assert!(out.iter().all(|&v| v == 16));
    }

    #[test]
    fn blend_ends_are_exact() {
        let mut d = vec![10u8; 4];
        let o = vec![250u8; 4];
        fn mk(d: &mut [u8]) -> PlaneMut<'_> {
            PlaneMut {
                data: d,
                width: 4,
                height: 1,
                stride: 4,
            }
        }
        let over = Plane {
            data: &o,
            width: 4,
            height: 1,
            stride: 4,
        };
        blend(&mut mk(&mut d), over, 0);
        assert_eq!(d, vec![10; 4]);
        blend(&mut mk(&mut d), over, 255);
        assert_eq!(d, vec![250; 4]);
    }
}
