//! Fragmented MP4 (the CMAF form low-latency HLS serves) cut into what a playlist lists: the
//! header every part follows (`ftyp` + `moov`: `EXT-X-MAP`), and parts (`EXT-X-PART`) of
//! whole fragments (`moof` + `mdat`), grouped into segments that start at a video keyframe.
//!
//! The muxer (GStreamer's `mp4mux` with `fragment-duration`) writes one track per fragment
//! and cuts a video fragment at every keyframe. [`Chunker`] reads its byte stream as it comes
//! and closes a part after each video fragment once the part holds `part_target` of video;
//! a video fragment that starts with a keyframe after `segment_target` of segment begins a
//! new segment. Audio fragments go with the next video. Stream time only, no clock.

use std::collections::HashMap;
use std::fmt;

/// The largest box taken (a fragment of a few seconds of the top rung is a few MiB).
pub const MAX_BOX: u64 = 32 << 20;
/// `sample_is_non_sync_sample` in ISO/IEC 14496-12 sample flags.
const NON_SYNC: u32 = 0x0001_0000;

#[derive(Debug, Clone, PartialEq)]
pub enum Fmp4Error {
    /// A box's size is impossible (under 8, or over [`MAX_BOX`]).
    BoxSize { kind: String, size: u64 },
    /// A fragment came before the header, or names a track the header lacks.
    NoHeader(String),
    /// A box ended before a field it must hold.
    Truncated(&'static str),
}

impl fmt::Display for Fmp4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fmp4Error::BoxSize { kind, size } => {
                write!(f, "fMP4 box {kind:?} claims {size} bytes")
            }
            Fmp4Error::NoHeader(what) => write!(f, "fMP4 fragment without its header: {what}"),
            Fmp4Error::Truncated(field) => write!(f, "fMP4 box too short for its {field}"),
        }
    }
}

impl std::error::Error for Fmp4Error {}

/// One track of the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Track {
    pub video: bool,
    pub timescale: u32,
    /// `trex` default sample flags (used when a fragment names none).
    default_flags: u32,
}

/// What one fragment (`moof`) says about its samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fragment {
    pub track_id: u32,
    /// `tfdt`, in the track's timescale.
    pub decode_time: u64,
    /// Sum of its samples' durations, in the track's timescale.
    pub duration: u64,
    /// Its first sample's flags, where the fragment states them (else the track's default).
    first_sample_flags: Option<u32>,
}

impl Fragment {
    /// Its first sample is a sync sample (a keyframe for video).
    pub fn starts_sync(&self, track: &Track) -> bool {
        self.first_sample_flags.unwrap_or(track.default_flags) & NON_SYNC == 0
    }
}

/// A finished piece of the stream, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// `ftyp` + `moov` (again if the muxer restarts).
    Header(Vec<u8>),
    /// Whole fragments; the first part of a segment has `starts_segment`.
    Part {
        bytes: Vec<u8>,
        /// Video time it covers, ns.
        duration_ns: u64,
        /// Its first video sample is a keyframe (`INDEPENDENT=YES`).
        independent: bool,
        starts_segment: bool,
    },
}

/// Reads the muxer's byte stream and hands back header and parts.
#[derive(Debug, Clone)]
pub struct Chunker {
    part_target_ns: u64,
    segment_target_ns: u64,
    pending: Vec<u8>,
    header: Vec<u8>,
    tracks: HashMap<u32, Track>,
    /// The part being gathered: its bytes, video ns, independent, starts a segment.
    part: Vec<u8>,
    part_ns: u64,
    part_independent: Option<bool>,
    part_starts_segment: bool,
    /// Video time in the open segment, ns (`None` before the first keyframe).
    segment_ns: Option<u64>,
    /// A `moof` waiting for its `mdat`.
    moof: Option<(Vec<u8>, Fragment)>,
}

impl Chunker {
    pub fn new(part_target_ns: u64, segment_target_ns: u64) -> Self {
        Self {
            part_target_ns: part_target_ns.max(1),
            segment_target_ns,
            pending: Vec::new(),
            header: Vec::new(),
            tracks: HashMap::new(),
            part: Vec::new(),
            part_ns: 0,
            part_independent: None,
            part_starts_segment: false,
            segment_ns: None,
            moof: None,
        }
    }

    /// Takes the next bytes of the stream; returns what they completed.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Piece>, Fmp4Error> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some((kind, size)) = next_box(&self.pending)? {
            let bytes: Vec<u8> = self.pending.drain(..size).collect();
            self.take_box(kind, bytes, &mut out)?;
        }
        Ok(out)
    }

    fn take_box(
        &mut self,
        kind: [u8; 4],
        bytes: Vec<u8>,
        out: &mut Vec<Piece>,
    ) -> Result<(), Fmp4Error> {
        match &kind {
            b"ftyp" => {
                self.header = bytes;
            }
            b"moov" => {
                self.tracks = read_moov(&bytes[8..])?;
                let mut header = std::mem::take(&mut self.header);
                header.extend_from_slice(&bytes);
                out.push(Piece::Header(header));
                // A new header is a new stream: nothing gathered belongs to it.
                self.part.clear();
                self.part_ns = 0;
                self.part_independent = None;
                self.segment_ns = None;
                self.moof = None;
            }
            b"moof" => {
                let fragment = read_moof(&bytes[8..])?;
                if !self.tracks.contains_key(&fragment.track_id) {
                    return Err(Fmp4Error::NoHeader(format!(
                        "track {} is not in the header",
                        fragment.track_id
                    )));
                }
                self.moof = Some((bytes, fragment));
            }
            b"mdat" => {
                if let Some((moof, fragment)) = self.moof.take() {
                    self.take_fragment(moof, bytes, fragment, out);
                }
            }
            // `mfra`, `sidx`, `styp`, free space: nothing a part needs.
            _ => {}
        }
        Ok(())
    }

    fn take_fragment(
        &mut self,
        moof: Vec<u8>,
        mdat: Vec<u8>,
        fragment: Fragment,
        out: &mut Vec<Piece>,
    ) {
        let track = self.tracks[&fragment.track_id];
        if !track.video {
            // Sound before the first keyframe has no segment to go in.
            if self.segment_ns.is_some() {
                self.part.extend_from_slice(&moof);
                self.part.extend_from_slice(&mdat);
            }
            return;
        }
        let ns = u64::try_from(
            u128::from(fragment.duration) * 1_000_000_000 / u128::from(track.timescale.max(1)),
        )
        .unwrap_or(u64::MAX);
        let sync = fragment.starts_sync(&track);
        let new_segment = sync
            && self
                .segment_ns
                .is_none_or(|s| s + self.part_target_ns / 2 >= self.segment_target_ns);
        if new_segment {
            self.close_part(out);
            self.segment_ns = Some(0);
            self.part_starts_segment = true;
        }
        let Some(segment_ns) = &mut self.segment_ns else {
            return; // pictures before the first keyframe: nothing can decode them
        };
        *segment_ns += ns;
        if self.part_independent.is_none() {
            self.part_independent = Some(sync);
        }
        self.part.extend_from_slice(&moof);
        self.part.extend_from_slice(&mdat);
        self.part_ns += ns;
        if self.part_ns + self.part_target_ns / 10 >= self.part_target_ns {
            self.close_part(out);
        }
    }

    fn close_part(&mut self, out: &mut Vec<Piece>) {
        if self.part_independent.is_none() {
            return; // only sound so far: it goes with the next pictures
        }
        out.push(Piece::Part {
            bytes: std::mem::take(&mut self.part),
            duration_ns: std::mem::take(&mut self.part_ns),
            independent: self.part_independent.take().unwrap_or(false),
            starts_segment: std::mem::take(&mut self.part_starts_segment),
        });
    }
}

/// The next whole box at the start of `buf`: (type, size), or `None` until it is all there.
fn next_box(buf: &[u8]) -> Result<Option<([u8; 4], usize)>, Fmp4Error> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let kind: [u8; 4] = buf[4..8].try_into().expect("4 bytes");
    let mut size = u64::from(u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")));
    let mut head = 8;
    if size == 1 {
        if buf.len() < 16 {
            return Ok(None);
        }
        size = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
        head = 16;
    }
    if size < head || size > MAX_BOX {
        return Err(Fmp4Error::BoxSize {
            kind: String::from_utf8_lossy(&kind).into_owned(),
            size,
        });
    }
    let size = size as usize;
    Ok((buf.len() >= size).then_some((kind, size)))
}

/// The boxes inside a box's payload: (type, payload).
fn children(payload: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        let (kind, size) = next_box(rest).ok()??;
        let head = if rest[..4] == [0, 0, 0, 1] { 16 } else { 8 };
        let (this, after) = rest.split_at(size);
        rest = after;
        Some((kind, &this[head..]))
    })
}

fn child<'a>(payload: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(payload).find(|(k, _)| k == kind).map(|(_, p)| p)
}

fn u32_at(b: &[u8], at: usize, field: &'static str) -> Result<u32, Fmp4Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().expect("4 bytes")))
        .ok_or(Fmp4Error::Truncated(field))
}

fn u64_at(b: &[u8], at: usize, field: &'static str) -> Result<u64, Fmp4Error> {
    b.get(at..at + 8)
        .map(|s| u64::from_be_bytes(s.try_into().expect("8 bytes")))
        .ok_or(Fmp4Error::Truncated(field))
}

fn read_moov(moov: &[u8]) -> Result<HashMap<u32, Track>, Fmp4Error> {
    let mut defaults = HashMap::new();
    if let Some(mvex) = child(moov, b"mvex") {
        for (_, trex) in children(mvex).filter(|(k, _)| k == b"trex") {
            defaults.insert(
                u32_at(trex, 4, "trex track")?,
                u32_at(trex, 20, "trex flags")?,
            );
        }
    }
    let mut tracks = HashMap::new();
    for (_, trak) in children(moov).filter(|(k, _)| k == b"trak") {
        let tkhd = child(trak, b"tkhd").ok_or(Fmp4Error::Truncated("tkhd"))?;
        let id_at = if tkhd.first() == Some(&1) { 20 } else { 12 };
        let id = u32_at(tkhd, id_at, "tkhd track")?;
        let mdia = child(trak, b"mdia").ok_or(Fmp4Error::Truncated("mdia"))?;
        let mdhd = child(mdia, b"mdhd").ok_or(Fmp4Error::Truncated("mdhd"))?;
        let scale_at = if mdhd.first() == Some(&1) { 20 } else { 12 };
        let hdlr = child(mdia, b"hdlr").ok_or(Fmp4Error::Truncated("hdlr"))?;
        tracks.insert(
            id,
            Track {
                video: hdlr.get(8..12) == Some(b"vide"),
                timescale: u32_at(mdhd, scale_at, "mdhd timescale")?,
                default_flags: defaults.get(&id).copied().unwrap_or(0),
            },
        );
    }
    Ok(tracks)
}

/// The first `traf` of a fragment (the muxer writes one track per fragment).
fn read_moof(moof: &[u8]) -> Result<Fragment, Fmp4Error> {
    let traf = child(moof, b"traf").ok_or(Fmp4Error::Truncated("traf"))?;
    let tfhd = child(traf, b"tfhd").ok_or(Fmp4Error::Truncated("tfhd"))?;
    let flags = u32_at(tfhd, 0, "tfhd flags")? & 0xff_ffff;
    let track_id = u32_at(tfhd, 4, "tfhd track")?;
    let mut at = 8;
    let mut field = |present: bool, len: usize| {
        let here = at;
        if present {
            at += len;
        }
        present.then_some(here)
    };
    field(flags & 0x01 != 0, 8);
    field(flags & 0x02 != 0, 4);
    let default_duration = field(flags & 0x08 != 0, 4);
    field(flags & 0x10 != 0, 4);
    let default_flags = field(flags & 0x20 != 0, 4);
    let default_duration = match default_duration {
        Some(at) => Some(u32_at(tfhd, at, "tfhd duration")?),
        None => None,
    };
    let default_flags = match default_flags {
        Some(at) => Some(u32_at(tfhd, at, "tfhd sample flags")?),
        None => None,
    };
    let decode_time = match child(traf, b"tfdt") {
        Some(t) if t.first() == Some(&1) => u64_at(t, 4, "tfdt time")?,
        Some(t) => u64::from(u32_at(t, 4, "tfdt time")?),
        None => 0,
    };
    let trun = child(traf, b"trun").ok_or(Fmp4Error::Truncated("trun"))?;
    let tflags = u32_at(trun, 0, "trun flags")? & 0xff_ffff;
    let count = u32_at(trun, 4, "trun count")?;
    let mut at = 8 + if tflags & 0x01 != 0 { 4 } else { 0 };
    let first_flags = if tflags & 0x04 != 0 {
        at += 4;
        Some(u32_at(trun, at - 4, "trun first flags")?)
    } else {
        None
    };
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&f| tflags & f != 0)
        .count()
        * 4;
    let mut duration = 0u64;
    let mut first_sample_flags = first_flags;
    for i in 0..count as usize {
        let sample = at + i * per_sample;
        duration += u64::from(if tflags & 0x100 != 0 {
            u32_at(trun, sample, "trun sample duration")?
        } else {
            default_duration.unwrap_or(0)
        });
        if i == 0 && first_sample_flags.is_none() && tflags & 0x400 != 0 {
            let skip = [0x100, 0x200].iter().filter(|&&f| tflags & f != 0).count() * 4;
            first_sample_flags = Some(u32_at(trun, sample + skip, "trun sample flags")?);
        }
    }
    Ok(Fragment {
        track_id,
        decode_time,
        duration,
        first_sample_flags: first_sample_flags.or(default_flags),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    /// A track: id, handler, timescale (version-0 tkhd and mdhd).
    fn trak(id: u32, handler: &[u8; 4], timescale: u32) -> Vec<u8> {
        let tkhd = boxed(b"tkhd", &words(&[0, 0, 0, id, 0, 0]));
        let mdhd = boxed(b"mdhd", &words(&[0, 0, 0, timescale, 0, 0]));
        let mut hdlr = words(&[0, 0]);
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0; 13]);
        let mdia = [mdhd, boxed(b"hdlr", &hdlr)].concat();
        boxed(b"trak", &[tkhd, boxed(b"mdia", &mdia)].concat())
    }

    /// ftyp + moov: video track 1 at 30 000/s, sound track 2 at 48 000/s; trex defaults
    /// say non-sync for video.
    fn header() -> Vec<u8> {
        let trex = |id, flags| boxed(b"trex", &words(&[0, id, 1, 0, 0, flags]));
        let mvex = boxed(b"mvex", &[trex(1, NON_SYNC), trex(2, 0)].concat());
        let moov = [trak(1, b"vide", 30_000), trak(2, b"soun", 48_000), mvex].concat();
        [boxed(b"ftyp", b"iso6cmfc"), boxed(b"moov", &moov)].concat()
    }

    /// moof + mdat: `samples` of `duration` each; the first one's flags given in the trun
    /// when `first` is set (sync or not), else left to the trex default.
    fn fragment(
        track: u32,
        time: u64,
        samples: u32,
        duration: u32,
        first: Option<bool>,
    ) -> Vec<u8> {
        let tfhd = boxed(b"tfhd", &words(&[0x08, track, duration]));
        let mut tfdt = words(&[1 << 24]);
        tfdt.extend_from_slice(&time.to_be_bytes());
        let trun = match first {
            Some(sync) => {
                let flags = if sync { 0 } else { NON_SYNC };
                boxed(b"trun", &words(&[0x04, samples, flags]))
            }
            None => boxed(b"trun", &words(&[0, samples])),
        };
        let traf = boxed(b"traf", &[tfhd, boxed(b"tfdt", &tfdt), trun].concat());
        let moof = boxed(b"moof", &[boxed(b"mfhd", &words(&[0, 1])), traf].concat());
        [moof, boxed(b"mdat", &vec![0xab; samples as usize * 10])].concat()
    }

    const MS: u64 = 1_000_000;

    /// 30 fps video in fragments of 10 pictures (a keyframe every `gop` fragments), each
    /// followed by a sound fragment of the same time.
    fn stream(fragments: u64, gop: u64) -> Vec<u8> {
        let mut b = header();
        for k in 0..fragments {
            b.extend(fragment(1, k * 10_000, 10, 1000, Some(k % gop == 0)));
            b.extend(fragment(2, k * 16_000, 16, 1000, None));
        }
        b
    }

    fn parts(pieces: &[Piece]) -> Vec<(u64, bool, bool)> {
        pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Part {
                    duration_ns,
                    independent,
                    starts_segment,
                    ..
                } => Some((duration_ns / MS, *independent, *starts_segment)),
                Piece::Header(_) => None,
            })
            .collect()
    }

    #[test]
    fn parts_close_at_their_target_and_segments_start_at_keyframes() {
        // 333-ms fragments, a keyframe every 6 (2 s); parts of 0.5 s, segments of 2 s.
        let mut c = Chunker::new(500 * MS, 2000 * MS);
        let pieces = c.push(&stream(13, 6)).unwrap();
        assert!(matches!(&pieces[0], Piece::Header(h) if h.starts_with(&header()[..8])));
        let got = parts(&pieces[1..]);
        // Two fragments make a part (666 ms ≥ 500); the keyframe every 6 starts a segment.
        let one = [(666, true, true), (666, false, false), (666, false, false)];
        assert_eq!(
            got,
            [one, one].concat(),
            "the 13th fragment waits for the next"
        );
    }

    #[test]
    fn a_part_holds_its_sound_and_the_bytes_are_the_stream() {
        let mut c = Chunker::new(300 * MS, 2000 * MS);
        let bytes = stream(6, 6);
        // Fed in small pieces, as a pipe would.
        let pieces: Vec<Piece> = bytes.chunks(7).flat_map(|b| c.push(b).unwrap()).collect();
        let mut joined: Vec<u8> = Vec::new();
        for p in &pieces {
            match p {
                Piece::Header(h) => joined.extend(h),
                Piece::Part { bytes, .. } => joined.extend(bytes),
            }
        }
        // Every byte but the last sound fragment (waiting for its pictures), in order.
        let last_sound = fragment(2, 5 * 16_000, 16, 1000, None);
        assert_eq!(joined, bytes[..bytes.len() - last_sound.len()]);
        assert_eq!(parts(&pieces).len(), 6);
    }

    #[test]
    fn pictures_before_the_first_keyframe_are_dropped() {
        let mut c = Chunker::new(300 * MS, 2000 * MS);
        let mut b = header();
        b.extend(fragment(2, 0, 16, 1000, None));
        b.extend(fragment(1, 0, 10, 1000, None)); // trex default: not a keyframe
        b.extend(fragment(1, 10_000, 10, 1000, Some(true)));
        let got = parts(&c.push(&b).unwrap());
        assert_eq!(got, [(333, true, true)]);
    }

    #[test]
    fn a_late_keyframe_makes_a_longer_segment_and_an_early_one_none() {
        let mut c = Chunker::new(1000 * MS, 2000 * MS);
        let mut b = header();
        // Keyframes at fragments 0, 3 (1 s: too early for a 2-s segment) and 7.
        for k in 0..9u64 {
            b.extend(fragment(
                1,
                k * 10_000,
                10,
                1000,
                Some([0, 3, 7].contains(&k)),
            ));
        }
        // Parts of 3 fragments (999 ms ≥ 900): 0–2, 3–5 (independent: it starts with the
        // early keyframe, but in the same segment), then 6 alone before the keyframe at 7.
        let got = parts(&c.push(&b).unwrap());
        assert_eq!(
            got,
            [(999, true, true), (999, true, false), (333, false, false)]
        );
        let more = c.push(&fragment(1, 90_000, 10, 1000, Some(false))).unwrap();
        assert_eq!(parts(&more), [(999, true, true)]);
    }

    #[test]
    fn a_new_header_starts_again() {
        let mut c = Chunker::new(300 * MS, 2000 * MS);
        let mut b = stream(2, 6);
        b.extend(stream(1, 6));
        let pieces = c.push(&b).unwrap();
        let headers = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Header(_)))
            .count();
        assert_eq!(headers, 2);
        assert_eq!(
            parts(&pieces),
            [(333, true, true), (333, false, false), (333, true, true)]
        );
    }

    #[test]
    fn bad_bytes_are_named_errors_never_a_panic() {
        let mut c = Chunker::new(300 * MS, 2000 * MS);
        let err = c.push(&[0, 0, 0, 4, b'm', b'o', b'o', b'f']).unwrap_err();
        assert_eq!(err.to_string(), "fMP4 box \"moof\" claims 4 bytes");
        let mut c = Chunker::new(300 * MS, 2000 * MS);
        let err = c.push(&fragment(1, 0, 10, 1000, Some(true))).unwrap_err();
        assert!(
            err.to_string().contains("track 1 is not in the header"),
            "{err}"
        );
        let mut c = Chunker::new(300 * MS, 2000 * MS);
        let mut b = header();
        b.extend(boxed(b"moof", &boxed(b"traf", &boxed(b"tfhd", &[0, 0]))));
        assert!(matches!(c.push(&b), Err(Fmp4Error::Truncated(_))));
        // Every cut of a real stream, and every byte flipped in its header: an answer.
        let s = stream(3, 6);
        for n in 0..s.len() {
            let _ = Chunker::new(300 * MS, 2000 * MS).push(&s[..n]);
        }
        for n in 0..header().len() {
            let mut bad = s.clone();
            bad[n] ^= 0xff;
            let _ = Chunker::new(300 * MS, 2000 * MS).push(&bad);
        }
    }
}
