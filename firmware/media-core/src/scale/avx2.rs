//! The halving filter ([`super`]'s 6-tap Lanczos-2) written for AVX2, because the
//! compiler cannot find its best form: `vpmaddubsw` multiplies byte pairs and adds them in
//! one instruction, so each tap pair costs one instruction on 32 pixels, and the
//! horizontal pass reads the row's byte pairs where they are, with no deinterleaving.
//!
//! The arithmetic is the portable filter's, step for step (the same integer sums, rounding
//! and clamp), so the output is bit-identical: the tests compare the two on random
//! pictures.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::{HALF_TAPS, Plane, PlaneMut};

/// Loads 32 bytes. Safe: the slice is exactly 32 bytes long.
#[inline(always)]
fn load(bytes: &[u8; 32]) -> __m256i {
    // SAFETY: `bytes` is 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

/// Stores 32 bytes. Safe: the slice is exactly 32 bytes long.
#[inline(always)]
fn store(bytes: &mut [u8; 32], v: __m256i) {
    // SAFETY: `bytes` is 32 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_si256(bytes.as_mut_ptr().cast(), v) }
}

fn at(row: &[u8], x: usize) -> &[u8; 32] {
    row[x..x + 32].try_into().expect("32 bytes")
}

/// A pair of signed 8-bit weights, repeated: `vpmaddubsw` multiplies byte `2i` by `lo`
/// and byte `2i + 1` by `hi`.
#[target_feature(enable = "avx2")]
fn pair(lo: i16, hi: i16) -> __m256i {
    _mm256_set1_epi16(((hi as u8 as i16) << 8) | (lo as u8 as i16))
}

/// Halves `src` into `dst` (sizes as the portable `half` wants them). `padded` is scratch.
#[target_feature(enable = "avx2")]
pub(crate) fn half(src: Plane, dst: &mut PlaneMut, padded: &mut Vec<u8>) {
    let w = src.width;
    let dw = dst.width;
    let [t0, t1, t2] = HALF_TAPS;
    // One vertically filtered row, with two copies of its first sample before it and
    // four of its last after it: samples -2 … w + 3 clamped, as the portable pass reads.
    padded.clear();
    padded.resize(w + 6, 0);
    let round = _mm256_set1_epi16(32);
    let (near_w, mid_w, far_w) = (pair(t0, t0), pair(t1, t1), pair(t2, t2));
    for y in 0..dst.height {
        let rows = super::half_rows(&src, y);
        let line = &mut padded[2..2 + w];
        let mut x = 0;
        while x + 32 <= w {
            let v = rows.map(|r| load(at(r, x)));
            let taps = |lo: bool| {
                let mix = |a: __m256i, b: __m256i, weights: __m256i| {
                    let ab = if lo {
                        _mm256_unpacklo_epi8(a, b)
                    } else {
                        _mm256_unpackhi_epi8(a, b)
                    };
                    _mm256_maddubs_epi16(ab, weights)
                };
                let sum = _mm256_add_epi16(
                    _mm256_add_epi16(mix(v[2], v[3], near_w), mix(v[1], v[4], mid_w)),
                    _mm256_add_epi16(mix(v[0], v[5], far_w), round),
                );
                _mm256_srai_epi16::<6>(sum)
            };
            // unpacklo/hi and packus both work per 128-bit lane, so the order comes back.
            let out = _mm256_packus_epi16(taps(true), taps(false));
            store((&mut line[x..x + 32]).try_into().expect("32 bytes"), out);
            x += 32;
        }
        super::half_column_tail(&rows, padded, x);
        // Output x reads samples 2x-2 … 2x+3, that is padded[2x … 2x+5]: three byte pairs,
        // weighted (t2, t1), (t0, t0) and (t1, t2).
        let (outer_l, centre, outer_r) = (pair(t2, t1), pair(t0, t0), pair(t1, t2));
        let out = &mut dst.data[y * dst.stride..][..dw];
        let mut x = 0;
        while x + 32 <= dw {
            let sixteen = |x: usize| {
                let p = 2 * x;
                let sum = _mm256_add_epi16(
                    _mm256_add_epi16(
                        _mm256_maddubs_epi16(load(at(padded, p)), outer_l),
                        _mm256_maddubs_epi16(load(at(padded, p + 2)), centre),
                    ),
                    _mm256_add_epi16(
                        _mm256_maddubs_epi16(load(at(padded, p + 4)), outer_r),
                        round,
                    ),
                );
                _mm256_srai_epi16::<6>(sum)
            };
            // packus interleaves the two halves by 128-bit lane; the permute puts the 32
            // outputs back in order.
            let packed = _mm256_packus_epi16(sixteen(x), sixteen(x + 16));
            let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(packed);
            store((&mut out[x..x + 32]).try_into().expect("32 bytes"), ordered);
            x += 32;
        }
        super::half_row_tail(padded, out, x);
    }
}
