//! One rung's HLS segmenter: the rung's muxed MPEG-TS stream, cut into segment files as it
//! is muxed.
//!
//! ```text
//! h264parse ─┐
//! aacparse ──┴─ mpegtsmux(alignment=0) ─ appsink ─▶ TsSegmenter ─▶ seg…-000001.ts …
//! ```
//! `mpegtsmux` with `alignment=0` hands over one buffer per muxed frame, flagged like the
//! frame, so a keyframe buffer is the first packet of a GOP. A segment is closed and listed
//! the moment the next keyframe arrives; `splitmuxsink`, used before, collected a whole GOP
//! before deciding, which held every segment back by one segment duration (the first one
//! came 4.1 s after start instead of about 2.6 s). Every segment opens with the latest PAT and
//! PMT, so it plays on its own; the continuity counters and PCR run on across segments.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::EventSink;
use crate::outputs::hls_origin::HlsOrigin;
use crate::recording::{Split, Tables};

pub(crate) struct TsSegmenter {
    rung: String,
    origin: Arc<HlsOrigin>,
    events: EventSink,
    split: Split,
    tables: Tables,
    open: Option<OpenSegment>,
    /// The end of the latest buffer (running time): where the last segment ends at EOS.
    end_ns: u64,
    /// A write error is logged once per segment, not per buffer.
    failed: bool,
}

struct OpenSegment {
    file: std::fs::File,
    path: PathBuf,
}

impl TsSegmenter {
    /// Segments of `segment_ns`: a keyframe starts a new one once the open one is three
    /// quarters of that long, so each forced keyframe (one per segment duration, the same
    /// running time on every rung) starts a segment and segments line up across rungs.
    pub(crate) fn new(
        rung: &str,
        segment_ns: u64,
        origin: Arc<HlsOrigin>,
        events: EventSink,
    ) -> Self {
        Self {
            rung: rung.to_string(),
            origin,
            events,
            split: Split::new(segment_ns * 3 / 4, None),
            tables: Tables::default(),
            open: None,
            end_ns: 0,
            failed: false,
        }
    }

    /// One muxed buffer from `mpegtsmux`.
    pub(crate) fn write(&mut self, buffer: &gst::BufferRef) {
        let Ok(map) = buffer.map_readable() else {
            return;
        };
        let data = map.as_slice();
        self.tables.learn(data);
        let pts = buffer.pts().map(|t| t.nseconds());
        let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        // The first segment starts at the first keyframe: a player cannot start elsewhere.
        if self.open.is_none() && !keyframe {
            return;
        }
        if let Some(pts) = pts {
            let end = pts + buffer.duration().map_or(0, |d| d.nseconds());
            self.end_ns = self.end_ns.max(end);
        }
        if self.split.due(pts, keyframe) {
            self.close(pts.unwrap_or(self.end_ns));
            self.open(pts.unwrap_or(self.end_ns));
        }
        let Some(seg) = self.open.as_mut() else {
            return;
        };
        match seg.file.write_all(data) {
            Ok(()) => self.split.wrote(pts, data.len() as u64),
            Err(e) => {
                let message = format!("{}: {e}", seg.path.display());
                self.fail(&message);
                // A segment with a hole is never listed: dropped, and the next keyframe
                // starts a new one.
                self.close(0);
            }
        }
    }

    /// End of stream: the open segment is complete up to the last buffer.
    pub(crate) fn finish(&mut self) {
        self.close(self.end_ns);
    }

    fn open(&mut self, start_ns: u64) {
        let path = self.origin.next_location(&self.rung);
        let opened = std::fs::File::create(&path).and_then(|mut f| {
            for table in [&self.tables.pat, &self.tables.pmt].into_iter().flatten() {
                f.write_all(table)?;
            }
            Ok(f)
        });
        match opened {
            Ok(file) => {
                self.failed = false;
                self.origin
                    .fragment_opened(&self.rung, &path.to_string_lossy(), start_ns);
                self.split.opened();
                self.open = Some(OpenSegment { file, path });
            }
            Err(e) => {
                // Nothing is open: the next keyframe tries again with a new name.
                self.split.closed();
                self.fail(&format!("{}: {e}", path.display()));
            }
        }
    }

    /// Lists the open segment as ending at `end_ns` (an end at or before its start drops it).
    fn close(&mut self, end_ns: u64) {
        self.split.closed();
        let Some(seg) = self.open.take() else {
            return;
        };
        drop(seg.file);
        if let Some(event) =
            self.origin
                .fragment_closed(&self.rung, &seg.path.to_string_lossy(), end_ns)
        {
            (self.events)(event);
        }
    }

    fn fail(&mut self, message: &str) {
        if !self.failed {
            tracing::error!(rung = %self.rung, "cannot write HLS segment: {message}");
        }
        self.failed = true;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::EngineEvent;

    const MS: u64 = 1_000_000;

    /// A TS packet on `pid`, the start of a unit, its payload all `fill`.
    fn packet(pid: u16, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; 188];
        p[..4].copy_from_slice(&[0x47, 0x40 | (pid >> 8) as u8, pid as u8, 0x10]);
        p
    }

    fn buffer(data: Vec<u8>, pts_ms: u64, keyframe: bool) -> gst::Buffer {
        let mut b = gst::Buffer::from_mut_slice(data);
        let m = b.get_mut().expect("new buffer");
        m.set_pts(gst::ClockTime::from_nseconds(pts_ms * MS));
        m.set_duration(gst::ClockTime::from_nseconds(40 * MS));
        if !keyframe {
            m.set_flags(gst::BufferFlags::DELTA_UNIT);
        }
        b
    }

    fn segmenter(tag: &str) -> (TsSegmenter, Arc<Mutex<Vec<EngineEvent>>>, PathBuf) {
        gst::init().expect("gstreamer");
        let dir = std::env::temp_dir().join(format!("fourcast-ts-{tag}-{}", std::process::id()));
        let origin = Arc::new(HlsOrigin::new(&dir, 1_800_000_000_000).expect("origin"));
        let config = fourcast_config::default_for_board("virtual").expect("virtual board");
        origin.configure(&config).expect("configure");
        std::fs::create_dir_all(dir.join("720p")).expect("rung dir");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let seg = TsSegmenter::new(
            "720p",
            2000 * MS,
            origin,
            Arc::new(move |e| sink.lock().unwrap().push(e)),
        );
        (seg, events, dir)
    }

    fn published(events: &Mutex<Vec<EngineEvent>>) -> Vec<(u64, f64)> {
        events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                EngineEvent::SegmentPublished {
                    sequence,
                    duration_s,
                    ..
                } => Some((*sequence, *duration_s)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_segment_is_listed_the_moment_the_next_keyframe_arrives_and_opens_with_the_tables() {
        let (mut seg, events, dir) = segmenter("cut");
        // PAT and PMT come with the stream's first buffer, before a keyframe.
        let mut head = packet(0, 0);
        head.extend(packet(crate::recording::PMT_PID, 0));
        seg.write(&buffer(head, 0, false));
        // Frames every 40 ms, a keyframe every 2 s.
        for i in 0..50u64 {
            seg.write(&buffer(packet(0x41, i as u8), 40 + i * 40, i % 50 == 0));
        }
        assert!(
            published(&events).is_empty(),
            "nothing listed before the next keyframe"
        );
        seg.write(&buffer(packet(0x41, 0xee), 2040, true));
        assert_eq!(published(&events), vec![(0, 2.0)]);
        let playlist = std::fs::read_to_string(dir.join("720p/index.m3u8")).expect("playlist");
        let first = playlist
            .lines()
            .find(|l| l.ends_with(".ts"))
            .expect("a segment listed");
        let bytes = std::fs::read(dir.join("720p").join(first)).expect("segment");
        // PAT, PMT, then the 50 frames, starting with the keyframe.
        assert_eq!(bytes.len(), 52 * 188);
        assert_eq!(
            (bytes[2], bytes[188 + 2]),
            (0, crate::recording::PMT_PID as u8)
        );
        assert_eq!(bytes[2 * 188 + 4], 0);
        // A keyframe before three quarters of a segment does not cut.
        seg.write(&buffer(packet(0x41, 1), 2500, true));
        assert_eq!(published(&events).len(), 1);
        // The end of the stream lists the open segment up to its last frame's end.
        seg.finish();
        let all = published(&events);
        assert_eq!(all.len(), 2);
        assert!((all[1].1 - 0.5).abs() < 1e-9, "{all:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_segment_that_cannot_be_created_is_skipped_and_the_next_keyframe_tries_again() {
        let (mut seg, events, dir) = segmenter("fail");
        std::fs::remove_dir_all(dir.join("720p")).expect("remove");
        seg.write(&buffer(packet(0x41, 0), 0, true));
        seg.write(&buffer(packet(0x41, 1), 40, false));
        seg.write(&buffer(packet(0x41, 2), 2000, true));
        assert!(published(&events).is_empty());
        // The folder is back: frames before the next keyframe are not a segment's start.
        std::fs::create_dir_all(dir.join("720p")).expect("rung dir");
        seg.write(&buffer(packet(0x41, 3), 2040, false));
        seg.write(&buffer(packet(0x41, 4), 4000, true));
        seg.write(&buffer(packet(0x41, 5), 6000, true));
        assert_eq!(published(&events), vec![(0, 2.0)]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
