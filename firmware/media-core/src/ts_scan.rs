//! Reading back an MPEG-TS recording without a demuxer: its video duration from the first
//! and last PES timestamps, and the length it can be cut to so it ends on a whole packet.
//! Pure (bytes in); used to index and repair recordings after a power cut.

const PACKET: usize = 188;
const SYNC: u8 = 0x47;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TsSummary {
    /// Seconds between the first and last video PTS (plus one frame is not added).
    pub duration_s: f64,
    /// Whole packets only: a file longer than this ends in a torn packet.
    pub whole_len: u64,
    pub video_packets: u64,
}

/// Scans `data` (a whole file or its head and tail; timestamps only need PES headers).
pub fn scan(data: &[u8]) -> TsSummary {
    let whole = data.len() / PACKET * PACKET;
    let mut first = None;
    let mut last = None;
    let mut video_packets = 0;
    for p in data[..whole].chunks_exact(PACKET) {
        if p[0] != SYNC {
            continue;
        }
        let start = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 0x3;
        let mut off = 4;
        if afc == 2 || afc == 3 {
            off += 1 + p[4] as usize;
        }
        if afc == 2 || off + 14 > PACKET {
            continue;
        }
        let pes = &p[off..];
        // PES start code, a video stream id (0xE0–0xEF), PTS present.
        if !(start && pes[0] == 0 && pes[1] == 0 && pes[2] == 1 && (pes[3] & 0xF0) == 0xE0) {
            continue;
        }
        video_packets += 1;
        if pes[7] & 0x80 == 0 {
            continue;
        }
        let b = &pes[9..14];
        let pts = (u64::from(b[0] >> 1) & 0x07) << 30
            | u64::from(b[1]) << 22
            | (u64::from(b[2]) >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4]) >> 1;
        first.get_or_insert(pts);
        last = Some(pts);
    }
    let duration_s = match (first, last) {
        // 33-bit PTS wraps every ~26.5 h.
        (Some(a), Some(b)) => ((b + (1 << 33) - a) % (1 << 33)) as f64 / 90_000.0,
        _ => 0.0,
    };
    TsSummary {
        duration_s,
        whole_len: whole as u64,
        video_packets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pes_packet(pts: u64) -> [u8; PACKET] {
        let mut p = [0xFFu8; PACKET];
        p[..4].copy_from_slice(&[SYNC, 0x40, 0x100u16 as u8, 0x10]);
        let pes = [
            0,
            0,
            1,
            0xE0,
            0,
            0,
            0x80,
            0x80,
            5,
            0x21 | ((pts >> 29) as u8 & 0x0E),
            (pts >> 22) as u8,
            ((pts >> 14) as u8) | 1,
            (pts >> 7) as u8,
            ((pts << 1) as u8) | 1,
        ];
        p[4..4 + pes.len()].copy_from_slice(&pes);
        p
    }

    #[test]
    fn duration_comes_from_the_first_and_last_video_pts_and_torn_tails_are_found() {
        let mut data = Vec::new();
        for i in 0..300u64 {
            data.extend_from_slice(&pes_packet(90_000 + i * 3000));
            data.extend_from_slice(&[SYNC; PACKET]); // a non-PES packet
        }
        data.extend_from_slice(&[SYNC, 1, 2]); // torn by the power cut
        let s = scan(&data);
        assert!((s.duration_s - 299.0 / 30.0).abs() < 1e-6, "{s:?}");
        assert_eq!(s.whole_len, 600 * PACKET as u64);
        assert_eq!(s.video_packets, 300);
    }

    #[test]
    fn garbage_and_empty_input_give_zero() {
        assert_eq!(scan(&[]).duration_s, 0.0);
        assert_eq!(scan(&[0u8; 1000]).video_packets, 0);
    }
}
