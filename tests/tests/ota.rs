//! Firmware updates end to end: the real daemon drives a real `rauc service` (on a private
//! D-Bus with the policy the box ships, a custom bootloader backend, file slots) through
//! upload or download, install, reboot (the rig plays the bootloader and the daemon is
//! started again), post-update health and `Mark good` — or rollback, or a refusal that
//! leaves the booted slot untouched.

use std::time::{Duration, Instant};

use fourcast_e2e::rauc::{BundleServer, COMPATIBLE, Rig, Signer, big_image, image, sha256};
use fourcast_e2e::{Daemon, default_config};

/// The virtual board's default, and a health window the tests can wait out.
fn config() -> String {
    default_config(|c| {
        c.ota.health_window_s = 30;
        c.ota.install = fourcast_config::Install::Now;
    })
}

fn ota(d: &Daemon) -> serde_json::Value {
    d.json("/api/v1/ota")
}

/// The update status once the agent has reached RAUC after a (re)start: HTTP may answer
/// before it does.
fn ota_ready(d: &Daemon) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = ota(d);
        if !o["booted_slot"].is_null() || std::time::Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn phase(d: &Daemon) -> String {
    ota(d)["job"]["phase"].as_str().unwrap_or("").to_string()
}

fn upload(d: &Daemon, bundle: &std::path::Path, query: &str) -> fourcast_e2e::Response {
    let body = std::fs::read(bundle).unwrap();
    d.send(
        "POST",
        &format!("/api/v1/ota/bundle{query}"),
        &[("Content-Type", "application/octet-stream")],
        &body,
    )
}

/// Waits for the daemon to reboot the box: it stops cleanly and runs the reboot command.
fn wait_reboot(d: &mut Daemon, rig: &Rig, timeout: Duration) {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = d.child.try_wait() {
            assert!(
                status.success(),
                "fourcastd exited badly: {status}\n{}",
                d.log()
            );
            assert!(
                rig.reboot_mark().exists(),
                "fourcastd exited without running the reboot command:\n{}",
                d.log()
            );
            let _ = std::fs::remove_file(rig.reboot_mark());
            return;
        }
        let job = d
            .try_get("/api/v1/ota")
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .map(|o| o["job"].clone())
            .unwrap_or_default();
        assert!(
            !["failed", "succeeded"].contains(&job["phase"].as_str().unwrap_or("")),
            "the job ended instead of rebooting: {job}"
        );
        assert!(
            start.elapsed() < timeout,
            "no reboot within {timeout:?}; the job: {job}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_phase(d: &mut Daemon, want: &str, timeout: Duration) {
    d.wait_until(&format!("the job to be {want}"), timeout, |d| {
        let p = phase(d);
        if ["failed", "rolled_back", "succeeded"].contains(&p.as_str()) && p != want {
            panic!("the job ended {p}, not {want}: {}", ota(d)["job"]);
        }
        p == want
    });
}

fn ota_events(d: &Daemon) -> Vec<String> {
    d.events()
        .iter()
        .filter(|e| e["type"] == "ota")
        .map(|e| e["phase"].as_str().unwrap_or("").to_string())
        .collect()
}

fn start(rig: &Rig) -> Daemon {
    let mut d = Daemon::start_args(&config(), &rig.daemon_args());
    d.wait_until("the updater to see RAUC", Duration::from_secs(20), |d| {
        ota(d)["booted_slot"].is_string()
    });
    d
}

#[test]
fn an_uploaded_bundle_installs_reboots_proves_itself_and_only_then_is_good() {
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let mut d = start(&rig);
    let o = ota(&d);
    assert_eq!(o["firmware_version"], "0.1.0", "{o}");
    assert_eq!(o["booted_slot"], "rootfs.0", "{o}");
    assert_eq!(o["compatible"], COMPATIBLE);

    let began = Instant::now();
    let r = upload(&d, &bundle, "");
    assert_eq!(r.status, 202, "{}", r.text());
    wait_reboot(&mut d, &rig, Duration::from_secs(60));
    assert_eq!(rig.slot_image("B"), {
        let mut b = image("0.2.0");
        b.resize(2 << 20, 0);
        b
    });
    assert_eq!(rig.boot_state().0, "B", "RAUC made the new slot primary");
    assert_eq!(rig.reboot(), "B");
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    d.wait_until("health to be checked", Duration::from_secs(20), |d| {
        ["checking_health", "succeeded"].contains(&phase(d).as_str())
    });
    // Not good before it has proven itself: the slot is still only "tried".
    wait_phase(&mut d, "succeeded", Duration::from_secs(60));
    let took = began.elapsed();
    let o = ota(&d);
    assert_eq!(o["firmware_version"], "0.2.0");
    let slot_b = o["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "rootfs.1")
        .unwrap()
        .clone();
    assert_eq!(slot_b["state"], "booted", "{o}");
    assert_eq!(slot_b["boot_status"], "good", "{o}");
    assert!(
        rig.log().contains("marked slot rootfs.1 as good"),
        "RAUC was asked to mark the slot good:\n{}",
        rig.log()
    );
    let events = ota_events(&d);
    assert_eq!(
        events.iter().filter(|p| *p == "succeeded").count(),
        1,
        "succeeded is said once: {events:?}"
    );
    assert!(
        events.contains(&"checking_health".to_string()),
        "{events:?}"
    );
    println!(
        "job to succeeded (upload, reboot, health): {:.1} s",
        took.as_secs_f64()
    );
}

#[test]
fn bad_bundles_are_refused_and_the_booted_slot_is_untouched() {
    let rig = Rig::start("0.2.0");
    let good = rig.bundle("good", "0.3.0", COMPATIBLE, &image("0.3.0"), Signer::Ours);
    let tampered = rig.dir.0.join("tampered.raucb");
    let mut bytes = std::fs::read(&good).unwrap();
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0x55;
    std::fs::write(&tampered, bytes).unwrap();
    let cases = [
        ("tampered", tampered, ""),
        ("unsigned", rig.unsigned_bundle("0.3.0"), ""),
        (
            "another CA's",
            rig.bundle(
                "stranger",
                "0.3.0",
                COMPATIBLE,
                &image("0.3.0"),
                Signer::Stranger,
            ),
            "",
        ),
        (
            "another board's",
            rig.bundle(
                "other",
                "0.3.0",
                "fourcast-rk3588",
                &image("0.3.0"),
                Signer::Ours,
            ),
            "fourcast-rk3588",
        ),
        (
            "an older",
            rig.bundle("older", "0.1.9", COMPATIBLE, &image("0.1.9"), Signer::Ours),
            "downgrade",
        ),
        (
            "the same",
            rig.bundle("same", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours),
            "not newer",
        ),
    ];
    let mut d = start(&rig);
    let before = (rig.slot_image("A"), rig.slot_image("B"), rig.boot_state());
    for (what, bundle, words) in cases {
        let r = upload(&d, &bundle, "");
        assert_eq!(r.status, 202, "{what}: {}", r.text());
        wait_phase(&mut d, "failed", Duration::from_secs(30));
        let reason = ota(&d)["job"]["phase"]["reason"]
            .as_str()
            .or(ota(&d)["job"]["reason"].as_str())
            .unwrap_or("")
            .to_string();
        assert!(
            reason.contains(words),
            "{what} bundle: the reason {reason:?} should say {words:?}"
        );
        println!("{what} bundle: failed: {reason}");
        assert_eq!(
            (rig.slot_image("A"), rig.slot_image("B"), rig.boot_state()),
            before,
            "{what} bundle: no slot or boot state changed"
        );
    }
    assert!(d.child.try_wait().unwrap().is_none(), "no reboot");
}

#[test]
fn firmware_that_fails_its_health_check_is_rolled_back() {
    let mut rig = Rig::start("0.1.0");
    // A build whose image still carries the old firmware while its manifest says 0.2.0.
    let bundle = rig.bundle("liar", "0.2.0", COMPATIBLE, &image("0.1.0"), Signer::Ours);
    let mut d = start(&rig);
    assert_eq!(upload(&d, &bundle, "").status, 202);
    wait_reboot(&mut d, &rig, Duration::from_secs(60));
    assert_eq!(rig.reboot(), "B");
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    // The window is 30 s; the agent then marks B bad, A active, and reboots.
    wait_reboot(&mut d, &rig, Duration::from_secs(90));
    let (primary, a, b) = rig.boot_state();
    assert_eq!(
        (primary.as_str(), a.as_str(), b.as_str()),
        ("A", "good", "bad")
    );
    assert_eq!(rig.reboot(), "A", "the old slot boots");
    let d = Daemon::restart_args(d, &rig.daemon_args());
    let o = ota_ready(&d);
    assert_eq!(o["job"]["phase"], "rolled_back", "{o}");
    let reason = o["job"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("runs 0.1.0 instead of 0.2.0"), "{reason}");
    assert_eq!(o["booted_slot"], "rootfs.0");
    assert_eq!(o["firmware_version"], "0.1.0");
}

#[test]
fn firmware_whose_daemon_cannot_start_falls_back_and_the_job_says_so() {
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let mut d = start(&rig);
    assert_eq!(upload(&d, &bundle, "").status, 202);
    wait_reboot(&mut d, &rig, Duration::from_secs(60));
    let _ = d.child.wait();
    assert_eq!(rig.reboot(), "B");
    // The new firmware's daemon cannot bring up its program (no GStreamer plugins): it
    // exits, systemd gives up and reboots, the bootloader's counter runs out.
    for _ in 0..3 {
        let out = std::process::Command::new(fourcast_e2e::fourcastd())
            .args(["run", "--data-dir"])
            .arg(d.data.0.join("data"))
            .args(["--listen", "127.0.0.1:0"])
            .args(rig.daemon_args())
            .env("GST_PLUGIN_SYSTEM_PATH_1_0", "/nonexistent")
            .env("GST_REGISTRY", rig.dir.0.join("empty-registry.bin"))
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the broken firmware's daemon must fail"
        );
    }
    assert_eq!(rig.fall_back(), "A");
    let d = Daemon::restart_args(d, &rig.daemon_args());
    let o = ota_ready(&d);
    assert_eq!(o["job"]["phase"], "failed", "{o}");
    let reason = o["job"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("booted rootfs.0") && reason.contains("fell back"),
        "{reason}"
    );
}

#[test]
fn a_download_resumes_after_a_broken_link_and_after_a_power_cut() {
    let rig = Rig::start("0.1.0");
    let bundle = rig.bundle(
        "big",
        "0.2.0",
        COMPATIBLE,
        &big_image("0.2.0", 1 << 20),
        Signer::Ours,
    );
    // ~100 KB/s: about 10 s for the bundle; the first connection breaks after 200 KB.
    let server = BundleServer::start(&bundle, 100_000, Some(200_000));
    let mut d = start(&rig);
    let job =
        serde_json::json!({ "url": server.url(), "sha256": sha256(&bundle), "install": "now" });
    let r = d.send(
        "POST",
        "/api/v1/ota/jobs",
        &[("Content-Type", "application/json")],
        job.to_string().as_bytes(),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    // Power cut in the middle of the (resumed) download.
    d.wait_until(
        "the download to pass 400 KB",
        Duration::from_secs(60),
        |d| ota(d)["job"]["done_bytes"].as_u64().unwrap_or(0) > 400_000,
    );
    d.signal(libc::SIGKILL);
    let _ = d.child.wait();
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    wait_reboot(&mut d, &rig, Duration::from_secs(90));
    let ranges = server.ranges.lock().unwrap().clone();
    assert_eq!(ranges[0], "-", "{ranges:?}");
    assert!(
        ranges[1..]
            .iter()
            .all(|r| r.starts_with("bytes=") && r != "bytes=0-"),
        "every later request resumes: {ranges:?}"
    );
    assert!(
        ranges.len() >= 3,
        "a broken link and a power cut: {ranges:?}"
    );
    assert_eq!(rig.boot_state().0, "B");
}

#[test]
fn a_pinned_hash_that_does_not_match_is_refused_before_raucs_sees_the_bundle() {
    let rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let server = BundleServer::start(&bundle, 10_000_000, None);
    let mut d = start(&rig);
    for (job, field) in [
        (
            serde_json::json!({ "url": "ftp://x/b", "sha256": "00" }),
            "url",
        ),
        (
            serde_json::json!({ "url": server.url(), "sha256": "abc" }),
            "sha256",
        ),
    ] {
        let r = d.send("POST", "/api/v1/ota/jobs", &[], job.to_string().as_bytes());
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.text().contains(field), "{}", r.text());
    }
    let wrong = "0".repeat(64);
    let job = serde_json::json!({ "url": server.url(), "sha256": wrong });
    let r = d.send("POST", "/api/v1/ota/jobs", &[], job.to_string().as_bytes());
    assert_eq!(r.status, 202, "{}", r.text());
    wait_phase(&mut d, "failed", Duration::from_secs(30));
    let reason = ota(&d)["job"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("SHA-256"), "{reason}");
    assert!(!rig.log().contains("installing"), "RAUC never saw it");
}

#[test]
fn the_reboot_waits_for_the_show_and_a_technician_can_force_it() {
    let rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let mut d = start(&rig);
    let r = d.request("POST", "/api/v1/recording/start", &[]);
    assert!(r.status < 300, "{}", r.text());
    let r = upload(&d, &bundle, "?install=idle");
    assert_eq!(r.status, 202, "{}", r.text());
    d.wait_until("the reboot to wait", Duration::from_secs(30), |d| {
        phase(d) == "rebooting" && ota(d)["waiting"]["why"].is_string()
    });
    let why = ota(&d)["waiting"]["why"].as_str().unwrap().to_string();
    assert!(why.contains("recording"), "{why}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "no reboot while recording"
    );
    let r = d.send("POST", "/api/v1/ota/postpone", &[], br#"{"minutes": 30}"#);
    assert_eq!(r.status, 202);
    d.wait_until("the postpone to show", Duration::from_secs(10), |d| {
        ota(d)["postponed_until_ms"].is_u64()
    });
    assert_eq!(d.request("POST", "/api/v1/ota/force", &[]).status, 202);
    wait_reboot(&mut d, &rig, Duration::from_secs(30));
}

#[test]
fn only_root_and_the_daemons_user_may_talk_to_rauc() {
    let rig = Rig::start("0.1.0");
    let method = "de.pengutronix.rauc.Installer.GetSlotStatus";
    assert!(rig.call_as(0, method).is_ok(), "root may");
    let e = rig.call_as(65534, method).unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
    let e = rig
        .call_as(65534, "de.pengutronix.rauc.Installer.Mark")
        .unwrap_err();
    assert!(e.contains("AccessDenied"), "{e}");
}

#[test]
fn a_power_cut_while_checking_health_resumes_the_check() {
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let mut d = start(&rig);
    assert_eq!(upload(&d, &bundle, "").status, 202);
    wait_reboot(&mut d, &rig, Duration::from_secs(60));
    assert_eq!(rig.reboot(), "B");
    // A health window the daemon cannot pass at once: HLS must advance past the first look.
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    d.wait_until("health to be checked", Duration::from_secs(20), |d| {
        phase(d) == "checking_health"
    });
    d.signal(libc::SIGKILL);
    let _ = d.child.wait();
    assert!(
        !rig.log().contains("marked slot rootfs.1 as good"),
        "not marked good before the check ended"
    );
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    wait_phase(&mut d, "succeeded", Duration::from_secs(60));
    let history: Vec<String> = ota(&d)["job"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        history.iter().filter(|p| *p == "checking_health").count(),
        1,
        "the check resumed, not restarted from scratch: {history:?}"
    );
}

/// The browser half: `web-ui/tests/ota.mjs` with `step`.
fn browser(d: &Daemon, step: &str, extra: &[(&str, &str)]) {
    fourcast_e2e::peers::require("node", "nodejs");
    fourcast_e2e::peers::require("/usr/bin/chromium", "chromium");
    let web_ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui");
    let out = std::process::Command::new("node")
        .arg("tests/ota.mjs")
        .current_dir(&web_ui)
        .env("BASE_URL", format!("http://127.0.0.1:{}", d.port))
        .env("PASSWORD", &d.password)
        .env("STEP", step)
        .envs(extra.iter().copied())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser's {step} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_technician_updates_the_box_from_the_web_ui_during_a_recording() {
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let config = default_config(|c| {
        c.ota.health_window_s = 30;
        c.ota.install = fourcast_config::Install::Idle;
    });
    let mut d = Daemon::start_args(&config, &rig.daemon_args());
    d.wait_until("the updater to see RAUC", Duration::from_secs(20), |d| {
        ota(d)["booted_slot"].is_string()
    });
    let r = d.request("POST", "/api/v1/recording/start", &[]);
    assert!(r.status < 300, "{}", r.text());
    browser(&d, "upload", &[("BUNDLE", bundle.to_str().unwrap())]);
    wait_reboot(&mut d, &rig, Duration::from_secs(30));
    assert_eq!(rig.reboot(), "B");
    let d = Daemon::restart_args(d, &rig.daemon_args());
    browser(&d, "after", &[("VERSION", "0.2.0")]);
}

#[test]
fn an_agent_killed_during_the_install_picks_up_what_rauc_finished() {
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    rig.slow_install(4);
    let mut d = start(&rig);
    assert_eq!(upload(&d, &bundle, "").status, 202);
    d.wait_until("the install", Duration::from_secs(20), |d| {
        phase(d) == "installing"
    });
    // Only the daemon dies; RAUC (its own service) goes on.
    d.signal(libc::SIGKILL);
    let _ = d.child.wait();
    // The agent finds RAUC's finished install and goes on to the reboot.
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    wait_reboot(&mut d, &rig, Duration::from_secs(30));
    assert_eq!(rig.reboot(), "B");
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    wait_phase(&mut d, "succeeded", Duration::from_secs(60));
}

#[test]
fn a_power_cut_during_the_install_leaves_the_booted_slot_and_says_so() {
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    rig.slow_install(30);
    let mut d = start(&rig);
    let before = (rig.slot_image("A"), rig.boot_state());
    assert_eq!(upload(&d, &bundle, "").status, 202);
    d.wait_until("the install", Duration::from_secs(20), |d| {
        phase(d) == "installing"
    });
    // The power goes: the daemon and RAUC with it; the machine boots its primary again.
    d.signal(libc::SIGKILL);
    let _ = d.child.wait();
    rig.slow_install(0);
    assert_eq!(rig.power_cut(), "A");
    let mut d = Daemon::restart_args(d, &rig.daemon_args());
    wait_phase(&mut d, "failed", Duration::from_secs(30));
    let reason = ota(&d)["job"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("cut short") && reason.contains("untouched"),
        "{reason}"
    );
    assert_eq!(
        (rig.slot_image("A"), rig.boot_state()),
        before,
        "the booted slot as it was"
    );
    // And the box takes the next update.
    assert_eq!(upload(&d, &bundle, "").status, 202);
    wait_reboot(&mut d, &rig, Duration::from_secs(60));
}
