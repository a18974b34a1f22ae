//! The recorder's decisions, pure: when a recording file is split, and the MPEG-TS tables
//! every file must open with so that it plays alone. The recorder's writer does the file
//! I/O around them.

/// Bytes in an MPEG-TS packet.
pub const TS_PACKET: usize = 188;
/// `mpegtsmux`'s PMT PID.
pub const PMT_PID: u16 = 0x20;

/// Splits the stream into files on keyframes: a new file once the open one is at least
/// `split_ns` long (by PTS) or `split_bytes` big, at the next keyframe.
#[derive(Debug, Clone)]
pub struct Split {
    split_ns: u64,
    split_bytes: Option<u64>,
    file: Option<FileSoFar>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct FileSoFar {
    first_pts: Option<u64>,
    bytes: u64,
}

impl Split {
    pub fn new(split_ns: u64, split_bytes: Option<u64>) -> Split {
        Split {
            split_ns,
            split_bytes,
            file: None,
        }
    }

    /// Before writing a buffer: true if a new file must be opened for it (no file is open,
    /// or this is a keyframe and the open file is long or big enough).
    pub fn due(&self, pts_ns: Option<u64>, keyframe: bool) -> bool {
        match self.file {
            None => true,
            Some(f) => {
                let long = match (f.first_pts, pts_ns) {
                    (Some(a), Some(b)) => b.saturating_sub(a) >= self.split_ns,
                    _ => false,
                };
                let big = self.split_bytes.is_some_and(|max| f.bytes >= max);
                keyframe && (long || big)
            }
        }
    }

    /// A new file was opened (empty).
    pub fn opened(&mut self) {
        self.file = Some(FileSoFar {
            first_pts: None,
            bytes: 0,
        });
    }

    /// After bytes were written to the open file (`pts_ns` of the buffer, if it had one).
    pub fn wrote(&mut self, pts_ns: Option<u64>, bytes: u64) {
        if let Some(f) = &mut self.file {
            if f.first_pts.is_none() {
                f.first_pts = pts_ns;
            }
            f.bytes += bytes;
        }
    }

    /// The open file was closed (the recording stopped or failed).
    pub fn closed(&mut self) {
        self.file = None;
    }
}

/// The latest PAT and PMT seen in the stream, to open every file with them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tables {
    pub pat: Option<Vec<u8>>,
    pub pmt: Option<Vec<u8>>,
}

impl Tables {
    /// Learns the tables from whole TS packets in `data` (a packet that starts a table
    /// section, on PID 0 for the PAT or [`PMT_PID`]); anything else is ignored.
    pub fn learn(&mut self, data: &[u8]) {
        for p in data.chunks_exact(TS_PACKET) {
            if p[0] != 0x47 || p[1] & 0x40 == 0 {
                continue;
            }
            match (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]) {
                0 => self.pat = Some(p.to_vec()),
                PMT_PID => self.pmt = Some(p.to_vec()),
                _ => {}
            }
        }
    }
}

/// True if `name` is one the recorder gives its files (`20261121-173045.ts`, or
/// `20261121-173045-2.ts` when that second already has one). Only such files are taken
/// into the index from disk: a recording directory shared with anything else does not
/// expose, trim or delete files the box did not write.
pub fn is_recording_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".ts") else {
        return false;
    };
    let mut parts = stem.split('-');
    let digits = |p: Option<&str>, n: usize| {
        p.is_some_and(|p| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let (date, time) = (parts.next(), parts.next());
    let counter_ok = match parts.next() {
        None => true,
        Some(n) => !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()),
    };
    digits(date, 8) && digits(time, 6) && counter_ok && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recorders_own_names_are_recordings() {
        for ok in [
            "20261121-173045.ts",
            "20261121-173045-2.ts",
            "20261121-173045-10.ts",
        ] {
            assert!(is_recording_name(ok), "{ok}");
        }
        for not in [
            "passwords.ts",
            "20261121-173045.ts.bak",
            "20261121-1730.ts",
            "20261121-173045-.ts",
            "20261121-173045-1-2.ts",
            "x20261121-173045.ts",
            "20261121-173045.mp4",
            "../20261121-173045.ts",
        ] {
            assert!(!is_recording_name(not), "{not}");
        }
    }

    const S: u64 = 1_000_000_000;

    /// Feeds 30 fps frames with a keyframe every `gop` frames; returns the frame numbers
    /// that opened a file.
    fn opened(split: &mut Split, frames: u64, gop: u64, bytes_per_frame: u64) -> Vec<u64> {
        let mut out = Vec::new();
        for n in 0..frames {
            let pts = Some(100 * S + n * S / 30);
            if split.due(pts, n % gop == 0) {
                split.closed();
                split.opened();
                out.push(n);
            }
            split.wrote(pts, bytes_per_frame);
        }
        out
    }

    #[test]
    fn files_split_on_the_first_keyframe_after_the_duration() {
        let mut split = Split::new(10 * S, None);
        // A keyframe every 2 s: files open at 0, 10, 20 s.
        assert_eq!(opened(&mut split, 901, 60, 1000), vec![0, 300, 600, 900]);
        // A keyframe every 3 s: the split waits for the keyframe at 12 s.
        let mut split = Split::new(10 * S, None);
        assert_eq!(opened(&mut split, 721, 90, 1000), vec![0, 360, 720]);
    }

    #[test]
    fn files_split_by_size_on_a_keyframe() {
        let mut split = Split::new(3600 * S, Some(100_000));
        // 1000 bytes a frame: 100 kB after 100 frames, next keyframe (every 30) at 120.
        assert_eq!(opened(&mut split, 300, 30, 1000), vec![0, 120, 240]);
    }

    #[test]
    fn the_first_buffer_opens_a_file_even_if_it_is_not_a_keyframe() {
        let mut split = Split::new(10 * S, None);
        assert!(split.due(Some(S), false));
        split.opened();
        split.wrote(Some(S), 10);
        assert!(!split.due(Some(2 * S), false));
        // Long enough, but not a keyframe: no split.
        assert!(!split.due(Some(20 * S), false));
        split.closed();
        assert!(
            split.due(Some(21 * S), false),
            "a new recording opens at once"
        );
    }

    #[test]
    fn buffers_without_timestamps_split_by_size_only() {
        let mut split = Split::new(S, Some(50));
        split.opened();
        split.wrote(None, 40);
        assert!(!split.due(None, true));
        split.wrote(None, 40);
        assert!(split.due(None, true));
    }

    fn packet(pid: u16, start: bool, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; TS_PACKET];
        p[0] = 0x47;
        p[1] = (if start { 0x40 } else { 0 }) | (pid >> 8) as u8;
        p[2] = pid as u8;
        p
    }

    #[test]
    fn the_latest_pat_and_pmt_are_kept_and_other_packets_ignored() {
        let mut t = Tables::default();
        let mut data = packet(0, true, 1);
        data.extend(packet(PMT_PID, true, 2));
        data.extend(packet(0x100, true, 3));
        data.extend(packet(0, false, 4)); // a continuation, not a table start
        t.learn(&data);
        assert_eq!(t.pat.as_deref(), Some(&packet(0, true, 1)[..]));
        assert_eq!(t.pmt.as_deref(), Some(&packet(PMT_PID, true, 2)[..]));
        t.learn(&packet(0, true, 9));
        assert_eq!(t.pat.as_deref(), Some(&packet(0, true, 9)[..]));
        // Garbage and a short tail change nothing.
        t.learn(&[0u8; TS_PACKET + 10]);
        assert_eq!(t.pmt.as_deref(), Some(&packet(PMT_PID, true, 2)[..]));
    }
}
