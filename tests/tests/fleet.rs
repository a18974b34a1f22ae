//! The fleet link against a real broker: mosquitto with TLS, client certificates and a
//! per-device ACL, driven from the fleet manager's side by `fourcast-fleet` (and by
//! `mosquitto_pub` for what the tool would never send).

use std::time::{Duration, Instant};

use fourcast_e2e::broker::{Mosquitto, Pki};
use fourcast_e2e::{Daemon, TempDir, default_config};
use serde_json::{Value, json};

const STATE: &str = "fourcast/v1/acme/box-1/state";

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn online(broker: &Mosquitto) -> Option<Value> {
    broker.retained(STATE).filter(|s| s["state"] == "online")
}

fn fleet_status(d: &Daemon) -> Value {
    d.json("/api/v1/device")["fleet"].clone()
}

#[test]
fn a_box_reports_to_its_fleet_and_obeys_it() {
    let dir = TempDir::new("fleet");
    let pki = Pki::new(&dir.0.join("pki"), "fleet-ca");
    let broker = Mosquitto::start(&dir.0, &pki);
    let id = pki.issue("box-1", false);
    let d = Daemon::start(Some(&default_config(|c| {
        c.fleet = broker.fleet("box-1", &id)
    })));
    wait_for(
        "box-1 online (retained state)",
        Duration::from_secs(30),
        || online(&broker).is_some(),
    );
    let state = online(&broker).unwrap();
    assert_eq!(state["firmware"], env!("CARGO_PKG_VERSION"));
    assert!(state["session"].as_u64().unwrap() >= 1);

    // The fleet manager's table.
    let devices = broker.tool_json(&["devices", "--wait", "2.5"]);
    let row = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "box-1")
        .unwrap_or_else(|| panic!("box-1 is not listed: {devices}"));
    assert_eq!(row["state"], "online", "{row}");
    assert_eq!(row["tags"], json!(["stage", "venue-a"]), "{row}");
    assert!(row["uptime_s"].as_f64().is_some(), "telemetry seen: {row}");

    // Live telemetry.
    let show = broker.tool(&["show", "box-1", "--wait", "5"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success() && text.contains("telemetry: cpu"),
        "{text}"
    );

    // A command round trip through the API's own handler.
    let before = d.json("/api/v1/program")["generation"].as_u64().unwrap();
    let r = broker.tool_json(&["cmd", "box-1", "take", r#"{"scene": "main"}"#]);
    assert_eq!(r["results"][0]["status"], 200, "{r}");
    assert!(d.json("/api/v1/program")["generation"].as_u64().unwrap() > before);
    let r = broker.tool_json(&["cmd", "box-1", "take", r#"{"scene": "mian"}"#]);
    let bad = &r["results"][0];
    assert!(bad["status"].as_u64().unwrap() >= 400, "{r}");
    assert!(bad["field"].as_str().unwrap().starts_with("args."), "{r}");
    let r = broker.tool_json(&[
        "cmd",
        "box-1",
        "uplink",
        r#"{"name": "nowhere", "action": "start"}"#,
    ]);
    assert_eq!(r["results"][0]["status"], 404, "{r}");
    let r = broker.tool_json(&["cmd", "box-1", "recording", r#"{"action": "pause"}"#]);
    assert_eq!(
        (
            r["results"][0]["status"].as_u64(),
            r["results"][0]["field"].as_str()
        ),
        (Some(422), Some("args.action")),
        "{r}"
    );
    let r = broker.tool_json(&["cmd", "box-1", "selfdestruct"]);
    assert_eq!(r["results"][0]["status"], 404, "{r}");
    let once = [
        "cmd",
        "box-1",
        "take",
        r#"{"scene": "all"}"#,
        "--id",
        "c-once",
    ];
    assert_eq!(broker.tool_json(&once)["results"][0]["status"], 200);
    let again = broker.tool_json(&once);
    assert_eq!(
        again["results"][0]["status"], 409,
        "a replayed id runs once: {again}"
    );
    let jpeg = dir.0.join("snapshot.jpg");
    let r = broker.tool_json(&["cmd", "box-1", "snapshot", "--out", jpeg.to_str().unwrap()]);
    assert_eq!(r["results"][0]["status"], 200, "{r}");
    assert!(
        std::fs::read(&jpeg).unwrap().starts_with(&[0xFF, 0xD8]),
        "a JPEG"
    );

    // A config push: applied, and reported (redacted, retained).
    let mut config = d.json("/api/v1/config")["config"].clone();
    let kbps = config["ladder"]["rungs"][0]["bitrate_kbps"]
        .as_u64()
        .unwrap();
    config["ladder"]["rungs"][0]["bitrate_kbps"] = json!(kbps + 100);
    config["outputs"]["rtmp"] = json!([{
        "name": "yt", "url": "rtmp://127.0.0.1:9/live", "key": "sk-live-SECRET-4242", "enabled": false,
        "rung": config["ladder"]["rungs"][0]["name"].clone()
    }]);
    let file = dir.0.join("push.json");
    std::fs::write(&file, config.to_string()).unwrap();
    let push = broker.tool_json(&["config", "push", "box-1", file.to_str().unwrap()]);
    assert_eq!(push["applied"], json!(["box-1"]), "{push}");
    let running = d.json("/api/v1/config")["config"].clone();
    assert_eq!(running["ladder"]["rungs"][0]["bitrate_kbps"], kbps + 100);
    let reported = broker
        .retained("fourcast/v1/acme/box-1/config/reported")
        .unwrap();
    assert_eq!(reported["applied"], true);
    assert_eq!(reported["config"]["outputs"]["rtmp"][0]["key"], "***");
    // The pushed key is sealed in the store and never echoed.
    let store = std::fs::read(d.data.0.join("data/store.redb")).unwrap();
    assert!(
        !contains(&store, b"sk-live-SECRET-4242"),
        "the stream key is sealed at rest"
    );
    assert!(!reported.to_string().contains("SECRET-4242"));
    assert!(!d.log().contains("SECRET-4242"), "never in the log");

    // Refused: the field is named, nothing applied.
    config["ladder"]["rungs"][0]["bitrate_kbps"] = json!(99);
    std::fs::write(&file, config.to_string()).unwrap();
    let push = broker.tool_json(&["config", "push", "--tag", "stage", file.to_str().unwrap()]);
    let refused = &push["refused"][0];
    assert_eq!(refused["device"], "box-1", "{push}");
    assert_eq!(
        refused["errors"][0]["path"], "ladder.rungs[0].bitrate_kbps",
        "{push}"
    );
    assert_eq!(
        d.json("/api/v1/config")["config"]["ladder"]["rungs"][0]["bitrate_kbps"],
        kbps + 100
    );

    // Bad input from the network: each answered with a status and what is wrong.
    let cmd = "fourcast/v1/acme/box-1/cmd/take";
    let fresh = super_fresh();
    let cases: Vec<(Vec<u8>, u64, &str)> = vec![
        (b"{not json".to_vec(), 400, "key must be a string"),
        (
            format!(r#"{{"id":"u1","expires_ms":{fresh},"sudo":true}}"#).into_bytes(),
            400,
            "sudo",
        ),
        (
            format!(r#"{{"id":5,"expires_ms":{fresh}}}"#).into_bytes(),
            400,
            "invalid type",
        ),
        (
            br#"{"id":"old","expires_ms":1000}"#.to_vec(),
            408,
            "expired",
        ),
        (vec![b' '; 1 << 20], 413, "at most 65536 bytes"),
    ];
    for (payload, status, says) in cases {
        let answer = broker.raw_request(cmd, &payload).unwrap_or_else(|| {
            panic!(
                "no answer to {:?}",
                String::from_utf8_lossy(&payload[..payload.len().min(40)])
            )
        });
        assert_eq!(answer["status"], status, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // A stale desired version and a malformed one: reported, nothing applied.
    let file = dir.0.join("stale.json");
    std::fs::write(&file, br#"{"version": 1, "config": {}}"#).unwrap();
    broker.raw_publish("fourcast/v1/acme/box-1/config/desired", &file, &[]);
    wait_for(
        "the stale version reported",
        Duration::from_secs(10),
        || {
            broker
                .retained("fourcast/v1/acme/box-1/config/reported")
                .is_some_and(|r| r["errors"][0]["path"] == "version")
        },
    );
    assert_eq!(
        d.json("/api/v1/config")["config"]["ladder"]["rungs"][0]["bitrate_kbps"],
        kbps + 100
    );
    let status = fleet_status(&d);
    assert_eq!(status["state"], "connected", "nothing crashed: {status}");
    assert!(status["published"].as_u64().unwrap() > 5, "{status}");
    let metrics = d.get("/metrics").text();
    assert!(metrics.contains("fourcast_fleet_connected 1"), "{metrics}");
}

fn super_fresh() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 60_000
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn mutual_tls_and_the_acl_hold() {
    let dir = TempDir::new("fleet-tls");
    let pki = Pki::new(&dir.0.join("pki"), "fleet-ca");
    let broker = Mosquitto::start(&dir.0, &pki);
    let id = pki.issue("box-1", false);
    let d = Daemon::start(Some(&default_config(|c| {
        c.fleet = broker.fleet("box-1", &id)
    })));
    wait_for("connected", Duration::from_secs(30), || {
        fleet_status(&d)["state"] == "connected"
    });

    let change = |edit: &dyn Fn(&mut Value)| -> u16 {
        let mut config = d.json("/api/v1/config");
        let base = config["revision"].clone();
        edit(&mut config["config"]);
        let body = json!({ "base_revision": base, "config": config["config"] }).to_string();
        d.send(
            "PUT",
            "/api/v1/config",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .status
    };
    let error_after_change = |what: &str| -> String {
        let mut last = String::new();
        wait_for(what, Duration::from_secs(20), || {
            let s = fleet_status(&d);
            last = s["last_error"].as_str().unwrap_or("").to_string();
            s["state"] != "connected" && !last.is_empty()
        });
        last
    };

    // A broker whose certificate another CA signed.
    let other = Pki::new(&dir.0.join("other"), "other-ca");
    let other_ca = other.ca_file();
    assert_eq!(change(&|c| c["fleet"]["ca"] = json!(other_ca)), 200);
    let e = error_after_change("refusing an unknown broker");
    assert!(e.contains("not signed by the configured CA"), "{e}");

    // A box certificate the broker does not trust.
    let stranger = other.issue("box-1", false);
    assert_eq!(
        change(&|c| {
            c["fleet"]["ca"] = json!(broker.ca);
            c["fleet"]["cert"] = json!(stranger.cert);
            c["fleet"]["key"] = json!(stranger.key);
        }),
        200
    );
    let e = error_after_change("the broker refusing an unknown box");
    assert!(e.contains("does not trust this box's certificate"), "{e}");

    // Plain MQTT is refused up front, naming the field.
    let r = d.send(
        "PATCH",
        "/api/v1/config",
        &[("content-type", "application/json")],
        json!({ "base_revision": d.json("/api/v1/config")["revision"], "patch": { "fleet": { "broker": format!("mqtt://127.0.0.1:{}", broker.port) } } }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("fleet.broker") && r.text().contains("in the clear"),
        "{}",
        r.text()
    );

    // A key others can read is refused before it is used.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&id.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        change(&|c| {
            c["fleet"]["cert"] = json!(id.cert);
            c["fleet"]["key"] = json!(id.key);
            c["fleet"]["telemetry_s"] = json!(2);
        }),
        200
    );
    let e = error_after_change("refusing a readable key");
    assert!(e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&id.key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Another box's prefix: the broker's ACL denies it, and the box says so.
    assert_eq!(change(&|c| c["fleet"]["device_id"] = json!("box-2")), 200);
    wait_for("the denial reported", Duration::from_secs(20), || {
        let s = fleet_status(&d);
        s["denied"].as_array().is_some_and(|a| !a.is_empty())
    });
    let s = fleet_status(&d);
    assert!(s["denied"].to_string().contains("NotAuthorized"), "{s}");
    assert!(
        broker.retained("fourcast/v1/acme/box-2/state").is_none(),
        "nothing published under box-2"
    );
}

#[test]
fn a_killed_box_is_lost_after_the_will_delay_and_its_next_birth_wins() {
    let dir = TempDir::new("fleet-will");
    let pki = Pki::new(&dir.0.join("pki"), "fleet-ca");
    let broker = Mosquitto::start(&dir.0, &pki);
    let id = pki.issue("box-1", false);
    let d = Daemon::start(Some(&default_config(|c| {
        c.fleet = broker.fleet("box-1", &id)
    })));
    wait_for("online", Duration::from_secs(30), || {
        online(&broker).is_some()
    });
    let first = online(&broker).unwrap()["session"].as_u64().unwrap();
    d.signal(libc::SIGKILL);
    let killed = Instant::now();
    wait_for("the Will", Duration::from_secs(20), || {
        broker.retained(STATE).is_some_and(|s| s["state"] == "lost")
    });
    let lost = broker.retained(STATE).unwrap();
    assert_eq!(
        lost["session"].as_u64(),
        Some(first),
        "the Will carries its session"
    );
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "not before the Will Delay"
    );
    let d = Daemon::restart(d);
    wait_for("back online", Duration::from_secs(30), || {
        online(&broker).is_some()
    });
    let back = online(&broker).unwrap();
    assert!(back["session"].as_u64().unwrap() > first, "{back}");
    // A clean stop says offline, and no Will follows it.
    d.signal(libc::SIGTERM);
    wait_for("offline", Duration::from_secs(10), || {
        broker
            .retained(STATE)
            .is_some_and(|s| s["state"] == "offline")
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        broker.retained(STATE).unwrap()["state"],
        "offline",
        "no Will after a goodbye"
    );
}

/// Broker down for `FLEET_OUTAGE_S` (default 60 s) while the box streams and things happen
/// (its SRT receiver killed, refused configs, a recording, the daemon restarted): no frame
/// dropped, and every event delivered after the broker returns, in order, none missing.
/// `make fleet-outage` runs the 10-minute variant and prints the figures.
#[test]
fn events_wait_out_a_broker_outage_and_a_restart() {
    use fourcast_e2e::peers::{free_udp_port, srt_listener};
    let outage: u64 = std::env::var("FLEET_OUTAGE_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = TempDir::new("fleet-outage");
    let pki = Pki::new(&dir.0.join("pki"), "fleet-ca");
    let mut broker = Mosquitto::start(&dir.0, &pki);
    let id = pki.issue("box-1", false);
    let port = free_udp_port();
    let mut receiver = srt_listener(port, "", &dir.0.join("origin.ts"), None);
    let config = format!(
        "{}\n[[outputs.srt]]\nname = \"origin\"\nmode = \"caller\"\nhost = \"127.0.0.1\"\nport = {port}\nrung = \"360p\"\n",
        default_config(|c| c.fleet = broker.fleet("box-1", &id))
    );
    let mut d = Daemon::start(Some(&config));
    d.wait_live(&["origin"], Duration::from_secs(40));
    wait_for("connected", Duration::from_secs(30), || {
        fleet_status(&d)["state"] == "connected"
    });
    let dropped = |d: &Daemon| {
        let s = d.status();
        s["program"]["dropped_frames"].as_u64().unwrap()
            + s["ladder"]["dropped_frames"].as_u64().unwrap()
    };
    let refuse = |d: &Daemon| {
        let r = d.send(
            "PATCH",
            "/api/v1/config",
            &[("content-type", "application/json")],
            json!({ "base_revision": d.json("/api/v1/config")["revision"], "patch": { "ladder": { "encoder": "no-such-encoder" } } }).to_string().as_bytes(),
        );
        assert_eq!(r.status, 422, "{}", r.text());
    };
    let dropped_at_start = dropped(&d);

    broker.kill();
    let down = Instant::now();
    wait_for("the box to notice", Duration::from_secs(40), || {
        fleet_status(&d)["state"] != "connected"
    });
    receiver.kill();
    wait_for("uplink_failed", Duration::from_secs(30), || {
        d.events().iter().any(|e| e["type"] == "uplink_failed")
    });
    refuse(&d);
    assert_eq!(
        d.send("POST", "/api/v1/recording/start", &[], b"").status,
        200
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        d.send("POST", "/api/v1/recording/stop", &[], b"").status,
        200
    );
    let queued_before_restart = fleet_status(&d)["queued"].as_u64().unwrap();
    assert!(queued_before_restart >= 3, "{}", fleet_status(&d));
    let dropped_before_restart = dropped(&d) - dropped_at_start;
    while down.elapsed() < Duration::from_secs(outage / 2) {
        std::thread::sleep(Duration::from_millis(500));
    }
    // Restarted while the broker is away: the queue is in fleet.redb.
    d.signal(libc::SIGTERM);
    let mut d = Daemon::restart(d);
    let dropped_after_restart = dropped(&d);
    refuse(&d);
    wait_for("the queue reloaded", Duration::from_secs(10), || {
        fleet_status(&d)["queued"].as_u64().unwrap() > queued_before_restart
    });
    while down.elapsed() < Duration::from_secs(outage) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let queued = fleet_status(&d)["queued"].as_u64().unwrap();
    let dropped_during = dropped_before_restart + dropped(&d) - dropped_after_restart;

    // The broker comes back; the fleet manager follows the events.
    broker.resume();
    let follow = broker
        .tool_command(&["events", "--device", "box-1", "--follow"])
        .stdout(std::fs::File::create(dir.0.join("events.jsonl")).unwrap())
        .spawn()
        .unwrap();
    let back = Instant::now();
    wait_for("the queue drained", Duration::from_secs(120), || {
        let s = fleet_status(&d);
        s["state"] == "connected" && s["queued"] == 0
    });
    let drained = back.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let mut follow = follow;
    let _ = follow.kill();
    let _ = follow.wait();
    let lines = std::fs::read_to_string(dir.0.join("events.jsonl")).unwrap();
    let events: Vec<Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["event"].clone())
        .collect();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    println!(
        "fleet outage: broker down {outage} s, daemon restarted at {} s; {queued} events queued, \
         {} delivered after the broker returned (drained {:.1} s after it came back), \
         frames dropped during the outage: {dropped_during}",
        outage / 2,
        events.len(),
        drained.as_secs_f64()
    );
    assert_eq!(
        dropped_during, 0,
        "frames dropped while the broker was away"
    );
    assert!(
        events.len() as u64 >= queued,
        "every queued event delivered: {kinds:?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none missing: {seqs:?}"
    );
    for kind in ["uplink_failed", "config_rejected", "recording_stopped"] {
        assert!(kinds.contains(&kind), "{kind} delivered: {kinds:?}");
    }
    assert_eq!(
        kinds.iter().filter(|k| **k == "config_rejected").count(),
        2,
        "both refusals, one from each run: {kinds:?}"
    );
    let _ = d.child.kill();
}
