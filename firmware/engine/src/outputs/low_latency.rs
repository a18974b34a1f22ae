//! The low-latency HLS origin (`/hls/ll/`): per rung, the fMP4 muxer's stream cut into parts
//! and segments ([`Chunker`]), kept in memory for the playlist's window and its grace period,
//! and the playlist rendered per request, so a delta update or a rendition report is always
//! current. A segment is served as its parts laid end to end (the same bytes).
//!
//! Requests that must wait (`_HLS_msn`/`_HLS_part`, a hinted part) watch [`changes`]: the
//! counter moves whenever a part lands.
//!
//! [`changes`]: LowLatencyOrigin::changes

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fourcast_config::Config;
pub use fourcast_hls::Reload;
use fourcast_hls::{
    LowLatencyPlaylist, Part, PreloadHint, RenditionReport, Segment, Variant, render_multivariant,
};
use fourcast_media_core::fmp4::{Chunker, Piece};

/// The playlist in each rung's folder, and the multivariant playlist.
pub const PLAYLIST: &str = "index.m3u8";
pub const MASTER: &str = "master.m3u8";
const AAC_LC: &str = "mp4a.40.2";

/// What a request for a file in a rung's folder finds.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    Bytes(Arc<Vec<u8>>),
    /// The hinted part, not written yet: wait for it.
    NotYet,
    Missing,
}

struct Rung {
    name: String,
    width: u32,
    height: u32,
    codec: Option<String>,
    playlist: LowLatencyPlaylist,
    chunker: Chunker,
    /// Headers by URI (the newest is the one parts follow now).
    inits: HashMap<String, Arc<Vec<u8>>>,
    generation: u32,
    parts: HashMap<String, Arc<Vec<u8>>>,
    /// Wall time of the open segment's start, ms.
    open_wall_ms: Option<u64>,
    open_bytes: u64,
    open_ns: u64,
    /// The stream broke (bad bytes): parts wait for the next header.
    broken: bool,
    /// (segment s, part ms, window) the playlist was made for.
    shape: (u32, u32, u32),
}

struct State {
    rungs: Vec<Rung>,
    fps: u32,
    target: Duration,
}

pub struct LowLatencyOrigin {
    /// A prefix that makes every name of this run new (like the TS origin's).
    run: String,
    epoch_wall_ms: u64,
    started: Instant,
    state: Mutex<State>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl LowLatencyOrigin {
    pub fn new(epoch_wall_ms: u64) -> Self {
        Self {
            run: format!("{:x}", epoch_wall_ms / 1000),
            epoch_wall_ms,
            started: Instant::now(),
            state: Mutex::new(State {
                rungs: Vec::new(),
                fps: 30,
                target: Duration::from_secs(2),
            }),
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// Moves whenever a part or segment lands (for requests that wait).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The rungs of a (re)built ladder. Rungs that stay keep their playlist (the new
    /// muxer's header comes after a discontinuity); the others start empty or go.
    pub fn configure(&self, config: &Config) {
        let h = &config.outputs.hls;
        let target = Duration::from_secs(h.segment_seconds.into());
        let part = Duration::from_millis(h.part_ms.into());
        let mut st = self.lock();
        let mut old = std::mem::take(&mut st.rungs);
        let shape = (h.segment_seconds, h.part_ms, h.window);
        if h.low_latency {
            for r in &config.ladder.rungs {
                let kept = old
                    .iter()
                    .position(|o| {
                        o.name == r.name
                            && o.width == r.width
                            && o.height == r.height
                            && o.shape == shape
                    })
                    .map(|i| old.remove(i));
                let rung = kept.unwrap_or_else(|| Rung {
                    name: r.name.clone(),
                    width: r.width,
                    height: r.height,
                    codec: None,
                    playlist: LowLatencyPlaylist::new(target, h.window as usize, part, ""),
                    chunker: Chunker::new(0, 0),
                    inits: HashMap::new(),
                    generation: 0,
                    parts: HashMap::new(),
                    open_wall_ms: None,
                    open_bytes: 0,
                    open_ns: 0,
                    broken: false,
                    shape,
                });
                st.rungs.push(Rung {
                    chunker: Chunker::new(part.as_nanos() as u64, target.as_nanos() as u64),
                    codec: None,
                    broken: false,
                    ..rung
                });
            }
        }
        st.fps = config.program.fps;
        st.target = target;
        drop(st);
        self.changes.send_modify(|n| *n += 1);
    }

    pub fn set_codec(&self, rung: &str, codec: Option<String>) {
        if let Some(r) = self.lock().rungs.iter_mut().find(|r| r.name == rung) {
            r.codec = codec;
        }
    }

    /// The next bytes of a rung's fMP4 stream.
    pub fn push(&self, rung: &str, bytes: &[u8]) {
        let now = self.started.elapsed();
        let wall_ms = self.epoch_wall_ms + now.as_millis() as u64;
        let mut st = self.lock();
        let Some(r) = st.rungs.iter_mut().find(|r| r.name == rung) else {
            return;
        };
        let pieces = match r.chunker.push(bytes) {
            Ok(p) => p,
            Err(e) => {
                if !r.broken {
                    tracing::error!(rung, "low-latency HLS stream unreadable: {e}");
                }
                r.broken = true;
                let (segment_s, part_ms, _) = r.shape;
                r.chunker = Chunker::new(
                    u64::from(part_ms) * 1_000_000,
                    u64::from(segment_s) * 1_000_000_000,
                );
                return;
            }
        };
        let mut landed = false;
        for piece in pieces {
            landed = true;
            match piece {
                Piece::Header(bytes) => self.header(r, bytes, now),
                Piece::Part {
                    bytes,
                    duration_ns,
                    independent,
                    starts_segment,
                } => {
                    if starts_segment {
                        self.finish_segment(r, now);
                    }
                    self.part(r, bytes, duration_ns, independent, wall_ms);
                }
            }
        }
        drop(st);
        if landed {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    fn header(&self, r: &mut Rung, bytes: Vec<u8>, now: Duration) {
        self.finish_segment(r, now);
        r.generation += 1;
        let uri = format!("{}-{}-init.mp4", self.run, r.generation);
        r.inits.insert(uri.clone(), Arc::new(bytes));
        r.playlist.set_map(&uri);
        r.broken = false;
    }

    fn part(&self, r: &mut Rung, bytes: Vec<u8>, ns: u64, independent: bool, wall_ms: u64) {
        if r.broken {
            return;
        }
        let seq = r.playlist.open_sequence();
        let n = r.playlist.next_part();
        let uri = self.part_uri(seq, n);
        if r.open_wall_ms.is_none() {
            r.open_wall_ms = Some(wall_ms.saturating_sub(ns / 1_000_000));
        }
        r.open_bytes += bytes.len() as u64;
        r.open_ns += ns;
        r.parts.insert(uri.clone(), Arc::new(bytes));
        // Keyframes come every segment target: a part that would run the segment past it
        // by more than half a part will be the next segment's first.
        let (target_ns, part_ns) = (r.shape.0 as u64 * 1_000_000_000, ns.max(1));
        let next = if r.open_ns + part_ns > target_ns + part_ns / 2 {
            self.part_uri(seq + 1, 0)
        } else {
            self.part_uri(seq, n + 1)
        };
        let hint = PreloadHint {
            uri: next,
            byte_range_start: None,
        };
        r.playlist.push_part(
            Part {
                uri,
                duration: Duration::from_nanos(ns),
                independent,
                byte_range: None,
            },
            Some(hint),
        );
    }

    /// The open segment is complete: list it (its parts stay), drop what expired.
    fn finish_segment(&self, r: &mut Rung, now: Duration) {
        let Some(wall_ms) = r.open_wall_ms.take() else {
            return;
        };
        let uri = format!("{}-{:06}.m4s", self.run, r.playlist.open_sequence());
        let segment = Segment {
            uri,
            duration: Duration::from_nanos(std::mem::take(&mut r.open_ns)),
            bytes: std::mem::take(&mut r.open_bytes),
            program_date_time_ms: wall_ms,
        };
        // The next part's name is not known until it starts (it may be the next segment's
        // first): the hint names it once a part of it exists.
        r.playlist.push_segment(segment, None, now);
        for gone in r.playlist.expired(now) {
            r.parts.remove(&gone);
        }
        // A header goes once no segment in the playlist or its grace period follows it.
        let used: std::collections::HashSet<&str> = r.playlist.maps().collect();
        r.inits.retain(|uri, _| used.contains(uri.as_str()));
    }

    fn part_uri(&self, seq: u64, n: u64) -> String {
        format!("{}-{seq:06}.{n}.m4s", self.run)
    }

    /// `ll/master.m3u8`, once every rung has a codec and a segment.
    pub fn master(&self) -> Option<String> {
        let st = self.lock();
        let mut variants = Vec::new();
        for r in &st.rungs {
            let s = r.playlist.segments();
            variants.push(Variant {
                uri: format!("{}/{PLAYLIST}", r.name),
                bandwidth: s.peak_bandwidth()?,
                average_bandwidth: s.average_bandwidth()?,
                codecs: format!("{},{AAC_LC}", r.codec.as_ref()?),
                width: r.width,
                height: r.height,
                frame_rate: f64::from(st.fps),
            });
        }
        (!variants.is_empty()).then(|| render_multivariant(&variants))
    }

    /// What a playlist request for `rung` asking for `msn`/`part` does now (`None`: no such
    /// rung).
    pub fn reload(&self, rung: &str, msn: Option<u64>, part: Option<u64>) -> Option<Reload> {
        let st = self.lock();
        let r = st.rungs.iter().find(|r| r.name == rung)?;
        if r.playlist.last().is_none() {
            // Nothing yet: a player asking for the start waits for it.
            return Some(match msn {
                Some(m) if m > 2 => Reload::Refuse(format!("_HLS_msn={m}: nothing is out yet")),
                _ => Reload::Wait,
            });
        }
        Some(r.playlist.reload(msn, part))
    }

    /// The rung's playlist now, as a delta update with `skip`, reporting every other rung.
    pub fn playlist(&self, rung: &str, skip: bool) -> Option<String> {
        let st = self.lock();
        let r = st.rungs.iter().find(|r| r.name == rung)?;
        let reports: Vec<RenditionReport> = st
            .rungs
            .iter()
            .filter(|o| o.name != rung)
            .filter_map(|o| {
                let (last_msn, last_part) = o.playlist.last()?;
                Some(RenditionReport {
                    uri: format!("../{}/{PLAYLIST}", o.name),
                    last_msn,
                    last_part,
                })
            })
            .collect();
        Some(r.playlist.render(skip, &reports))
    }

    /// A header, part or segment of `rung` by name.
    pub fn file(&self, rung: &str, name: &str) -> Found {
        let st = self.lock();
        let Some(r) = st.rungs.iter().find(|r| r.name == rung) else {
            return Found::Missing;
        };
        if let Some(b) = r.inits.get(name).or_else(|| r.parts.get(name)) {
            return Found::Bytes(b.clone());
        }
        if let Some(parts) = r.playlist.parts_of(name) {
            let mut joined = Vec::new();
            for p in parts {
                match r.parts.get(&p.uri) {
                    Some(b) => joined.extend_from_slice(b),
                    None => return Found::Missing,
                }
            }
            return Found::Bytes(Arc::new(joined));
        }
        let seq = r.playlist.open_sequence();
        let hinted = [
            self.part_uri(seq, r.playlist.next_part()),
            self.part_uri(seq + 1, 0),
        ];
        if hinted.iter().any(|h| h == name) {
            Found::NotYet
        } else {
            Found::Missing
        }
    }

    /// How long a request may wait: three target durations (rfc8216bis §6.2.5.2).
    pub fn wait_limit(&self) -> Duration {
        self.lock().target * 3
    }

    /// The stream ended: every playlist gets `EXT-X-ENDLIST`.
    pub fn finish(&self) {
        let now = self.started.elapsed();
        let mut st = self.lock();
        for r in &mut st.rungs {
            self.finish_segment(r, now);
            r.playlist.end();
        }
        drop(st);
        self.changes.send_modify(|n| *n += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
