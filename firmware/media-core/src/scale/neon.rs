//! The halving filter ([`super`]'s 6-tap Lanczos-2) written for NEON, the aarch64 twin of
//! `avx2.rs`: the vertical pass widens 16 samples of each of the six rows to 16 bits
//! (`vaddl_u8` adds the symmetric pairs as it widens), weights them with multiply-accumulate
//! and narrows with one saturating rounding shift; the horizontal pass reads the row's even
//! and odd samples apart with `vld2q_u8` (a de-interleaving load), so the three symmetric
//! pairs of each output are plain lane-wise adds.
//!
//! The arithmetic is the portable filter's, step for step (the same 16-bit sums, rounding
//! and clamp), so the output is bit-identical: the tests compare the two on random
//! pictures, under `qemu-aarch64` in `make check-arm`.
#![allow(unsafe_code)]

use std::arch::aarch64::*;

use super::{HALF_TAPS, Plane, PlaneMut};

/// Loads 16 bytes. Safe: the slice is exactly 16 bytes long.
#[inline(always)]
fn load(bytes: &[u8; 16]) -> uint8x16_t {
    // SAFETY: `bytes` is 16 readable bytes; `vld1q_u8` has no alignment requirement.
    unsafe { vld1q_u8(bytes.as_ptr()) }
}

/// Loads 32 bytes split into their even and odd bytes. Safe: the slice is 32 bytes long.
#[inline(always)]
fn load_pairs(bytes: &[u8; 32]) -> uint8x16x2_t {
    // SAFETY: `bytes` is 32 readable bytes; `vld2q_u8` reads exactly 32, unaligned.
    unsafe { vld2q_u8(bytes.as_ptr()) }
}

/// Stores 16 bytes. Safe: the slice is exactly 16 bytes long.
#[inline(always)]
fn store(bytes: &mut [u8; 16], v: uint8x16_t) {
    // SAFETY: `bytes` is 16 writable bytes; `vst1q_u8` has no alignment requirement.
    unsafe { vst1q_u8(bytes.as_mut_ptr(), v) }
}

fn at16(row: &[u8], x: usize) -> &[u8; 16] {
    row[x..x + 16].try_into().expect("16 bytes")
}

fn at32(row: &[u8], x: usize) -> &[u8; 32] {
    row[x..x + 32].try_into().expect("32 bytes")
}

/// `(near·t0 + mid·t1 + far·t2 + 32) >> 6`, clamped to 0…255, for 8 lanes of 16-bit sums
/// of pairs (each pair's sum fits: at most 510).
#[target_feature(enable = "neon")]
fn weigh(near: uint16x8_t, mid: uint16x8_t, far: uint16x8_t) -> uint8x8_t {
    let [t0, t1, t2] = HALF_TAPS;
    let s = |v: uint16x8_t| vreinterpretq_s16_u16(v);
    let sum = vmlaq_n_s16(
        vmlaq_n_s16(vmulq_n_s16(s(near), t0), s(mid), t1),
        s(far),
        t2,
    );
    // The portable filter adds 32 and shifts; `vqshrun` shifts and saturates to 0…255.
    vqshrun_n_s16::<6>(vaddq_s16(sum, vdupq_n_s16(32)))
}

/// Halves `src` into `dst` (sizes as the portable `half` wants them). `padded` is scratch.
#[target_feature(enable = "neon")]
pub(crate) fn half(src: Plane, dst: &mut PlaneMut, padded: &mut Vec<u8>) {
    let w = src.width;
    let dw = dst.width;
    // One vertically filtered row, with two copies of its first sample before it and
    // four of its last after it: samples -2 … w + 3 clamped, as the portable pass reads.
    padded.clear();
    padded.resize(w + 6, 0);
    for y in 0..dst.height {
        let rows = super::half_rows(&src, y);
        let line = &mut padded[2..2 + w];
        let mut x = 0;
        while x + 16 <= w {
            let v = rows.map(|r| load(at16(r, x)));
            let pairs = |a: usize, b: usize, high: bool| {
                if high {
                    vaddl_high_u8(v[a], v[b])
                } else {
                    vaddl_u8(vget_low_u8(v[a]), vget_low_u8(v[b]))
                }
            };
            let half = |high: bool| weigh(pairs(2, 3, high), pairs(1, 4, high), pairs(0, 5, high));
            let out = vcombine_u8(half(false), half(true));
            store((&mut line[x..x + 16]).try_into().expect("16 bytes"), out);
            x += 16;
        }
        super::half_column_tail(&rows, padded, x);
        // Output x reads samples 2x-2 … 2x+3, that is padded[2x … 2x+5]: read as even and
        // odd bytes from 2x, 2x+2 and 2x+4, the pairs are (even, odd) of the middle load
        // (near), odd of the first and even of the last (mid), even of the first and odd of
        // the last (far).
        let out = &mut dst.data[y * dst.stride..][..dw];
        let mut x = 0;
        while x + 16 <= dw {
            let p = 2 * x;
            let (a, b, c) = (
                load_pairs(at32(padded, p)),
                load_pairs(at32(padded, p + 2)),
                load_pairs(at32(padded, p + 4)),
            );
            let sum = |u: uint8x16_t, v: uint8x16_t, high: bool| {
                if high {
                    vaddl_high_u8(u, v)
                } else {
                    vaddl_u8(vget_low_u8(u), vget_low_u8(v))
                }
            };
            let half = |high: bool| {
                weigh(
                    sum(b.0, b.1, high),
                    sum(a.1, c.0, high),
                    sum(a.0, c.1, high),
                )
            };
            store(
                (&mut out[x..x + 16]).try_into().expect("16 bytes"),
                vcombine_u8(half(false), half(true)),
            );
            x += 16;
        }
        super::half_row_tail(padded, out, x);
    }
}
