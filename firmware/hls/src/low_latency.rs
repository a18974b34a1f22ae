//! A low-latency HLS media playlist (the HLS draft, rfc8216bis, §4.4.3.7–4.4.5.2 and §6.2.5–6):
//! the segments of a [`MediaPlaylist`] plus their partial segments ("parts"), the part being
//! written announced by a preload hint, reports of the other rungs, delta updates, and the
//! decision a blocking playlist reload waits on. Plain values, no I/O, no clock.
//!
//! - Parts are listed for the segments that start within three target durations of the end
//!   (§4.4.4.9: older ones SHOULD go), and always for the segment being written.
//! - `EXT-X-SERVER-CONTROL`: `CAN-BLOCK-RELOAD=YES`, `PART-HOLD-BACK` four part targets (at
//!   least two are required, three advised; with three, hls.js catching up to the live edge
//!   stalled now and then on a loaded 2-core box), `CAN-SKIP-UNTIL` six target durations (the least allowed).
//! - [`LowLatencyPlaylist::render`] with `skip` replaces the segments that start at least
//!   `CAN-SKIP-UNTIL` before the end with `EXT-X-SKIP` (`_HLS_skip=YES`).
//! - [`LowLatencyPlaylist::reload`] answers a request carrying `_HLS_msn` and `_HLS_part`:
//!   serve now, wait, or refuse a request too far ahead (§6.2.5.2).

use std::collections::VecDeque;
use std::fmt::Write;
use std::time::Duration;

use crate::date::iso8601_utc_ms;
use crate::media::{MediaPlaylist, Segment};

/// One partial segment: a file of its own, or a byte range of its segment's file.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub uri: String,
    pub duration: Duration,
    /// Starts with a keyframe (`INDEPENDENT=YES`): a player may start or switch here.
    pub independent: bool,
    /// (length, offset) in `uri`, when parts are ranges of the segment's file.
    pub byte_range: Option<(u64, u64)>,
}

/// Where the part being written will be (`EXT-X-PRELOAD-HINT`).
#[derive(Debug, Clone, PartialEq)]
pub struct PreloadHint {
    pub uri: String,
    /// Its first byte in `uri`, when parts are ranges.
    pub byte_range_start: Option<u64>,
}

/// The newest segment and part of another rung (`EXT-X-RENDITION-REPORT`).
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionReport {
    /// That rung's playlist, relative to this one (`../360p/ll.m3u8`).
    pub uri: String,
    pub last_msn: u64,
    pub last_part: Option<u64>,
}

/// What a blocking playlist reload does (`_HLS_msn`, `_HLS_part`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The playlist holds what was asked for: answer now.
    Ready,
    /// Not yet: hold the request (bounded) and ask again when a part or segment lands.
    Wait,
    /// 400 Bad Request, with the reason.
    Refuse(String),
}

/// A finished segment's pieces.
#[derive(Debug, Clone)]
struct Finished {
    sequence: u64,
    uri: String,
    parts: Vec<Part>,
    map: String,
}

/// One rung's low-latency playlist.
#[derive(Debug, Clone)]
pub struct LowLatencyPlaylist {
    segments: MediaPlaylist,
    part_target: Duration,
    /// `EXT-X-MAP`: the CMAF header the open segment's parts follow.
    map_uri: String,
    /// The listed and retired segments' parts and headers.
    parts: VecDeque<Finished>,
    /// Parts of the segment being written.
    open: Vec<Part>,
    hint: Option<PreloadHint>,
}

impl LowLatencyPlaylist {
    /// Segments cut every `target` (whole seconds, rounded up), `window` of them listed, in
    /// parts of at most `part_target`, all after the header `map_uri`.
    pub fn new(target: Duration, window: usize, part_target: Duration, map_uri: &str) -> Self {
        Self {
            segments: MediaPlaylist::new(target, window),
            part_target,
            map_uri: map_uri.to_string(),
            parts: VecDeque::new(),
            open: Vec::new(),
            hint: None,
        }
    }

    /// The finished segments (window, bandwidth, retention).
    pub fn segments(&self) -> &MediaPlaylist {
        &self.segments
    }

    /// Sequence number of the segment being written.
    pub fn open_sequence(&self) -> u64 {
        self.segments.next_sequence()
    }

    /// Index the next part of the open segment gets.
    pub fn next_part(&self) -> u64 {
        self.open.len() as u64
    }

    /// The next segment follows a break in the stream.
    pub fn mark_discontinuity(&mut self) {
        self.segments.mark_discontinuity();
    }

    /// A new header (the muxer restarted): the next segment follows it, after a
    /// discontinuity. Finish the open segment first.
    pub fn set_map(&mut self, map_uri: &str) {
        if map_uri != self.map_uri {
            self.segments.mark_discontinuity();
            self.map_uri = map_uri.to_string();
        }
    }

    /// Parts of the open segment so far.
    pub fn open_parts(&self) -> &[Part] {
        &self.open
    }

    /// Every header a listed or retired segment, or the open one, follows.
    pub fn maps(&self) -> impl Iterator<Item = &str> {
        self.parts
            .iter()
            .map(|f| f.map.as_str())
            .chain(std::iter::once(self.map_uri.as_str()))
    }

    /// The parts of a listed or retired segment, by its URI.
    pub fn parts_of(&self, segment_uri: &str) -> Option<&[Part]> {
        self.parts
            .iter()
            .find(|f| f.uri == segment_uri)
            .map(|f| f.parts.as_slice())
    }

    /// A part of the open segment is complete; `hint` is where the next one will be.
    pub fn push_part(&mut self, part: Part, hint: Option<PreloadHint>) {
        self.open.push(part);
        self.hint = hint;
    }

    /// The open segment is complete (its parts are its pieces, in order) at `now`.
    pub fn push_segment(&mut self, segment: Segment, hint: Option<PreloadHint>, now: Duration) {
        let sequence = self.segments.next_sequence();
        self.parts.push_back(Finished {
            sequence,
            uri: segment.uri.clone(),
            parts: std::mem::take(&mut self.open),
            map: self.map_uri.clone(),
        });
        self.segments.push(segment, now);
        self.hint = hint;
    }

    /// The stream has ended: no hint, `EXT-X-ENDLIST`.
    pub fn end(&mut self) {
        self.hint = None;
        self.segments.end();
    }

    /// Files safe to delete at `now`: retired segments and their parts.
    pub fn expired(&mut self, now: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for uri in self.segments.expired(now) {
            while self.parts.front().is_some_and(|f| f.uri != uri) {
                self.parts.pop_front();
            }
            if let Some(finished) = self.parts.pop_front() {
                for p in finished.parts {
                    if p.uri != uri && !out.contains(&p.uri) {
                        out.push(p.uri);
                    }
                }
            }
            out.push(uri);
        }
        out
    }

    /// The newest segment and part, as another rung's report names them: the open segment
    /// once it has a part, else the last finished one with no part.
    pub fn last(&self) -> Option<(u64, Option<u64>)> {
        if !self.open.is_empty() {
            return Some((self.open_sequence(), Some(self.open.len() as u64 - 1)));
        }
        self.segments
            .entries()
            .next_back()
            .map(|(seq, _, _)| (seq, None))
    }

    /// `PART-HOLD-BACK`: four part targets.
    pub fn part_hold_back(&self) -> Duration {
        self.part_target * 4
    }

    /// `CAN-SKIP-UNTIL`: six target durations.
    pub fn can_skip_until(&self) -> Duration {
        Duration::from_secs(6 * self.segments.target_duration_secs())
    }

    /// How far ahead a request's part may be before it is refused: three seconds of parts
    /// (§6.2.5.2: three divided by a part target under a second, else three).
    fn advance_part_limit(&self) -> u64 {
        let target = self.part_target.as_secs_f64();
        if target < 1.0 && target > 0.0 {
            (3.0 / target).floor() as u64
        } else {
            3
        }
    }

    /// What a reload asking for segment `msn` (and its part `part`) does now.
    pub fn reload(&self, msn: Option<u64>, part: Option<u64>) -> Reload {
        let Some(msn) = msn else {
            return match part {
                Some(_) => Reload::Refuse("_HLS_part needs _HLS_msn".into()),
                None => Reload::Ready,
            };
        };
        if self.segments.is_ended() {
            return Reload::Ready;
        }
        let open = self.open_sequence();
        let last = self.last().map_or(0, |(seq, _)| seq);
        if msn > last + 2 {
            return Reload::Refuse(format!(
                "_HLS_msn={msn} is more than two segments after the last one ({last})"
            ));
        }
        let done = |seq: u64| seq < open;
        let Some(p) = part else {
            return if done(msn) {
                Reload::Ready
            } else {
                Reload::Wait
            };
        };
        // Parts already out from segment `msn` on, if `msn` is finished or open.
        let limit = self.advance_part_limit();
        if msn == open {
            let have = self.open.len() as u64;
            if p < have {
                return Reload::Ready;
            }
            if p >= have + limit {
                return Reload::Refuse(format!(
                    "_HLS_part={p} is more than {limit} parts after the last one"
                ));
            }
            return Reload::Wait;
        }
        if msn > open {
            if p >= limit {
                return Reload::Refuse(format!(
                    "_HLS_part={p} of a segment not begun is more than {limit} parts ahead"
                ));
            }
            return Reload::Wait;
        }
        // A finished segment: its part, or anything later.
        let had = self
            .parts
            .iter()
            .find(|f| f.sequence == msn)
            .map_or(0, |f| f.parts.len() as u64);
        if p < had || msn + 1 < open || !self.open.is_empty() {
            Reload::Ready
        } else {
            Reload::Wait
        }
    }

    /// The playlist text; `skip` gives the delta update (`_HLS_skip=YES`), `reports` the
    /// other rungs.
    pub fn render(&self, skip: bool, reports: &[RenditionReport]) -> String {
        let target = self.segments.target_duration_secs();
        let mut s = String::with_capacity(512 + self.segments.len() * 320);
        // Version 9: EXT-X-SKIP. (EXT-X-MAP without I-frames needs 6, parts 6.)
        let _ = write!(
            s,
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:{target}\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3},\
             CAN-SKIP-UNTIL={:.3}\n#EXT-X-PART-INF:PART-TARGET={:.3}\n\
             #EXT-X-MEDIA-SEQUENCE:{}\n",
            self.part_hold_back().as_secs_f64(),
            self.can_skip_until().as_secs_f64(),
            self.part_target.as_secs_f64(),
            self.segments.first_sequence()
        );
        let discontinuities = self.segments.discontinuity_sequence();
        if discontinuities > 0 {
            let _ = writeln!(s, "#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}");
        }
        s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        let map_of = |seq: u64| {
            self.parts
                .iter()
                .find(|f| f.sequence == seq)
                .map_or(self.map_uri.as_str(), |f| f.map.as_str())
        };
        let mut map = self
            .segments
            .entries()
            .next()
            .map_or(self.map_uri.as_str(), |(seq, _, _)| map_of(seq));
        let _ = writeln!(s, "#EXT-X-MAP:URI=\"{map}\"");
        // Each listed segment's start, seconds before the end of the playlist.
        let open_secs: f64 = self.open.iter().map(|p| p.duration.as_secs_f64()).sum();
        let mut from_end = open_secs;
        let mut starts: Vec<f64> = self
            .segments
            .entries()
            .rev()
            .map(|(_, _, seg)| {
                from_end += seg.duration.as_secs_f64();
                from_end
            })
            .collect();
        starts.reverse();
        let skipped = if skip {
            let until = self.can_skip_until().as_secs_f64();
            starts.iter().take_while(|&&start| start >= until).count()
        } else {
            0
        };
        if skipped > 0 {
            let _ = writeln!(s, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
        }
        let with_parts = 3.0 * target as f64;
        for ((seq, discontinuity, seg), start) in self.segments.entries().zip(&starts).skip(skipped)
        {
            if discontinuity {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if map_of(seq) != map {
                map = map_of(seq);
                let _ = writeln!(s, "#EXT-X-MAP:URI=\"{map}\"");
            }
            let _ = writeln!(
                s,
                "#EXT-X-PROGRAM-DATE-TIME:{}",
                iso8601_utc_ms(seg.program_date_time_ms)
            );
            if *start <= with_parts
                && let Some(f) = self.parts.iter().find(|f| f.sequence == seq)
            {
                f.parts.iter().for_each(|p| write_part(&mut s, p));
            }
            let _ = write!(
                s,
                "#EXTINF:{:.3},\n{}\n",
                seg.duration.as_secs_f64(),
                seg.uri
            );
        }
        if self.segments.is_ended() {
            s.push_str("#EXT-X-ENDLIST\n");
            return s;
        }
        self.render_open(&mut s, map, reports);
        s
    }

    /// The open segment's parts, the preload hint and the other rungs' reports.
    fn render_open(&self, s: &mut String, map: &str, reports: &[RenditionReport]) {
        if !self.open.is_empty() {
            if self.segments.discontinuity_pending() {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if self.map_uri != map {
                let _ = writeln!(s, "#EXT-X-MAP:URI=\"{}\"", self.map_uri);
            }
        }
        self.open.iter().for_each(|p| write_part(s, p));
        if let Some(hint) = &self.hint {
            let _ = write!(s, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"", hint.uri);
            if let Some(start) = hint.byte_range_start {
                let _ = write!(s, ",BYTERANGE-START={start}");
            }
            s.push('\n');
        }
        for r in reports {
            let _ = write!(
                s,
                "#EXT-X-RENDITION-REPORT:URI=\"{}\",LAST-MSN={}",
                r.uri, r.last_msn
            );
            if let Some(part) = r.last_part {
                let _ = write!(s, ",LAST-PART={part}");
            }
            s.push('\n');
        }
    }
}

fn write_part(s: &mut String, p: &Part) {
    let _ = write!(
        s,
        "#EXT-X-PART:DURATION={:.3},URI=\"{}\"",
        p.duration.as_secs_f64(),
        p.uri
    );
    if p.independent {
        s.push_str(",INDEPENDENT=YES");
    }
    if let Some((length, offset)) = p.byte_range {
        let _ = write!(s, ",BYTERANGE=\"{length}@{offset}\"");
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: Duration = Duration::from_millis(500);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn part(seq: u64, n: u64) -> Part {
        Part {
            uri: format!("seg{seq}.{n}.m4s"),
            duration: PART,
            independent: n == 0,
            byte_range: None,
        }
    }

    fn hint(seq: u64, n: u64) -> Option<PreloadHint> {
        Some(PreloadHint {
            uri: format!("seg{seq}.{n}.m4s"),
            byte_range_start: None,
        })
    }

    fn segment(seq: u64) -> Segment {
        Segment {
            uri: format!("seg{seq}.m4s"),
            duration: ms(2000),
            bytes: 100_000,
            program_date_time_ms: 1_795_279_860_000 + seq * 2000,
        }
    }

    /// `segments` whole 2-s segments of four 0.5-s parts, then `open` parts of the next.
    fn playlist(window: usize, segments: u64, open: u64) -> LowLatencyPlaylist {
        let mut p = LowLatencyPlaylist::new(ms(2000), window, PART, "init.mp4");
        for seq in 0..segments {
            for n in 0..4 {
                let next = if n == 3 {
                    hint(seq + 1, 0)
                } else {
                    hint(seq, n + 1)
                };
                if n < 3 {
                    p.push_part(part(seq, n), next);
                } else {
                    p.push_part(part(seq, n), None);
                    p.push_segment(segment(seq), next, ms(2000 * (seq + 1)));
                }
            }
        }
        for n in 0..open {
            p.push_part(part(segments, n), hint(segments, n + 1));
        }
        p
    }

    fn parts_of(seq: u64) -> String {
        (0..4)
            .map(|n| {
                let independent = if n == 0 { ",INDEPENDENT=YES" } else { "" };
                format!("#EXT-X-PART:DURATION=0.500,URI=\"seg{seq}.{n}.m4s\"{independent}\n")
            })
            .collect()
    }

    #[test]
    fn renders_the_exact_playlist_with_parts_hint_and_reports() {
        let p = playlist(6, 2, 2);
        let reports = [RenditionReport {
            uri: "../180p/ll.m3u8".into(),
            last_msn: 2,
            last_part: Some(1),
        }];
        let expected = format!(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=2.000,\
             CAN-SKIP-UNTIL=12.000\n#EXT-X-PART-INF:PART-TARGET=0.500\n\
             #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:00.000Z\n{}#EXTINF:2.000,\nseg0.m4s\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:02.000Z\n{}#EXTINF:2.000,\nseg1.m4s\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg2.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.500,URI=\"seg2.1.m4s\"\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg2.2.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../180p/ll.m3u8\",LAST-MSN=2,LAST-PART=1\n",
            parts_of(0),
            parts_of(1)
        );
        assert_eq!(p.render(false, &reports), expected);
        assert_eq!(p.last(), Some((2, Some(1))));
    }

    #[test]
    fn a_new_header_follows_a_discontinuity_with_its_map() {
        let mut p = playlist(6, 2, 0);
        p.set_map("init2.mp4");
        p.push_part(part(2, 0), hint(2, 1));
        let text = p.render(false, &[]);
        assert!(
            text.contains(
                "seg1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init2.mp4\"\n\
                 #EXT-X-PART:DURATION=0.500,URI=\"seg2.0.m4s\",INDEPENDENT=YES\n"
            ),
            "{text}"
        );
        for n in 1..4 {
            p.push_part(part(2, n), None);
        }
        p.push_segment(segment(2), hint(3, 0), ms(6000));
        let text = p.render(false, &[]);
        assert!(text.starts_with("#EXTM3U\n") && text.contains("#EXT-X-MAP:URI=\"init.mp4\"\n"));
        assert!(
            text.contains(
                "seg1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init2.mp4\"\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:04.000Z\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches("#EXT-X-MAP").count(), 2, "{text}");
        let maps: Vec<&str> = p.maps().collect();
        assert!(
            maps.contains(&"init.mp4") && maps.contains(&"init2.mp4"),
            "{maps:?}"
        );
        assert_eq!(p.parts_of("seg2.m4s").map(<[Part]>::len), Some(4));
    }

    #[test]
    fn byte_range_parts_and_hint_name_their_ranges() {
        let mut p = LowLatencyPlaylist::new(ms(2000), 3, PART, "init.mp4");
        p.push_part(
            Part {
                uri: "seg0.m4s".into(),
                duration: PART,
                independent: true,
                byte_range: Some((1200, 0)),
            },
            Some(PreloadHint {
                uri: "seg0.m4s".into(),
                byte_range_start: Some(1200),
            }),
        );
        let text = p.render(false, &[]);
        assert!(
            text.ends_with(
                "#EXT-X-PART:DURATION=0.500,URI=\"seg0.m4s\",INDEPENDENT=YES,\
                 BYTERANGE=\"1200@0\"\n\
                 #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg0.m4s\",BYTERANGE-START=1200\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn parts_are_listed_only_within_three_target_durations_of_the_end() {
        let text = playlist(6, 5, 1).render(false, &[]);
        // Ends: open part 0.5 s; seg4 starts 2.5 s, seg3 4.5 s, seg2 6.5 s before the end.
        assert!(
            !text.contains("seg2.0.m4s") && !text.contains("seg1.0.m4s"),
            "{text}"
        );
        assert!(
            text.contains(&parts_of(3)) && text.contains(&parts_of(4)),
            "{text}"
        );
        assert!(text.contains("#EXTINF:2.000,\nseg2.m4s\n"), "{text}");
    }

    #[test]
    fn a_delta_update_skips_what_starts_before_can_skip_until() {
        let p = playlist(10, 10, 1);
        let full = p.render(false, &[]);
        let delta = p.render(true, &[]);
        // Ends 0.5 s into seg10: seg4 starts 12.5 s before the end, seg5 10.5 s.
        assert!(
            delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n"),
            "{delta}"
        );
        assert!(
            !delta.contains("seg4.m4s") && delta.contains("seg5.m4s"),
            "{delta}"
        );
        assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        // What follows the skip is the full playlist's tail, line for line.
        let tail = &full[full
            .find("#EXT-X-PROGRAM-DATE-TIME:2026-11-21T16:51:10")
            .unwrap()..];
        assert!(delta.ends_with(tail), "{delta}");
        // Too short a playlist to skip anything: no tag.
        assert!(!playlist(10, 3, 0).render(true, &[]).contains("EXT-X-SKIP"));
    }

    #[test]
    fn a_blocking_reload_waits_for_its_part_and_refuses_the_far_future() {
        let p = playlist(6, 3, 2); // seg0–2 done, seg3 has parts 0 and 1
        assert_eq!(p.reload(None, None), Reload::Ready);
        assert!(matches!(p.reload(None, Some(1)), Reload::Refuse(_)));
        assert_eq!(p.reload(Some(2), None), Reload::Ready);
        assert_eq!(p.reload(Some(3), None), Reload::Wait);
        assert_eq!(p.reload(Some(3), Some(1)), Reload::Ready);
        assert_eq!(p.reload(Some(3), Some(2)), Reload::Wait);
        assert_eq!(p.reload(Some(1), Some(3)), Reload::Ready);
        assert_eq!(p.reload(Some(4), Some(0)), Reload::Wait);
        assert_eq!(p.reload(Some(5), None), Reload::Wait);
        // Two segments after the last is the limit; 6 parts of 0.5 s (3 s) ahead too.
        let far = p.reload(Some(6), None);
        assert!(
            matches!(&far, Reload::Refuse(r) if r.contains("_HLS_msn=6")),
            "{far:?}"
        );
        assert!(matches!(p.reload(Some(3), Some(8)), Reload::Refuse(_)));
        assert_eq!(p.reload(Some(3), Some(7)), Reload::Wait);
        assert!(matches!(p.reload(Some(4), Some(6)), Reload::Refuse(_)));
        // An ended stream waits for nothing.
        let mut ended = playlist(6, 3, 0);
        ended.end();
        assert_eq!(ended.reload(Some(5), Some(1)), Reload::Ready);
        assert!(
            ended
                .render(false, &[])
                .ends_with("seg2.m4s\n#EXT-X-ENDLIST\n")
        );
    }

    #[test]
    fn the_last_part_of_a_finished_segment_is_answered_by_the_next_one() {
        let p = playlist(6, 3, 0);
        assert_eq!(p.reload(Some(2), Some(3)), Reload::Ready);
        assert_eq!(
            p.reload(Some(2), Some(4)),
            Reload::Wait,
            "seg3 has no part yet"
        );
        assert_eq!(playlist(6, 3, 1).reload(Some(2), Some(4)), Reload::Ready);
        assert_eq!(p.last(), Some((2, None)));
    }

    #[test]
    fn retired_segments_hand_back_their_parts_for_deletion() {
        let mut p = playlist(2, 4, 0);
        let gone = p.expired(ms(1_000_000));
        assert_eq!(
            gone,
            [
                "seg0.0.m4s",
                "seg0.1.m4s",
                "seg0.2.m4s",
                "seg0.3.m4s",
                "seg0.m4s",
                "seg1.0.m4s",
                "seg1.1.m4s",
                "seg1.2.m4s",
                "seg1.3.m4s",
                "seg1.m4s"
            ]
        );
        assert!(p.expired(ms(2_000_000)).is_empty());
    }

    #[test]
    fn an_independent_parser_reads_it_as_a_media_playlist() {
        let text = playlist(6, 4, 3).render(true, &[]);
        let parsed = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("not a media playlist: {other:?}\n{text}"),
        };
        assert_eq!(parsed.version, Some(9));
        assert_eq!(parsed.target_duration, 2);
        assert_eq!(parsed.segments.len(), 4);
        assert_eq!(parsed.segments[0].uri, "seg0.m4s");
        let map = parsed.segments[0].map.as_ref().map(|m| m.uri.as_str());
        assert_eq!(map, Some("init.mp4"));
        // It knows no LL-HLS tag; it keeps each with the segment it precedes.
        let parts = |seg: &m3u8_rs::MediaSegment| -> Vec<String> {
            seg.unknown_tags
                .iter()
                .filter(|t| t.tag == "X-PART")
                .filter_map(|t| t.rest.clone())
                .collect()
        };
        // Starts 9.5, 7.5, 5.5, 3.5 s before the end: parts for the last two.
        assert!(
            parts(&parsed.segments[1]).is_empty(),
            "7.5 s before the end"
        );
        assert_eq!(parts(&parsed.segments[2]).len(), 4);
        assert!(parts(&parsed.segments[3])[0].contains("URI=\"seg3.0.m4s\",INDEPENDENT=YES"));
        // (Tags before the first segment go with it.)
        let header: Vec<&str> = parsed
            .unknown_tags
            .iter()
            .chain(&parsed.segments[0].unknown_tags)
            .map(|t| t.tag.as_str())
            .collect();
        assert!(header.contains(&"X-SERVER-CONTROL") && header.contains(&"X-PART-INF"));
    }
}
