//! Local recording: 30 s judged by ffprobe, range downloads, delete rules, an uplink failing
//! mid-recording, `kill -9` and recovery, a full disk, bad targets.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fourcast_e2e::peers::{Capture, free_udp_port, srt_listener};
use fourcast_e2e::{Daemon, TempDir, config_with, default_config};

fn recordings(d: &Daemon) -> Vec<serde_json::Value> {
    d.json("/api/v1/recordings")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_for_program(d: &mut Daemon) {
    d.wait_until("HLS to start", Duration::from_secs(40), |d| {
        d.try_get("/hls/master.m3u8")
            .is_some_and(|r| r.status == 200)
    });
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn thirty_seconds_recorded_through_an_uplink_failure_downloadable_by_range() {
    let tmp = TempDir::new("rec30");
    let port = free_udp_port();
    let mut receiver = srt_listener(port, "", &tmp.0.join("origin.ts"), None);
    std::thread::sleep(Duration::from_millis(300));
    let mut d = Daemon::start(Some(&config_with(&format!(
        "[[outputs.srt]]\nname = \"origin\"\nmode = \"caller\"\nhost = \"127.0.0.1\"\nport = {port}\nrung = \"360p\"\n"
    ))));
    d.wait_live(&["origin"], Duration::from_secs(40));
    let r = d.request("POST", "/api/v1/recording/start", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let again = d.request("POST", "/api/v1/recording/start", &[]);
    assert_eq!(again.status, 409, "{}", again.text());

    std::thread::sleep(Duration::from_secs(3));
    // Deleting the file being written is refused.
    let list = recordings(&d);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["state"], "recording");
    let id = list[0]["id"].as_u64().unwrap();
    let del = d.request("DELETE", &format!("/api/v1/recordings/{id}"), &[]);
    assert_eq!(del.status, 409, "{}", del.text());
    assert!(del.text().contains("being written"), "{}", del.text());

    // The uplink dies mid-recording; the recording must not notice.
    std::thread::sleep(Duration::from_secs(7));
    receiver.kill();
    std::thread::sleep(Duration::from_secs(20));
    let status = d.status();
    assert_eq!(status["recording"]["state"], "recording", "{status}");
    assert!(status["recording"]["free_bytes"].as_u64().unwrap() > 0);
    let r = d.request("POST", "/api/v1/recording/stop", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(d.request("POST", "/api/v1/recording/stop", &[]).status, 409);
    d.wait_until("the entry to complete", Duration::from_secs(10), |d| {
        recordings(d)[0]["state"] == "complete"
    });

    let entry = &recordings(&d)[0];
    let file = std::path::PathBuf::from(entry["file"].as_str().unwrap());
    let c = Capture::probe(&file);
    c.assert_good("recording", 1280, 720, 0.1);
    let indexed = entry["duration_s"].as_f64().unwrap();
    let probed = fourcast_e2e::ffprobe(&file, &["-show_format"])["format"]["duration"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    // Recording starts on the next keyframe (≤ 2 s after the command).
    assert!(
        (27.5..=30.6).contains(&indexed),
        "indexed {indexed:.2} s for 30 s"
    );
    assert!(
        (probed - indexed).abs() <= 0.5,
        "ffprobe {probed:.2} s vs index {indexed:.2} s"
    );
    assert_eq!(
        entry["bytes"].as_u64().unwrap(),
        std::fs::metadata(&file).unwrap().len()
    );

    // Range requests.
    let size = std::fs::metadata(&file).unwrap().len();
    let path = format!("/api/v1/recordings/{id}/file");
    let part = d.request("GET", &path, &[("Range", "bytes=0-187")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body.len(), 188);
    assert_eq!(part.body[0], 0x47, "starts on a TS sync byte");
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-187/{size}").as_str())
    );
    let tail = d.request("GET", &path, &[("Range", "bytes=-1000")]);
    assert_eq!((tail.status, tail.body.len()), (206, 1000));
    assert_eq!(
        d.request("GET", &path, &[("Range", &format!("bytes={size}-"))])
            .status,
        416
    );
    let whole = d.get(&path);
    assert_eq!((whole.status, whole.body.len() as u64), (200, size));
    assert_eq!(whole.body, std::fs::read(&file).unwrap());

    // Delete: gone from disk and index; again → 404; nonsense id → 400.
    assert_eq!(
        d.request("DELETE", &format!("/api/v1/recordings/{id}"), &[])
            .status,
        204
    );
    assert!(!file.exists());
    assert!(recordings(&d).is_empty());
    assert_eq!(
        d.request("DELETE", &format!("/api/v1/recordings/{id}"), &[])
            .status,
        404
    );
    assert_eq!(d.request("DELETE", "/api/v1/recordings/x", &[]).status, 400);
    // The program and HLS were never disturbed.
    assert_eq!(d.status()["ladder"]["dropped_frames"], 0);
}

#[test]
fn kill_9_mid_recording_leaves_a_file_that_plays_to_within_2_seconds_of_the_cut() {
    let tries: usize = std::env::var("FOURCAST_KILL_TRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut d = Daemon::start(None);
    let mut lost = Vec::new();
    for round in 0..tries {
        wait_for_program(&mut d);
        let r = d.request("POST", "/api/v1/recording/start", &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        d.wait_until("a file to be opened", Duration::from_secs(10), |d| {
            recordings(d).iter().any(|e| e["state"] == "recording")
        });
        std::thread::sleep(Duration::from_secs(8 + round as u64 % 3));
        let entry = recordings(&d)
            .into_iter()
            .find(|e| e["state"] == "recording")
            .unwrap();
        let killed_ms = now_ms();
        d.signal(libc::SIGKILL);
        d = Daemon::restart(d);
        let back = recordings(&d)
            .into_iter()
            .find(|e| e["id"] == entry["id"])
            .unwrap_or_else(|| panic!("round {round}: the file is not in the index"));
        assert_eq!(back["state"], "recovered", "{back}");
        let file = std::path::PathBuf::from(back["file"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&file).unwrap().len() % 188,
            0,
            "torn packet left"
        );
        let c = Capture::probe(&file);
        c.assert_good("recovered", 1280, 720, 0.1);
        let expected = (killed_ms - entry["start_ms"].as_u64().unwrap()) as f64 / 1000.0;
        let loss = expected - c.duration();
        eprintln!(
            "kill -9 round {round}: recorded {:.2} s of {expected:.2} s, lost {loss:.2} s",
            c.duration()
        );
        assert!(loss <= 2.0, "round {round}: lost {loss:.2} s");
        lost.push(loss);
    }
    eprintln!("kill -9 over {tries} tries: lost {lost:.2?} s");
}

/// A size-limited tmpfs, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn new(at: &std::path::Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

/// The first event of `kind`, waiting up to 90 s for it.
fn wait_for_event(d: &mut Daemon, kind: &str) -> serde_json::Value {
    d.wait_until(&format!("a {kind} event"), Duration::from_secs(90), |d| {
        d.events().iter().any(|e| e["type"] == kind)
    });
    d.events().into_iter().find(|e| e["type"] == kind).unwrap()
}

/// A box recording onto a 12 MiB disk with a 4 MiB floor and 10 s files.
fn recording_onto_a_small_disk(tmp: &TempDir, delete_oldest: bool) -> (SmallDisk, Daemon) {
    let disk = SmallDisk::new(&tmp.0.join("small"), "12m");
    let dir = disk.0.clone();
    let mut d = Daemon::start(Some(&default_config(|c| {
        c.recording.path = Some(dir.clone());
        c.recording.split_seconds = 10;
        c.recording.free_space_floor_mb = 4;
        c.recording.delete_oldest = delete_oldest;
    })));
    wait_for_program(&mut d);
    let r = d.request("POST", "/api/v1/recording/start", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    (disk, d)
}

#[test]
fn a_full_disk_stops_recording_before_it_fills_and_the_program_goes_on() {
    let tmp = TempDir::new("diskfull");
    let (_disk, mut d) = recording_onto_a_small_disk(&tmp, false);
    let start = Instant::now();
    let stop_event = wait_for_event(&mut d, "recording_stopped");
    eprintln!("stopped after {:.1?}: {stop_event}", start.elapsed());
    assert!(
        stop_event["reason"].as_str().unwrap().contains("floor"),
        "{stop_event}"
    );
    let status = d.status();
    assert_eq!(status["recording"]["state"], "stopped", "{status}");
    assert!(
        status["recording"]["free_bytes"].as_u64().unwrap() > 2 << 20,
        "{status}"
    );
    // The program and HLS go on.
    let frames = status["program"]["frames"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(d.status()["program"]["frames"].as_u64().unwrap() > frames + 60);
    // Every file is whole and plays.
    let list = recordings(&d);
    assert!(list.len() >= 2, "{list:?}");
    for e in &list {
        assert_eq!(e["state"], "complete", "{e}");
        let c = Capture::probe(std::path::Path::new(e["file"].as_str().unwrap()));
        c.assert_good("recording", 1280, 720, 0.1);
    }
    drop(d);
}

/// A change to the default config.
type Edit = fn(&mut fourcast_config::Config);

#[test]
fn bad_recording_targets_and_settings_get_clear_errors_and_change_nothing() {
    let mut d = Daemon::start(Some(&default_config(|c| {
        c.recording.path = Some("/proc/fourcast-recordings".into());
    })));
    wait_for_program(&mut d);
    let r = d.request("POST", "/api/v1/recording/start", &[]);
    assert_eq!(r.status, 422, "{}", r.text());
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"]["path"], "recording.path", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/proc/fourcast-recordings"),
        "{body}"
    );
    let revision = d.status()["config_revision"].clone();
    let edits: [(Edit, &str); 3] = [
        (|c| c.recording.split_mb = Some(0), "recording.split_mb"),
        (|c| c.recording.split_seconds = 0, "recording.split_seconds"),
        (
            |c| c.recording.path = Some("relative/dir".into()),
            "recording.path",
        ),
    ];
    for (edit, path) in edits {
        d.reload(&default_config(edit));
        d.wait_until(&format!("{path} rejected"), Duration::from_secs(10), |d| {
            d.events().iter().any(|e| {
                e["type"] == "config_rejected"
                    && e["errors"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["path"] == path)
            })
        });
    }
    assert_eq!(d.status()["config_revision"], revision);
    assert_eq!(d.status()["ladder"]["dropped_frames"], 0);
}

#[test]
fn with_delete_oldest_the_recorder_frees_space_and_keeps_recording() {
    let tmp = TempDir::new("rotate");
    let (_disk, mut d) = recording_onto_a_small_disk(&tmp, true);
    let deleted = wait_for_event(&mut d, "recording_deleted");
    let gone = deleted["path"].as_str().unwrap().to_string();
    assert!(
        !std::path::Path::new(&gone).exists(),
        "{gone} still on disk"
    );
    std::thread::sleep(Duration::from_secs(3));
    let status = d.status();
    assert_eq!(status["recording"]["state"], "recording", "{status}");
    let list = recordings(&d);
    assert!(
        list.iter().all(|e| e["file"] != gone.as_str()),
        "{gone} still indexed"
    );
    assert!(list.iter().any(|e| e["state"] == "recording"), "{list:?}");
    assert_eq!(d.request("POST", "/api/v1/recording/stop", &[]).status, 200);
    drop(d);
}
