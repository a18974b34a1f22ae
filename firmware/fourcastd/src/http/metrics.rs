//! `/metrics` in the Prometheus text exposition format (pure: snapshot in, text out).

use std::fmt::Write;

use crate::controller::Snapshot;

#[allow(clippy::too_many_lines)] // one flat list of metric families
pub(crate) fn render(s: &Snapshot, f: &crate::fleet::FleetStatus) -> String {
    let mut out = String::new();
    let e = &s.engine;
    gauge(
        &mut out,
        "fourcast_uptime_seconds",
        "Seconds since the daemon started.",
        &[(String::new(), s.uptime_s)],
    );
    gauge(
        &mut out,
        "fourcast_config_revision",
        "Config revision running.",
        &[(String::new(), s.revision as f64)],
    );
    gauge(
        &mut out,
        "fourcast_program_fps",
        "Frames per second leaving the mixer.",
        &[(String::new(), e.program.fps)],
    );
    counter(
        &mut out,
        "fourcast_program_frames_total",
        "Program frames mixed.",
        &[(String::new(), e.program.frames as f64)],
    );
    counter(
        &mut out,
        "fourcast_program_dropped_frames_total",
        "Frames missing from the program timeline.",
        &[(String::new(), e.program.dropped_frames as f64)],
    );
    counter(
        &mut out,
        "fourcast_ladder_dropped_frames_total",
        "Program frames the encoders could not take in time.",
        &[(String::new(), e.ladder.dropped_frames as f64)],
    );
    let inputs = |f: &dyn Fn(&fourcast_engine::InputStatus) -> f64| -> Vec<(String, f64)> {
        e.inputs
            .iter()
            .map(|i| (label("input", &i.name), f(i)))
            .collect()
    };
    gauge(
        &mut out,
        "fourcast_input_fps",
        "Frames per second arriving from each input.",
        &inputs(&|i| i.fps),
    );
    gauge(
        &mut out,
        "fourcast_input_live",
        "1 if the input has signal.",
        &inputs(&|i| {
            f64::from(u8::from(
                i.state == fourcast_engine::program::InputState::Live,
            ))
        }),
    );
    gauge(
        &mut out,
        "fourcast_input_audio_peak_dbfs",
        "Peak level of each input's audio over the last second, dBFS.",
        &inputs(&|i| i.audio.peak_dbfs),
    );
    gauge(
        &mut out,
        "fourcast_input_audio_rms_dbfs",
        "RMS level of each input's audio over the last second, dBFS.",
        &inputs(&|i| i.audio.rms_dbfs),
    );
    gauge(
        &mut out,
        "fourcast_program_audio_peak_dbfs",
        "Peak level of the program audio over the last second, dBFS.",
        &[(String::new(), e.program.audio.peak_dbfs)],
    );
    gauge(
        &mut out,
        "fourcast_program_audio_rms_dbfs",
        "RMS level of the program audio over the last second, dBFS.",
        &[(String::new(), e.program.audio.rms_dbfs)],
    );
    let rungs = |f: &dyn Fn(&fourcast_engine::RungStatus) -> f64| -> Vec<(String, f64)> {
        e.rungs
            .iter()
            .map(|r| (label("rung", &r.name), f(r)))
            .collect()
    };
    gauge(
        &mut out,
        "fourcast_rung_fps",
        "Encoded frames per second per rung.",
        &rungs(&|r| r.fps),
    );
    gauge(
        &mut out,
        "fourcast_rung_bitrate_kbps",
        "Configured video bitrate per rung.",
        &rungs(&|r| f64::from(r.bitrate_kbps)),
    );
    gauge(
        &mut out,
        "fourcast_rung_measured_kbps",
        "Measured video bitrate per rung.",
        &rungs(&|r| r.measured_kbps),
    );
    counter(
        &mut out,
        "fourcast_rung_frames_total",
        "Frames encoded per rung.",
        &rungs(&|r| r.frames as f64),
    );
    counter(
        &mut out,
        "fourcast_rung_dropped_frames_total",
        "Frames not encoded per rung.",
        &rungs(&|r| r.dropped_frames as f64),
    );
    counter(
        &mut out,
        "fourcast_rung_segments_total",
        "HLS segments published per rung.",
        &rungs(&|r| r.segments as f64),
    );
    destinations(&mut out, e);
    fleet(&mut out, f);
    out
}

fn fleet(out: &mut String, f: &crate::fleet::FleetStatus) {
    let one = |v: f64| [(String::new(), v)];
    gauge(
        out,
        "fourcast_fleet_connected",
        "1 while the fleet link is connected to its broker.",
        &one(f64::from(u8::from(f.state == "connected"))),
    );
    counter(
        out,
        "fourcast_fleet_reconnects_total",
        "Fleet connections lost after being made.",
        &one(f.reconnects as f64),
    );
    gauge(
        out,
        "fourcast_fleet_queue_depth",
        "Events waiting for the fleet broker.",
        &one(f.queued as f64),
    );
    counter(
        out,
        "fourcast_fleet_published_total",
        "Messages handed to the fleet broker.",
        &one(f.published as f64),
    );
    counter(
        out,
        "fourcast_fleet_dropped_total",
        "Events dropped (oldest first) to keep the fleet queue within bounds.",
        &one(f.dropped as f64),
    );
}

fn destinations(out: &mut String, e: &fourcast_engine::EngineStatus) {
    use fourcast_engine::outputs::uplink::UplinkStatus as D;
    let each = |f: &dyn Fn(&D) -> Option<f64>| -> Vec<(String, f64)> {
        e.uplinks
            .iter()
            .filter_map(|d| {
                f(d).map(|v| {
                    (
                        format!(
                            "{{destination=\"{}\",kind=\"{}\"}}",
                            escape(&d.name),
                            d.kind
                        ),
                        v,
                    )
                })
            })
            .collect()
    };
    let states = ["idle", "connecting", "live", "retrying", "disabled"];
    let state_samples: Vec<(String, f64)> = e
        .uplinks
        .iter()
        .flat_map(|d| {
            states.iter().map(move |st| {
                (
                    format!(
                        "{{destination=\"{}\",kind=\"{}\",state=\"{st}\"}}",
                        escape(&d.name),
                        d.kind
                    ),
                    f64::from(u8::from(d.state.as_str() == *st)),
                )
            })
        })
        .collect();
    gauge(
        out,
        "fourcast_destination_state",
        "1 for the state each destination is in.",
        &state_samples,
    );
    counter(
        out,
        "fourcast_destination_bytes_sent_total",
        "Bytes handed to the network per destination.",
        &each(&|d| Some(d.bytes_sent as f64)),
    );
    gauge(
        out,
        "fourcast_destination_bitrate_kbps",
        "Measured send rate per destination.",
        &each(&|d| Some(d.bitrate_kbps)),
    );
    gauge(
        out,
        "fourcast_destination_target_kbps",
        "Adaptive uplink's current encoder target.",
        &each(&|d| d.target_kbps.map(f64::from)),
    );
    counter(
        out,
        "fourcast_destination_reconnects_total",
        "Reconnections per destination.",
        &each(&|d| Some(d.reconnects as f64)),
    );
    counter(
        out,
        "fourcast_destination_dropped_frames_total",
        "Video frames a destination lost because its link could not keep up.",
        &each(&|d| Some(d.dropped_frames as f64)),
    );
    gauge(
        out,
        "fourcast_srt_rtt_ms",
        "SRT round-trip time.",
        &each(&|d| d.srt.as_ref().map(|s| s.rtt_ms)),
    );
    counter(
        out,
        "fourcast_srt_packets_lost_total",
        "SRT packets the receiver reported lost.",
        &each(&|d| d.srt.as_ref().map(|s| s.packets_lost as f64)),
    );
    counter(
        out,
        "fourcast_srt_packets_retransmitted_total",
        "SRT packets retransmitted.",
        &each(&|d| d.srt.as_ref().map(|s| s.packets_retransmitted as f64)),
    );
    gauge(
        out,
        "fourcast_srt_send_buffer_ms",
        "Media waiting in front of the SRT socket.",
        &each(&|d| d.srt.as_ref().map(|s| s.send_buffer_ms)),
    );
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label(name: &str, value: &str) -> String {
    format!("{{{name}=\"{}\"}}", escape(value))
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    family(out, name, "gauge", help, samples);
}

fn counter(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    family(out, name, "counter", help, samples);
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("input", "a\"b\\c"), "{input=\"a\\\"b\\\\c\"}");
    }

    #[test]
    fn a_family_has_help_type_and_samples() {
        let mut out = String::new();
        counter(
            &mut out,
            "x_total",
            "Things.",
            &[(label("rung", "720p"), 3.0)],
        );
        assert_eq!(
            out,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{rung=\"720p\"} 3\n"
        );
    }
}
