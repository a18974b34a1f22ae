//! Audio meters: each virtual camera's tone and the program mix, in status and metrics.

use std::time::Duration;

use fourcast_e2e::Daemon;

#[test]
fn status_and_metrics_carry_input_and_program_audio_levels() {
    let mut d = Daemon::start(None);
    d.wait_until("audio levels", Duration::from_secs(30), |d| {
        d.status()["program"]["audio"]["rms_dbfs"]
            .as_f64()
            .is_some_and(|v| v > -90.0)
    });
    std::thread::sleep(Duration::from_secs(2));
    let status = d.status();
    eprintln!(
        "program {} | inputs {:?}",
        status["program"]["audio"],
        status["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["audio"].to_string())
            .collect::<Vec<_>>()
    );
    // Each virtual camera plays a sine at volume 0.1: peak −20 dBFS, RMS −23 dBFS.
    for input in status["inputs"].as_array().unwrap() {
        let peak = input["audio"]["peak_dbfs"].as_f64().unwrap();
        let rms = input["audio"]["rms_dbfs"].as_f64().unwrap();
        assert!((-21.0..=-19.0).contains(&peak), "{input}");
        assert!((-24.0..=-22.0).contains(&rms), "{input}");
    }
    // Four such tones of different pitch mix to about 4 × the power: RMS ≈ −17 dBFS.
    let program = &status["program"]["audio"];
    let rms = program["rms_dbfs"].as_f64().unwrap();
    assert!((-18.5..=-15.5).contains(&rms), "{program}");
    let peak = program["peak_dbfs"].as_f64().unwrap();
    assert!(peak > rms && peak <= 0.0, "{program}");
    let metrics = d.get("/metrics").text();
    for name in [
        "fourcast_input_audio_peak_dbfs{input=\"cam1\"}",
        "fourcast_input_audio_rms_dbfs{input=\"cam4\"}",
        "fourcast_program_audio_rms_dbfs",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
}

/// The program's RMS once it settles inside `range` (the meters report each second).
fn program_rms_settles(d: &mut Daemon, what: &str, range: std::ops::RangeInclusive<f64>) -> f64 {
    let mut last = f64::NAN;
    d.wait_until(what, Duration::from_secs(15), |d| {
        last = d.status()["program"]["audio"]["rms_dbfs"]
            .as_f64()
            .unwrap_or(f64::NAN);
        range.contains(&last)
    });
    // A reading taken while the meter's window still holds the old mix can pass through
    // the range: it must still be there a window later.
    std::thread::sleep(Duration::from_millis(1500));
    let settled = d.status()["program"]["audio"]["rms_dbfs"]
        .as_f64()
        .unwrap_or(f64::NAN);
    eprintln!("{what}: program rms {last:.1}, then {settled:.1} dBFS");
    assert!(
        range.contains(&settled),
        "{what}: {settled} dBFS not in {range:?}"
    );
    settled
}

fn mix(d: &Daemon, body: &str) -> (u16, serde_json::Value) {
    let r = d.send(
        "POST",
        "/api/v1/audio",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let v = serde_json::from_slice(&r.body).unwrap_or_default();
    (r.status, v)
}

#[test]
fn mute_solo_gain_and_follow_video_change_the_program_audio_live() {
    let mut d = Daemon::start(None);
    // Four tones at −23 dBFS RMS each: about −17 together, −23 alone.
    program_rms_settles(&mut d, "all four tones", -18.5..=-15.5);

    let (s, v) = mix(
        &d,
        r#"{"inputs":{"cam2":{"mute":true},"cam3":{"mute":true},"cam4":{"mute":true}}}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["inputs"][1]["mute"], true, "{v}");
    program_rms_settles(&mut d, "cam1 alone", -24.5..=-21.5);

    let (s, _) = mix(&d, r#"{"inputs":{"cam1":{"gain_db":-6}}}"#);
    assert_eq!(s, 200);
    program_rms_settles(&mut d, "cam1 at -6 dB", -30.5..=-27.5);

    let (s, _) = mix(&d, r#"{"inputs":{"cam1":{"mute":true}}}"#);
    assert_eq!(s, 200);
    program_rms_settles(&mut d, "everything muted", -200.0..=-80.0);

    // Solo wins over follow-video; with nothing soloed, only what is on program is heard.
    let (s, _) = mix(
        &d,
        r#"{"inputs":{"cam1":{"mute":false,"gain_db":0},"cam2":{"mute":false,"solo":true},
            "cam3":{"mute":false},"cam4":{"mute":false}}}"#,
    );
    assert_eq!(s, 200);
    program_rms_settles(&mut d, "cam2 soloed", -24.5..=-21.5);
    let (s, _) = mix(
        &d,
        r#"{"follow_video":true,"inputs":{"cam2":{"solo":false}}}"#,
    );
    assert_eq!(s, 200);
    program_rms_settles(&mut d, "follow video, all four on program", -18.5..=-15.5);
    let r = d.send(
        "POST",
        "/api/v1/program/take",
        &[("Content-Type", "application/json")],
        br#"{"layout":"single","inputs":["cam3"]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    program_rms_settles(&mut d, "follow video, cam3 on program", -24.5..=-21.5);

    // Bad changes are refused whole and name the field; the mix stays as it was.
    let before = d.json("/api/v1/audio");
    for (body, status, path) in [
        (r#"{"inputs":{"cam9":{"mute":true}}}"#, 422, "inputs.cam9"),
        (r#"{"master_gain_db":40}"#, 422, "master_gain_db"),
        (
            r#"{"master_gain_db":-3,"inputs":{"cam1":{"gain_db":-200}}}"#,
            422,
            "inputs.cam1.gain_db",
        ),
        (r#"{"inputs":{"cam1":{"volume":1}}}"#, 400, "inputs.cam1"),
        (r#"{"follow_video":"yes"}"#, 400, "follow_video"),
    ] {
        let (s, v) = mix(&d, body);
        assert_eq!(s, status, "{body}: {v}");
        let got = v["error"]["path"].as_str().unwrap_or_default();
        assert!(got.starts_with(path), "{body}: error at {got:?}: {v}");
    }
    let after = d.json("/api/v1/audio");
    assert_eq!(before["inputs"], after["inputs"]);
    assert_eq!(before["master_gain_db"], after["master_gain_db"]);
    assert!(
        d.events().iter().any(|e| e["type"] == "mix_changed"),
        "a mix_changed event"
    );
}
