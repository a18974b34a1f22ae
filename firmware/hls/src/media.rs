use std::collections::VecDeque;
use std::fmt::Write;
use std::time::Duration;

use crate::date::iso8601_utc_ms;

/// One finished media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// URI relative to the playlist (`seg000042.ts`).
    pub uri: String,
    /// Measured duration.
    pub duration: Duration,
    pub bytes: u64,
    /// Wall-clock time of the segment's first frame, ms since the Unix epoch.
    pub program_date_time_ms: u64,
}

impl Segment {
    fn bits_per_second(&self) -> Option<u64> {
        let secs = self.duration.as_secs_f64();
        (secs > 0.0).then(|| (self.bytes as f64 * 8.0 / secs).round() as u64)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    segment: Segment,
    sequence: u64,
    discontinuity: bool,
}

#[derive(Debug, Clone)]
struct Retired {
    uri: String,
    delete_after: Duration,
}

/// One rung's live media playlist.
#[derive(Debug, Clone)]
pub struct MediaPlaylist {
    target_secs: u64,
    window: usize,
    next_sequence: u64,
    discontinuity_sequence: u64,
    discontinuity_pending: bool,
    segments: VecDeque<Entry>,
    retired: VecDeque<Retired>,
    ended: bool,
    total_bytes: u64,
    total_duration: Duration,
    peak_bps: u64,
}

impl MediaPlaylist {
    /// An empty playlist whose segments are cut every `target` (rounded up to whole seconds)
    /// and which shows the last `window` of them (at least 1).
    pub fn new(target: Duration, window: usize) -> Self {
        Self {
            target_secs: target.as_secs_f64().ceil().max(1.0) as u64,
            window: window.max(1),
            next_sequence: 0,
            discontinuity_sequence: 0,
            discontinuity_pending: false,
            segments: VecDeque::new(),
            retired: VecDeque::new(),
            ended: false,
            total_bytes: 0,
            total_duration: Duration::ZERO,
            peak_bps: 0,
        }
    }

    /// Sequence number the next pushed segment gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The next segment follows a break in the stream (new encoder, new timestamps).
    pub fn mark_discontinuity(&mut self) {
        if self.next_sequence > 0 {
            self.discontinuity_pending = true;
        }
        self.ended = false;
    }

    /// Appends a finished segment at `now` and slides the window.
    pub fn push(&mut self, segment: Segment, now: Duration) {
        // A player must see every EXTINF rounded to ≤ the target (§4.3.3.1); a longer segment
        // (a missed keyframe) raises the target rather than leave the playlist invalid.
        let rounded = (segment.duration.as_secs_f64() + 0.5).floor() as u64;
        self.target_secs = self.target_secs.max(rounded);
        self.total_bytes += segment.bytes;
        self.total_duration += segment.duration;
        if let Some(bps) = segment.bits_per_second() {
            self.peak_bps = self.peak_bps.max(bps);
        }
        self.segments.push_back(Entry {
            segment,
            sequence: self.next_sequence,
            discontinuity: std::mem::take(&mut self.discontinuity_pending),
        });
        self.next_sequence += 1;
        self.ended = false;
        while self.segments.len() > self.window {
            let old = self.segments.pop_front().expect("len > window ≥ 1");
            if old.discontinuity {
                self.discontinuity_sequence += 1;
            }
            // §6.2.2: keep it for its own duration plus the longest playlist that held it.
            let grace = old.segment.duration + self.max_playlist_duration();
            self.retired.push_back(Retired {
                uri: old.segment.uri,
                delete_after: now + grace,
            });
        }
    }

    /// The stream has ended: the playlist gets `EXT-X-ENDLIST`.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Removed segments whose grace period is over at `now`: safe to delete.
    pub fn expired(&mut self, now: Duration) -> Vec<String> {
        let mut out = Vec::new();
        while self.retired.front().is_some_and(|r| r.delete_after <= now) {
            out.push(self.retired.pop_front().expect("front exists").uri);
        }
        out
    }

    /// Every segment URI still on disk by this playlist's account (listed or in grace).
    pub fn live_uris(&self) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .map(|e| e.segment.uri.as_str())
            .chain(self.retired.iter().map(|r| r.uri.as_str()))
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn target_duration_secs(&self) -> u64 {
        self.target_secs
    }

    /// Highest segment bit rate seen, bits/s (`BANDWIDTH`).
    pub fn peak_bandwidth(&self) -> Option<u64> {
        (self.peak_bps > 0).then_some(self.peak_bps)
    }

    /// Average bit rate over every segment so far, bits/s (`AVERAGE-BANDWIDTH`).
    pub fn average_bandwidth(&self) -> Option<u64> {
        let secs = self.total_duration.as_secs_f64();
        (secs > 0.0).then(|| (self.total_bytes as f64 * 8.0 / secs).round() as u64)
    }

    /// The listed segments, oldest first: (media sequence number, follows a
    /// discontinuity, segment).
    pub(crate) fn entries(&self) -> impl DoubleEndedIterator<Item = (u64, bool, &Segment)> {
        self.segments
            .iter()
            .map(|e| (e.sequence, e.discontinuity, &e.segment))
    }

    /// `EXT-X-MEDIA-SEQUENCE`: the first listed segment's number.
    pub(crate) fn first_sequence(&self) -> u64 {
        self.segments
            .front()
            .map_or(self.next_sequence, |e| e.sequence)
    }

    pub(crate) fn discontinuity_sequence(&self) -> u64 {
        self.discontinuity_sequence
    }

    /// The next segment will follow a discontinuity.
    pub(crate) fn discontinuity_pending(&self) -> bool {
        self.discontinuity_pending
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    fn max_playlist_duration(&self) -> Duration {
        Duration::from_secs(self.target_secs * self.window as u64)
    }

    /// The playlist text.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(128 + self.segments.len() * 96);
        let first = self.first_sequence();
        // Version 3: decimal EXTINF. PROGRAM-DATE-TIME and INDEPENDENT-SEGMENTS need no more.
        let _ = write!(
            s,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n",
            self.target_secs
        );
        if self.discontinuity_sequence > 0 {
            let _ = writeln!(
                s,
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
                self.discontinuity_sequence
            );
        }
        s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        for e in &self.segments {
            if e.discontinuity {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let _ = write!(
                s,
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{:.3},\n{}\n",
                iso8601_utc_ms(e.segment.program_date_time_ms),
                e.segment.duration.as_secs_f64(),
                e.segment.uri
            );
        }
        if self.ended {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(n: u64, secs: f64) -> Segment {
        Segment {
            uri: format!("seg{n:06}.ts"),
            duration: Duration::from_secs_f64(secs),
            bytes: 250_000,
            program_date_time_ms: 1_795_279_860_000 + n * 2000,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn renders_the_exact_live_playlist() {
        let mut p = MediaPlaylist::new(secs(2), 3);
        p.push(seg(0, 2.0), secs(2));
        p.push(seg(1, 2.002), secs(4));
        assert_eq!(
            p.render(),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:00.000Z\n#EXTINF:2.000,\nseg000000.ts\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:02.000Z\n#EXTINF:2.002,\nseg000001.ts\n"
        );
    }

    #[test]
    fn the_window_slides_and_media_sequence_counts_removed_segments() {
        let mut p = MediaPlaylist::new(secs(2), 3);
        for n in 0..10 {
            p.push(seg(n, 2.0), secs(2 * n));
            assert!(p.len() <= 3);
        }
        let text = p.render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:7\n"), "{text}");
        assert!(text.contains("seg000007.ts") && text.contains("seg000009.ts"));
        assert!(!text.contains("seg000006.ts"));
        assert_eq!(p.next_sequence(), 10);
    }

    #[test]
    fn a_removed_segment_outlives_its_removal_by_the_playlist_duration() {
        let mut p = MediaPlaylist::new(secs(2), 3);
        for n in 0..4 {
            p.push(seg(n, 2.0), secs(2 * n));
        }
        // seg0 left the window at t=6 s; the longest playlist is 3 × 2 s, plus its own 2 s.
        assert!(p.expired(secs(6)).is_empty());
        assert!(p.expired(secs(13)).is_empty());
        assert_eq!(p.expired(secs(14)), ["seg000000.ts"]);
        assert!(p.expired(secs(100)).is_empty(), "handed out once");
        assert_eq!(p.live_uris().count(), 3);
    }

    #[test]
    fn target_duration_is_measured_and_never_shrinks() {
        let mut p = MediaPlaylist::new(secs(2), 3);
        p.push(seg(0, 2.4), secs(0));
        assert_eq!(p.target_duration_secs(), 2, "2.4 rounds to 2");
        p.push(seg(1, 2.6), secs(2));
        assert_eq!(p.target_duration_secs(), 3, "2.6 rounds to 3");
        for n in 2..6 {
            p.push(seg(n, 2.0), secs(2 * n));
        }
        assert_eq!(p.target_duration_secs(), 3);
        assert!(p.render().contains("#EXT-X-TARGETDURATION:3\n"));
    }

    #[test]
    fn a_discontinuity_is_tagged_and_counted_once_it_slides_out() {
        let mut p = MediaPlaylist::new(secs(2), 2);
        p.mark_discontinuity(); // before any segment: nothing to break from
        p.push(seg(0, 2.0), secs(0));
        p.push(seg(1, 2.0), secs(2));
        p.mark_discontinuity();
        p.push(seg(2, 2.0), secs(4));
        let text = p.render();
        assert!(
            text.contains(
                "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:04.000Z"
            ),
            "{text}"
        );
        assert!(!text.contains("DISCONTINUITY-SEQUENCE"));
        p.push(seg(3, 2.0), secs(6));
        p.push(seg(4, 2.0), secs(8));
        let text = p.render();
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{text}");
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
    }

    #[test]
    fn bandwidth_is_measured_from_segment_sizes() {
        let mut p = MediaPlaylist::new(secs(2), 3);
        assert_eq!(p.peak_bandwidth(), None);
        p.push(
            Segment {
                bytes: 500_000,
                ..seg(0, 2.0)
            },
            secs(0),
        );
        p.push(
            Segment {
                bytes: 1_000_000,
                ..seg(1, 2.0)
            },
            secs(2),
        );
        assert_eq!(p.peak_bandwidth(), Some(4_000_000));
        assert_eq!(p.average_bandwidth(), Some(3_000_000));
    }

    #[test]
    fn an_ended_playlist_has_endlist_and_an_independent_parser_accepts_it() {
        let mut p = MediaPlaylist::new(secs(2), 6);
        for n in 0..8 {
            p.push(seg(n, 1.9 + n as f64 * 0.01), secs(2 * n));
        }
        p.end();
        let text = p.render();
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
        let parsed = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("not a media playlist: {other:?}"),
        };
        assert_eq!(parsed.media_sequence, 2);
        assert_eq!(parsed.segments.len(), 6);
        assert!(parsed.end_list && parsed.independent_segments);
        assert!(
            parsed
                .segments
                .iter()
                .all(|s| s.program_date_time.is_some())
        );
    }
}
