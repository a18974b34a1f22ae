//! The controller: the only writer of config.
//!
//! A change is: parse and validate (errors name the field) → check what only this machine
//! can tell (encoders present) → store a new revision → reconcile the engine. A change that
//! fails any step leaves the stored config and the running pipelines as they were. Typed
//! events go to every subscriber (API, logs; later MQTT and the board's LEDs).

pub(crate) mod secrets;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use fourcast_config::{Config, ConfigErrors};
use fourcast_engine::{Engine, EngineEvent, EngineStatus};
use fourcast_store::{Store, Vault};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

/// Something the box did, for every subscriber.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Event {
    ConfigApplied {
        revision: u64,
        source: String,
        program_rebuilt: bool,
        ladder: String,
    },
    ConfigRejected {
        source: String,
        errors: Vec<FieldErrorJson>,
    },
    Engine(EngineEvent),
    /// First-boot setup set the admin password, or it was changed.
    AdminPasswordSet,
    /// The HLS signing key was replaced: every signed URL given out before is void.
    HlsKeyRotated,
    /// Failed logins from `source`: it must wait before trying again.
    LoginThrottled {
        source: String,
        retry_after_s: u64,
    },
    /// The live audio mix changed.
    MixChanged {
        mix: fourcast_engine::audio_mix::MixState,
    },
    /// A firmware update moved on: its phase, progress and, when it ended badly, why.
    Ota {
        job: String,
        phase: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        percent: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A capture device appeared or went (`added`, `removed`); `input` is the input that
    /// captures from it (one `capture.auto_add` made, or one already configured).
    Device {
        action: &'static str,
        node: String,
        card: Option<String>,
        stable: Option<String>,
        input: Option<String>,
    },
    /// The program was switched live.
    ProgramTaken {
        generation: u64,
        layout: String,
        inputs: Vec<String>,
        scene: Option<String>,
        transition: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldErrorJson {
    pub path: String,
    pub message: String,
}

/// Runtime overrides from the command line, applied to every config the box runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

impl Overrides {
    pub(crate) fn apply(&self, c: &mut Config) {
        if let Some(d) = &self.data_dir {
            c.storage.data_dir = d.clone();
        }
        if let Some(l) = &self.listen {
            c.http.listen = l.clone();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordingError {
    #[error("no recording {0}")]
    NotFound(u64),
    #[error("{0} is being written: stop recording first")]
    InUse(String),
    #[error("{0}")]
    Store(String),
}

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangeError {
    /// The document is wrong; every field error is listed.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// The store could not record the revision.
    #[error("{0}")]
    Store(fourcast_store::StoreError),
    /// The engine could not reach the new config (what ran before was put back).
    #[error("engine: {0}")]
    Engine(String),
    /// The change was based on an older revision than the one running.
    #[error("based on revision {base}, but revision {current} is running: reload and retry")]
    Stale { base: u64, current: u64 },
    /// There is no such revision to roll back to.
    #[error("no revision {0} is kept")]
    NoRevision(u64),
}

struct Inner {
    config: Config,
    revision: u64,
    engine: Engine,
    store: Store,
    vault: Arc<Vault>,
}

/// What readers need without waiting for the controller: the running config and its
/// revision, published after every change. Async handlers read this, never the lock, so a
/// ladder rebuild (which holds the lock while it drains) cannot stall HLS or the UI.
#[derive(Debug)]
pub(crate) struct Running {
    pub revision: u64,
    pub config: Config,
}

#[derive(Clone)]
pub(crate) struct Controller {
    inner: Arc<Mutex<Inner>>,
    running: Arc<watch::Sender<Arc<Running>>>,
    /// Fixed for the life of the engine: where HLS is written, the thumbnails, the RTMP hub.
    hls_dir: PathBuf,
    low_latency: Arc<fourcast_engine::LowLatencyOrigin>,
    thumbs: Arc<fourcast_engine::outputs::thumbs::Thumbs>,
    ingest: Arc<fourcast_engine::inputs::rtmp_hub::IngestHub>,
    events: broadcast::Sender<Event>,
    overrides: Overrides,
    started: Instant,
    recent: Arc<Mutex<VecDeque<Event>>>,
    /// Signs HLS URLs (random, made on first start, kept in the store).
    /// The key signed HLS URLs are made and checked with; replaced by a rotation.
    hls_key: Arc<std::sync::RwLock<Arc<Vec<u8>>>>,
}

/// What the program shows, for the API.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProgramView {
    pub layout: String,
    pub inputs: Vec<String>,
    pub pip: fourcast_config::Pip,
    pub scenes: Vec<fourcast_config::Scene>,
    /// Counts takes since the program was built.
    pub generation: u64,
    /// From the last take's command to the first program frame painted with it.
    pub last_switch_ms: Option<f64>,
}

/// Events kept for `/api/v1/events` (segment notices are not kept: they would crowd out
/// everything else within a minute).
const RECENT_EVENTS: usize = 200;

impl Controller {
    /// Starts the engine on `config` (already validated and checked) and records it.
    pub(crate) fn start(
        config: Config,
        store: Store,
        vault: Arc<Vault>,
        overrides: Overrides,
        source: &str,
    ) -> anyhow::Result<Controller> {
        let (events, _) = broadcast::channel(256);
        let sink = events.clone();
        let engine_events: fourcast_engine::EventSink = Arc::new(move |e: EngineEvent| {
            log_engine_event(&e);
            let _ = sink.send(Event::Engine(e));
        });
        let hls_dir = config.storage.data_dir.join("hls");
        let mut engine = Engine::new(&hls_dir, engine_events)?;
        let revision = store_if_changed(&store, &vault, &config, source)?;
        engine.apply(&config)?;
        for note in crate::recordings_index::recover(&store, &config.recording_dir())? {
            tracing::warn!("recordings: {note}");
        }
        if config.recording.auto_start
            && let Err(e) = engine.start_recording(&config)
        {
            tracing::error!("auto-record did not start: {e}");
        }
        let hls_key = Arc::new(std::sync::RwLock::new(Arc::new(hls_key(&store)?)));
        let (running, _) = watch::channel(Arc::new(Running {
            revision,
            config: config.clone(),
        }));
        Ok(Controller {
            hls_key,
            running: Arc::new(running),
            hls_dir: engine.hls_dir(),
            low_latency: engine.low_latency(),
            thumbs: engine.thumbs(),
            ingest: engine.ingest(),
            inner: Arc::new(Mutex::new(Inner {
                config,
                revision,
                engine,
                store,
                vault,
            })),
            events,
            overrides,
            started: Instant::now(),
            recent: Arc::default(),
        })
    }

    /// Sends an event from outside the engine (the API's security events).
    pub(crate) fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    pub(crate) fn credential(
        &self,
        key: &str,
    ) -> Result<Option<String>, fourcast_store::StoreError> {
        lock(&self.inner).store.credential(key)
    }

    pub(crate) fn credentials(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, fourcast_store::StoreError> {
        lock(&self.inner).store.credentials(prefix)
    }

    pub(crate) fn credential_put(
        &self,
        key: &str,
        value: &str,
        only_if_absent: bool,
    ) -> Result<bool, fourcast_store::StoreError> {
        lock(&self.inner)
            .store
            .credential_put(key, value, only_if_absent)
    }

    pub(crate) fn credential_delete(&self, key: &str) -> Result<bool, fourcast_store::StoreError> {
        lock(&self.inner).store.credential_delete(key)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Keeps the most recent events for the API; runs until the controller is dropped.
    pub(crate) async fn keep_recent_events(self) {
        let mut rx = self.subscribe();
        loop {
            match rx.recv().await {
                Ok(Event::Engine(EngineEvent::SegmentPublished { .. })) => {}
                Ok(e) => {
                    let mut q = lock(&self.recent);
                    if q.len() == RECENT_EVENTS {
                        q.pop_front();
                    }
                    q.push_back(e);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Keeps the recordings index in step with the recorder; runs until the controller is
    /// dropped.
    pub(crate) async fn index_recordings(self) {
        let mut rx = self.subscribe();
        loop {
            let event = match rx.recv().await {
                Ok(Event::Engine(
                    e @ (EngineEvent::RecordingFileOpened { .. }
                    | EngineEvent::RecordingFileClosed { .. }
                    | EngineEvent::RecordingDeleted { .. }),
                )) => e,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let c = self.clone();
            let _ = tokio::task::spawn_blocking(move || {
                // Reading the file's ends happens before the lock is taken.
                let summary = match &event {
                    EngineEvent::RecordingFileClosed { path, .. } => {
                        crate::recordings_index::measure(std::path::Path::new(path)).ok()
                    }
                    _ => None,
                };
                let inner = lock(&c.inner);
                let result = match &event {
                    EngineEvent::RecordingFileOpened { path } => {
                        crate::recordings_index::opened(&inner.store, path).map(|_| ())
                    }
                    EngineEvent::RecordingFileClosed { path, .. } => {
                        crate::recordings_index::closed(&inner.store, path, summary)
                    }
                    EngineEvent::RecordingDeleted { path } => {
                        crate::recordings_index::forget(&inner.store, path)
                    }
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    tracing::error!("recordings index: {e}");
                }
            })
            .await;
        }
    }

    /// Starts recording (the target is checked first); the error says what is wrong.
    pub(crate) fn start_recording(&self) -> Result<(), String> {
        let mut inner = lock(&self.inner);
        let config = inner.config.clone();
        if let Err(e) = crate::recordings_index::recover(&inner.store, &config.recording_dir()) {
            tracing::warn!("recordings index: {e}");
        }
        inner
            .engine
            .start_recording(&config)
            .map_err(|e| e.to_string())
    }

    /// Switches the program to `shot` (named `scene`, if it is one) with `transition`. A bad
    /// shot is refused with errors naming each field; the program keeps what it showed.
    pub(crate) fn take(
        &self,
        shot: fourcast_config::Shot,
        scene: Option<String>,
        transition: fourcast_engine::Transition,
    ) -> Result<u64, ConfigErrors> {
        let mut inner = lock(&self.inner);
        let shown: Vec<String> = shot
            .shown(&inner.config)
            .into_iter()
            .map(str::to_string)
            .collect();
        let layout = shot.layout.nick().to_string();
        let generation = inner.engine.take(shot, transition).map_err(|e| match e {
            fourcast_engine::EngineError::Config(errs) => errs,
            other => ConfigErrors::one("program", other.to_string()),
        })?;
        // A scene that lists its overlays shows those and hides the others.
        let overlays = scene.as_ref().and_then(|name| {
            let s = inner.config.scenes.iter().find(|s| &s.name == name)?;
            s.overlays.clone()
        });
        if let Some(shown) = overlays {
            for name in fourcast_config::OVERLAY_NAMES {
                if inner.config.overlays.visible(name).is_some() {
                    let visible = shown.iter().any(|s| s == name);
                    if let Err(e) = inner.engine.show_overlay(name, visible) {
                        tracing::warn!(overlay = name, "{e}");
                    }
                }
            }
        }
        drop(inner);
        self.emit(Event::ProgramTaken {
            generation,
            layout,
            inputs: shown,
            scene,
            transition: match transition {
                fourcast_engine::Transition::Cut => "cut".into(),
                fourcast_engine::Transition::Fade { ms } => format!("fade {ms} ms"),
            },
        });
        Ok(generation)
    }

    /// Shows or hides an overlay on the running program now (live state, as a scene sets
    /// it); the config's `visible` is changed through [`Controller::change_config`].
    pub(crate) fn show_overlay(&self, name: &str, visible: bool) {
        if let Err(e) = lock(&self.inner).engine.show_overlay(name, visible) {
            tracing::warn!(overlay = name, "{e}");
        }
    }

    /// The shot on program, the configured scenes and the last switch.
    pub(crate) fn program(&self) -> ProgramView {
        let inner = lock(&self.inner);
        let shot = inner
            .engine
            .shot()
            .unwrap_or_else(|| inner.config.program.shot());
        let switch = inner.engine.last_switch();
        ProgramView {
            layout: shot.layout.nick().to_string(),
            inputs: shot
                .shown(&inner.config)
                .into_iter()
                .map(str::to_string)
                .collect(),
            pip: shot.pip,
            scenes: inner.config.scenes.clone(),
            generation: switch.map_or(0, |s| s.generation),
            last_switch_ms: switch
                .and_then(|s| s.latency)
                .map(|d| d.as_secs_f64() * 1000.0),
        }
    }

    /// The live audio mix.
    pub(crate) fn mix(&self) -> Option<fourcast_engine::audio_mix::MixState> {
        lock(&self.inner).engine.mix()
    }

    /// Changes the live audio mix; a bad change is refused whole with errors per field.
    pub(crate) fn set_mix(
        &self,
        change: &fourcast_engine::audio_mix::MixChange,
    ) -> Result<fourcast_engine::audio_mix::MixState, ConfigErrors> {
        let mix = lock(&self.inner)
            .engine
            .set_mix(change)
            .map_err(|e| match e {
                fourcast_engine::EngineError::Config(errs) => errs,
                other => ConfigErrors::one("audio", other.to_string()),
            })?;
        self.emit(Event::MixChanged { mix: mix.clone() });
        Ok(mix)
    }

    /// A configured scene by name.
    pub(crate) fn scene(&self, name: &str) -> Option<fourcast_config::Scene> {
        let inner = lock(&self.inner);
        inner.config.scenes.iter().find(|s| s.name == name).cloned()
    }

    /// Stops recording; false if it was not recording.
    pub(crate) fn stop_recording(&self) -> bool {
        lock(&self.inner).engine.stop_recording()
    }

    pub(crate) fn recordings(&self) -> Vec<crate::recordings_index::Entry> {
        crate::recordings_index::list(&lock(&self.inner).store).unwrap_or_default()
    }

    /// Deletes a finished recording (file and entry).
    pub(crate) fn delete_recording(&self, id: u64) -> Result<(), RecordingError> {
        let inner = lock(&self.inner);
        let entry = crate::recordings_index::list(&inner.store)
            .map_err(|e| RecordingError::Store(e.to_string()))?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(RecordingError::NotFound(id))?;
        if entry.state == "recording" {
            return Err(RecordingError::InUse(entry.file));
        }
        match std::fs::remove_file(&entry.file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RecordingError::Store(format!("{}: {e}", entry.file))),
        }
        inner
            .store
            .recording_delete(id)
            .map_err(|e| RecordingError::Store(e.to_string()))?;
        Ok(())
    }

    pub(crate) fn recent_events(&self) -> Vec<Event> {
        lock(&self.recent).iter().cloned().collect()
    }

    /// A whole new config document from a control surface (`reload`, `api`, …).
    /// Blocking: call from a blocking context.
    pub(crate) fn change(&self, text: &str, source: &str) -> Result<u64, ChangeError> {
        self.change_based(text, source, None)
    }

    /// Like [`Controller::change`], but refused with [`ChangeError::Stale`] unless `base` is
    /// the running revision (checked under the same lock as the change, so two technicians
    /// cannot overwrite each other's edits unseen).
    pub(crate) fn change_based(
        &self,
        text: &str,
        source: &str,
        base: Option<u64>,
    ) -> Result<u64, ChangeError> {
        let parsed = Config::parse(text).map_err(ChangeError::Invalid);
        self.report(
            source,
            parsed.and_then(|c| self.try_change(c, source, base)),
        )
    }

    /// A whole config already parsed (from JSON): its secrets may be plain, `***` (keep)
    /// or sealed, as in a document.
    pub(crate) fn change_config(
        &self,
        config: Config,
        source: &str,
        base: Option<u64>,
    ) -> Result<u64, ChangeError> {
        self.report(source, self.try_change(config, source, base))
    }

    /// Logs and announces a refused change.
    fn report(&self, source: &str, result: Result<u64, ChangeError>) -> Result<u64, ChangeError> {
        if let Err(e) = &result {
            let errors = match e {
                ChangeError::Invalid(errs) => errs
                    .iter()
                    .map(|e| FieldErrorJson {
                        path: e.path.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
                other => vec![FieldErrorJson {
                    path: "(box)".into(),
                    message: other.to_string(),
                }],
            };
            tracing::warn!(source, "config change rejected:\n{e}");
            let _ = self.events.send(Event::ConfigRejected {
                source: source.to_string(),
                errors,
            });
        }
        result
    }

    fn try_change(
        &self,
        mut config: Config,
        source: &str,
        base: Option<u64>,
    ) -> Result<u64, ChangeError> {
        let mut inner = lock(&self.inner);
        if matches!(source, "api" | "fleet")
            && config.storage.data_dir != inner.config.storage.data_dir
        {
            return Err(ChangeError::Invalid(ConfigErrors::one(
                "storage.data_dir",
                format!(
                    "the store and the device key live in {}: move them with --data-dir or the config file, and restart",
                    inner.config.storage.data_dir.display()
                ),
            )));
        }
        self.overrides.apply(&mut config);
        if let Some(base) = base
            && base != inner.revision
        {
            return Err(ChangeError::Stale {
                base,
                current: inner.revision,
            });
        }
        crate::controller::secrets::resolve(&mut config, &inner.vault, Some(&inner.config))
            .map_err(ChangeError::Invalid)?;
        config.validate().map_err(ChangeError::Invalid)?;
        Engine::check(&config).map_err(ChangeError::Invalid)?;
        if config.http.listen != inner.config.http.listen
            || config.http.https_listen != inner.config.http.https_listen
        {
            tracing::warn!("http.listen and http.https_listen take effect at the next start");
        }
        if config == inner.config {
            return Ok(inner.revision);
        }
        let revision = inner
            .store
            .put(
                &crate::controller::secrets::sealed_toml(&config, &inner.vault),
                source,
            )
            .map_err(ChangeError::Store)?
            .id;
        match inner.engine.apply(&config) {
            Ok(plan) => {
                inner.config = config;
                inner.revision = revision;
                self.publish(&inner);
                let ladder = match plan.ladder {
                    fourcast_engine::plan::LadderChange::Keep => "kept".to_string(),
                    fourcast_engine::plan::LadderChange::Bitrates(_) => {
                        "bitrates set live".to_string()
                    }
                    fourcast_engine::plan::LadderChange::Rebuild => "rebuilt".to_string(),
                };
                tracing::info!(revision, source, program_rebuilt = plan.program, %ladder, "config applied");
                let _ = self.events.send(Event::ConfigApplied {
                    revision,
                    source: source.to_string(),
                    program_rebuilt: plan.program,
                    ladder,
                });
                Ok(revision)
            }
            Err(e) => {
                // Put back what ran before, in the engine and as the current revision.
                let old = inner.config.clone();
                let restore = inner.engine.apply(&old);
                let back = inner.store.put(
                    &crate::controller::secrets::sealed_toml(&old, &inner.vault),
                    "rollback",
                );
                if let (Ok(_), Ok(r)) = (restore, back) {
                    inner.revision = r.id;
                    self.publish(&inner);
                }
                Err(ChangeError::Engine(e.to_string()))
            }
        }
    }

    /// Every kept revision, oldest first, without its text.
    pub(crate) fn history(&self) -> Result<Vec<RevisionInfo>, fourcast_store::StoreError> {
        let inner = lock(&self.inner);
        let current = inner.revision;
        Ok(inner
            .store
            .history()?
            .into_iter()
            .map(|r| RevisionInfo {
                current: r.id == current,
                id: r.id,
                created_ms: r.created_ms,
                source: r.source,
            })
            .collect())
    }

    /// Runs a kept revision again, as a new revision (history is never rewritten).
    pub(crate) fn rollback(&self, id: u64, base: Option<u64>) -> Result<u64, ChangeError> {
        let text = lock(&self.inner)
            .store
            .revision(id)
            .map_err(ChangeError::Store)?
            .ok_or(ChangeError::NoRevision(id))?
            .text;
        self.change_based(&text, &format!("rollback to {id}"), base)
    }

    /// The engine's RTMP ingest hub.
    pub(crate) fn ingest_hub(&self) -> Arc<fourcast_engine::inputs::rtmp_hub::IngestHub> {
        self.ingest.clone()
    }

    /// Where the RTMP ingest server should listen: only while an `rtmp` input exists.
    pub(crate) fn ingest_listen(&self) -> Option<String> {
        let running = self.running();
        let c = &running.config;
        c.inputs
            .iter()
            .any(|i| i.kind() == fourcast_config::InputKind::Rtmp)
            .then(|| c.ingest.rtmp_listen.clone())
    }

    /// The running config and revision, without taking the controller's lock.
    pub(crate) fn running(&self) -> Arc<Running> {
        self.running.borrow().clone()
    }

    /// Told of every change to what runs.
    pub(crate) fn watch_running(&self) -> watch::Receiver<Arc<Running>> {
        self.running.subscribe()
    }

    /// Tells readers what runs now (called with the lock held, after every change).
    fn publish(&self, inner: &Inner) {
        self.running.send_replace(Arc::new(Running {
            revision: inner.revision,
            config: inner.config.clone(),
        }));
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let inner = lock(&self.inner);
        Snapshot {
            revision: inner.revision,
            config: inner.config.clone(),
            engine: inner.engine.status(),
            uptime_s: self.started.elapsed().as_secs_f64(),
        }
    }

    /// The latest thumbnail of an input (by name) or of the program (`program`).
    pub(crate) fn thumbnail(
        &self,
        source: &str,
    ) -> Option<fourcast_engine::outputs::thumbs::Thumbnail> {
        self.thumbs.get(source)
    }

    /// Who may play HLS now, and the key signed URLs are checked with.
    pub(crate) fn hls_access(&self) -> (fourcast_config::HlsAccess, Arc<Vec<u8>>) {
        let key = match self.hls_key.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        (self.running().config.http.hls_access, key)
    }

    /// A new HLS signing key: every signed URL given out so far stops working at once.
    pub(crate) fn rotate_hls_key(&self) -> anyhow::Result<()> {
        use argon2::password_hash::rand_core::{OsRng, RngCore};
        let mut key = vec![0u8; 32];
        OsRng.fill_bytes(&mut key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        lock(&self.inner)
            .store
            .credential_put(HLS_KEY, &hex, false)?;
        match self.hls_key.write() {
            Ok(mut k) => *k = Arc::new(key),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(key),
        }
        self.emit(Event::HlsKeyRotated);
        Ok(())
    }

    /// The default lifetime of a signed HLS URL, s.
    pub(crate) fn hls_url_ttl_s(&self) -> u32 {
        self.running().config.http.hls_url_ttl_s
    }

    pub(crate) fn hls_dir(&self) -> PathBuf {
        self.hls_dir.clone()
    }

    pub(crate) fn low_latency(&self) -> Arc<fourcast_engine::LowLatencyOrigin> {
        self.low_latency.clone()
    }

    /// Stops the engine: last segments closed, playlists ended.
    pub(crate) fn shutdown(&self) {
        lock(&self.inner).engine.shutdown();
    }
}

/// One kept config revision, for the history list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RevisionInfo {
    pub id: u64,
    pub created_ms: u64,
    pub source: String,
    /// The one running.
    pub current: bool,
}

pub(crate) struct Snapshot {
    pub revision: u64,
    pub config: Config,
    pub engine: EngineStatus,
    pub uptime_s: f64,
}

/// The HLS signing key from the store, or a new random one stored (a factory reset erases
/// it with the store, which revokes every signed URL).
/// Where the HLS signing key is kept in the store.
const HLS_KEY: &str = "hls:key";

fn hls_key(store: &Store) -> anyhow::Result<Vec<u8>> {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    const KEY: &str = HLS_KEY;
    if let Some(hex) = store.credential(KEY)? {
        return decode_hex(&hex).ok_or_else(|| anyhow::anyhow!("stored {KEY} is not hex"));
    }
    let mut key = vec![0u8; 32];
    OsRng.fill_bytes(&mut key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    if !store.credential_put(KEY, &hex, true)? {
        // Another start stored one first: use that.
        let hex = store.credential(KEY)?.unwrap_or(hex);
        return decode_hex(&hex).ok_or_else(|| anyhow::anyhow!("stored {KEY} is not hex"));
    }
    Ok(key)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn store_if_changed(
    store: &Store,
    vault: &Vault,
    config: &Config,
    source: &str,
) -> anyhow::Result<u64> {
    if let Some(cur) = store.current()?
        && crate::controller::secrets::decode_stored(&cur.text, vault).is_ok_and(|c| &c == config)
    {
        return Ok(cur.id);
    }
    Ok(store
        .put(
            &crate::controller::secrets::sealed_toml(config, vault),
            source,
        )?
        .id)
}

fn log_engine_event(e: &EngineEvent) {
    match e {
        EngineEvent::Error { source, message } => tracing::error!(%source, "{message}"),
        EngineEvent::Warning { source, message } => tracing::warn!(%source, "{message}"),
        EngineEvent::SegmentPublished { .. } => tracing::debug!(event = ?e),
        _ => tracing::info!(event = ?e),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
