//! Attacks from the venue network, replayed against the running daemon: each of these took
//! the box (or its password) before the fix it names. Attackers connect from other loopback
//! addresses (127.0.0.2 and up), so the box sees them as other clients than the
//! technician on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use fourcast_e2e::{Daemon, connect_from, http_send, http_send_from, media_playlist};

/// Peak resident memory of a process so far (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        / 1024
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

/// Lets this test process hold a thousand sockets.
fn raise_own_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < 4096 {
        assert!(
            hard >= 4096,
            "this test needs 4096 descriptors; the hard limit is {hard}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, 4096, hard).expect("setrlimit");
    }
}

/// True once the box has closed `s` (read gives end of file or a reset).
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// The number of the newest segment in the top rung's playlist.
fn newest_segment(d: &Daemon) -> u64 {
    let p = media_playlist(&d.get("/hls/720p/index.m3u8").text());
    p.media_sequence + p.segments.len() as u64
}

#[test]
fn a_thousand_half_open_connections_do_not_take_the_box_down() {
    raise_own_descriptor_limit();
    let mut d = Daemon::start(None);
    d.wait_until("HLS", Duration::from_secs(40), |d| {
        d.try_get("/hls/720p/index.m3u8")
            .is_some_and(|r| r.status == 200)
    });
    let pid = d.child.id();
    let before = newest_segment(&d);
    // Slowloris: a request line and one header, then nothing, from one address.
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let opened = Instant::now();
    let mut held = Vec::new();
    for _ in 0..1100 {
        match connect_from(attacker, d.port) {
            Ok(mut s) => {
                let _ = s.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: box\r\n");
                held.push(s);
            }
            Err(e) => panic!("connect {}: {e}", held.len()),
        }
    }
    // The technician and the players are still served, at once.
    let asked = Instant::now();
    let r = d.get("/api/v1/status");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(d.get("/hls/master.m3u8").status, 200);
    eprintln!(
        "status answered in {} ms beside 1100 half-open connections",
        asked.elapsed().as_millis()
    );
    let fds = open_descriptors(pid);
    eprintln!("the box holds {fds} descriptors");
    assert!(
        fds < 600,
        "{fds} descriptors open: the half-open connections are not capped"
    );
    // Segments keep being written (the attack used to exhaust descriptors and fail them).
    d.wait_until("a new segment", Duration::from_secs(10), |d| {
        newest_segment(d) > before + 1
    });
    // Every half-open socket is closed by the box: at once over the cap, after the header
    // deadline (10 s) otherwise.
    let deadline = opened + Duration::from_secs(20);
    loop {
        held.retain_mut(|s| !closed_by_peer(s));
        if held.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} half-open connections still open after 20 s",
            held.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "all closed by the box {} ms after they opened",
        opened.elapsed().as_millis()
    );
    assert!(d.get("/api/v1/status").status == 200);
}

const WRONG: &[u8] = br#"{"password":"not-the-password-1"}"#;

fn login_from(source: Ipv4Addr, port: u16) -> u16 {
    match http_send_from(source, port, "POST", "/api/v1/login", &[], WRONG) {
        Ok(r) => r.status,
        Err(e) => panic!("login from {source}: {e}"),
    }
}

/// How many wrong guesses from one address the throttle lets be checked within `lasted`:
/// the free ones and the one that sets off the wait, then one each time the wait (1 s,
/// doubling) has run out.
fn checks_allowed_within(lasted: Duration) -> usize {
    let free = fourcast_auth::FREE_FAILURES as usize + 1;
    let mut waited = Duration::ZERO;
    let mut wait = fourcast_auth::FIRST_WAIT;
    let mut more = 0;
    while waited + wait <= lasted {
        waited += wait;
        wait *= 2;
        more += 1;
    }
    free + more
}

#[test]
fn parallel_wrong_logins_are_throttled_before_checking_and_bounded_in_memory() {
    let mut d = Daemon::start(None);
    let pid = d.child.id();
    let port = d.port;
    // The pipelines' own memory settles once HLS runs; measure the peak from there.
    d.wait_until("HLS", Duration::from_secs(40), |d| {
        d.try_get("/hls/720p/index.m3u8")
            .is_some_and(|r| r.status == 200)
    });
    std::thread::sleep(Duration::from_secs(4));
    let peak_before = peak_rss_mib(pid);
    // 200 guesses at once from one address: only the free attempts are checked, and after
    // them one more each time the wait (1 s, doubling) runs out while the burst lasts.
    let burst = Instant::now();
    let guesses: Vec<_> = (0..200)
        .map(|_| {
            std::thread::spawn(move || {
                http_send(port, "POST", "/api/v1/login", &[], WRONG)
                    .map(|r| (r.status, r.text()))
                    .unwrap_or((0, String::new()))
            })
        })
        .collect();
    let replies: Vec<(u16, String)> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let lasted = burst.elapsed();
    // A checked guess is answered "wrong password" (401, or 429 once it set off the wait);
    // the others are turned away unchecked (429), or at the door (one address may hold
    // 32 connections: the rest are closed unanswered, status 0).
    let checked = replies
        .iter()
        .filter(|(_, text)| text.contains("wrong password"))
        .count();
    let turned_away = replies
        .iter()
        .filter(|(s, text)| *s == 0 || (*s == 429 && !text.contains("wrong password")))
        .count();
    eprintln!(
        "one address, 200 at once over {} ms: {checked} checked, {turned_away} turned away unchecked",
        lasted.as_millis()
    );
    let allowed = checks_allowed_within(lasted);
    assert!(
        checked <= allowed,
        "{checked} of 200 parallel guesses were checked in {} ms; the throttle allows {allowed}",
        lasted.as_millis()
    );
    assert_eq!(checked + turned_away, 200, "{replies:?}");
    // 60 addresses, one guess each, at once: each is checked, but only a few at a time.
    let guesses: Vec<_> = (10..70)
        .map(|n| std::thread::spawn(move || login_from(Ipv4Addr::new(127, 0, 0, n), port)))
        .collect();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let peak_after = peak_rss_mib(pid);
    eprintln!("peak RSS {peak_before} MiB before, {peak_after} MiB after 60 parallel checks");
    assert!(
        peak_after < peak_before + 120,
        "password checks took the peak from {peak_before} to {peak_after} MiB"
    );
    // The right password still works from an address that did not guess.
    let body = format!(r#"{{"password":"{}"}}"#, d.password);
    let r = http_send_from(
        Ipv4Addr::new(127, 0, 0, 99),
        port,
        "POST",
        "/api/v1/login",
        &[],
        body.as_bytes(),
    )
    .expect("login");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn first_boot_setup_needs_the_code_the_box_printed() {
    let d = Daemon::start_unset();
    let code = d.setup_code();
    let setup = |body: &str| {
        http_send_from(
            Ipv4Addr::new(127, 0, 0, 5),
            d.port,
            "POST",
            "/api/v1/setup",
            &[],
            body.as_bytes(),
        )
        .expect("setup")
    };
    // Whoever reaches the box first cannot claim it without the code.
    let r = setup(r#"{"password":"claimed-by-a-stranger"}"#);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("\"code\""), "{}", r.text());
    let r = setup(r#"{"password":"claimed-by-a-stranger","code":"ABCD-EFGH"}"#);
    assert_eq!(r.status, 403, "{}", r.text());
    // The technician types it as read off the console (any case, with or without dash).
    assert!(d.log().contains(&code), "the code is on the console");
    let typed = code.to_lowercase().replace('-', "");
    let r = setup(&format!(
        r#"{{"password":"the-venue-password","code":"{typed}"}}"#
    ));
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        !d.data.0.join("data/setup-code").exists(),
        "the code is erased once used"
    );
    let r = setup(&format!(
        r#"{{"password":"another-password","code":"{typed}"}}"#
    ));
    assert_eq!(r.status, 409, "setup happens once: {}", r.text());
}

#[test]
fn a_careless_or_stolen_admin_session_cannot_reach_outside_the_box() {
    let shared = fourcast_e2e::TempDir::new("shared-dir");
    let foreign = shared.0.join("passwords.ts");
    std::fs::write(&foreign, vec![0x47u8; 1000]).expect("write");
    let config = format!(
        "{}\n[[outputs.rtmp]]\nname = \"platform\"\nenabled = false\nurl = \"rtmp://127.0.0.1:1/live\"\nkey = \"the-platform-key\"\nrung = \"360p\"\n",
        fourcast_e2e::default_config(|c| c.recording.path = Some(shared.0.clone()))
    );
    let d = Daemon::start(Some(&config));
    let patch = |patch: serde_json::Value| {
        let base = d.json("/api/v1/config")["revision"].clone();
        let body = serde_json::json!({ "base_revision": base, "patch": patch });
        d.send(
            "PATCH",
            "/api/v1/config",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };

    // A recording directory shared with other files: only the recorder's own are listed,
    // and nothing there is trimmed.
    let list = d.json("/api/v1/recordings");
    assert!(
        !list.to_string().contains("passwords.ts"),
        "a foreign file is listed: {list}"
    );
    assert_eq!(std::fs::metadata(&foreign).unwrap().len(), 1000);

    // Sizes that overflow a u32: refused by field, not a 500 or a wrapped 20 000-px logo.
    let r = patch(serde_json::json!({ "overlays": { "logo": {
        "path": "/nonexistent.png", "x": 4_294_967_200u64, "y": 0, "width": 20_000 } } }));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("overlays.logo.width"), "{}", r.text());

    // "***" keeps a stream key only for the server it was given for.
    let r = patch(serde_json::json!({ "outputs": { "rtmp": [{
        "name": "platform", "enabled": false, "url": "rtmp://attacker.example/live",
        "key": "***", "rung": "360p" }] } }));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("outputs.rtmp[0].key"), "{}", r.text());

    // The page cannot be framed, sniffed or made to load anything but its own files.
    let page = d.get("/");
    for (name, want) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(page.header(name), Some(want), "{name}");
    }
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );

    // Secrets at rest are the box's user's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let data = d.data.0.join("data");
    assert_eq!(mode(&data.join("store.redb")), 0o600);
    assert_eq!(mode(&data.join("device.key")), 0o600);
    assert_eq!(mode(&data), 0o700);
}

#[test]
fn the_admin_password_can_be_changed_and_old_sessions_end() {
    let d = Daemon::start(None);
    let port = d.port;
    let post = |path: &str, headers: &[(&str, &str)], body: String| {
        http_send(port, "POST", path, headers, body.as_bytes()).expect(path)
    };
    let login = |password: &str| {
        post(
            "/api/v1/login",
            &[],
            format!(r#"{{"password":"{password}"}}"#),
        )
    };
    let r = login(&d.password);
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let csrf = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let with_session = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    // The current password is needed: a stolen session alone cannot lock the owner out.
    let r = post(
        "/api/v1/password",
        &with_session,
        r#"{"current":"not-the-password","new":"a-new-venue-password"}"#.into(),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post(
        "/api/v1/password",
        &with_session,
        format!(r#"{{"current":"{}","new":"short"}}"#, d.password),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let r = post(
        "/api/v1/password",
        &with_session,
        format!(
            r#"{{"current":"{}","new":"a-new-venue-password"}}"#,
            d.password
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The old session is gone, the old password too; the new one works.
    let r = http_send(
        port,
        "GET",
        "/api/v1/status",
        &[("Cookie", cookie.as_str())],
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 401, "the old session still works");
    assert_eq!(login(&d.password).status, 401);
    assert_eq!(login("a-new-venue-password").status, 200);
}

#[test]
fn an_srt_input_without_a_passphrase_is_refused_unless_said_open() {
    let dir = fourcast_e2e::TempDir::new("open-srt");
    let check = |open: bool| {
        let text = fourcast_e2e::default_config(|c| {
            let mut i = fourcast_config::Input::srt("cam2", 9001, "unused passphrase");
            if let fourcast_config::Source::Srt(s) = &mut i.source {
                s.passphrase = None;
                s.open = open;
            }
            c.inputs[1] = i;
        });
        let file = dir.0.join("box.toml");
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(fourcast_e2e::fourcastd())
            .arg("check-config")
            .arg(&file)
            .output()
            .expect("fourcastd runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    };
    let (ok, said) = check(false);
    assert!(!ok, "an open SRT input was accepted silently: {said}");
    assert!(said.contains("inputs[1].passphrase"), "{said}");
    let (ok, said) = check(true);
    assert!(ok, "open = true is the explicit way: {said}");
}
