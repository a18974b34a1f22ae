//! Where each input's picture goes in the program: pure geometry.

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

    #[test]
    fn tiles_never_overlap_and_stay_inside_on_even_pixels() {
        for n in 1..=4 {
            for (w, h) in [(1280, 720), (1920, 1080), (854, 480), (720, 576)] {
                let tiles = grid(n, w, h);
                assert_eq!(tiles.len(), n);
                for (i, a) in tiles.iter().enumerate() {
                    assert!(
                        a.x + a.width <= w && a.y + a.height <= h,
                        "{n} {w}x{h}: {a:?}"
                    );
                    assert!(a.x % 2 == 0 && a.y % 2 == 0 && a.width % 2 == 0 && a.height % 2 == 0);
                    for b in &tiles[i + 1..] {
                        let apart = a.x + a.width <= b.x
                            || b.x + b.width <= a.x
                            || a.y + a.height <= b.y
                            || b.y + b.height <= a.y;
                        assert!(apart, "{n} {w}x{h}: {a:?} overlaps {b:?}");
                    }
                }
            }
        }
    }
}
