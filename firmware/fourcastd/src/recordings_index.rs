//! The index of recordings in the store, kept true to the disk: entries are made when the
//! recorder opens a file and completed when it closes one; at start-up (after a power cut)
//! files still marked `recording` are measured, cut to their last whole packet and marked
//! `recovered`, and files the index does not know are added if the recorder named them
//! (`20261121-173045.ts`): nothing else in a shared directory is listed, trimmed,
//! served or deleted.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use fourcast_engine::ts_scan;
use fourcast_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Entry {
    pub id: u64,
    pub file: String,
    /// When the file was opened, ms since the Unix epoch.
    pub start_ms: u64,
    pub duration_s: f64,
    pub bytes: u64,
    pub codecs: String,
    /// `recording`, `complete`, or `recovered` (found after a crash, measured and repaired).
    pub state: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    file: String,
    start_ms: u64,
    duration_s: f64,
    bytes: u64,
    codecs: String,
    state: String,
}

const CODECS: &str = "h264,aac";
/// How much of each end of a file is read to find its first and last timestamps.
const ENDS: u64 = 2 << 20;

pub(crate) fn list(store: &Store) -> Result<Vec<Entry>, StoreError> {
    Ok(store
        .recordings()?
        .into_iter()
        .filter_map(|(id, json)| {
            let s: Stored = serde_json::from_str(&json).ok()?;
            Some(Entry {
                id,
                file: s.file,
                start_ms: s.start_ms,
                duration_s: s.duration_s,
                bytes: s.bytes,
                codecs: s.codecs,
                state: s.state,
            })
        })
        .collect())
}

fn put(store: &Store, e: &Entry) -> Result<u64, StoreError> {
    let json = serde_json::to_string(&Stored {
        file: e.file.clone(),
        start_ms: e.start_ms,
        duration_s: e.duration_s,
        bytes: e.bytes,
        codecs: e.codecs.clone(),
        state: e.state.clone(),
    })
    .expect("an entry always serialises");
    store.recording_put((e.id != 0).then_some(e.id), &json)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The duration of an MPEG-TS file and its whole-packet length, from its two ends, read
/// through one small buffer: a big transient allocation per closed file, on whichever
/// blocking thread ran it, stayed in that thread's allocator arena (the soak saw the box
/// grow by 7–8 MiB at every recording split).
pub(crate) fn measure(path: &Path) -> std::io::Result<ts_scan::TsSummary> {
    /// 348 packets: about 64 KiB.
    const CHUNK: usize = 188 * 348;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut buf = vec![0u8; CHUNK];
    let mut read_bounds = |f: &mut std::fs::File, from: u64, to: u64, stop_at_first: bool| {
        let mut bounds = ts_scan::PtsBounds::default();
        let mut at = from;
        f.seek(SeekFrom::Start(from))?;
        while at < to {
            let n = (to - at).min(CHUNK as u64) as usize;
            f.read_exact(&mut buf[..n])?;
            bounds = bounds.then(ts_scan::pts_bounds(&buf[..n]));
            at += n as u64;
            if stop_at_first && bounds.first.is_some() {
                break;
            }
        }
        std::io::Result::Ok(bounds)
    };
    let whole = len / 188 * 188;
    let both = if whole <= 2 * ENDS {
        read_bounds(&mut f, 0, whole, false)?
    } else {
        // The first timestamp from the head, the last from the tail.
        let head = read_bounds(&mut f, 0, ENDS / 188 * 188, true)?;
        let tail = read_bounds(&mut f, (whole - ENDS) / 188 * 188, whole, false)?;
        head.then(tail)
    };
    Ok(ts_scan::TsSummary {
        duration_s: both.duration_s(),
        // Whole packets from the start: anything after the last is a torn write.
        whole_len: len / 188 * 188,
        video_packets: both.video_packets,
    })
}

pub(crate) fn opened(store: &Store, file: &str) -> Result<u64, StoreError> {
    put(
        store,
        &Entry {
            id: 0,
            file: file.to_string(),
            start_ms: now_ms(),
            duration_s: 0.0,
            bytes: 0,
            codecs: CODECS.into(),
            state: "recording".into(),
        },
    )
}

/// The recorder closed `file`, measured beforehand (outside any lock) as `summary`.
pub(crate) fn closed(
    store: &Store,
    file: &str,
    summary: Option<ts_scan::TsSummary>,
) -> Result<(), StoreError> {
    let Some(mut e) = list(store)?.into_iter().find(|e| e.file == file) else {
        return Ok(());
    };
    if let Some(s) = summary {
        e.duration_s = s.duration_s;
    }
    e.bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    e.state = "complete".into();
    put(store, &e).map(|_| ())
}

/// Brings the index in line with `dir` after a start or a crash; returns what it did.
pub(crate) fn recover(store: &Store, dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut notes = Vec::new();
    let entries = list(store)?;
    for mut e in entries.clone() {
        let path = PathBuf::from(&e.file);
        if !path.exists() {
            store.recording_delete(e.id)?;
            notes.push(format!(
                "{}: gone from disk, removed from the index",
                e.file
            ));
            continue;
        }
        if e.state == "recording" {
            repair(&path, &mut e);
            put(store, &e)?;
            notes.push(format!("{}: recovered, {:.1} s", e.file, e.duration_s));
        }
    }
    let known: Vec<String> = entries.iter().map(|e| e.file.clone()).collect();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut found: Vec<PathBuf> = rd
            .filter_map(|d| d.ok().map(|d| d.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(fourcast_engine::recording::is_recording_name)
            })
            .filter(|p| !known.contains(&p.display().to_string()))
            .collect();
        found.sort();
        for path in found {
            let start_ms = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let mut e = Entry {
                id: 0,
                file: path.display().to_string(),
                start_ms,
                duration_s: 0.0,
                bytes: 0,
                codecs: CODECS.into(),
                state: "recovered".into(),
            };
            repair(&path, &mut e);
            put(store, &e)?;
            notes.push(format!("{}: found on disk, indexed", e.file));
        }
    }
    Ok(notes)
}

/// Measures a file cut short and trims a torn last packet.
fn repair(path: &Path, e: &mut Entry) {
    if let Ok(s) = measure(path) {
        e.duration_s = s.duration_s;
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path)
            && f.metadata().is_ok_and(|m| m.len() > s.whole_len)
        {
            let _ = f.set_len(s.whole_len);
        }
    }
    e.bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    e.state = "recovered".into();
}

/// Drops the entry of a file the recorder deleted to keep free space.
pub(crate) fn forget(store: &Store, file: &str) -> Result<(), StoreError> {
    if let Some(e) = list(store)?.into_iter().find(|e| e.file == file) {
        store.recording_delete(e.id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A video PES start packet carrying `pts`, or a filler packet.
    fn packet(pts: Option<u64>) -> Vec<u8> {
        let mut p = vec![0xFFu8; 188];
        p[..4].copy_from_slice(&[0x47, 0x41, 0x00, 0x10]);
        if let Some(pts) = pts {
            let t = [
                0x21 | ((pts >> 29) & 0x0E) as u8,
                (pts >> 22) as u8,
                0x01 | ((pts >> 14) & 0xFE) as u8,
                (pts >> 7) as u8,
                0x01 | ((pts << 1) & 0xFE) as u8,
            ];
            p[4..18].copy_from_slice(&[
                0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, t[0], t[1], t[2], t[3], t[4],
            ]);
        } else {
            p[1] = 0x00;
        }
        p
    }

    #[test]
    fn a_recording_is_measured_from_its_two_ends_small_or_large() {
        let dir = std::env::temp_dir().join(format!("fourcast-measure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, fillers) in [("small.ts", 100usize), ("large.ts", 40_000)] {
            let mut data = packet(Some(90_000));
            data.extend(packet(Some(93_000)));
            for _ in 0..fillers {
                data.extend(packet(None));
            }
            data.extend(packet(Some(90_000 + 10 * 90_000)));
            data.extend([0x47, 1, 2]); // a torn last packet
            let path = dir.join(name);
            std::fs::write(&path, &data).unwrap();
            let s = measure(&path).unwrap();
            assert!(
                (s.duration_s - 10.0).abs() < 1e-9,
                "{name}: {}",
                s.duration_s
            );
            assert_eq!(s.whole_len, (data.len() - 3) as u64, "{name}");
        }
        assert!(
            40_000 * 188 > 2 * ENDS as usize,
            "the large file is read by its ends"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_files_the_recorder_named_are_taken_from_disk_and_others_are_untouched() {
        let dir = std::env::temp_dir().join(format!("fourcast-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("store.redb")).unwrap();
        // Not ours: 1000 bytes, not a whole number of TS packets.
        let foreign = dir.join("passwords.ts");
        std::fs::write(&foreign, vec![0x47u8; 1000]).unwrap();
        let ours = dir.join("20261121-173045.ts");
        std::fs::write(&ours, vec![0x47u8; 188 * 3 + 5]).unwrap();
        let notes = recover(&store, &dir).unwrap();
        let files: Vec<String> = list(&store).unwrap().into_iter().map(|e| e.file).collect();
        assert_eq!(files, vec![ours.display().to_string()], "{notes:?}");
        assert_eq!(
            std::fs::metadata(&foreign).unwrap().len(),
            1000,
            "left alone"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
