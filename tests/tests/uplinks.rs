//! Uplinks against real peers on loopback: SRT to `srt-live-transmit` and `ffmpeg`
//! (plain, AES-128, AES-256, a streamid), the box as an SRT listener, RTMP to two nginx-rtmp
//! applications; captures judged by ffprobe and a full decode.

use std::time::Duration;

use fourcast_e2e::peers::{
    Capture, Nginx, Peer, ffmpeg_srt_listener, free_udp_port, srt_caller, srt_listener,
};
use fourcast_e2e::{Daemon, TempDir, config_with, destination};

const RUNG_720: (u64, u64) = (1280, 720);
const RUNG_480: (u64, u64) = (854, 480);
const RUNG_360: (u64, u64) = (640, 360);

#[test]
fn srt_reaches_real_receivers_plain_encrypted_with_streamid_and_as_listener() {
    let tmp = TempDir::new("srt");
    let ports: Vec<u16> = (0..5).map(|_| free_udp_port()).collect();
    let cap = |n: &str| tmp.0.join(format!("{n}.ts"));
    let mut receivers: Vec<(&str, Peer, (u64, u64))> = vec![
        (
            "plain",
            srt_listener(ports[0], "", &cap("plain"), None),
            RUNG_720,
        ),
        (
            "aes128",
            srt_listener(
                ports[1],
                "passphrase=fourcast-aes-128&pbkeylen=16",
                &cap("aes128"),
                None,
            ),
            RUNG_480,
        ),
        (
            "aes256",
            srt_listener(
                ports[2],
                "passphrase=fourcast-aes-256&pbkeylen=32",
                &cap("aes256"),
                None,
            ),
            RUNG_360,
        ),
        (
            "ffmpeg",
            ffmpeg_srt_listener(
                ports[3],
                "passphrase=fourcast-ffmpeg-1&pbkeylen=32",
                &cap("ffmpeg"),
            ),
            RUNG_480,
        ),
    ];
    std::thread::sleep(Duration::from_millis(500));
    let outputs = format!(
        r##"
[[outputs.srt]]
name = "plain"
mode = "caller"
host = "127.0.0.1"
port = {p0}
rung = "720p"

[[outputs.srt]]
name = "aes128"
mode = "caller"
host = "127.0.0.1"
port = {p1}
passphrase = "fourcast-aes-128"
key_length = 16
rung = "480p"

[[outputs.srt]]
name = "aes256"
mode = "caller"
host = "127.0.0.1"
port = {p2}
passphrase = "fourcast-aes-256"
key_length = 32
streamid = "#!::r=live/venue1,m=publish"
rung = "360p"

[[outputs.srt]]
name = "ffmpeg"
mode = "caller"
host = "127.0.0.1"
port = {p3}
passphrase = "fourcast-ffmpeg-1"
key_length = 32
rung = "480p"

[[outputs.srt]]
name = "pull"
mode = "listener"
bind = "127.0.0.1"
port = {p4}
rung = "360p"
"##,
        p0 = ports[0],
        p1 = ports[1],
        p2 = ports[2],
        p3 = ports[3],
        p4 = ports[4],
    );
    let mut d = Daemon::start(Some(&config_with(&outputs)));
    d.wait_live(
        &["plain", "aes128", "aes256", "ffmpeg"],
        Duration::from_secs(40),
    );
    // The box listens; a player calls it.
    std::thread::sleep(Duration::from_secs(1));
    receivers.push((
        "pull",
        srt_caller("127.0.0.1", ports[4], &cap("pull")),
        RUNG_360,
    ));
    d.wait_live(&["pull"], Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(12));

    let status = d.status();
    for (name, _, _) in &receivers {
        let dest = destination(&status, name);
        assert!(
            dest["bytes_sent"].as_u64().unwrap() > 200_000,
            "{name}: {dest}"
        );
        assert!(
            dest["bitrate_kbps"].as_f64().unwrap() > 300.0,
            "{name}: {dest}"
        );
        assert_eq!(dest["reconnects"], 0, "{name}: {dest}");
        assert!(dest["srt"]["rtt_ms"].as_f64().is_some(), "{name}: {dest}");
    }
    assert_eq!(status["ladder"]["dropped_frames"], 0, "{status}");
    for (name, peer, _) in receivers.iter_mut() {
        if *name == "ffmpeg" {
            peer.interrupt();
        } else {
            peer.kill();
        }
    }
    for (name, peer, (w, h)) in &receivers {
        let c = Capture::probe(&peer.capture);
        c.assert_good(name, *w, *h, 0.1);
        assert!(c.duration() > 8.0, "{name}: {:.1} s captured", c.duration());
    }
}

#[test]
fn rtmp_to_two_nginx_applications_at_once() {
    let tmp = TempDir::new("rtmp");
    let nginx = Nginx::start(&tmp.0, &["live", "backup"]);
    let outputs = format!(
        r#"
[[outputs.rtmp]]
name = "platform-a"
url = "rtmp://127.0.0.1:{port}/live"
key = "key-a-7f3e9c"
rung = "720p"

[[outputs.rtmp]]
name = "platform-b"
url = "rtmp://127.0.0.1:{port}/backup"
key = "key-b-51d2aa"
rung = "360p"
"#,
        port = nginx.port
    );
    let mut d = Daemon::start(Some(&config_with(&outputs)));
    d.wait_live(&["platform-a", "platform-b"], Duration::from_secs(40));
    std::thread::sleep(Duration::from_secs(12));
    d.signal(libc::SIGTERM);
    let _ = d.child.wait();
    std::thread::sleep(Duration::from_millis(500));
    for (app, key, (w, h)) in [
        ("live", "key-a-7f3e9c", RUNG_720),
        ("backup", "key-b-51d2aa", RUNG_360),
    ] {
        let files = nginx.recordings(app);
        assert_eq!(files.len(), 1, "{app}: {files:?}");
        let name = files[0].file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with(key),
            "{app}: published as {name}, not under its key"
        );
        let c = Capture::probe(&files[0]);
        c.assert_good(app, w, h, 0.1);
        assert!(c.duration() > 8.0, "{app}: {:.1} s recorded", c.duration());
    }
}

#[test]
fn an_encrypted_uplink_never_falls_back_to_plain() {
    // A receiver without the passphrase: the box's encrypted uplink must not connect in the
    // clear, and nothing may reach the receiver.
    let tmp = TempDir::new("srt-no-fallback");
    let port = free_udp_port();
    let capture = tmp.0.join("plain-receiver.ts");
    let mut receiver = srt_listener(port, "", &capture, None);
    std::thread::sleep(Duration::from_millis(500));
    let outputs = format!(
        r#"
[[outputs.srt]]
name = "secret"
mode = "caller"
host = "127.0.0.1"
port = {port}
passphrase = "only-for-the-right-receiver"
rung = "360p"
"#
    );
    let mut d = Daemon::start(Some(&config_with(&outputs)));
    d.wait_until("the uplink tried", Duration::from_secs(30), |d| {
        let s = d.status();
        let dest = destination(&s, "secret");
        dest["reconnects"].as_u64().unwrap_or(0) >= 1 || !dest["last_error"].is_null()
    });
    std::thread::sleep(Duration::from_secs(5));
    let s = d.status();
    let dest = destination(&s, "secret");
    assert_ne!(dest["state"], "live", "{dest}");
    receiver.kill();
    let got = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        got, 0,
        "{got} bytes reached a receiver without the passphrase"
    );
}

/// RTMPS to a platform behind a TLS terminator (stunnel in front of nginx-rtmp) with a test
/// CA that the box trusts (the daemon runs in a mount namespace of its own where the test
/// CA is the system's trust store): the key arrives and the stream plays. A server whose
/// certificate another CA signed, or that names another host, is refused with the reason,
/// and nothing reaches it in the clear.
#[test]
fn rtmps_reaches_a_trusted_platform_and_refuses_untrusted_ones() {
    use fourcast_e2e::broker::Pki;
    use fourcast_e2e::peers::{Peer, require};
    require("stunnel4", "stunnel4");
    require("unshare", "util-linux");
    let tmp = TempDir::new("rtmps");
    let nginx = Nginx::start(&tmp.0, &["live", "backup", "other"]);
    let trusted = Pki::new(&tmp.0.join("pki"), "platform-ca");
    let stranger = Pki::new(&tmp.0.join("other-pki"), "stranger-ca");
    let terminator = |name: &str, id: &fourcast_e2e::broker::Identity| -> (Peer, u16) {
        let port = fourcast_e2e::free_port();
        let conf = tmp.0.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[rtmps]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{}\ncert = {}\nkey = {}\n",
                nginx.port,
                id.cert.display(),
                id.key.display()
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new("stunnel4");
        cmd.arg(&conf);
        let peer = Peer::spawn(
            cmd,
            &tmp.0.join(format!("{name}.out")),
            &tmp.0.join(format!("{name}.log")),
            false,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "stunnel {name} did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        (peer, port)
    };
    let (_good, good) = terminator(
        "good",
        &trusted.issue_for("platform", &["127.0.0.1", "localhost"]),
    );
    let (_untrusted, untrusted) =
        terminator("untrusted", &stranger.issue_for("platform", &["127.0.0.1"]));
    let (_elsewhere, elsewhere) = terminator(
        "elsewhere",
        &trusted.issue_for("elsewhere", &["elsewhere.example"]),
    );
    let outputs = format!(
        r#"
[[outputs.rtmp]]
name = "secure"
url = "rtmps://127.0.0.1:{good}/live"
key = "rtmps-key-good-4a1"
rung = "360p"

[[outputs.rtmp]]
name = "untrusted"
url = "rtmps://127.0.0.1:{untrusted}/backup"
key = "rtmps-key-untrusted-9c2"
rung = "360p"

[[outputs.rtmp]]
name = "elsewhere"
url = "rtmps://127.0.0.1:{elsewhere}/other"
key = "rtmps-key-elsewhere-7d3"
rung = "360p"
"#
    );
    let wrapper: Vec<String> = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount --bind "$0" /etc/ssl/certs/ca-certificates.crt && exec "$@""#,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([trusted.ca_file().display().to_string()])
    .collect();
    let mut d = Daemon::start_wrapped(&config_with(&outputs), &wrapper);
    d.wait_live(&["secure"], Duration::from_secs(40));
    std::thread::sleep(Duration::from_secs(10));
    let status = d.status();
    for name in ["untrusted", "elsewhere"] {
        let o = destination(&status, name);
        assert_ne!(o["state"], "live", "{name} must not go live: {o}");
        let error = o["last_error"].as_str().unwrap_or("").to_lowercase();
        println!("{name}: {error}");
        assert!(
            error.contains("certificate") || error.contains("tls"),
            "{name}: the reason names the certificate: {o}"
        );
    }
    d.signal(libc::SIGTERM);
    let _ = d.child.wait();
    std::thread::sleep(Duration::from_millis(500));
    let files = nginx.recordings("live");
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("rtmps-key-good-4a1"),
        "published as {name}"
    );
    let c = Capture::probe(&files[0]);
    c.assert_good("rtmps", RUNG_360.0, RUNG_360.1, 0.1);
    assert!(c.duration() > 8.0, "{:.1} s recorded", c.duration());
    for app in ["backup", "other"] {
        assert!(nginx.recordings(app).is_empty(), "{app} received a stream");
    }
}
