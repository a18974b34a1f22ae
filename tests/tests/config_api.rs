//! The config write API on a running box: changes based on a revision (a stale one is a
//! 409), field errors, merge patches and whole documents (JSON or TOML), secrets that never
//! come back, outputs started and stopped, history and rollback. Then the rest of the
//! control surface: inputs with tally, thumbnails, the event stream, device info, reboot
//! and factory reset.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use fourcast_e2e::{Daemon, http_request};
use serde_json::{Value, json};

fn send_json(d: &Daemon, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = d.send(
        method,
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

fn revision(d: &Daemon) -> u64 {
    d.json("/api/v1/config")["revision"].as_u64().unwrap()
}

fn rung_bitrate(config: &Value, rung: &str) -> u64 {
    config["ladder"]["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == rung)
        .unwrap()["bitrate_kbps"]
        .as_u64()
        .unwrap()
}

fn error_paths(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["path"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn config_changes_are_based_on_a_revision_refused_by_field_and_rolled_back() {
    let mut d = Daemon::start(None);
    let r0 = revision(&d);
    let start = d.json("/api/v1/config")["config"].clone();
    let ladder_builds = d.status()["ladder"]["builds"].clone();

    // A merge patch of one rung's bitrate: applied live (no rebuild), a new revision.
    let mut rungs = start["ladder"]["rungs"].clone();
    rungs[2]["bitrate_kbps"] = json!(700);
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r0, "patch": {"ladder": {"rungs": rungs}}}),
    );
    assert_eq!(status, 200, "{body}");
    let r1 = body["revision"].as_u64().unwrap();
    assert!(r1 > r0);
    assert_eq!(rung_bitrate(&body["config"], "360p"), 700);
    assert_eq!(
        d.status()["ladder"]["builds"],
        ladder_builds,
        "bitrate set live"
    );

    // Based on the old revision: 409 with the current one; nothing changes.
    let mut other = rungs.clone();
    other[2]["bitrate_kbps"] = json!(600);
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r0, "patch": {"ladder": {"rungs": other}}}),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["current_revision"], r1);
    assert_eq!(body["error"]["path"], "base_revision");
    assert_eq!(revision(&d), r1);
    assert_eq!(
        rung_bitrate(&d.json("/api/v1/config")["config"], "360p"),
        700
    );

    // Every bad field named at once; nothing changes.
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r1, "patch": {"program": {"fps": 0}, "multiview": {"fps": 11}}}),
    );
    assert_eq!(status, 422, "{body}");
    let paths = error_paths(&body);
    assert!(paths.contains(&"program.fps".to_string()), "{paths:?}");
    assert!(paths.contains(&"multiview.fps".to_string()), "{paths:?}");
    assert_eq!(revision(&d), r1);
    // An unknown config field, a wrong type, an unknown body field, no base revision.
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r1, "patch": {"program": {"colour": "red"}}}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r1, "patch": {"program": {"fps": "fast"}}}),
    );
    assert_eq!(
        (status, body["error"]["path"].as_str()),
        (422, Some("program.fps")),
        "{body}"
    );
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r1, "patch": {}, "force": true}),
    );
    assert_eq!(
        (status, body["error"]["path"].as_str()),
        (400, Some("force")),
        "{body}"
    );
    let (status, body) = send_json(&d, "PATCH", "/api/v1/config", &json!({"patch": {}}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("base_revision"),
        "{body}"
    );
    let r = d.send("PATCH", "/api/v1/config", &[], b"{not json");
    assert_eq!(r.status, 400);
    assert_eq!(revision(&d), r1);

    // A destination with a secret, added by patch: stored, never returned.
    const KEY: &str = "plain-stream-key-4242";
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": r1, "patch": {"outputs": {"rtmp": [
            {"name": "platform", "url": "rtmp://127.0.0.1:9/live", "key": KEY, "rung": "360p"}
        ]}}}),
    );
    assert_eq!(status, 200, "{body}");
    let r2 = body["revision"].as_u64().unwrap();
    for path in [
        "/api/v1/config",
        "/api/v1/config/export",
        "/api/v1/config/history",
        "/api/v1/events",
    ] {
        let text = d.get(path).text();
        assert!(!text.contains(KEY), "{path} shows the key");
    }
    assert_eq!(body["config"]["outputs"]["rtmp"][0]["key"], "***");

    // The whole document back as JSON, as read ("***" keeps the key): no change at all.
    let config = d.json("/api/v1/config")["config"].clone();
    let (status, body) = send_json(
        &d,
        "PUT",
        "/api/v1/config",
        &json!({"base_revision": r2, "config": config}),
    );
    assert_eq!(
        (status, body["revision"].as_u64()),
        (200, Some(r2)),
        "{body}"
    );
    // As TOML (an export edited and imported): a new revision.
    let exported = d.get("/api/v1/config/export");
    assert!(
        exported
            .header("content-disposition")
            .unwrap()
            .contains("attachment")
    );
    let toml = exported
        .text()
        .replace("bitrate_kbps = 700", "bitrate_kbps = 650");
    let (status, body) = send_json(
        &d,
        "PUT",
        "/api/v1/config",
        &json!({"base_revision": r2, "toml": toml}),
    );
    assert_eq!(status, 200, "{body}");
    let r3 = body["revision"].as_u64().unwrap();
    assert_eq!(rung_bitrate(&body["config"], "360p"), 650);
    let (status, body) = send_json(
        &d,
        "PUT",
        "/api/v1/config",
        &json!({"base_revision": r3, "toml": "board = ", "config": {}}),
    );
    assert_eq!(
        (status, body["error"]["path"].as_str()),
        (422, Some("config")),
        "{body}"
    );
    let (status, body) = send_json(
        &d,
        "PUT",
        "/api/v1/config",
        &json!({"base_revision": r3, "toml": "board = "}),
    );
    assert_eq!(status, 422, "{body}");

    // Outputs stopped and started by name: a config change each.
    let r = d.request("POST", "/api/v1/outputs/platform/stop", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let dest = |d: &Daemon| {
        d.status()["destinations"][0]["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    d.wait_until("platform disabled", Duration::from_secs(10), |d| {
        dest(d) == "disabled"
    });
    assert_eq!(
        d.json("/api/v1/config")["config"]["outputs"]["rtmp"][0]["enabled"],
        false
    );
    let r = d.request("POST", "/api/v1/outputs/platform/start", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    d.wait_until("platform enabled", Duration::from_secs(10), |d| {
        dest(d) != "disabled"
    });
    assert_eq!(
        d.request("POST", "/api/v1/outputs/nobody/stop", &[]).status,
        404
    );
    assert_eq!(
        d.request("POST", "/api/v1/outputs/platform/pause", &[])
            .status,
        404
    );

    // History and rollback: back to the first revision, stored as a new one.
    let history = d.json("/api/v1/config/history");
    let list = history.as_array().unwrap();
    assert!(list.iter().any(|r| r["id"] == r0));
    let current: Vec<_> = list.iter().filter(|r| r["current"] == true).collect();
    assert_eq!(current.len(), 1, "{history}");
    let now = revision(&d);
    assert_eq!(current[0]["id"], now);
    let (status, body) = send_json(
        &d,
        "POST",
        "/api/v1/config/rollback",
        &json!({"base_revision": r0, "revision": r0}),
    );
    assert_eq!(status, 409, "stale base: {body}");
    let (status, body) = send_json(
        &d,
        "POST",
        "/api/v1/config/rollback",
        &json!({"base_revision": now, "revision": 99_999}),
    );
    assert_eq!(
        (status, body["error"]["path"].as_str()),
        (404, Some("revision")),
        "{body}"
    );
    let (status, body) = send_json(
        &d,
        "POST",
        "/api/v1/config/rollback",
        &json!({"base_revision": now, "revision": r0}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["revision"].as_u64().unwrap() > now);
    assert_eq!(body["config"], start, "revision {r0} is running again");
    let last = d.json("/api/v1/config/history");
    let last = last.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["source"], format!("rollback to {r0}"));
    assert_eq!(
        d.status()["program"]["builds"],
        1,
        "never a program rebuild"
    );
}

/// Reads the SSE stream until `done` says so (or `limit` passes); returns the event names.
fn sse_events(d: &Daemon, limit: Duration, mut done: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    write!(
        s,
        "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        d.token
    )
    .unwrap();
    let (mut text, mut names) = (String::new(), Vec::new());
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline && !done(&names) {
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            names = text
                .lines()
                .filter_map(|l| l.strip_prefix("event: "))
                .map(str::to_string)
                .collect();
        }
    }
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_lowercase()
            .contains("content-type: text/event-stream"),
        "{text}"
    );
    names
}

#[test]
fn inputs_thumbnails_events_and_the_device_from_outside() {
    let mut d = Daemon::start(None);
    // Control endpoints need a session or a token.
    for path in [
        "/api/v1/device",
        "/api/v1/inputs",
        "/api/v1/program/thumbnail.jpg",
        "/api/v1/events/stream",
        "/api/v1/config/history",
    ] {
        let r = http_request(d.port, "GET", path, &[]).unwrap();
        assert_eq!(r.status, 401, "{path} without credentials");
    }

    let device = d.json("/api/v1/device");
    assert_eq!(device["board"], "virtual");
    assert_eq!(device["reboot"], "restarts the daemon");
    assert!(device["cpus"].as_u64().unwrap() >= 1 && device["data_free_mb"].as_u64().unwrap() > 0);
    let log = d.json("/api/v1/device/log?lines=5");
    let log = log.as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{log:?}");

    // Inputs with tally: the default grid shows all four.
    let inputs = d.json("/api/v1/inputs");
    let inputs = inputs.as_array().unwrap();
    assert_eq!(inputs.len(), 4);
    assert!(inputs.iter().all(|i| i["on_program"] == true), "{inputs:?}");

    // Thumbnails: JPEGs of 320×180 for the program and each input.
    d.wait_until("thumbnails", Duration::from_secs(20), |d| {
        d.try_get("/api/v1/program/thumbnail.jpg")
            .is_some_and(|r| r.status == 200)
    });
    for source in [
        "/api/v1/program/thumbnail.jpg",
        "/api/v1/inputs/cam3/thumbnail.jpg",
    ] {
        let r = d.get(source);
        assert_eq!(r.header("content-type"), Some("image/jpeg"), "{source}");
        let file = d.data.0.join("thumb.jpg");
        std::fs::write(&file, &r.body).unwrap();
        let probe = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
                "-of",
                "csv=p=0",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&probe.stdout).trim(),
            "mjpeg,320,180",
            "{source}"
        );
    }
    assert_eq!(
        d.request("GET", "/api/v1/inputs/cam9/thumbnail.jpg", &[])
            .status,
        404
    );

    // The event stream: a status event every second, and a take as it happens.
    let take = {
        let port = d.port;
        let token = d.token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            fourcast_e2e::http_send(
                port,
                "POST",
                "/api/v1/program/take",
                &[
                    ("Authorization", &format!("Bearer {token}")),
                    ("Content-Type", "application/json"),
                ],
                br#"{"layout":"single","inputs":["cam2"]}"#,
            )
            .map(|r| r.status)
        })
    };
    let names = sse_events(&d, Duration::from_secs(15), |n| {
        n.iter().filter(|e| *e == "status").count() >= 2 && n.iter().any(|e| e == "program_taken")
    });
    assert_eq!(take.join().unwrap().ok(), Some(200));
    assert!(
        names.iter().filter(|e| *e == "status").count() >= 2,
        "{names:?}"
    );
    assert!(names.iter().any(|e| e == "program_taken"), "{names:?}");
    let inputs = d.json("/api/v1/inputs");
    let on: Vec<_> = inputs
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["on_program"] == true)
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(on, vec![json!("cam2")], "tally follows the take");

    // Thumbnails off: none served.
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": revision(&d), "patch": {"multiview": {"fps": 0}}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        d.request("GET", "/api/v1/program/thumbnail.jpg", &[])
            .status,
        404
    );

    // Reboot: the daemon stops cleanly and comes back (same process on the virtual board),
    // with its config and credentials.
    let pid = d.child.id();
    let uptime = d.status()["uptime_s"].as_f64().unwrap();
    let r = d.request("POST", "/api/v1/device/reboot", &[]);
    assert_eq!(r.status, 202, "{}", r.text());
    std::thread::sleep(Duration::from_millis(1500));
    d.wait_until("back after reboot", Duration::from_secs(40), |d| {
        d.try_get("/api/v1/status")
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .is_some_and(|s| s["uptime_s"].as_f64().unwrap_or(f64::MAX) < uptime)
    });
    assert_eq!(d.child.id(), pid);
    assert!(d.child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(
        d.json("/api/v1/config")["config"]["multiview"]["fps"],
        0,
        "config kept"
    );
    assert!(d.log().contains("restarting (Reboot)"));

    // The data dir holds the store and the device key: the API cannot move it (a reset
    // would then erase the wrong directory and leave the password and tokens behind).
    let elsewhere = d.data.0.join("elsewhere");
    let (status, body) = send_json(
        &d,
        "PATCH",
        "/api/v1/config",
        &json!({"base_revision": revision(&d), "patch": {"storage": {"data_dir": elsewhere}}}),
    );
    assert_eq!(
        (status, body["error"]["path"].as_str()),
        (422, Some("storage.data_dir")),
        "{body}"
    );

    // Factory reset: only with the phrase; then first-boot setup again, the token gone.
    let (status, body) = send_json(
        &d,
        "POST",
        "/api/v1/device/factory-reset",
        &json!({"confirm": "yes"}),
    );
    assert_eq!(
        (status, body["error"]["path"].as_str()),
        (422, Some("confirm")),
        "{body}"
    );
    let (status, _) = send_json(
        &d,
        "POST",
        "/api/v1/device/factory-reset",
        &json!({"confirm": "factory reset"}),
    );
    assert_eq!(status, 202);
    std::thread::sleep(Duration::from_millis(1500));
    d.wait_until("setup needed again", Duration::from_secs(40), |d| {
        http_request(d.port, "GET", "/api/v1/setup", &[])
            .ok()
            .is_some_and(|r| r.text().contains("\"needed\":true"))
    });
    assert_eq!(
        d.request("GET", "/api/v1/status", &[]).status,
        401,
        "the old token is gone"
    );
    assert!(d.log().contains("erased store.redb"), "{}", d.log());
    assert!(d.log().contains("erased device.key"), "{}", d.log());
    assert_eq!(
        d.setup_code().len(),
        9,
        "a new setup code guards the new first boot"
    );
}
