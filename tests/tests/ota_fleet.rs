//! Firmware updates across a fleet: a real box takes a job from `fourcast-fleet ota
//! rollout` over mosquitto (TLS, ACL) and the rollout counts it only after the box says
//! `succeeded` from its new slot; and a staged rollout over simulated boxes stops at its
//! failure threshold, leaving the rest untouched.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fourcast_e2e::broker::{Mosquitto, Pki};
use fourcast_e2e::rauc::{BundleServer, COMPATIBLE, Rig, Signer, image, sha256};
use fourcast_e2e::{Daemon, TempDir, default_config};
use serde_json::Value;

#[test]
fn a_fleet_rollout_updates_a_real_box_and_counts_it_only_after_its_health_check() {
    let dir = TempDir::new("ota-fleet");
    let pki = Pki::new(&dir.0.join("pki"), "fleet-ca");
    let broker = Mosquitto::start(&dir.0, &pki);
    let id = pki.issue("box-1", false);
    let mut rig = Rig::start("0.1.0");
    let bundle = rig.bundle("good", "0.2.0", COMPATIBLE, &image("0.2.0"), Signer::Ours);
    let server = BundleServer::start(&bundle, 10_000_000, None);
    let config = default_config(|c| {
        c.fleet = broker.fleet("box-1", &id);
        c.ota.install = fourcast_config::Install::Now;
    });
    let mut d = Daemon::start_args(&config, &rig.daemon_args());
    d.wait_until("the fleet link", Duration::from_secs(30), |d| {
        d.json("/api/v1/device")["fleet"]["state"] == "connected"
    });
    let hash = sha256(&bundle);
    let rollout = broker
        .tool_command(&[
            "--json",
            "ota",
            "rollout",
            "--tag",
            "stage",
            "--bundle",
            &server.url(),
            "--sha256",
            &hash,
            "--batch",
            "1",
            "--health-window",
            "30",
            "--install",
            "now",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The box installs and reboots; the rig plays the bootloader.
    let deadline = Instant::now() + Duration::from_secs(90);
    while d.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no reboot:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(rig.reboot_mark().exists(), "{}", d.log());
    assert_eq!(rig.reboot(), "B");
    let d = Daemon::restart_args(d, &rig.daemon_args());
    let out = rollout.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            d.log()
        )
    });
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["counts"]["succeeded"], 1, "{report}");
    assert_eq!(report["boxes"]["box-1"]["outcome"], "succeeded", "{report}");
    let o = d.json("/api/v1/ota");
    assert_eq!(o["job"]["phase"], "succeeded", "{o}");
    assert_eq!(
        o["job"]["id"], report["job"],
        "the box ran the rollout's job"
    );
    assert_eq!(o["firmware_version"], "0.2.0");
    println!(
        "fleet rollout of one real box: {:.1} s from job to succeeded",
        report["seconds"].as_f64().unwrap_or(0.0)
    );
    // Where each box stands, from telemetry.
    let status = broker.tool_json(&["ota", "status", "--tag", "stage", "--wait", "3"]);
    let row = status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "box-1")
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["phase"], "succeeded", "{status}");
    assert_eq!(row["firmware"], "0.2.0", "{status}");
}

#[test]
fn a_staged_rollout_stops_at_its_failure_threshold_and_leaves_the_rest_untouched() {
    let dir = TempDir::new("ota-rollout");
    let pki = Pki::new(&dir.0.join("pki"), "fleet-ca");
    let broker = Mosquitto::start(&dir.0, &pki);
    let devices = 200;
    let mut sim = broker
        .tool_command(&[
            "simulate",
            "--devices",
            &devices.to_string(),
            "--tag",
            "sim",
            "--telemetry-s",
            "5",
            "--ota-fail-pct",
            "15",
            "--ota-seconds",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let report = broker.tool_json(&[
        "ota",
        "rollout",
        "--tag",
        "sim",
        "--bundle",
        "http://updates.example/b.raucb",
        "--sha256",
        &"ab".repeat(32),
        "--batch",
        "10",
        "--rate",
        "10000/min",
        "--max-failures",
        "10%",
        "--discover",
        "4",
    ]);
    let _ = sim.kill();
    let _ = sim.wait();
    let c = &report["counts"];
    let (ok, failed, untouched) = (
        c["succeeded"].as_u64().unwrap(),
        c["failed"].as_u64().unwrap(),
        c["untouched"].as_u64().unwrap(),
    );
    println!(
        "rollout over {devices} simulated boxes, 15 % failing: {} after {:.1} s, counts {}",
        report["aborted"],
        report["seconds"].as_f64().unwrap_or(0.0),
        report["counts"]
    );
    assert!(report["aborted"].is_string(), "aborted: {report}");
    assert!(untouched > 0, "the rest untouched: {report}");
    assert_eq!(ok + failed + untouched, devices, "{report}");
    let started = ok + failed;
    assert!(
        failed * 100 > 10 * started,
        "aborted only past the threshold: {failed} of {started}"
    );
    // No box outside the started ones was sent the job.
    let boxes = report["boxes"].as_object().unwrap();
    let pending = boxes.values().filter(|b| b["outcome"] == "pending").count() as u64;
    assert_eq!(pending, untouched);
}
