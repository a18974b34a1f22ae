//! Uplink config changes on a running box: bad ones are refused by field and leave the
//! running outputs alone; a good one restarts only its destination; secrets never leak.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use fourcast_e2e::peers::{Nginx, free_udp_port, srt_listener};
use fourcast_e2e::{Daemon, TempDir, config_with, destination};

const KEY: &str = "SeCrEt-key-9481x";
const PASSPHRASE: &str = "pass-phrase-55555";

#[test]
fn bad_uplink_changes_are_refused_by_field_and_secrets_never_leak() {
    let tmp = TempDir::new("uplink-config");
    let nginx = Nginx::start(&tmp.0, &["live"]);
    let srt_port = free_udp_port();
    let mut receiver = srt_listener(
        srt_port,
        &format!("passphrase={PASSPHRASE}&pbkeylen=32"),
        &tmp.0.join("origin.ts"),
        None,
    );
    std::thread::sleep(Duration::from_millis(300));
    let good = config_with(&format!(
        r#"
[[outputs.srt]]
name = "origin"
mode = "caller"
host = "127.0.0.1"
port = {srt_port}
latency_ms = 200
passphrase = "{PASSPHRASE}"
key_length = 32
rung = "480p"

[[outputs.rtmp]]
name = "platform"
url = "rtmp://127.0.0.1:{rtmp}/live"
key = "{KEY}"
rung = "360p"
"#,
        rtmp = nginx.port
    ));
    let mut d = Daemon::start(Some(&good));
    d.wait_live(&["origin", "platform"], Duration::from_secs(40));
    let revision = d.status()["config_revision"].clone();

    let rtmp_url = format!("rtmp://127.0.0.1:{}/live", nginx.port);
    let bad: Vec<(String, &str)> = vec![
        (
            good.replace(&rtmp_url, "rtmp//127.0.0.1/live"),
            "outputs.rtmp[0].url",
        ),
        (
            good.replace(&rtmp_url, "ftp://127.0.0.1/live"),
            "outputs.rtmp[0].url",
        ),
        (
            good.replace("key_length = 32", "key_length = 20"),
            "outputs.srt[0].key_length",
        ),
        (
            good.replace("latency_ms = 200", "latency_ms = 0"),
            "outputs.srt[0].latency_ms",
        ),
        (
            good.replace("latency_ms = 200", "latency_ms = 10001"),
            "outputs.srt[0].latency_ms",
        ),
        (
            good.replace(PASSPHRASE, "short"),
            "outputs.srt[0].passphrase",
        ),
        (
            good.replace("rung = \"360p\"", "rung = \"4k\""),
            "outputs.rtmp[0].rung",
        ),
    ];
    for (i, (text, path)) in bad.iter().enumerate() {
        d.reload(text);
        d.wait_until(
            &format!("bad change {i} rejected at {path}"),
            Duration::from_secs(15),
            |d| {
                d.events()
                    .iter()
                    .filter(|e| e["type"] == "config_rejected")
                    .nth(i)
                    .is_some_and(|e| {
                        e["errors"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|x| x["path"] == *path)
                    })
            },
        );
    }
    let status = d.status();
    assert_eq!(
        status["config_revision"], revision,
        "a bad change was stored"
    );
    for name in ["origin", "platform"] {
        let dest = destination(&status, name);
        assert_eq!(dest["state"], "live", "{name}: {dest}");
        assert_eq!(dest["reconnects"], 0, "{name} was disturbed: {dest}");
    }

    // A good change to one destination restarts that one only; no encoder is touched.
    let origin_bytes = destination(&status, "origin")["bytes_sent"]
        .as_u64()
        .unwrap();
    d.reload(&good.replace("rung = \"360p\"", "rung = \"480p\""));
    d.wait_until("platform moved to 480p", Duration::from_secs(30), |d| {
        let s = d.status();
        let p = destination(&s, "platform");
        p["rung"] == "480p" && p["state"] == "live"
    });
    let after = d.status();
    assert_eq!(
        after["ladder"]["builds"], 1,
        "the ladder was rebuilt: {after}"
    );
    let origin = destination(&after, "origin");
    assert_eq!(origin["reconnects"], 0, "{origin}");
    assert!(
        origin["bytes_sent"].as_u64().unwrap() > origin_bytes,
        "{origin}"
    );

    // Secrets: never in the log, the API or the metrics; sealed in the store.
    let config = d.get("/api/v1/config").text();
    assert!(config.contains("\"***\""), "{config}");
    let surfaces = [
        ("log", d.log()),
        ("status", d.get("/api/v1/status").text()),
        ("config", config),
        ("events", d.get("/api/v1/events").text()),
        ("metrics", d.get("/metrics").text()),
    ];
    for (what, text) in &surfaces {
        for secret in [KEY, PASSPHRASE] {
            assert!(
                !text.contains(secret),
                "the secret {secret:?} shows in the {what}"
            );
        }
    }
    let data = d.data.0.join("data");
    let store = std::fs::read(data.join("store.redb")).unwrap();
    for secret in [KEY, PASSPHRASE] {
        assert!(
            !store.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} is stored in plain text"
        );
    }
    let mode = std::fs::metadata(data.join("device.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "device key mode {mode:o}");
    receiver.kill();

    // After a restart the sealed secrets open again and the uplinks come back.
    d.signal(libc::SIGTERM);
    let _ = d.child.wait();
    let mut again = Daemon::restart(d);
    let mut receiver = srt_listener(
        srt_port,
        &format!("passphrase={PASSPHRASE}&pbkeylen=32"),
        &tmp.0.join("origin-2.ts"),
        None,
    );
    again.wait_live(&["origin", "platform"], Duration::from_secs(60));
    receiver.kill();
}
