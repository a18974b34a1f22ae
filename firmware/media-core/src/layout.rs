//! Where each input's picture goes in the program: pure geometry.
//!
//! Every layout is a function of (layout, program size, the inputs shown in order) to tiles.
//! Pictures are assumed to have the program's aspect ratio and are fitted into their cell
//! with it kept (letterbox or pillarbox); every edge is on an even pixel for 4:2:0 video;
//! tiles never overlap except the picture-in-picture inset, which is drawn on top.

/// A tile in program pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The grid layout: `n` equal cells (1 → full frame, 2 → side by side, 3–4 → 2×2 with a
/// short last row centred), each picture fitted into its cell with the program's aspect
/// ratio kept (letterbox/pillarbox), every edge on an even pixel for 4:2:0 video.
pub fn grid(n: usize, width: u32, height: u32) -> Vec<Rect> {
    if n == 0 {
        return Vec::new();
    }
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (cell_w, cell_h) = (width / cols as u32, height / rows as u32);
    // Fit a width:height picture into the cell.
    let (mut w, mut h) = (cell_w, cell_w as u64 * height as u64 / width as u64);
    if h > cell_h as u64 {
        h = cell_h as u64;
        w = (cell_h as u64 * width as u64 / height as u64) as u32;
    }
    let (w, h) = (even_down(w), even_down(h as u32));
    (0..n)
        .map(|i| {
            let (row, col) = (i / cols, i % cols);
            let in_row = if row == rows - 1 {
                n - row * cols
            } else {
                cols
            };
            // Centre a short last row.
            let row_offset = (cols - in_row) as u32 * cell_w / 2;
            Rect {
                x: even_down(row_offset + col as u32 * cell_w + (cell_w - w) / 2),
                y: even_down(row as u32 * cell_h + (cell_h - h) / 2),
                width: w,
                height: h,
            }
        })
        .collect()
}

/// A corner of the program, for the picture-in-picture inset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// A layout and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// The first input shown, full frame.
    Single,
    /// The first two, in two equal halves.
    SideBySide,
    /// Up to four in equal cells (see [`grid`]).
    Grid,
    /// The first full frame, the second as an inset: `size_pct` of the program width, in
    /// `corner`, `margin_pct` of the program width from its edges.
    Pip {
        corner: Corner,
        size_pct: u32,
        margin_pct: u32,
    },
    /// The first large (two thirds of the width) on the left, up to three small ones
    /// stacked on the right.
    Spotlight,
}

/// One input's tile; higher `z` is drawn on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub input: usize,
    pub rect: Rect,
    pub z: u32,
}

/// The tiles of `shown` (input indices, in layout order) for `arrangement` in a
/// `width`×`height` program. Inputs beyond what the layout shows get no tile.
pub fn place(arrangement: Arrangement, width: u32, height: u32, shown: &[usize]) -> Vec<Placement> {
    let at = |k: usize, rect: Rect, z: u32| Placement {
        input: shown[k],
        rect,
        z,
    };
    match arrangement {
        Arrangement::Single => shown
            .first()
            .map(|_| vec![at(0, fit(0, 0, width, height, width, height), 0)])
            .unwrap_or_default(),
        Arrangement::SideBySide => (0..shown.len().min(2))
            .map(|k| {
                let half = width / 2;
                at(k, fit(k as u32 * half, 0, half, height, width, height), 0)
            })
            .collect(),
        Arrangement::Grid => grid(shown.len().min(4), width, height)
            .into_iter()
            .enumerate()
            .map(|(k, rect)| at(k, rect, 0))
            .collect(),
        Arrangement::Pip {
            corner,
            size_pct,
            margin_pct,
        } => {
            let mut tiles = Vec::new();
            if !shown.is_empty() {
                tiles.push(at(0, fit(0, 0, width, height, width, height), 0));
            }
            if shown.len() >= 2 {
                let w = even_down((width * size_pct.clamp(5, 90) / 100).max(2));
                let h =
                    even_down((u64::from(w) * u64::from(height) / u64::from(width)) as u32).max(2);
                let m = even_down(width * margin_pct.min(20) / 100);
                let x = match corner {
                    Corner::TopLeft | Corner::BottomLeft => m,
                    Corner::TopRight | Corner::BottomRight => width.saturating_sub(w + m),
                };
                let y = match corner {
                    Corner::TopLeft | Corner::TopRight => m,
                    Corner::BottomLeft | Corner::BottomRight => height.saturating_sub(h + m),
                };
                tiles.push(at(
                    1,
                    Rect {
                        x: even_down(x),
                        y: even_down(y),
                        width: w,
                        height: h,
                    },
                    1,
                ));
            }
            tiles
        }
        Arrangement::Spotlight => {
            let mut tiles = Vec::new();
            let side = width / 3;
            let main = width - side;
            if !shown.is_empty() {
                tiles.push(at(0, fit(0, 0, main, height, width, height), 0));
            }
            let cell = height / 3;
            for k in 1..shown.len().min(4) {
                let row = k as u32 - 1;
                tiles.push(at(k, fit(main, row * cell, side, cell, width, height), 0));
            }
            tiles
        }
    }
}

/// The tiles of a configured shot in `config`'s program: its layout with the inputs it
/// names (by index in `config.inputs`). Names not among the inputs are left out; config
/// validation reports them.
pub fn shot_tiles(
    config: &fourcast_config::Config,
    shot: &fourcast_config::Shot,
) -> Vec<Placement> {
    use fourcast_config::{Corner as C, Layout as L};
    let shown: Vec<usize> = shot
        .shown(config)
        .iter()
        .filter_map(|name| config.inputs.iter().position(|i| i.name == *name))
        .collect();
    let arrangement = match shot.layout {
        L::Single => Arrangement::Single,
        L::SideBySide => Arrangement::SideBySide,
        L::Grid => Arrangement::Grid,
        L::Spotlight => Arrangement::Spotlight,
        L::Pip => Arrangement::Pip {
            corner: match shot.pip.corner {
                C::TopLeft => Corner::TopLeft,
                C::TopRight => Corner::TopRight,
                C::BottomLeft => Corner::BottomLeft,
                C::BottomRight => Corner::BottomRight,
            },
            size_pct: shot.pip.size_pct,
            margin_pct: shot.pip.margin_pct,
        },
    };
    let p = &config.program;
    place(arrangement, p.width, p.height, &shown)
}

/// The largest `aspect_w`:`aspect_h` picture that fits the cell, centred, on even pixels.
fn fit(x: u32, y: u32, cell_w: u32, cell_h: u32, aspect_w: u32, aspect_h: u32) -> Rect {
    let (mut w, mut h) = (
        u64::from(cell_w),
        u64::from(cell_w) * u64::from(aspect_h) / u64::from(aspect_w.max(1)),
    );
    if h > u64::from(cell_h) {
        h = u64::from(cell_h);
        w = u64::from(cell_h) * u64::from(aspect_w) / u64::from(aspect_h.max(1));
    }
    let (w, h) = (even_down(w as u32), even_down(h as u32));
    Rect {
        x: even_up(x + (cell_w - w) / 2),
        y: even_up(y + (cell_h - h) / 2),
        width: w,
        height: h,
    }
}

fn even_up(v: u32) -> u32 {
    (v + 1) & !1
}

fn even_down(v: u32) -> u32 {
    v & !1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: u32, y: u32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn four_inputs_fill_a_2x2_grid_exactly() {
        assert_eq!(
            grid(4, 1280, 720),
            [
                r(0, 0, 640, 360),
                r(640, 0, 640, 360),
                r(0, 360, 640, 360),
                r(640, 360, 640, 360)
            ]
        );
    }

    #[test]
    fn one_input_is_full_frame() {
        assert_eq!(grid(1, 1920, 1080), [r(0, 0, 1920, 1080)]);
    }

    #[test]
    fn two_inputs_sit_side_by_side_letterboxed() {
        assert_eq!(
            grid(2, 1280, 720),
            [r(0, 180, 640, 360), r(640, 180, 640, 360)]
        );
    }

    #[test]
    fn three_inputs_centre_the_last_one() {
        assert_eq!(grid(3, 1280, 720)[2], r(320, 360, 640, 360));
    }

    const ALL: [Arrangement; 6] = [
        Arrangement::Single,
        Arrangement::SideBySide,
        Arrangement::Grid,
        Arrangement::Pip {
            corner: Corner::BottomRight,
            size_pct: 30,
            margin_pct: 3,
        },
        Arrangement::Pip {
            corner: Corner::TopLeft,
            size_pct: 25,
            margin_pct: 0,
        },
        Arrangement::Spotlight,
    ];

    #[test]
    fn every_layout_keeps_tiles_inside_on_even_pixels_with_the_aspect_kept() {
        for arrangement in ALL {
            for n in 0..=4 {
                for (w, h) in [(1280, 720), (1920, 1080), (854, 480), (720, 576)] {
                    let shown: Vec<usize> = (0..n).collect();
                    let tiles = place(arrangement, w, h, &shown);
                    let expected = match arrangement {
                        Arrangement::Single => n.min(1),
                        Arrangement::SideBySide => n.min(2),
                        Arrangement::Pip { .. } => n.min(2),
                        Arrangement::Grid | Arrangement::Spotlight => n,
                    };
                    assert_eq!(tiles.len(), expected, "{arrangement:?} {n}");
                    for t in &tiles {
                        let a = t.rect;
                        assert!(
                            a.x + a.width <= w && a.y + a.height <= h,
                            "{arrangement:?} {n} {w}x{h}: {a:?}"
                        );
                        assert!(
                            a.x % 2 == 0 && a.y % 2 == 0 && a.width % 2 == 0 && a.height % 2 == 0,
                            "{a:?}"
                        );
                        // Aspect kept to within the even rounding.
                        let want = f64::from(w) / f64::from(h);
                        let got = f64::from(a.width) / f64::from(a.height);
                        assert!((got / want - 1.0).abs() < 0.03, "{arrangement:?} {a:?}");
                    }
                    // Only the inset (z = 1) may overlap.
                    let flat: Vec<Rect> =
                        tiles.iter().filter(|t| t.z == 0).map(|t| t.rect).collect();
                    assert_apart(&flat, &format!("{arrangement:?} {n} {w}x{h}"));
                }
            }
        }
    }

    fn assert_apart(tiles: &[Rect], what: &str) {
        for (i, a) in tiles.iter().enumerate() {
            for b in &tiles[i + 1..] {
                let apart = a.x + a.width <= b.x
                    || b.x + b.width <= a.x
                    || a.y + a.height <= b.y
                    || b.y + b.height <= a.y;
                assert!(apart, "{what}: {a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn the_layouts_put_each_input_where_a_director_expects() {
        let shown = [2, 0, 3, 1];
        let single = place(Arrangement::Single, 1920, 1080, &shown);
        assert_eq!(
            single,
            [Placement {
                input: 2,
                rect: r(0, 0, 1920, 1080),
                z: 0
            }]
        );
        let sbs = place(Arrangement::SideBySide, 1920, 1080, &shown);
        assert_eq!(sbs[0].rect, r(0, 270, 960, 540));
        assert_eq!((sbs[1].input, sbs[1].rect), (0, r(960, 270, 960, 540)));
        let pip = place(
            Arrangement::Pip {
                corner: Corner::BottomRight,
                size_pct: 25,
                margin_pct: 2,
            },
            1920,
            1080,
            &shown,
        );
        assert_eq!(pip[0].rect, r(0, 0, 1920, 1080));
        // 25 % of 1920 = 480 wide, 270 high, 38 px (2 %, even) from the right and bottom.
        assert_eq!(
            (pip[1].input, pip[1].rect, pip[1].z),
            (0, r(1402, 772, 480, 270), 1)
        );
        let spot = place(Arrangement::Spotlight, 1920, 1080, &shown);
        assert_eq!(spot[0].rect, r(0, 180, 1280, 720));
        assert_eq!(spot[1].rect, r(640 + 640, 0, 640, 360));
        assert_eq!(spot[3].rect, r(1280, 720, 640, 360));
        assert_eq!(
            spot.iter().map(|t| t.input).collect::<Vec<_>>(),
            [2, 0, 3, 1]
        );
    }

    #[test]
    fn tiles_never_overlap_and_stay_inside_on_even_pixels() {
        for n in 1..=4 {
            for (w, h) in [(1280, 720), (1920, 1080), (854, 480), (720, 576)] {
                let tiles = grid(n, w, h);
                assert_eq!(tiles.len(), n);
                for a in &tiles {
                    assert!(
                        a.x + a.width <= w && a.y + a.height <= h,
                        "{n} {w}x{h}: {a:?}"
                    );
                    assert!(a.x % 2 == 0 && a.y % 2 == 0 && a.width % 2 == 0 && a.height % 2 == 0);
                }
                assert_apart(&tiles, &format!("{n} {w}x{h}"));
            }
        }
    }
}
