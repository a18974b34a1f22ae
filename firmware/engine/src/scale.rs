//! Picture scaling for the mixer and the ladder: pure code on 8-bit planes.
//!
//! Halving (the grid's tiles from full-frame cameras, 1080p to 540p) has its own path: a
//! separable 6-tap Lanczos-2 kernel, as sharp as the bicubic and Lanczos scalers of ffmpeg
//! and much cheaper than a general filter, because the taps are fixed and symmetric.
//!
//! Other downscales are done in two cheap steps instead of one wide filter: first an integer box
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
    /// Exactly half the size in both directions: the Lanczos path.
    half: bool,
}

/// Lanczos-2 at a 2:1 ratio, the three taps on each side of the output sample (source
/// offsets ±0.5, ±1.5, ±2.5 px), in 64ths of the whole: 2 × (27 + 7 − 2) = 64.
const HALF_TAPS: [i16; 3] = [27, 7, -2];

/// The left (or top) source sample and the weight of the next one, out of 256.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    at: usize,
    frac: u16,
}

/// Reusable rows, so scaling a frame allocates nothing once warmed up.
#[derive(Default)]
pub struct Scratch {
    taps: Vec<i16>,
    even: Vec<i16>,
    odd: Vec<i16>,
    sums: Vec<u16>,
    mid: Vec<u8>,
    blend: Vec<u8>,
}

impl PlaneScaler {
    pub fn new(src: (usize, usize), dst: (usize, usize)) -> PlaneScaler {
        // Boxes up to 16 wide (the row sums are u16); any remaining ratio is bilinear.
        let factor = |s: usize, d: usize| s.checked_div(d).map_or(1, |f| f.clamp(1, 16));
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
            half: src.0 >= 6 && src.1 >= 6 && dst == (src.0 / 2, src.1 / 2),
        }
    }

    /// Scales `src` into `dst`. Both must have the sizes this scaler was made for.
    pub fn run(&self, src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        debug_assert_eq!((src.width, src.height), self.src);
        debug_assert_eq!((dst.width, dst.height), self.dst);
        if self.half {
            return half(src, dst, scratch);
        }
        let Scratch {
            sums, mid, blend, ..
        } = scratch;
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
        if src.len().is_multiple_of(3) && out.len() == src.len() / 3 * 2 {
            // Two thirds (1080p to 720p): every three samples make two, with the bilinear
            // weights ¾ ¼ and ¼ ¾ that the taps below would use, without the gathers.
            for (o, s) in out.chunks_exact_mut(2).zip(src.chunks_exact(3)) {
                let (a, b, c) = (u16::from(s[0]), u16::from(s[1]), u16::from(s[2]));
                o[0] = ((3 * a + b + 2) >> 2) as u8;
                o[1] = ((b + 3 * c + 2) >> 2) as u8;
            }
            return;
        }
        let last = src.len() - 1;
        for (o, tap) in out.iter_mut().zip(cols) {
            let a = u32::from(src[tap.at]);
            let b = u32::from(src[(tap.at + 1).min(last)]);
            let f = u32::from(tap.frac);
            *o = ((a * (256 - f) + b * f + 128) >> 8) as u8;
        }
    }
}

/// Halves `src` into `dst` with [`HALF_TAPS`]. The vertical pass makes one row of samples;
/// it is split into its even and odd samples (two samples of edge padding each side), so
/// the horizontal pass reads six contiguous, shifted slices and vectorises like the
/// vertical one.
fn half(src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
    let (w, h) = (src.width, src.height);
    let Scratch {
        taps, even, odd, ..
    } = scratch;
    let dw = dst.width;
    taps.resize(w, 0);
    even.resize(dw + 2, 0);
    odd.resize(dw + 2, 0);
    let [t0, t1, t2] = HALF_TAPS;
    let row = |y: isize| &src.row(y.clamp(0, h as isize - 1) as usize)[..w];
    for y in 0..dst.height {
        let c = 2 * y as isize;
        let (a, b, c1, d1, c2, d2) = (
            row(c),
            row(c + 1),
            row(c - 1),
            row(c + 2),
            row(c - 2),
            row(c + 3),
        );
        for x in 0..w {
            let near = i16::from(a[x]) + i16::from(b[x]);
            let mid = i16::from(c1[x]) + i16::from(d1[x]);
            let far = i16::from(c2[x]) + i16::from(d2[x]);
            taps[x] = ((near * t0 + mid * t1 + far * t2 + 32) >> 6).clamp(0, 255);
        }
        // even[j + 1] = sample 2j, odd[j + 1] = sample 2j + 1; edges repeated.
        for (j, pair) in taps[..2 * dw].chunks_exact(2).enumerate() {
            even[j + 1] = pair[0];
            odd[j + 1] = pair[1];
        }
        even[0] = taps[0];
        odd[0] = taps[0];
        even[dw + 1] = taps[w - 1];
        odd[dw + 1] = taps[w - 1];
        // Output x reads samples 2x-2 … 2x+3 = odd[x], even[x+1], odd[x+1], even[x+2] and
        // the outer pair even[x], odd[x+2] (indices shifted by the padding).
        let (e0, e1, e2) = (&even[..dw], &even[1..dw + 1], &even[2..dw + 2]);
        let (o0, o1, o2) = (&odd[..dw], &odd[1..dw + 1], &odd[2..dw + 2]);
        let out = &mut dst.row_mut(y)[..dw];
        for x in 0..dw {
            let near = e1[x] + o1[x];
            let mid = o0[x] + e2[x];
            let far = e0[x] + o2[x];
            out[x] = ((near * t0 + mid * t1 + far * t2 + 32) >> 6).clamp(0, 255) as u8;
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
    let f = frac;
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
    fn halving_keeps_a_ramp_and_its_mean() {
        let (sw, sh) = (64, 8);
        let src: Vec<u8> = (0..sh)
            .flat_map(|_| (0..sw).map(|x| (40 + x * 2) as u8))
            .collect();
        let out = scale(&src, sw, sh, 32, 4);
        // Away from the edges each output is the mean of its two source columns.
        for (x, &v) in out[..32].iter().enumerate().skip(2).take(28) {
            assert_eq!(v, (40 + 4 * x + 1) as u8, "x={x}");
        }
        assert!(out.chunks(32).all(|r| r == &out[..32]));
    }

    #[test]
    fn a_box_is_the_mean_of_each_block() {
        let src = [0u8, 10, 20, 30, 100, 110, 120, 130];
        // 4×2 to 2×1: too small for the halving filter, so a 2×2 box.
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
        assert!(
            row[0] < 3 && row[dw - 1] > 252,
            "{} {}",
            row[0],
            row[dw - 1]
        );
    }

    #[test]
    fn the_two_thirds_shortcut_matches_the_general_bilinear_taps() {
        let (sw, dw) = (30, 20);
        let src: Vec<u8> = (0..sw).map(|x| (x * x % 256) as u8).collect();
        let s = PlaneScaler::new((sw, 1), (dw, 1));
        let mut fast = vec![0u8; dw];
        s.scale_cols(&src, &mut fast);
        let general: Vec<u8> = bilinear(sw, dw)
            .iter()
            .map(|t| {
                let (a, b) = (u32::from(src[t.at]), u32::from(src[t.at + 1]));
                let f = u32::from(t.frac);
                ((a * (256 - f) + b * f + 128) >> 8) as u8
            })
            .collect();
        assert_eq!(fast, general);
    }

    #[test]
    fn odd_sizes_and_tiny_targets_do_not_panic() {
        for &(sw, sh, dw, dh) in &[(5, 3, 2, 1), (1, 1, 3, 3), (7, 9, 1, 1), (3, 3, 2, 2)] {
            let src = vec![9u8; sw * sh];
            assert_eq!(scale(&src, sw, sh, dw, dh).len(), dw * dh);
        }
    }
}
