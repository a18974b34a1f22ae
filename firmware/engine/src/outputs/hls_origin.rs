//! The HLS origin on disk: one folder per rung with its live playlist and segments, and the
//! multivariant playlist, kept up to date by the rungs' segmenters (`ts_segmenter`) as they
//! open and close segments.
//!
//! Playlists are written atomically (temporary file + rename), so the HTTP server never
//! serves half a playlist. Segments are deleted only after their grace period (RFC 8216
//! §6.2.2), so disk use is bounded by about twice the window per rung.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fourcast_config::Config;
use fourcast_hls::{MediaPlaylist, Segment, Variant, render_multivariant};

use crate::EngineEvent;

pub(crate) const MASTER: &str = "master.m3u8";
pub(crate) const MEDIA: &str = "index.m3u8";
/// The program's audio, as CODECS names it: AAC-LC.
const AAC_LC: &str = "mp4a.40.2";

struct Rung {
    name: String,
    width: u32,
    height: u32,
    playlist: MediaPlaylist,
    codec: Option<String>,
    files_made: u64,
    /// Segment start (running time, ns) by file path, from fragment-opened.
    opened: HashMap<String, u64>,
}

struct State {
    rungs: Vec<Rung>,
    /// Rungs no longer in the ladder: their files go once their grace period is over.
    retired: Vec<(PathBuf, Duration)>,
    fps: u32,
}

pub struct HlsOrigin {
    dir: PathBuf,
    /// Wall clock (ms since the Unix epoch) at engine running time zero.
    epoch_wall_ms: u64,
    started: Instant,
    state: Mutex<State>,
}

impl HlsOrigin {
    /// An empty origin in `dir` (anything left there by an earlier run is removed).
    pub fn new(dir: &Path, epoch_wall_ms: u64) -> std::io::Result<HlsOrigin> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        Ok(HlsOrigin {
            dir: dir.to_path_buf(),
            epoch_wall_ms,
            started: Instant::now(),
            state: Mutex::new(State {
                rungs: Vec::new(),
                retired: Vec::new(),
                fps: 30,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets the rungs for a (re)built ladder. Rungs that stay keep their playlist, with a
    /// discontinuity where the new encoder starts; new rungs start empty; removed rungs
    /// leave the multivariant playlist now and the disk after their grace period.
    pub fn configure(&self, config: &Config) -> std::io::Result<()> {
        let mut st = self.lock();
        let now = self.now();
        let mut old: Vec<Rung> = std::mem::take(&mut st.rungs);
        let target = Duration::from_secs(config.outputs.hls.segment_seconds.into());
        let window = config.outputs.hls.window as usize;
        for r in &config.ladder.rungs {
            std::fs::create_dir_all(self.dir.join(&r.name))?;
            let rung = match old.iter().position(|o| o.name == r.name) {
                Some(i) if old[i].width == r.width && old[i].height == r.height => {
                    let mut kept = old.remove(i);
                    kept.playlist.mark_discontinuity();
                    kept.codec = None;
                    kept.opened.clear();
                    kept
                }
                _ => Rung {
                    name: r.name.clone(),
                    width: r.width,
                    height: r.height,
                    playlist: MediaPlaylist::new(target, window),
                    codec: None,
                    files_made: 0,
                    opened: HashMap::new(),
                },
            };
            st.rungs.push(rung);
        }
        for gone in old {
            let grace = gone.playlist.target_duration_secs() * (window as u64 + 1);
            st.retired
                .push((self.dir.join(&gone.name), now + Duration::from_secs(grace)));
            // A stale playlist must not be served as live.
            let _ = std::fs::remove_file(self.dir.join(&gone.name).join(MEDIA));
        }
        st.fps = config.program.fps;
        self.write_master(&st)
    }

    /// File path for a rung's next segment (called by the segmenter).
    pub fn next_location(&self, rung: &str) -> PathBuf {
        let mut st = self.lock();
        let dir = self.dir.join(rung);
        match st.rungs.iter_mut().find(|r| r.name == rung) {
            Some(r) => {
                r.files_made += 1;
                // The run's start time in the name: a name is never reused, even across
                // restarts, so segments can be cached as immutable.
                dir.join(format!(
                    "seg{:x}-{:06}.ts",
                    self.epoch_wall_ms / 1000,
                    r.files_made
                ))
            }
            None => dir.join("orphan.ts"),
        }
    }

    pub fn set_codec(&self, rung: &str, codec: Option<String>) {
        let mut st = self.lock();
        if let Some(r) = st.rungs.iter_mut().find(|r| r.name == rung) {
            r.codec = codec;
        }
    }

    pub fn fragment_opened(&self, rung: &str, location: &str, running_ns: u64) {
        let mut st = self.lock();
        if let Some(r) = st.rungs.iter_mut().find(|r| r.name == rung) {
            r.opened.insert(location.to_string(), running_ns);
        }
    }

    /// A segment is complete on disk: list it, write the playlists, delete expired files.
    pub fn fragment_closed(&self, rung: &str, location: &str, end_ns: u64) -> Option<EngineEvent> {
        let now = self.now();
        let mut st = self.lock();
        let r = st.rungs.iter_mut().find(|r| r.name == rung)?;
        let start_ns = r.opened.remove(location)?;
        let path = Path::new(location);
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let uri = path.file_name()?.to_string_lossy().into_owned();
        let duration = Duration::from_nanos(end_ns.saturating_sub(start_ns));
        if bytes == 0 || duration.is_zero() {
            let _ = std::fs::remove_file(path);
            return None;
        }
        let sequence = r.playlist.next_sequence();
        r.playlist.push(
            Segment {
                uri: uri.clone(),
                duration,
                bytes,
                program_date_time_ms: self.epoch_wall_ms + start_ns / 1_000_000,
            },
            now,
        );
        let dir = self.dir.join(&r.name);
        for old in r.playlist.expired(now) {
            let _ = std::fs::remove_file(dir.join(old));
        }
        if let Err(e) = write_atomic(&dir.join(MEDIA), &r.playlist.render()) {
            tracing::error!(rung, "cannot write playlist: {e}");
        }
        let event = EngineEvent::SegmentPublished {
            rung: rung.to_string(),
            sequence,
            duration_s: duration.as_secs_f64(),
            bytes,
        };
        st.retired.retain(|(dir, after)| {
            let keep = *after > now;
            if !keep {
                let _ = std::fs::remove_dir_all(dir);
            }
            keep
        });
        if let Err(e) = self.write_master(&st) {
            tracing::error!("cannot write multivariant playlist: {e}");
        }
        Some(event)
    }

    /// The stream has ended: every playlist gets `EXT-X-ENDLIST`.
    pub fn finish(&self) {
        let mut st = self.lock();
        for r in &mut st.rungs {
            if r.playlist.is_empty() {
                continue;
            }
            r.playlist.end();
            let _ = write_atomic(&self.dir.join(&r.name).join(MEDIA), &r.playlist.render());
        }
    }

    /// Segments listed per rung (for status).
    pub fn segments(&self, rung: &str) -> u64 {
        let st = self.lock();
        st.rungs
            .iter()
            .find(|r| r.name == rung)
            .map(|r| r.playlist.next_sequence())
            .unwrap_or(0)
    }

    /// Written once every rung has a segment and a known codec; rewritten as rates move.
    fn write_master(&self, st: &State) -> std::io::Result<()> {
        let mut variants = Vec::new();
        for r in &st.rungs {
            let (Some(codec), Some(peak), Some(avg)) = (
                &r.codec,
                r.playlist.peak_bandwidth(),
                r.playlist.average_bandwidth(),
            ) else {
                return Ok(());
            };
            variants.push(Variant {
                uri: format!("{}/{MEDIA}", r.name),
                bandwidth: peak,
                average_bandwidth: avg,
                codecs: format!("{codec},{AAC_LC}"),
                width: r.width,
                height: r.height,
                frame_rate: f64::from(st.fps),
            });
        }
        if variants.is_empty() {
            return Ok(());
        }
        write_atomic(&self.dir.join(MASTER), &render_multivariant(&variants))
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes `text` to `path` so that readers see the old or the new file, never a mix.
pub(crate) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.flush()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn origin(tag: &str) -> (HlsOrigin, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("fourcast-origin-{tag}-{}", std::process::id()));
        let o = HlsOrigin::new(&dir, 1_800_000_000_000).expect("origin dir");
        let config = fourcast_config::default_for_board("virtual").expect("virtual board");
        o.configure(&config).expect("configure");
        (o, dir)
    }

    /// One segment of `rung` from `start` to `end` seconds, `bytes` long on disk.
    fn segment(
        o: &HlsOrigin,
        rung: &str,
        start: u64,
        end: u64,
        bytes: usize,
    ) -> Option<EngineEvent> {
        let path = o.next_location(rung);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![0x47; bytes]).unwrap();
        let location = path.to_string_lossy().into_owned();
        o.fragment_opened(rung, &location, start * S);
        o.fragment_closed(rung, &location, end * S)
    }

    #[test]
    fn closed_segments_are_listed_under_names_that_never_repeat() {
        let (o, dir) = origin("list");
        let a = o.next_location("720p");
        let b = o.next_location("720p");
        assert_ne!(a, b);
        assert!(a.starts_with(dir.join("720p")));
        let event = segment(&o, "720p", 0, 2, 1880).expect("published");
        assert!(
            matches!(event, EngineEvent::SegmentPublished { ref rung, bytes: 1880, .. } if rung == "720p"),
            "{event:?}"
        );
        let playlist = std::fs::read_to_string(dir.join("720p").join(MEDIA)).unwrap();
        assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
        assert_eq!(playlist.matches("#EXTINF:").count(), 1, "{playlist}");
        assert!(playlist.contains("#EXT-X-PROGRAM-DATE-TIME:"), "{playlist}");
        assert_eq!(o.segments("720p"), 1);
        // No temporary file is left beside an atomically written playlist.
        let names: Vec<String> = std::fs::read_dir(dir.join("720p"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| n == MEDIA || n.ends_with(".ts")),
            "{names:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_empty_or_zero_length_segment_is_dropped_not_listed() {
        let (o, dir) = origin("empty");
        assert!(segment(&o, "480p", 0, 2, 0).is_none(), "no bytes");
        assert!(segment(&o, "480p", 4, 4, 188).is_none(), "no duration");
        assert_eq!(o.segments("480p"), 0);
        // An unknown rung or a segment never opened is ignored.
        assert!(o.fragment_closed("4k", "/nowhere.ts", S).is_none());
        assert!(o.fragment_closed("480p", "/never-opened.ts", S).is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_multivariant_playlist_appears_once_every_rung_has_a_segment_and_a_codec() {
        let (o, dir) = origin("master");
        let master = dir.join(MASTER);
        for rung in ["720p", "480p", "360p"] {
            assert!(!master.exists() || std::fs::read_to_string(&master).unwrap().is_empty());
            o.set_codec(rung, Some("avc1.64001f".into()));
            segment(&o, rung, 0, 2, 188 * 50).expect("published");
        }
        let text = std::fs::read_to_string(&master).expect("master written");
        assert_eq!(text.matches("#EXT-X-STREAM-INF:").count(), 3, "{text}");
        assert!(
            text.contains("RESOLUTION=1280x720") && text.contains("mp4a.40.2"),
            "{text}"
        );
        o.finish();
        let media = std::fs::read_to_string(dir.join("360p").join(MEDIA)).unwrap();
        assert!(media.trim_end().ends_with("#EXT-X-ENDLIST"), "{media}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
