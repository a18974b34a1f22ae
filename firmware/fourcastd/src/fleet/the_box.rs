//! What the box tells the fleet and how it takes the fleet's config: its identity, its
//! birth and telemetry documents, its events as the protocol numbers them, and a desired
//! config applied through the controller like any other change. Secrets never leave:
//! configs are written redacted and every outgoing text is scrubbed of secret values.

use fourcast_config::Fleet;
use fourcast_fleet::message::FieldError;
use fourcast_store::FleetStore;
use serde_json::{Value, json};

use crate::controller::{ChangeError, Controller, Event};

/// The box's fleet id: the config's, else the board's serial number, else one made on
/// first start and kept in `fleet.redb`.
pub(super) fn device_id(fleet: &Fleet, store: &FleetStore) -> Result<String, String> {
    if !fleet.device_id.is_empty() {
        return Ok(fleet.device_id.clone());
    }
    if let Some(serial) = board_serial() {
        return Ok(serial);
    }
    store
        .text_or("device_id", || format!("fc-{}", random_hex(6)))
        .map_err(|e| e.to_string())
}

/// A serial number the board reports (device tree on ARM boards, DMI on PCs), if it is
/// usable as a topic level.
fn board_serial() -> Option<String> {
    [
        "/proc/device-tree/serial-number",
        "/sys/class/dmi/id/product_serial",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .map(|s| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .to_ascii_lowercase()
    })
    .find(|s| {
        !matches!(
            s.as_str(),
            "" | "0" | "none" | "default string" | "to be filled by o.e.m."
        ) && fourcast_fleet::topic::check_id("device", s).is_ok()
    })
}

pub(super) fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut b = vec![0u8; bytes];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What the box is, after every connect. Blocking (reads the engine's status).
pub(super) fn birth(c: &Controller, fleet: &Fleet) -> Value {
    let s = c.snapshot();
    let config = &s.config;
    json!({
        "at_ms": now_ms(),
        "board": config.board,
        "firmware": firmware(),
        "encoders": [s.engine.ladder.encoder],
        "inputs": config.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        "ladder": config.ladder.rungs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        "uplinks": config.outputs.srt.iter().map(|o| o.name.as_str())
            .chain(config.outputs.rtmp.iter().map(|o| o.name.as_str())).collect::<Vec<_>>(),
        "scenes": config.scenes.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        "tags": fleet.tags,
        "capabilities": fourcast_fleet::agent::COMMANDS,
    })
}

/// The process's CPU time, to turn into a share of one core between two samples.
#[derive(Default)]
pub(super) struct CpuClock {
    last: Option<(u64, std::time::Instant)>,
}

impl CpuClock {
    /// Percent of one core since the last call (None the first time).
    fn sample(&mut self) -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) start after ") ".
        let rest = stat.rsplit_once(") ")?.1;
        let f: Vec<&str> = rest.split(' ').collect();
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        let now = std::time::Instant::now();
        let pct = self.last.map(|(t, at)| {
            let secs = now.duration_since(at).as_secs_f64().max(1e-3);
            // Linux reports CPU time in USER_HZ ticks of 1/100 s.
            (ticks.saturating_sub(t) as f64 / 100.0) / secs * 100.0
        });
        self.last = Some((ticks, now));
        pct
    }
}

/// The counters, every `fleet.telemetry_s`. Blocking (reads the engine's status).
pub(super) fn telemetry(c: &Controller, cpu: &mut CpuClock) -> Value {
    let s = c.snapshot();
    let data_dir = &s.config.storage.data_dir;
    let temp_c = std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp")
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .map(|m| m / 1000.0);
    json!({
        "firmware": firmware(),
        "ota": ota(),
        "tags": s.config.fleet.tags,
        "uptime_s": s.uptime_s,
        "config_revision": s.revision,
        "cpu_pct": cpu.sample(),
        "rss_mb": rss_mb(),
        "temp_c": temp_c,
        "disk_free_mb": fourcast_engine::outputs::recorder::free_bytes(data_dir).map(|b| b >> 20),
        "engine": s.engine,
    })
}

/// The firmware's version: the booted image's, when the box has an updater, else the
/// daemon's own.
pub(super) fn firmware() -> String {
    crate::ota::status()
        .firmware_version
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
}

/// The update job as telemetry carries it (what `fourcast-fleet ota status` shows).
fn ota() -> Value {
    let s = crate::ota::status();
    match s.job {
        Some(j) if s.enabled => {
            let reason = match &j.phase {
                fourcast_ota::job::Phase::Failed { reason }
                | fourcast_ota::job::Phase::RolledBack { reason } => Some(reason.clone()),
                _ => None,
            };
            json!({"job": j.id, "phase": j.phase.name(), "to_version": j.to_version, "reason": reason,
                "waiting": s.waiting.map(|w| w.why)})
        }
        _ => json!({"enabled": s.enabled}),
    }
}

fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(kb / 1024.0)
}

/// A box event as the protocol's `kind` and `body`, or None for the ones not sent
/// (segment notices: several a second, and what HLS players see anyway).
pub(super) fn event(e: &Event) -> Option<(String, Value)> {
    let mut v = serde_json::to_value(e).ok()?;
    let kind = v.as_object_mut()?.remove("type")?.as_str()?.to_string();
    if kind == "segment_published" {
        return None;
    }
    Some((kind, v))
}

/// `text` with every secret value of the running config replaced by `***`.
pub(super) fn scrub(c: &Controller, text: &str) -> String {
    let mut out = text.to_string();
    for secret in c.running().config.secret_values() {
        if secret.len() >= 4 {
            out = out.replace(&secret, fourcast_config::REDACTED);
        }
    }
    out
}

/// Applies a desired config through the controller (source `fleet`): the box keeps its
/// own `[fleet]` table (its identity and certificates are not the fleet's to push).
/// Returns the refusal's field errors, empty when applied. Blocking.
pub(super) fn apply(c: &Controller, desired: Value) -> Vec<FieldError> {
    let mut config = match crate::http::config::config_of(desired) {
        Ok(config) => config,
        Err(errs) => return field_errors(&errs),
    };
    config.fleet = c.running().config.fleet.clone();
    match c.change_config(config, "fleet", None) {
        Ok(_) => Vec::new(),
        Err(ChangeError::Invalid(errs)) => field_errors(&errs),
        Err(other) => vec![FieldError {
            path: "(box)".into(),
            message: other.to_string(),
        }],
    }
}

fn field_errors(errs: &fourcast_config::ConfigErrors) -> Vec<FieldError> {
    errs.iter()
        .map(|e| FieldError {
            path: e.path.clone(),
            message: e.message.clone(),
        })
        .collect()
}

/// The running config as the fleet may see it (every secret `***`).
pub(super) fn reported_config(c: &Controller) -> Value {
    serde_json::to_value(&c.running().config).unwrap_or(Value::Null)
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
