//! The box itself: what it is (version, board, uptime, disk), its log tail, and the two
//! things a technician does to it as a whole: reboot and factory reset.
//!
//! Reboot and reset are asked of the run loop ([`Power`]), which stops the engine cleanly
//! (last segments closed, recordings finalised) before it acts. On the virtual board a
//! reboot restarts the daemon in place; on a real board it reboots the machine.

use crate::http::reply::blocking;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::controller::Controller;
use crate::http::access::{field_error, parse};

/// What the run loop is asked to do with the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Power {
    Run,
    Reboot,
    /// Erase the config history, the admin password, API tokens and the device key, then
    /// reboot into first-boot setup. Recordings are kept.
    FactoryReset,
}

/// The phrase a factory reset must be confirmed with.
pub(crate) const RESET_PHRASE: &str = "factory reset";

#[derive(Clone)]
pub(crate) struct Device {
    pub controller: Controller,
    pub power: Arc<watch::Sender<Power>>,
    /// Where HTTPS is served, when it is.
    pub https: Option<HttpsInfo>,
    /// The update agent, when the box has a RAUC.
    pub ota: Option<crate::ota::Ota>,
    /// The front panel (set once it has started).
    pub panel: Option<crate::panel::Panel>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HttpsInfo {
    pub address: String,
    /// SHA-256 of the box's certificate, to compare with what a browser shows.
    pub fingerprint: String,
}

#[derive(Serialize)]
struct Info {
    version: &'static str,
    board: String,
    hostname: String,
    kernel: String,
    cpus: usize,
    uptime_s: f64,
    config_revision: u64,
    data_dir: String,
    data_free_mb: Option<u64>,
    /// What `POST /api/v1/device/reboot` does on this board.
    reboot: &'static str,
    https: Option<HttpsInfo>,
    /// The link to the fleet manager.
    fleet: crate::fleet::FleetStatus,
    /// Firmware updates: the version booted, the slots, the current job.
    ota: crate::ota::OtaStatus,
}

/// `GET /api/v1/device`.
pub(crate) async fn info(State(d): State<Device>) -> Response {
    let https = d.https.clone();
    let s = match blocking(move || d.controller.snapshot()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let data_dir = s.config.storage.data_dir.clone();
    Json(Info {
        version: env!("CARGO_PKG_VERSION"),
        reboot: reboot_kind(&s.config.board),
        board: s.config.board,
        hostname: proc_text("/proc/sys/kernel/hostname"),
        kernel: proc_text("/proc/sys/kernel/osrelease"),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        uptime_s: s.uptime_s,
        config_revision: s.revision,
        data_free_mb: fourcast_engine::outputs::recorder::free_bytes(&data_dir).map(|b| b >> 20),
        data_dir: data_dir.display().to_string(),
        https,
        fleet: crate::fleet::status(),
        ota: crate::ota::status(),
    })
    .into_response()
}

/// On the virtual board there is no machine of ours to reboot: the daemon restarts.
pub(crate) fn reboot_kind(board: &str) -> &'static str {
    if board == fourcast_board::DEFAULT_BOARD {
        "restarts the daemon"
    } else {
        "reboots the machine"
    }
}

fn proc_text(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub(crate) struct LogQuery {
    lines: Option<usize>,
}

/// `GET /api/v1/device/log?lines=N`: the newest log lines (at most [`LOG_LINES`]).
pub(crate) async fn log(Query(q): Query<LogQuery>) -> Json<Vec<String>> {
    Json(log_ring().tail(q.lines.unwrap_or(200)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirm {
    confirm: String,
}

/// `POST /api/v1/device/reboot`: answers 202, then the run loop stops and restarts.
pub(crate) async fn reboot(State(d): State<Device>) -> Response {
    tracing::warn!("reboot asked for over the API");
    let _ = d.power.send(Power::Reboot);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "rebooting": true })),
    )
        .into_response()
}

/// `POST /api/v1/device/factory-reset` with `{"confirm": "factory reset"}`.
pub(crate) async fn factory_reset(State(d): State<Device>, body: Bytes) -> Response {
    let body: Confirm = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if body.confirm != RESET_PHRASE {
        return field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirm",
            format!("type \"{RESET_PHRASE}\" to confirm: settings, password and tokens are erased"),
        );
    }
    tracing::warn!("factory reset asked for over the API");
    let _ = d.power.send(Power::FactoryReset);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "resetting": true })),
    )
        .into_response()
}

/// Log lines kept for the web UI.
pub(crate) const LOG_LINES: usize = 500;

/// The newest log lines, in memory (bounded), fed by the log writer.
#[derive(Default)]
pub(crate) struct LogRing {
    lines: Mutex<VecDeque<String>>,
}

impl LogRing {
    fn push(&self, text: &str) {
        let mut q = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if q.len() == LOG_LINES {
                q.pop_front();
            }
            q.push_back(strip_ansi(line));
        }
    }

    pub(crate) fn tail(&self, n: usize) -> Vec<String> {
        let q = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().skip(q.len().saturating_sub(n)).cloned().collect()
    }
}

pub(crate) fn log_ring() -> &'static LogRing {
    static RING: OnceLock<LogRing> = OnceLock::new();
    RING.get_or_init(LogRing::default)
}

/// The log writer's second half: each formatted event goes into [`log_ring`].
pub(crate) struct RingWriter;

impl Write for RingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        log_ring().push(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Drops terminal colour codes (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_ring_keeps_the_newest_lines_without_colour() {
        let ring = LogRing::default();
        for i in 0..LOG_LINES + 7 {
            ring.push(&format!("\u{1b}[32m INFO\u{1b}[0m line {i}\n"));
        }
        let tail = ring.tail(3);
        assert_eq!(
            tail,
            vec![
                format!(" INFO line {}", LOG_LINES + 4),
                format!(" INFO line {}", LOG_LINES + 5),
                format!(" INFO line {}", LOG_LINES + 6),
            ]
        );
        assert_eq!(ring.tail(10_000).len(), LOG_LINES);
    }
}
