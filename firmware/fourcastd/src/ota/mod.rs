//! The update agent: firmware updates with RAUC (signed bundles, A/B slots), driven by the
//! pure rules in `fourcast_ota` (the job's phases, when to reboot, post-update health,
//! downgrades, the download's pace). This room does the I/O around them: RAUC over D-Bus,
//! the bundle on disk, the job kept in `ota/job.json` before every step that can be
//! interrupted, and the reboot.
//!
//! Where RAUC is, its system config and how to reboot come from the daemon's command line
//! (the product's systemd unit), never from the config an API client can change.

mod agent;
pub(crate) mod bundle;
pub(crate) mod download;
mod health;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fourcast_ota::job::Job;
use fourcast_ota::manifest::Slot;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::http::device::Device;

/// Where RAUC is (from the command line).
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// `system`, or a D-Bus address.
    pub bus: String,
    pub rauc_conf: PathBuf,
    /// The booted image's os-release (its `VERSION_ID` is the firmware's version).
    pub release_file: PathBuf,
}

/// Where a new job's bundle comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Uploaded into the agent's folder already, with its SHA-256.
    Uploaded { sha256: String },
    /// To fetch, pinned by SHA-256.
    Url { url: String, sha256: String },
}

/// A job as asked for (from the web UI, the API or the fleet).
#[derive(Debug, Clone)]
pub(crate) struct NewJob {
    pub id: Option<String>,
    pub source: Source,
    pub allow_downgrade: bool,
    /// Overrides `ota.install` for this job.
    pub install: Option<fourcast_config::Install>,
    pub health_window_s: Option<u32>,
    /// Who asked: `api` or `fleet`.
    pub by: String,
}

pub(crate) enum Ask {
    Start(NewJob, oneshot::Sender<Result<String, String>>),
    /// Hold the reboot this many minutes (0: lift the postpone).
    Postpone(u32),
    /// Reboot now, whatever the policy says.
    Force,
}

/// The agent's handle, for the HTTP API and the fleet link.
#[derive(Clone)]
pub(crate) struct Ota {
    pub asks: mpsc::Sender<Ask>,
    pub dir: PathBuf,
}

/// What the web UI, the API and the fleet see of updates.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct OtaStatus {
    /// The box was started with a RAUC to talk to.
    pub enabled: bool,
    /// The booted image's version (its os-release), when known.
    pub firmware_version: Option<String>,
    pub compatible: Option<String>,
    pub booted_slot: Option<String>,
    pub slots: Vec<Slot>,
    /// RAUC not reachable, or another reason updates cannot run now.
    pub problem: Option<String>,
    /// The newest job (running, or the last one that ended).
    pub job: Option<Job>,
    /// While a reboot waits: why, and when it may go (Unix ms) if known.
    pub waiting: Option<Waiting>,
    pub postponed_until_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Waiting {
    pub why: String,
    pub retry_at_ms: Option<u64>,
}

static STATUS: Mutex<Option<OtaStatus>> = Mutex::new(None);

pub(crate) fn status() -> OtaStatus {
    STATUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or_default()
}

fn update(f: impl FnOnce(&mut OtaStatus)) {
    let mut s = STATUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(s.get_or_insert_with(OtaStatus::default));
}

/// True while a job has not ended (a new one is refused).
pub(crate) fn busy() -> bool {
    status().job.is_some_and(|j| !j.phase.is_final())
}

/// Starts the agent when the box has a RAUC; returns its handle.
pub(crate) fn start(
    setup: Option<Setup>,
    device: &Device,
    stop: watch::Receiver<bool>,
) -> Option<Ota> {
    let setup = setup?;
    let data_dir = device.controller.running().config.storage.data_dir.clone();
    let dir = data_dir.join("ota");
    let (tx, rx) = mpsc::channel(8);
    // Known before anything reports the box's firmware (the fleet link's birth).
    let version = firmware_version(&setup.release_file).ok();
    update(|s| {
        s.enabled = true;
        s.firmware_version = version;
    });
    tokio::spawn(agent::run(device.clone(), setup, dir.clone(), rx, stop));
    Some(Ota { asks: tx, dir })
}

/// The firmware's version from the booted image's os-release.
pub(crate) fn firmware_version(release_file: &Path) -> Result<String, String> {
    let bytes = std::fs::read(release_file)
        .map_err(|e| format!("cannot read {}: {e}", release_file.display()))?;
    fourcast_ota::version::from_os_release(&String::from_utf8_lossy(&bytes))
        .ok_or_else(|| format!("{} has no VERSION_ID", release_file.display()))
}
