//! Watching the box's HLS from outside, as a player would: a thread polls the first rung's
//! media playlist every half second and keeps which segments it saw and when a new one
//! appeared. Judged afterwards: the longest time without a new segment, and segments that
//! were never seen between the first and the last (a hole in the stream).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Seen {
    segments: BTreeSet<u64>,
    /// When the newest segment number last grew.
    last_new: Option<Instant>,
    longest_stall: Duration,
    polls: u32,
    failed_polls: u32,
}

pub(crate) struct Watch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
    started: Instant,
}

/// The media sequence numbers a playlist lists.
pub(crate) fn segment_numbers(text: &str) -> Option<Vec<u64>> {
    match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
        Ok(p) => Some(
            (0..p.segments.len() as u64)
                .map(|i| p.media_sequence + i)
                .collect(),
        ),
        Err(_) => None,
    }
}

impl Watch {
    pub(crate) fn start(port: u16, token: &str, rung: &str) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let path = format!("/hls/{rung}/index.m3u8");
        let bearer = format!("Bearer {token}");
        let (s, k) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let r =
                    fourcast_e2e::http_request(port, "GET", &path, &[("Authorization", &bearer)]);
                let numbers = r
                    .ok()
                    .filter(|r| r.status == 200)
                    .and_then(|r| segment_numbers(&r.text()));
                let now = Instant::now();
                let mut seen = k.lock().unwrap_or_else(|e| e.into_inner());
                seen.polls += 1;
                match numbers {
                    Some(n) if !n.is_empty() => {
                        let newest = seen.segments.last().copied();
                        seen.segments.extend(n.iter().copied());
                        if seen.segments.last().copied() != newest {
                            seen.last_new = Some(now);
                        }
                    }
                    _ => seen.failed_polls += 1,
                }
                if let Some(t) = seen.last_new {
                    seen.longest_stall = seen.longest_stall.max(now - t);
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Watch {
            stop,
            seen,
            thread: Some(thread),
            started: Instant::now(),
        }
    }

    /// (longest stall, segments missing between the first and last seen, segments seen,
    /// seconds watched)
    pub(crate) fn finish(mut self) -> (f64, Vec<u64>, usize, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let missing = match (seen.segments.first(), seen.segments.last()) {
            (Some(&a), Some(&b)) => (a..=b).filter(|n| !seen.segments.contains(n)).collect(),
            _ => Vec::new(),
        };
        (
            seen.longest_stall.as_secs_f64(),
            missing,
            seen.segments.len(),
            self.started.elapsed().as_secs_f64(),
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_lists_its_segment_numbers() {
        let text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n\
                    #EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:2.0,\na.ts\n#EXTINF:2.0,\nb.ts\n";
        assert_eq!(segment_numbers(text), Some(vec![41, 42]));
        assert_eq!(segment_numbers("not a playlist"), None);
    }
}
