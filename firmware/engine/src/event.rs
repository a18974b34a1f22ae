//! What the engine tells the world: its events (for the controller to fan out), where they
//! go, and its errors.

use std::sync::Arc;

use fourcast_config::ConfigErrors;
use serde::Serialize;

use crate::packages;

/// Something the engine did or saw, for the controller to fan out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    ProgramStarted {
        inputs: Vec<String>,
        width: u32,
        height: u32,
        fps: u32,
    },
    LadderStarted {
        encoder: String,
        rungs: Vec<String>,
    },
    BitrateChanged {
        rung: String,
        kbps: u32,
    },
    SegmentPublished {
        rung: String,
        sequence: u64,
        duration_s: f64,
        bytes: u64,
    },
    Warning {
        source: String,
        message: String,
    },
    Error {
        source: String,
        message: String,
    },
    /// A destination lost (or could not open) its link; it retries after `retry_in_ms`.
    UplinkFailed {
        destination: String,
        message: String,
        retry_in_ms: u64,
    },
    /// The recorder started a file.
    RecordingFileOpened {
        path: String,
    },
    /// The recorder finished a file (split, stop, or the end of a failed recording).
    RecordingFileClosed {
        path: String,
        bytes: u64,
    },
    /// Recording ended: by command, or to keep free space above the floor.
    RecordingStopped {
        reason: String,
    },
    /// Recording ended because writing failed (disk full or gone); the program goes on.
    RecordingFailed {
        message: String,
    },
    /// An old recording was deleted to keep free space above the floor.
    RecordingDeleted {
        path: String,
    },
    /// An adaptive uplink's encoder was given a new bitrate.
    UplinkBitrate {
        destination: String,
        kbps: u32,
        rtt_ms: f64,
    },
}

/// Where the engine sends its events; called from streaming and bus threads, so it must be
/// quick and must not block.
pub type EventSink = Arc<dyn Fn(EngineEvent) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// GStreamer itself could not start.
    #[error("GStreamer: {0}")]
    Init(#[from] glib::Error),
    /// An element the config needs is not installed.
    #[error("{}", packages::missing(.0))]
    MissingElement(String),
    /// The config asks for something this machine cannot do.
    #[error("{0}")]
    Config(ConfigErrors),
    /// Two elements would not link (a defect, or caps nothing can satisfy).
    #[error("cannot link {0}")]
    Link(&'static str),
    /// A pipeline refused to start.
    #[error("the {0} pipeline did not start")]
    State(&'static str),
    /// Building a pipeline failed.
    #[error("building the pipeline: {0}")]
    Build(#[from] glib::BoolError),
    /// Recording could not start (the message names the target and why).
    #[error("recording: {0}")]
    Recording(String),
    /// An uplink's link did not open.
    #[error("{0}")]
    Uplink(String),
    /// A capture device cannot give what its input asks for (the message names it).
    #[error("{0}")]
    Capture(String),
    /// The offline render failed (the message names the element or file).
    #[error("render: {0}")]
    Render(String),
    /// The HLS folder could not be prepared.
    #[error("HLS folder: {0}")]
    Io(#[from] std::io::Error),
}
