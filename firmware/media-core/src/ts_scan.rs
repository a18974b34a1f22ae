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

/// The first and last video PTS in some bytes of a TS stream, and its video PES count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PtsBounds {
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub video_packets: u64,
}

impl PtsBounds {
    /// These bounds followed by `later`'s: the first of both, the last of both.
    pub fn then(self, later: PtsBounds) -> PtsBounds {
        PtsBounds {
            first: self.first.or(later.first),
            last: later.last.or(self.last),
            video_packets: self.video_packets + later.video_packets,
        }
    }

    /// Seconds from the first to the last PTS (33-bit PTS wraps every ~26.5 h).
    pub fn duration_s(&self) -> f64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) => ((b + (1 << 33) - a) % (1 << 33)) as f64 / 90_000.0,
            _ => 0.0,
        }
    }
}

/// The PTS bounds of the whole packets in `data` (it should start on a packet boundary;
/// a file is read in chunks of a multiple of 188 bytes).
pub fn pts_bounds(data: &[u8]) -> PtsBounds {
    let whole = data.len() / PACKET * PACKET;
    let mut b = PtsBounds::default();
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
        b.video_packets += 1;
        if pes[7] & 0x80 == 0 {
            continue;
        }
        let t = &pes[9..14];
        let pts = (u64::from(t[0] >> 1) & 0x07) << 30
            | u64::from(t[1]) << 22
            | (u64::from(t[2]) >> 1) << 15
            | u64::from(t[3]) << 7
            | u64::from(t[4]) >> 1;
        b.first.get_or_insert(pts);
        b.last = Some(pts);
    }
    b
}

/// Scans `data` (a whole file or its head and tail; timestamps only need PES headers).
pub fn scan(data: &[u8]) -> TsSummary {
    let b = pts_bounds(data);
    TsSummary {
        duration_s: b.duration_s(),
        whole_len: (data.len() / PACKET * PACKET) as u64,
        video_packets: b.video_packets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_parts_join_into_the_bounds_of_the_whole() {
        let mut data = Vec::new();
        for n in 0..10u64 {
            data.extend_from_slice(&pes_packet(90_000 + n * 3_000));
        }
        let whole = pts_bounds(&data);
        let (head, tail) = data.split_at(4 * PACKET);
        assert_eq!(pts_bounds(head).then(pts_bounds(tail)), whole);
        assert_eq!(
            pts_bounds(head).then(PtsBounds::default()).last,
            pts_bounds(head).last
        );
        assert!(
            (whole.duration_s() - 0.3).abs() < 1e-9,
            "{}",
            whole.duration_s()
        );
    }

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
