//! The status document (`GET /api/v1/status`, and the SSE stream's `status` events): the
//! box's identity and uptime with the engine's counters. Its own room, so the routes (api)
//! and the event stream (events) both read it without importing each other.

use serde::Serialize;

use crate::controller::Controller;

#[derive(Serialize)]
pub(crate) struct Status {
    version: &'static str,
    board: String,
    uptime_s: f64,
    config_revision: u64,
    #[serde(flatten)]
    engine: fourcast_engine::EngineStatus,
}

/// The status document (blocking: it takes the controller's lock).
pub(crate) fn status_of(c: &Controller) -> Status {
    let s = c.snapshot();
    Status {
        version: env!("CARGO_PKG_VERSION"),
        board: s.config.board.clone(),
        uptime_s: s.uptime_s,
        config_revision: s.revision,
        engine: s.engine,
    }
}
