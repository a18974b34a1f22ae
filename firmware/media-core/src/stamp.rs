//! A latency stamp: the wall-clock time a program frame was mixed, painted as a row of
//! black and white blocks into its top-left corner, so a receiver that decodes the stream
//! can tell how old each frame is (glass-to-glass from the mixer). Off unless
//! `FOURCAST_LATENCY_STAMP=1`: it is a measuring aid for benchmarks, not a feature.
//!
//! Layout: 43 blocks of 16×16 luma pixels: a start block (white), 41 bits of milliseconds
//! since the Unix epoch (most significant first, white = 1), and an even-parity block.

pub const BLOCK: usize = 16;
const VALUE_BITS: usize = 41;
pub const BLOCKS: usize = VALUE_BITS + 2;
/// Width the stamp needs, in program pixels.
pub const WIDTH: usize = BLOCKS * BLOCK;
const WHITE: u8 = 235;
const BLACK: u8 = 16;

pub fn enabled() -> bool {
    std::env::var("FOURCAST_LATENCY_STAMP").is_ok_and(|v| v == "1")
}

fn bits(ms: u64) -> [bool; BLOCKS] {
    let mut b = [false; BLOCKS];
    b[0] = true;
    for i in 0..VALUE_BITS {
        b[1 + i] = (ms >> (VALUE_BITS - 1 - i)) & 1 == 1;
    }
    b[BLOCKS - 1] = b[1..=VALUE_BITS].iter().filter(|x| **x).count() % 2 == 1;
    b
}

/// Paints `ms` into a luma plane (`stride` bytes per row) at least [`WIDTH`] wide and
/// [`BLOCK`] tall; does nothing on a smaller one.
pub fn paint(y: &mut [u8], stride: usize, width: usize, ms: u64) {
    if width < WIDTH || y.len() < stride * BLOCK {
        return;
    }
    for (i, on) in bits(ms).iter().enumerate() {
        let v = if *on { WHITE } else { BLACK };
        for row in 0..BLOCK {
            let start = row * stride + i * BLOCK;
            y[start..start + BLOCK].fill(v);
        }
    }
}

/// Reads a stamp from a luma plane scaled by `scale` from the program (0.5 for a 640-wide
/// rung of a 1280-wide program); `None` if there is none or it does not check out.
pub fn read(y: &[u8], stride: usize, scale: f64) -> Option<u64> {
    let at = |i: usize| -> Option<bool> {
        let x = ((i * BLOCK) as f64 + BLOCK as f64 / 2.0) * scale;
        let r = (BLOCK as f64 / 2.0 * scale) as usize;
        y.get(r * stride + x as usize).map(|v| *v >= 128)
    };
    let got: Vec<bool> = (0..BLOCKS).map(at).collect::<Option<_>>()?;
    if !got[0] {
        return None;
    }
    let ones = got[1..=VALUE_BITS].iter().filter(|x| **x).count();
    if (ones % 2 == 1) != got[BLOCKS - 1] {
        return None;
    }
    Some(
        got[1..=VALUE_BITS]
            .iter()
            .fold(0u64, |acc, b| (acc << 1) | u64::from(*b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_at_full_and_half_size() {
        let (w, h) = (1280, 32);
        let mut y = vec![100u8; w * h];
        let ms = 1_795_000_123_456;
        paint(&mut y, w, w, ms);
        assert_eq!(read(&y, w, 1.0), Some(ms));
        // Downscale 2:1 by taking every other pixel, as a rung would (roughly).
        let half: Vec<u8> = (0..h / 2)
            .flat_map(|r| (0..w / 2).map(move |c| (r, c)))
            .map(|(r, c)| y[2 * r * w + 2 * c])
            .collect();
        assert_eq!(read(&half, w / 2, 0.5), Some(ms));
    }

    #[test]
    fn no_stamp_or_a_damaged_one_reads_as_none() {
        let w = 1280;
        let y = vec![100u8; w * 32];
        assert_eq!(read(&y, w, 1.0), None);
        let mut y = vec![0u8; w * 32];
        paint(&mut y, w, w, 12345);
        // Flip one value bit: the parity catches it.
        for row in 0..BLOCK {
            let i = row * w + 5 * BLOCK;
            y[i..i + BLOCK].iter_mut().for_each(|v| *v = 255 - *v);
        }
        assert_eq!(read(&y, w, 1.0), None);
        let mut small = vec![0u8; 320 * 32];
        paint(&mut small, 320, 320, 1);
        assert!(small.iter().all(|v| *v == 0), "too narrow: untouched");
    }
}
