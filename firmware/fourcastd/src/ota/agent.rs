//! The agent's loop: one job at a time, driven phase by phase. The job is saved before
//! every step that can be interrupted; at start the saved job says what is left
//! (`Job::resume`), checked against what RAUC says about the slots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fourcast_ota::health::{Verdict, judge};
use fourcast_ota::job::{Job, Phase, Resume};
use fourcast_ota::rauc::Rauc;
use fourcast_ota::when::{Decision, When, decide};
use tokio::sync::{mpsc, watch};

use super::bundle::{bundle_file, load_job, partial_file, save_job, sha256_file};
use super::{Ask, NewJob, Setup, Source, Waiting, update};
use crate::controller::Event;
use crate::http::device::{Device, Power};

/// The longest RAUC may take to install a bundle.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Agent {
    device: Device,
    setup: Setup,
    dir: PathBuf,
    rauc: Rauc,
    /// The booted slot's RAUC name.
    booted: String,
    compatible: String,
    version: Result<String, String>,
    postponed_until_ms: Option<u64>,
    forced: bool,
}

/// Runs until `stop`. Without RAUC it keeps trying, and refuses jobs saying why.
pub(crate) async fn run(
    device: Device,
    setup: Setup,
    dir: PathBuf,
    mut asks: mpsc::Receiver<Ask>,
    mut stop: watch::Receiver<bool>,
) {
    let version = super::firmware_version(&setup.release_file);
    update(|s| s.firmware_version = version.as_ref().ok().cloned());
    let mut agent = loop {
        match Agent::connect(&device, &setup, &dir, version.clone()).await {
            Ok(a) => break a,
            Err(e) => {
                tracing::warn!("updates: {e}");
                update(|s| s.problem = Some(e.clone()));
                let wait = tokio::time::sleep(Duration::from_secs(2));
                tokio::select! {
                    _ = stop.changed() => return,
                    Some(ask) = asks.recv() => refuse(ask, &e),
                    _ = wait => {}
                }
            }
        }
    };
    if let Err(e) = &agent.version {
        update(|s| s.problem = Some(format!("updates are off: {e}")));
    } else {
        update(|s| s.problem = None);
    }
    match load_job(&dir) {
        Ok(Some(job)) => {
            update(|s| s.job = Some(job.clone()));
            if !job.phase.is_final() && !agent.resume(job, &mut asks, &mut stop).await {
                return;
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!("updates: {e}");
            update(|s| s.problem = Some(e));
        }
    }
    let mut boot = BootCheck::default();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)), if !boot.marked => {
                agent.prove_boot(&mut boot).await;
            }
            ask = asks.recv() => match ask {
                None => return,
                Some(Ask::Start(new, reply)) => match agent.begin(new) {
                    Ok(job) => {
                        let _ = reply.send(Ok(job.id.clone()));
                        if !agent.drive(job, &mut asks, &mut stop).await {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                },
                Some(other) => agent.steer(other),
            }
        }
    }
}

/// The check that marks a healthy boot good (`fourcast_ota::health::boot_is_healthy`).
#[derive(Default)]
struct BootCheck {
    /// The newest HLS segment number when the check began.
    baseline: Option<u64>,
    begun: bool,
    marked: bool,
}

fn refuse(ask: Ask, why: &str) {
    if let Ask::Start(_, reply) = ask {
        let _ = reply.send(Err(why.to_string()));
    }
}

impl Agent {
    async fn connect(
        device: &Device,
        setup: &Setup,
        dir: &Path,
        version: Result<String, String>,
    ) -> Result<Agent, String> {
        let rauc = Rauc::connect(&setup.bus).await?;
        let st = rauc.status().await?;
        let booted = fourcast_ota::manifest::booted(&st.slots)
            .map(|s| s.name.clone())
            .ok_or("RAUC names no booted slot")?;
        update(|s| {
            s.compatible = Some(st.compatible.clone());
            s.booted_slot = Some(booted.clone());
            s.slots = st.slots.clone();
        });
        Ok(Agent {
            device: device.clone(),
            setup: setup.clone(),
            dir: dir.to_path_buf(),
            rauc,
            booted,
            compatible: st.compatible,
            version,
            postponed_until_ms: None,
            forced: false,
        })
    }

    async fn refresh_slots(&self) {
        if let Ok(st) = self.rauc.status().await {
            update(|s| s.slots = st.slots);
        }
    }

    /// A new job, saved before anything else happens.
    fn begin(&mut self, new: NewJob) -> Result<Job, String> {
        let version = self.version.clone()?;
        if super::busy() {
            return Err("an update is already running".into());
        }
        let now = now_ms();
        let id = new
            .id
            .clone()
            .unwrap_or_else(|| format!("{}-{now}", new.by));
        let (url, sha256) = match &new.source {
            Source::Uploaded { sha256 } => ("upload".to_string(), sha256.clone()),
            Source::Url { url, sha256 } => (url.clone(), sha256.clone()),
        };
        let mut job = Job::new(&id, &url, &sha256, &self.booted, &version, now);
        job.allow_downgrade = new.allow_downgrade;
        let policy = self.device.controller.running().config.ota.clone();
        job.health_window_ms =
            u64::from(new.health_window_s.unwrap_or(policy.health_window_s)) * 1000;
        job.when = new.install.map(|i| when_of(i, &policy));
        if matches!(new.source, Source::Url { .. }) {
            // A download starts clean; an upload is already in place.
            let _ = std::fs::remove_file(bundle_file(&self.dir));
        }
        self.postponed_until_ms = None;
        self.forced = false;
        self.save(&job)?;
        tracing::info!(job = %job.id, by = %new.by, "update job queued");
        Ok(job)
    }

    /// Saves the job, shows it and tells every subscriber.
    fn save(&self, job: &Job) -> Result<(), String> {
        save_job(&self.dir, job).map_err(|e| format!("cannot save the update job: {e}"))?;
        self.show(job, None);
        Ok(())
    }

    fn show(&self, job: &Job, percent: Option<u8>) {
        update(|s| s.job = Some(job.clone()));
        let reason = match &job.phase {
            Phase::Failed { reason } | Phase::RolledBack { reason } => Some(reason.clone()),
            _ => None,
        };
        self.device.controller.emit(Event::Ota {
            job: job.id.clone(),
            phase: job.phase.name(),
            percent,
            reason,
        });
    }

    /// A job found at start: what is left of it.
    async fn resume(
        &mut self,
        mut job: Job,
        asks: &mut mpsc::Receiver<Ask>,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let now = now_ms();
        match job.resume(&self.booted, now) {
            Resume::Booted(booted) => {
                // Not rebooted yet (the daemon restarted, not the machine) when RAUC still
                // means to boot the new slot next.
                let Phase::Rebooting { slot } = &job.phase else {
                    return true;
                };
                let primary = self.rauc.primary().await.ok();
                if booted != *slot && primary.as_deref() == Some(slot.as_str()) {
                    tracing::info!(job = %job.id, "update installed, the reboot is still to come");
                } else {
                    let _ = job.booted(&booted, now);
                    self.keep(&job);
                }
            }
            Resume::RollBack { reason } => {
                self.roll_back(&mut job, &reason).await;
                return false;
            }
            Resume::Report(reason) => {
                let _ = job.fell_back(&reason, now);
                self.keep(&job);
            }
            Resume::AskRauc => self.after_cut_install(&mut job).await,
            Resume::Start | Resume::Download { .. } | Resume::Verify => {}
            Resume::CheckHealth { .. } | Resume::Done => {}
        }
        self.drive(job, asks, stop).await
    }

    /// Saves, and says so in the log if the disk refuses (the job goes on in memory).
    fn keep(&self, job: &Job) {
        if let Err(e) = self.save(job) {
            tracing::error!("updates: {e}");
        }
    }

    fn fail(&self, job: &mut Job, reason: &str) {
        tracing::warn!(job = %job.id, "update failed: {reason}");
        let _ = job.failed(reason, now_ms());
        let _ = std::fs::remove_file(bundle_file(&self.dir));
        self.keep(job);
    }

    /// The job moves on until it ends or waits on the reboot. Returns false when the
    /// daemon is stopping (a reboot asked, or `stop`).
    async fn drive(
        &mut self,
        mut job: Job,
        asks: &mut mpsc::Receiver<Ask>,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        loop {
            match job.phase.clone() {
                Phase::Queued | Phase::Downloading { .. } => {
                    if let Err(e) = self.fetch(&mut job, stop).await {
                        self.fail(&mut job, &e);
                    } else if let Err(e) = job.verifying(now_ms()) {
                        self.fail(&mut job, &e.to_string());
                    } else {
                        self.keep(&job);
                    }
                }
                Phase::Verifying => match self.verify(&mut job).await {
                    Ok(()) => {
                        let _ = job.installing(0, now_ms());
                        self.keep(&job);
                    }
                    Err(e) => self.fail(&mut job, &e),
                },
                Phase::Installing { .. } => self.install(&mut job).await,
                Phase::Rebooting { .. } => return self.reboot_when_allowed(&job, asks, stop).await,
                Phase::CheckingHealth { deadline_ms, .. } => {
                    return self.check_health(&mut job, deadline_ms, asks, stop).await;
                }
                Phase::Succeeded | Phase::Failed { .. } | Phase::RolledBack { .. } => {
                    self.refresh_slots().await;
                    return true;
                }
            }
            if *stop.borrow() {
                return false;
            }
        }
    }

    /// The bundle in place: uploaded already, or downloaded (resumed where it stopped).
    async fn fetch(
        &mut self,
        job: &mut Job,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        let bundle = bundle_file(&self.dir);
        if job.url == "upload" {
            // The upload was the download: all of it is here.
            let size = std::fs::metadata(&bundle)
                .map_err(|_| "the uploaded bundle is gone".to_string())?
                .len();
            return job
                .downloading(size, Some(size), now_ms())
                .map_err(|e| e.to_string());
        }
        let policy = self.device.controller.running().config.ota.clone();
        let controller = self.device.controller.clone();
        let part = partial_file(&self.dir);
        let dir = self.dir.clone();
        let max_bytes = u64::from(policy.max_bundle_mib) << 20;
        let mut last_save = 0u64;
        super::download::fetch(
            &job.url.clone(),
            &part,
            max_bytes,
            &policy,
            move || super::health::activity(&controller).1,
            |done, total| {
                let now = now_ms();
                if job.downloading(done, total, now).is_ok() && now >= last_save + 1000 {
                    last_save = now;
                    let _ = save_job(&dir, job);
                    update(|s| s.job = Some(job.clone()));
                }
            },
            stop,
        )
        .await?;
        std::fs::rename(&part, &bundle).map_err(|e| format!("cannot keep the bundle: {e}"))?;
        Ok(())
    }

    /// The bundle's hash as pinned, its signature, its compatible and its version.
    async fn verify(&mut self, job: &mut Job) -> Result<(), String> {
        let bundle = bundle_file(&self.dir);
        let path = bundle.clone();
        let sha = tokio::task::spawn_blocking(move || sha256_file(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read the bundle: {e}"))?;
        if sha != job.sha256 {
            return Err(format!(
                "the bundle's SHA-256 is {sha}, the job pinned {}",
                job.sha256
            ));
        }
        let manifest = fourcast_ota::rauc::info(&self.setup.rauc_conf, &bundle)
            .await
            .map_err(|e| format!("RAUC refused the bundle: {e}"))?;
        manifest.fits(&self.compatible)?;
        fourcast_ota::version::may_install(
            &job.from_version,
            &manifest.version,
            job.allow_downgrade,
        )?;
        job.to_version = manifest.version;
        Ok(())
    }

    async fn install(&mut self, job: &mut Job) {
        let bundle = bundle_file(&self.dir);
        let shown = job.clone();
        let controller = self.device.controller.clone();
        let result = self
            .rauc
            .install(&bundle, INSTALL_TIMEOUT, |p| {
                let mut j = shown.clone();
                let _ = j.installing(p, now_ms());
                update(|s| s.job = Some(j.clone()));
                controller.emit(Event::Ota {
                    job: j.id.clone(),
                    phase: "installing",
                    percent: Some(p),
                    reason: None,
                });
            })
            .await;
        match result {
            Ok(slot) => {
                let _ = job.installing(100, now_ms());
                let _ = job.rebooting(&slot, now_ms());
                let _ = std::fs::remove_file(&bundle);
                self.keep(job);
                self.refresh_slots().await;
                tracing::info!(job = %job.id, %slot, "update installed");
            }
            Err(e) => self.fail(job, &format!("RAUC: {e}")),
        }
    }

    /// After a cut during the install: RAUC finished it (the agent alone died), or the
    /// booted slot is untouched and the job failed.
    async fn after_cut_install(&mut self, job: &mut Job) {
        for _ in 0..3600 {
            match self.rauc.status().await {
                Ok(st) if st.operation == "installing" => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ => break,
            }
        }
        let primary = self.rauc.primary().await.ok();
        let st = self.rauc.status().await.ok();
        let done = match (&primary, &st) {
            (Some(p), Some(st)) if *p != self.booted => st.slots.iter().any(|s| {
                s.name == *p
                    && s.boot_status == "good"
                    && s.version.as_deref() == Some(job.to_version.as_str())
            }),
            _ => false,
        };
        // The cut came after RAUC made the new slot primary: the bootloader has booted it
        // already. The health check decides (it checks the version the slot runs).
        let booted_new =
            primary.as_deref() == Some(self.booted.as_str()) && job.from_slot != self.booted;
        match (done, primary) {
            (true, Some(slot)) => {
                let _ = job.rebooting(&slot, now_ms());
                self.keep(job);
            }
            (false, Some(slot)) if booted_new => {
                let _ = job.rebooting(&slot, now_ms());
                let _ = job.booted(&slot, now_ms());
                self.keep(job);
            }
            _ => self.fail(
                job,
                "the install was cut short (power or the agent lost); the booted slot is untouched",
            ),
        }
    }

    fn when(&self, job: &Job) -> When {
        let policy = self.device.controller.running().config.ota.clone();
        job.when
            .clone()
            .unwrap_or_else(|| when_of(policy.install, &policy))
    }

    /// Waits until a reboot cuts no show (or a technician forces it), then reboots.
    async fn reboot_when_allowed(
        &mut self,
        job: &Job,
        asks: &mut mpsc::Receiver<Ask>,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        loop {
            let (activity, _) = super::health::activity(&self.device.controller);
            let now = now_ms();
            match decide(
                &self.when(job),
                &activity,
                now,
                self.postponed_until_ms,
                self.forced,
            ) {
                Decision::Go => {
                    update(|s| s.waiting = None);
                    tracing::warn!(job = %job.id, "rebooting into the new firmware");
                    let _ = self.device.power.send(Power::Reboot);
                    return false;
                }
                Decision::Wait { why, retry_at_ms } => {
                    update(|s| s.waiting = Some(Waiting { why, retry_at_ms }));
                }
            }
            tokio::select! {
                _ = stop.changed() => return false,
                ask = asks.recv() => match ask {
                    None => return false,
                    Some(a @ Ask::Start(..)) => refuse(a, "an update is waiting to reboot"),
                    Some(other) => self.steer(other),
                },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Postpone or force.
    fn steer(&mut self, ask: Ask) {
        match ask {
            Ask::Postpone(0) => self.postponed_until_ms = None,
            Ask::Postpone(min) => {
                self.postponed_until_ms = Some(now_ms() + u64::from(min) * 60_000);
                self.forced = false;
            }
            Ask::Force => {
                self.forced = true;
                self.postponed_until_ms = None;
            }
            Ask::Start(_, reply) => {
                let _ = reply.send(Err("an update is running".into()));
            }
        }
        update(|s| s.postponed_until_ms = self.postponed_until_ms);
    }

    /// The new firmware proves itself within the window, or the box goes back.
    async fn check_health(
        &mut self,
        job: &mut Job,
        deadline_ms: u64,
        asks: &mut mpsc::Receiver<Ask>,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let version = self.version.clone().unwrap_or_default();
        let first = super::health::observe(&self.device.controller, &version);
        loop {
            tokio::select! {
                _ = stop.changed() => return false,
                ask = asks.recv() => match ask {
                    None => return false,
                    Some(a) => refuse(a, "the last update is being checked"),
                },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let now = super::health::observe(&self.device.controller, &version);
            match judge(&job.to_version, &first, &now, now_ms(), deadline_ms) {
                Verdict::Healthy => {
                    if let Err(e) = self.rauc.mark("good", "booted").await {
                        self.roll_back(job, &e).await;
                        return false;
                    }
                    let _ = job.healthy(now_ms());
                    self.keep(job);
                    update(|s| s.waiting = None);
                    self.refresh_slots().await;
                    tracing::info!(job = %job.id, "update succeeded: healthy on the new firmware");
                    return true;
                }
                Verdict::NotYet(missing) => update(|s| {
                    s.waiting = Some(Waiting {
                        why: format!("checking health: {}", missing.join("; ")),
                        retry_at_ms: Some(deadline_ms),
                    });
                }),
                Verdict::Unhealthy(reason) => {
                    self.roll_back(job, &reason).await;
                    return false;
                }
            }
        }
    }

    /// Marks the booted slot good once this boot is healthy, so the bootloader's boot
    /// counter is filled again.
    async fn prove_boot(&mut self, boot: &mut BootCheck) {
        let version = self.version.clone().unwrap_or_default();
        let now = super::health::observe(&self.device.controller, &version);
        if !boot.begun {
            boot.begun = true;
            boot.baseline = now.hls_sequence;
        }
        if !fourcast_ota::health::boot_is_healthy(boot.baseline, &now) {
            return;
        }
        match self.rauc.mark("good", "booted").await {
            Ok(_) => {
                boot.marked = true;
                tracing::info!(slot = %self.booted, "this boot is healthy: slot marked good");
                self.refresh_slots().await;
            }
            Err(e) => tracing::warn!("updates: marking the booted slot good: {e}"),
        }
    }

    /// Marks the booted slot bad and the other one active, says why, and reboots.
    async fn roll_back(&mut self, job: &mut Job, reason: &str) {
        let mut reason = reason.to_string();
        for (state, which) in [("bad", "booted"), ("active", "other")] {
            if let Err(e) = self.rauc.mark(state, which).await {
                reason.push_str(&format!("; {e}"));
            }
        }
        tracing::error!(job = %job.id, "update rolled back: {reason}");
        let _ = job.rolled_back(&reason, now_ms());
        self.keep(job);
        update(|s| s.waiting = None);
        let _ = self.device.power.send(Power::Reboot);
    }
}

/// The config's policy as the rule's `When`.
fn when_of(install: fourcast_config::Install, policy: &fourcast_config::Ota) -> When {
    match install {
        fourcast_config::Install::Now => When::Now,
        fourcast_config::Install::Idle => When::Idle,
        fourcast_config::Install::Window => {
            let (start_min, end_min) = policy.window_minutes().unwrap_or((120, 300));
            When::Window { start_min, end_min }
        }
    }
}
