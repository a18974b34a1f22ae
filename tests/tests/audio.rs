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
