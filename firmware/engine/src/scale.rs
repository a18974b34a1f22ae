//! Picture scaling for the mixer and the ladder: pure code on 8-bit planes.
//!
//! Downscaling is done in two cheap steps instead of one wide filter: first an integer box
//! (the mean of each `fx`×`fy` block, which is the ideal anti-alias filter for an integer
//! ratio and vectorises well), then, if the size is still not the target, a 2-tap bilinear
//! step whose ratio is between ½ and 1, where bilinear does not alias. Exact ratios (the
//! grid's ½, the ladder's ⅓) are a single box step. Upscaling is bilinear.
//!
//! Sample positions are pixel centres, so a scaled picture does not drift by half a pixel.

/// One 8-bit plane to read.
#[derive(Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

/// One 8-bit plane to write.
pub struct PlaneMut<'a> {
    pub data: &'a mut [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

impl Plane<'_> {
    fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}

impl PlaneMut<'_> {
    fn row_mut(&mut self, y: usize) -> &mut [u8] {
        &mut self.data[y * self.stride..y * self.stride + self.width]
    }
}

/// What a plane of `src` size needs to become `dst` size; made once per caps change.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneScaler {
    src: (usize, usize),
    dst: (usize, usize),
    /// Integer box factors (1 = none).
    fx: usize,
    fy: usize,
    /// Size after the box step.
    mid: (usize, usize),
    /// Bilinear taps after the box step, if the size is not yet the target.
    cols: Option<Vec<Tap>>,
    rows: Option<Vec<Tap>>,
}

/// The left (or top) source sample and the weight of the next one, out of 256.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    at: usize,
    frac: u16,
}

/// Reusable rows, so scaling a frame allocates nothing once warmed up.
#[derive(Default)]
pub struct Scratch {
    sums: Vec<u16>,
    mid: Vec<u8>,
    blend: Vec<u8>,
}

impl PlaneScaler {
    pub fn new(src: (usize, usize), dst: (usize, usize)) -> PlaneScaler {
        // Boxes up to 16 wide (the row sums are u16); any remaining ratio is bilinear.
        let factor = |s: usize, d: usize| if d == 0 { 1 } else { (s / d).clamp(1, 16) };
        let (fx, fy) = (factor(src.0, dst.0), factor(src.1, dst.1));
        let mid = (src.0 / fx, src.1 / fy);
        let taps = |from: usize, to: usize| (from != to && to > 0).then(|| bilinear(from, to));
        PlaneScaler {
            src,
            dst,
            fx,
            fy,
            mid,
            cols: taps(mid.0, dst.0),
            rows: taps(mid.1, dst.1),
        }
    }

    /// Scales `src` into `dst`. Both must have the sizes this scaler was made for.
    pub fn run(&self, src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        debug_assert_eq!((src.width, src.height), self.src);
        debug_assert_eq!((dst.width, dst.height), self.dst);
        let Scratch { sums, mid, blend } = scratch;
        // The box step's output rows, made on demand (bilinear reads at most two at a time).
        let mut mid_row = |y: usize, out: &mut [u8]| self.box_row(src, y, sums, out);
        let (mw, _) = self.mid;
        match &self.rows {
            None => {
                for y in 0..self.dst.1 {
                    if self.cols.is_none() {
                        mid_row(y, dst.row_mut(y));
                    } else {
                        mid.resize(mw, 0);
                        mid_row(y, mid);
                        self.scale_cols(mid, dst.row_mut(y));
                    }
                }
            }
            Some(rows) => {
                let mut a = Vec::new();
                let mut b = Vec::new();
                let mut have: Option<usize> = None;
                a.resize(mw, 0);
                b.resize(mw, 0);
                blend.resize(mw, 0);
                for (y, tap) in rows.iter().enumerate() {
                    // Keep the two source rows this output row needs; the next row usually
                    // reuses one of them.
                    match have {
                        Some(h) if h == tap.at => {}
                        Some(h) if h + 1 == tap.at => {
                            std::mem::swap(&mut a, &mut b);
                            mid_row(tap.at + 1, &mut b);
                        }
                        _ => {
                            mid_row(tap.at, &mut a);
                            mid_row(tap.at + 1, &mut b);
                        }
                    }
                    have = Some(tap.at);
                    lerp_rows(&a, &b, tap.frac, blend);
                    if self.cols.is_none() {
                        dst.row_mut(y).copy_from_slice(blend);
                    } else {
                        self.scale_cols(blend, dst.row_mut(y));
                    }
                }
            }
        }
    }

    /// Row `y` of the box step (clamped to the last row, for the bilinear step's edge).
    fn box_row(&self, src: Plane, y: usize, sums: &mut Vec<u16>, out: &mut [u8]) {
        let y = y.min(self.mid.1 - 1);
        let (fx, fy) = (self.fx, self.fy);
        if fx == 1 && fy == 1 {
            out.copy_from_slice(src.row(y));
            return;
        }
        let width = self.mid.0 * fx;
        sums.clear();
        sums.extend(src.row(y * fy)[..width].iter().map(|&v| u16::from(v)));
        for k in 1..fy {
            for (s, &v) in sums.iter_mut().zip(&src.row(y * fy + k)[..width]) {
                *s += u16::from(v);
            }
        }
        let n = (fx * fy) as u32;
        // Division by a constant as a multiply: exact for these sums (< 2^16 / 255 * 255).
        let inv = (1u32 << 16).div_ceil(n);
        let half = n / 2;
        if fx == 2 {
            for (o, pair) in out.iter_mut().zip(sums.chunks_exact(2)) {
                *o = (((u32::from(pair[0]) + u32::from(pair[1]) + half) * inv) >> 16) as u8;
            }
        } else {
            for (o, block) in out.iter_mut().zip(sums.chunks_exact(fx)) {
                let s: u32 = block.iter().map(|&v| u32::from(v)).sum();
                *o = (((s + half) * inv) >> 16) as u8;
            }
        }
    }

    fn scale_cols(&self, src: &[u8], out: &mut [u8]) {
        let Some(cols) = &self.cols else { return };
        let last = src.len() - 1;
        for (o, tap) in out.iter_mut().zip(cols) {
            let a = u32::from(src[tap.at]);
            let b = u32::from(src[(tap.at + 1).min(last)]);
            let f = u32::from(tap.frac);
            *o = ((a * (256 - f) + b * f + 128) >> 8) as u8;
        }
    }
}

/// Bilinear taps from `from` samples to `to`, on pixel centres, clamped at the edges.
fn bilinear(from: usize, to: usize) -> Vec<Tap> {
    (0..to)
        .map(|i| {
            let pos = ((i as f64 + 0.5) * from as f64 / to as f64 - 0.5).max(0.0);
            let at = (pos.floor() as usize).min(from - 1);
            let frac = if at + 1 >= from {
                0
            } else {
                ((pos - at as f64) * 256.0).round() as u16
            };
            Tap { at, frac }
        })
        .collect()
}

fn lerp_rows(a: &[u8], b: &[u8], frac: u16, out: &mut [u8]) {
    let f = u16::from(frac);
    let g = 256 - f;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = ((u16::from(x) * g + u16::from(y) * f + 128) >> 8) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
        let mut out = vec![0u8; dw * dh];
        let s = PlaneScaler::new((sw, sh), (dw, dh));
        let mut dst = PlaneMut {
            data: &mut out,
            width: dw,
            height: dh,
            stride: dw,
        };
        let plane = Plane {
            data: src,
            width: sw,
            height: sh,
            stride: sw,
        };
        s.run(plane, &mut dst, &mut Scratch::default());
        out
    }

    #[test]
    fn a_flat_picture_stays_flat_at_every_ladder_ratio() {
        for &(sw, sh, dw, dh) in &[
            (1920, 1080, 960, 540),
            (1920, 1080, 1280, 720),
            (1920, 1080, 854, 480),
            (1920, 1080, 640, 360),
            (960, 540, 1920, 1080),
            (1280, 720, 1280, 720),
        ] {
            let src = vec![173u8; sw * sh];
            let out = scale(&src, sw, sh, dw, dh);
            assert!(
                out.iter().all(|&v| v == 173),
                "{sw}x{sh} -> {dw}x{dh} not flat"
            );
        }
    }

    #[test]
    fn halving_is_the_mean_of_each_two_by_two_block() {
        let src = [0u8, 10, 20, 30, 100, 110, 120, 130];
        assert_eq!(scale(&src, 4, 2, 2, 1), vec![55, 75]);
    }

    #[test]
    fn a_third_is_the_mean_of_each_three_by_three_block() {
        let src: Vec<u8> = (0..9 * 3).map(|i| (i % 9 * 10) as u8).collect();
        assert_eq!(scale(&src, 9, 3, 3, 1), vec![10, 40, 70]);
    }

    #[test]
    fn a_ramp_stays_a_ramp_without_a_half_pixel_shift() {
        // A horizontal ramp scaled by 2/3 keeps its mean and its direction.
        let (sw, sh, dw, dh) = (300, 4, 200, 4);
        let src: Vec<u8> = (0..sh)
            .flat_map(|_| (0..sw).map(|x| (x * 255 / (sw - 1)) as u8))
            .collect();
        let out = scale(&src, sw, sh, dw, dh);
        let row = &out[..dw];
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "not monotonic");
        let mean = |r: &[u8]| r.iter().map(|&v| f64::from(v)).sum::<f64>() / r.len() as f64;
        assert!((mean(row) - mean(&src[..sw])).abs() < 1.0);
        assert!(row[0] < 3 && row[dw - 1] > 252, "{} {}", row[0], row[dw - 1]);
    }

    #[test]
    fn odd_sizes_and_tiny_targets_do_not_panic() {
        for &(sw, sh, dw, dh) in &[(5, 3, 2, 1), (1, 1, 3, 3), (7, 9, 1, 1), (3, 3, 2, 2)] {
            let src = vec![9u8; sw * sh];
            assert_eq!(scale(&src, sw, sh, dw, dh).len(), dw * dh);
        }
    }
}
