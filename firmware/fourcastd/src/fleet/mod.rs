//! The fleet agent: the box's link to its fleet manager over MQTT 5 (`[fleet]` in the
//! config; the protocol is `firmware/fleet/PROTOCOL.md`).
//!
//! The protocol's rules are the pure `fourcast_fleet::agent::Agent`; this room does its
//! I/O: one task that polls the MQTT event loop, feeds the agent what happens (the box's
//! events, telemetry ticks, messages, acknowledgements) and does what it answers. Nothing
//! here is on the media plane's path: the engine never waits for this task, and a dead or
//! slow broker costs the stream nothing (events wait in `fleet.redb`, bounded).

mod commands;
mod link;
mod the_box;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::watch;

use crate::http::device::Device;

/// What the web UI, the status API and the metrics show of the fleet link.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FleetStatus {
    pub enabled: bool,
    pub broker: String,
    pub tenant: String,
    pub device_id: String,
    pub tags: Vec<String>,
    /// `off`, `connecting`, `connected` or `waiting` (to reconnect).
    pub state: &'static str,
    /// Unix ms of the last successful connection.
    pub last_connected_ms: Option<u64>,
    /// Why the last connection failed or was lost, or what the broker refused.
    pub last_error: Option<String>,
    /// Topics the broker's ACL refused this box (subscribe or publish).
    pub denied: Vec<String>,
    pub connects: u64,
    pub reconnects: u64,
    pub published: u64,
    /// Events waiting for the broker, and dropped (oldest first) to stay within bounds.
    pub queued: u64,
    pub dropped: u64,
}

static STATUS: Mutex<Option<FleetStatus>> = Mutex::new(None);

/// The fleet link as it is now.
pub(crate) fn status() -> FleetStatus {
    STATUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or(FleetStatus {
            state: "off",
            ..FleetStatus::default()
        })
}

fn update(f: impl FnOnce(&mut FleetStatus)) {
    let mut s = STATUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let s = s.get_or_insert_with(|| FleetStatus {
        state: "off",
        ..FleetStatus::default()
    });
    f(s);
}

/// Runs the fleet link while `[fleet]` is enabled, restarting it when that table changes;
/// returns after `stop` (having said goodbye to the broker).
pub(crate) async fn supervise(device: Device, stop: watch::Receiver<bool>) {
    let mut running = device.controller.watch_running();
    let data_dir = running.borrow().config.storage.data_dir.clone();
    let mut store: Option<Arc<fourcast_store::FleetStore>> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let fleet = running.borrow_and_update().config.fleet.clone();
        update(|s| {
            *s = FleetStatus {
                enabled: fleet.enabled,
                broker: fleet.broker.clone(),
                tenant: fleet.tenant.clone(),
                tags: fleet.tags.clone(),
                state: if fleet.enabled { "connecting" } else { "off" },
                ..FleetStatus::default()
            }
        });
        if fleet.enabled {
            if store.is_none() {
                match fourcast_store::FleetStore::open(&data_dir.join("fleet.redb")) {
                    Ok(s) => store = Some(Arc::new(s)),
                    Err(e) => update(|s| s.last_error = Some(e.to_string())),
                }
            }
            if let Some(store) = &store {
                link::run(
                    &device,
                    &fleet,
                    store.clone(),
                    running.clone(),
                    stop.clone(),
                )
                .await;
                continue;
            }
        }
        let mut stop = stop.clone();
        tokio::select! {
            _ = running.changed() => {}
            _ = stop.changed() => return,
        }
    }
}
