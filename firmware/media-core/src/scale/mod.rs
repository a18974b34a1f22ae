//! Picture scaling for the mixer and the ladder: pure code on 8-bit planes.
//!
//! A downscale is a cheap prefilter followed, if the size is not yet right, by a short
//! residual filter:
//! - **halving** (the grid's tiles from full-frame cameras, 1080p to 540p; and the first
//!   step of 1080p to 480p) is a separable 6-tap Lanczos-2 kernel: as sharp as ffmpeg's
//!   bicubic, and cheap because the taps are fixed and symmetric;
//! - other integer ratios (1080p to 360p) are a **box**: the mean of each block, the ideal
//!   anti-alias filter for an integer ratio, and it vectorises well;
//! - the **residual** ratio, now between ½ and 1 (or an upscale), is a Catmull-Rom cubic
//!   whose support widens with the ratio (4 to 8 taps), except for exactly ⅔ (1080p to
//!   720p), which is bilinear in fixed ¾ ¼ steps.
//!
//! Against a Lanczos-3 reference, ffmpeg's default bicubic scaler is measured alongside in
//! `tests/bench/bench.py` (`psnr_db` per rung).
//!
//! Sample positions are pixel centres, so a scaled picture does not drift by half a pixel.
//! The halving filter has an AVX2 form (`scale/avx2.rs`) and a NEON form (`scale/neon.rs`),
//! chosen at run time; the residual filters are the portable code, compiled for AVX2 where
//! the CPU has it and with NEON (aarch64's baseline) on ARM.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;

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

impl<'a> Plane<'a> {
    #[inline(always)]
    fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}

impl PlaneMut<'_> {
    #[inline(always)]
    fn row_mut(&mut self, y: usize) -> &mut [u8] {
        &mut self.data[y * self.stride..y * self.stride + self.width]
    }
}

/// Lanczos-2 at a 2:1 ratio, the three taps on each side of the output sample (source
/// offsets ±0.5, ±1.5, ±2.5 px), in 64ths of the whole: 2 × (27 + 7 − 2) = 64.
pub(crate) const HALF_TAPS: [i16; 3] = [27, 7, -2];

/// Residual filter weights are in 4096ths.
const ONE: i32 = 1 << 12;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Prefilter {
    None,
    Half,
    Box { fx: usize, fy: usize },
}

/// A 1-D resampling filter: for output sample i, `n` weights from source sample `first[i]`
/// on (indices already clamped into the source).
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    n: usize,
    first: Vec<usize>,
    weights: Vec<i16>,
    /// The same weights in 64ths, for the vertical pass: 16-bit sums, eight samples at a
    /// time.
    coarse: Vec<i16>,
}

impl Filter {
    fn new(n: usize, first: Vec<usize>, weights: Vec<i16>) -> Filter {
        let coarse = weights
            .chunks_exact(n.max(1))
            .flat_map(|w| {
                let mut q: Vec<i16> = w.iter().map(|&v| (v + 32) >> 6).collect();
                let err = 64 - q.iter().sum::<i16>();
                if let Some(max) = (0..q.len()).max_by_key(|&k| q[k]) {
                    q[max] += err;
                }
                q
            })
            .collect();
        Filter {
            n,
            first,
            weights,
            coarse,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Cols {
    None,
    /// Exactly ⅔: every three samples make two (¾ ¼, ¼ ¾).
    TwoThirds,
    Filter(Filter),
}

/// What a plane of `src` size needs to become `dst` size; made once per caps change.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneScaler {
    src: (usize, usize),
    dst: (usize, usize),
    pre: Prefilter,
    /// Size after the prefilter.
    mid: (usize, usize),
    rows: Option<Filter>,
    cols: Cols,
}

/// Reusable buffers, so scaling a frame allocates nothing once warmed up.
#[derive(Default)]
pub struct Scratch {
    plane: Vec<u8>,
    taps: Vec<i16>,
    even: Vec<i16>,
    odd: Vec<i16>,
    sums: Vec<u16>,
    acc: Vec<i16>,
    row: Vec<u8>,
    columns: Vec<u8>,
    block: Vec<u8>,
    /// Forces the portable code where there is a faster one (to compare them in tests).
    portable: bool,
}

impl PlaneScaler {
    pub fn new(src: (usize, usize), dst: (usize, usize)) -> PlaneScaler {
        // Boxes up to 16 wide (the row sums are u16); any remaining ratio is residual.
        let factor = |s: usize, d: usize| s.checked_div(d).map_or(1, |f| f.clamp(1, 16));
        let (fx, fy) = (factor(src.0, dst.0), factor(src.1, dst.1));
        let pre = if (fx, fy) == (1, 1) {
            Prefilter::None
        } else if (fx, fy) == (2, 2) && src.0 >= 6 && src.1 >= 6 {
            Prefilter::Half
        } else {
            Prefilter::Box { fx, fy }
        };
        let mid = (src.0 / fx, src.1 / fy);
        let two_thirds = |from: usize, to: usize| from.is_multiple_of(3) && to == from / 3 * 2;
        let (rows, cols) = if two_thirds(mid.0, dst.0) && two_thirds(mid.1, dst.1) {
            (Some(bilinear(mid.1, dst.1)), Cols::TwoThirds)
        } else {
            let cols = match resample(mid.0, dst.0) {
                Some(f) => Cols::Filter(f),
                None => Cols::None,
            };
            (resample(mid.1, dst.1), cols)
        };
        PlaneScaler {
            src,
            dst,
            pre,
            mid,
            rows,
            cols,
        }
    }

    /// Scales `src` into `dst`. Both must have the sizes this scaler was made for.
    ///
    /// On x86-64 with AVX2 the same code runs compiled for AVX2 (twice the lanes of the
    /// SSE2 baseline), chosen at run time as x264 and ffmpeg choose theirs. On aarch64 NEON
    /// is the baseline, so there is nothing to choose.
    pub fn run(&self, src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            #[allow(unsafe_code)]
            // SAFETY: `run_avx2` only needs AVX2, which the CPU was just found to have.
            unsafe {
                self.run_avx2(src, dst, scratch)
            };
            return;
        }
        self.run_portable(src, dst, scratch)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(&self, src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        self.run_portable(src, dst, scratch)
    }

    #[inline(always)]
    fn run_portable(&self, src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        debug_assert_eq!((src.width, src.height), self.src);
        debug_assert_eq!((dst.width, dst.height), self.dst);
        let residual = self.rows.is_some() || self.cols != Cols::None;
        if !residual {
            return self.prefilter(src, dst, scratch);
        }
        // The prefilter's picture, in the scratch plane (or the source itself).
        let mut plane = std::mem::take(&mut scratch.plane);
        let mid = if self.pre == Prefilter::None {
            src
        } else {
            let (w, h) = self.mid;
            plane.resize(w * h, 0);
            self.prefilter(
                src,
                &mut PlaneMut {
                    data: &mut plane,
                    width: w,
                    height: h,
                    stride: w,
                },
                scratch,
            );
            Plane {
                data: &plane,
                width: w,
                height: h,
                stride: w,
            }
        };
        self.residual(mid, dst, scratch);
        scratch.plane = plane;
    }

    #[inline(always)]
    fn prefilter(&self, src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        match self.pre {
            Prefilter::None => {
                for y in 0..dst.height {
                    dst.row_mut(y).copy_from_slice(src.row(y));
                }
            }
            Prefilter::Half => half(src, dst, scratch),
            Prefilter::Box { fx, fy } => {
                for y in 0..dst.height {
                    box_row(src, fx, fy, y, dst.width, &mut scratch.sums, dst.row_mut(y));
                }
            }
        }
    }

    #[inline(always)]
    fn residual(&self, mid: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
        if let Cols::Filter(f) = &self.cols {
            return self.residual_blocked(mid, dst, f, scratch);
        }
        let Scratch { acc, row, .. } = scratch;
        for y in 0..dst.height {
            let source = self.vertical(mid, y, acc, row);
            let out = dst.row_mut(y);
            match &self.cols {
                Cols::TwoThirds => {
                    for (o, s) in out.chunks_exact_mut(2).zip(source.chunks_exact(3)) {
                        let (a, b, c) = (u16::from(s[0]), u16::from(s[1]), u16::from(s[2]));
                        o[0] = ((3 * a + b + 2) >> 2) as u8;
                        o[1] = ((b + 3 * c + 2) >> 2) as u8;
                    }
                }
                _ => out.copy_from_slice(source),
            }
        }
    }

    /// Row `y` of the vertical residual pass (or the prefiltered row itself).
    #[inline(always)]
    fn vertical<'a>(
        &self,
        mid: Plane<'a>,
        y: usize,
        acc: &mut Vec<i16>,
        row: &'a mut Vec<u8>,
    ) -> &'a [u8] {
        let Some(f) = &self.rows else {
            return mid.row(y);
        };
        let (first, weights) = (f.first[y], &f.coarse[y * f.n..(y + 1) * f.n]);
        acc.clear();
        acc.resize(mid.width, 32);
        for (k, &w) in weights.iter().enumerate() {
            let line = mid.row((first + k).min(mid.height - 1));
            for (a, &v) in acc.iter_mut().zip(line) {
                *a += w * i16::from(v);
            }
        }
        row.resize(mid.width, 0);
        for (r, &a) in row.iter_mut().zip(acc.iter()) {
            *r = (a >> 6).clamp(0, 255) as u8;
        }
        row
    }

    /// The residual pass with a horizontal filter, [`LANES`] rows at a time: the rows are
    /// stored column by column, so every output column is the same few multiply-adds on
    /// `LANES` rows at once (it vectorises), instead of a gather per output pixel.
    #[inline(always)]
    fn residual_blocked(&self, mid: Plane, dst: &mut PlaneMut, f: &Filter, scratch: &mut Scratch) {
        let Scratch {
            acc,
            row,
            columns,
            block,
            ..
        } = scratch;
        columns.resize(mid.width * LANES, 0);
        block.resize(dst.width * LANES, 0);
        for y0 in (0..dst.height).step_by(LANES) {
            let rows = LANES.min(dst.height - y0);
            for r in 0..rows {
                let source = self.vertical(mid, y0 + r, acc, row);
                for (column, &v) in columns.chunks_exact_mut(LANES).zip(source) {
                    column[r] = v;
                }
            }
            for ((out, &first), weights) in block
                .chunks_exact_mut(LANES)
                .zip(&f.first)
                .zip(f.weights.chunks_exact(f.n))
            {
                let mut sum = [ONE / 2; LANES];
                for (k, &w) in weights.iter().enumerate() {
                    let start = (first + k) * LANES;
                    let column: &[u8; LANES] = columns[start..start + LANES]
                        .try_into()
                        .expect("a whole column");
                    for (s, &v) in sum.iter_mut().zip(column) {
                        *s += i32::from(v) * i32::from(w);
                    }
                }
                for (o, s) in out.iter_mut().zip(sum) {
                    *o = (s >> 12).clamp(0, 255) as u8;
                }
            }
            for r in 0..rows {
                for (o, column) in dst
                    .row_mut(y0 + r)
                    .iter_mut()
                    .zip(block.chunks_exact(LANES))
                {
                    *o = column[r];
                }
            }
        }
    }
}

/// Rows filtered together by the horizontal residual pass.
const LANES: usize = 16;

/// Row `y` of a box prefilter: the mean of each `fx`×`fy` block.
#[inline(always)]
fn box_row(
    src: Plane,
    fx: usize,
    fy: usize,
    y: usize,
    width: usize,
    sums: &mut Vec<u16>,
    out: &mut [u8],
) {
    let span = width * fx;
    sums.clear();
    sums.extend(src.row(y * fy)[..span].iter().map(|&v| u16::from(v)));
    for k in 1..fy {
        for (s, &v) in sums.iter_mut().zip(&src.row(y * fy + k)[..span]) {
            *s += u16::from(v);
        }
    }
    let n = (fx * fy) as u32;
    // Division by a constant as a multiply: exact for these sums (at most 16·16·255).
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

/// The six source rows output row `y` of a halving reads, clamped at the picture's edges:
/// far, mid, near, near, mid, far. (For the SIMD forms, which keep one padded row.)
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn half_rows<'a>(src: &Plane<'a>, y: usize) -> [&'a [u8]; 6] {
    let (w, h) = (src.width, src.height as isize);
    let data = src.data;
    let stride = src.stride;
    let row = move |y: isize| &data[y.clamp(0, h - 1) as usize * stride..][..w];
    let c = 2 * y as isize;
    [c - 2, c - 1, c, c + 1, c + 2, c + 3].map(row)
}

/// `(near·t0 + mid·t1 + far·t2 + 32) >> 6` clamped, from six samples in `half_rows` order.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn half_tap(s: impl Fn(usize) -> i16) -> u8 {
    let [t0, t1, t2] = HALF_TAPS;
    let sum = (s(2) + s(3)) * t0 + (s(1) + s(4)) * t1 + (s(0) + s(5)) * t2;
    ((sum + 32) >> 6).clamp(0, 255) as u8
}

/// The vertical pass from sample `from` to the row's end (what the SIMD loop left), into
/// `padded` (the row at 2…w+1), then the row's edge samples repeated into its padding.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn half_column_tail(rows: &[&[u8]; 6], padded: &mut [u8], from: usize) {
    let w = rows[0].len();
    for (x, o) in padded[2..2 + w].iter_mut().enumerate().skip(from) {
        *o = half_tap(|k| i16::from(rows[k][x]));
    }
    let (first, last) = (padded[2], padded[w + 1]);
    padded[..2].fill(first);
    padded[w + 2..].fill(last);
}

/// The horizontal pass from output `from` to the row's end (what the SIMD loop left).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn half_row_tail(padded: &[u8], out: &mut [u8], from: usize) {
    for (x, o) in out.iter_mut().enumerate().skip(from) {
        *o = half_tap(|k| i16::from(padded[2 * x + k]));
    }
}

/// Halves `src` into `dst` with [`HALF_TAPS`]. The vertical pass makes one row of samples;
/// it is split into its even and odd samples (two samples of edge padding each side), so
/// the horizontal pass reads six contiguous, shifted slices and vectorises like the
/// vertical one.
#[inline(always)]
fn half(src: Plane, dst: &mut PlaneMut, scratch: &mut Scratch) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && !scratch.portable {
        #[allow(unsafe_code)]
        // SAFETY: `avx2::half` only needs AVX2, which the CPU was just found to have.
        unsafe {
            avx2::half(src, dst, &mut scratch.row)
        };
        return;
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") && !scratch.portable {
        #[allow(unsafe_code)]
        // SAFETY: `neon::half` only needs NEON, which the CPU was just found to have.
        unsafe {
            neon::half(src, dst, &mut scratch.row)
        };
        return;
    }
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
        let taps = &mut taps[..w];
        for x in 0..w {
            let near = i16::from(a[x]) + i16::from(b[x]);
            let mid = i16::from(c1[x]) + i16::from(d1[x]);
            let far = i16::from(c2[x]) + i16::from(d2[x]);
            taps[x] = ((near * t0 + mid * t1 + far * t2 + 32) >> 6).clamp(0, 255);
        }
        // even[j + 1] = sample 2j, odd[j + 1] = sample 2j + 1; edges repeated.
        for ((e, o), pair) in even[1..dw + 1]
            .iter_mut()
            .zip(odd[1..dw + 1].iter_mut())
            .zip(taps[..2 * dw].chunks_exact(2))
        {
            *e = pair[0];
            *o = pair[1];
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

/// Catmull-Rom (a = −½).
fn cubic(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.5 * x * x * x - 2.5 * x * x + 1.0
    } else if x < 2.0 {
        -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0
    } else {
        0.0
    }
}

/// The residual filter from `from` samples to `to`: Catmull-Rom, its support widened by the
/// downscale ratio so it does not alias; `None` if nothing is to do.
fn resample(from: usize, to: usize) -> Option<Filter> {
    if from == to || to == 0 || from == 0 {
        return None;
    }
    // Between ¾ and 1 a plain 4-tap Catmull-Rom barely aliases; below, widen it.
    let ratio = to as f64 / from as f64;
    let scale = if ratio >= 0.75 { 1.0 } else { 1.0 / ratio };
    let n = if scale == 1.0 {
        4
    } else {
        (4.0 * scale).ceil() as usize + 1
    };
    let mut first = Vec::with_capacity(to);
    let mut weights = Vec::with_capacity(to * n);
    for i in 0..to {
        let centre = (i as f64 + 0.5) * from as f64 / to as f64 - 0.5;
        let start = (centre - n as f64 / 2.0).floor() as i64 + 1;
        let raw: Vec<f64> = (0..n)
            .map(|k| cubic(((start + k as i64) as f64 - centre) / scale) / scale)
            .map(|w| if w.is_finite() { w } else { 0.0 })
            .collect();
        let total: f64 = raw.iter().sum();
        // Taps that fall off an edge repeat the edge sample: fold their weight onto it, so
        // the window can start at a clamped index and stay contiguous.
        let lo = start.clamp(0, from.saturating_sub(n) as i64) as usize;
        let mut folded = vec![0f64; n];
        for (k, w) in raw.iter().enumerate() {
            let at = (start + k as i64).clamp(0, from as i64 - 1) as usize;
            let slot = at.saturating_sub(lo).min(n - 1);
            folded[slot] += w / total;
        }
        // Round to 4096ths and put the rounding error on the largest tap: flat stays flat.
        let mut q: Vec<i16> = folded
            .iter()
            .map(|w| (w * f64::from(ONE)).round() as i16)
            .collect();
        let err = ONE - q.iter().map(|&w| i32::from(w)).sum::<i32>();
        if let Some(max) = (0..n).max_by_key(|&k| q[k]) {
            q[max] += err as i16;
        }
        first.push(lo);
        weights.extend(q);
    }
    // Narrow sources (fewer samples than taps) cannot hold a whole window.
    if from < n {
        return Some(narrow(from, to, n, &first, &weights));
    }
    Some(Filter::new(n, first, weights))
}

/// A filter on a source narrower than its window: re-expressed with `from` taps.
fn narrow(from: usize, to: usize, n: usize, first: &[usize], weights: &[i16]) -> Filter {
    let mut out = Vec::with_capacity(to * from);
    for i in 0..to {
        let mut w = vec![0i16; from];
        for k in 0..n {
            let at = (first[i] + k).min(from - 1);
            w[at] += weights[i * n + k];
        }
        out.extend(w);
    }
    Filter::new(from, vec![0; to], out)
}

/// Bilinear (2-tap) rows from `from` to `to`, on pixel centres, clamped at the edges.
fn bilinear(from: usize, to: usize) -> Filter {
    let mut first = Vec::with_capacity(to);
    let mut weights = Vec::with_capacity(to * 2);
    for i in 0..to {
        let pos = ((i as f64 + 0.5) * from as f64 / to as f64 - 0.5).max(0.0);
        let at = (pos.floor() as usize).min(from.saturating_sub(2));
        let frac = ((pos - at as f64).min(1.0) * f64::from(ONE)).round() as i32;
        first.push(at);
        weights.extend([(ONE - frac) as i16, frac as i16]);
    }
    Filter::new(2, first, weights)
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
    fn a_widened_residual_filter_does_not_alias_fine_stripes() {
        // 1-px stripes (the finest detail a picture holds) scaled 1280 -> 854 wide: above the
        // new width's Nyquist limit, so they must come out close to mid-grey, not as coarse
        // stripes. With the kernel's support widened in name only, they came out as stripes
        // of almost full contrast.
        let (sw, sh, dw) = (1280, 4, 854);
        let src: Vec<u8> = (0..sw * sh)
            .map(|i| if i % 2 == 0 { 16 } else { 235 })
            .collect();
        let out = scale(&src, sw, sh, dw, sh);
        let row = &out[16..dw - 16];
        let (lo, hi) = (row.iter().min().unwrap(), row.iter().max().unwrap());
        assert!(hi - lo < 60, "aliased: {lo}..{hi}");
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
    fn two_thirds_puts_each_output_on_its_pixel_centre() {
        // Source centres 0.5, 1.5, 2.5 → output centres at 0.75 and 2.25 source pixels:
        // ¾ of the first sample and ¼ of the second, then the mirror image.
        let src: Vec<u8> = (0..30 * 3).map(|i| (i % 30 * 4) as u8).collect();
        let out = scale(&src, 30, 3, 20, 2);
        assert_eq!(&out[..4], &[1, 7, 13, 19]);
        assert_eq!(&out[..20], &out[20..]);
    }

    #[test]
    fn the_residual_filter_keeps_a_ramp_straight() {
        // 960 → 854 (the 480p rung's residual step) on a gentle ramp: a cubic is exact on
        // linear input away from the edges.
        let (sw, dw) = (960, 854);
        let src: Vec<u8> = (0..sw * 2).map(|i| (i % sw / 4) as u8).collect();
        let out = scale(&src, sw, 2, dw, 2);
        for (x, &got) in out.iter().enumerate().take(dw - 8).skip(8) {
            let centre = (x as f64 + 0.5) * sw as f64 / dw as f64 - 0.5;
            let want = centre / 4.0;
            assert!(
                (f64::from(got) - want).abs() <= 1.0,
                "x={x}: {got} vs {want:.2}"
            );
        }
    }

    #[test]
    fn the_blocked_horizontal_pass_is_the_filter_applied_to_every_pixel() {
        // 37 rows: two whole blocks of 16 and a partial one.
        let (sw, dw, h) = (960, 854, 37);
        let src: Vec<u8> = (0..sw * h).map(|i| ((i * 7919) % 251) as u8).collect();
        let out = scale(&src, sw, h, dw, h);
        let f = resample(sw, dw).expect("a filter");
        for y in 0..h {
            for x in 0..dw {
                let taps = &src[y * sw + f.first[x]..][..f.n];
                let sum: i32 = taps
                    .iter()
                    .zip(&f.weights[x * f.n..(x + 1) * f.n])
                    .map(|(&v, &w)| i32::from(v) * i32::from(w))
                    .sum();
                let want = ((sum + ONE / 2) >> 12).clamp(0, 255) as u8;
                assert_eq!(out[y * dw + x], want, "x={x} y={y}");
            }
        }
    }

    /// The CPU's own halving (AVX2 on x86-64, NEON on aarch64), if it has one.
    fn simd() -> Option<&'static str> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Some("AVX2");
        }
        #[cfg(target_arch = "aarch64")]
        if std::arch::is_aarch64_feature_detected!("neon") {
            return Some("NEON");
        }
        None
    }

    #[test]
    fn the_simd_halving_is_bit_identical_to_the_portable_one() {
        let Some(simd) = simd() else {
            eprintln!("no AVX2 or NEON here: only the portable halving runs");
            return;
        };
        // Noise (a linear congruential generator), and a 0/255 checkerboard whose sums
        // overshoot both ends of the clamp.
        let mut seed = 0x2545_f491_u32;
        let mut noise = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        let sizes = [
            (1920, 1080),
            (1281, 37),
            (70, 9),
            (6, 6),
            (97, 64),
            (66, 34),
        ];
        for (k, &(sw, sh)) in sizes.iter().enumerate() {
            let (dw, dh) = (sw / 2, sh / 2);
            let src: Vec<u8> = if k == sizes.len() - 1 {
                (0..sw * sh)
                    .map(|i| if (i % sw + i / sw) % 2 == 0 { 0 } else { 255 })
                    .collect()
            } else {
                (0..sw * sh).map(|_| noise()).collect()
            };
            let run = |portable: bool| {
                let mut out = vec![0u8; dw * dh];
                let mut scratch = Scratch {
                    portable,
                    ..Scratch::default()
                };
                PlaneScaler::new((sw, sh), (dw, dh)).run(
                    Plane {
                        data: &src,
                        width: sw,
                        height: sh,
                        stride: sw,
                    },
                    &mut PlaneMut {
                        data: &mut out,
                        width: dw,
                        height: dh,
                        stride: dw,
                    },
                    &mut scratch,
                );
                out
            };
            assert!(
                run(false) == run(true),
                "{sw}x{sh}: {simd} and portable differ"
            );
        }
    }

    #[test]
    fn odd_sizes_and_tiny_targets_do_not_panic() {
        for &(sw, sh, dw, dh) in &[(5, 3, 2, 1), (1, 1, 3, 3), (7, 9, 1, 1), (3, 3, 2, 2)] {
            let src = vec![9u8; sw * sh];
            assert_eq!(scale(&src, sw, sh, dw, dh).len(), dw * dh);
        }
    }
}
