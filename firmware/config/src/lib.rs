//! The box's desired state: one typed document, TOML on disk.
//!
//! [`Config::from_toml`] is the only way from text to a `Config` the rest of the firmware
//! accepts: it parses strictly (unknown fields are errors) and then checks the document as a
//! whole, reporting every problem with the field path it concerns
//! (`ladder.rungs[2].height: must be ≤ program height 720`).

mod defaults;
mod error;
mod fleet;
mod input;
mod name;
mod ota;
mod overlay;
mod scene;
mod secret;
mod uplink;
mod validate;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use defaults::default_for_board;
pub use error::{ConfigErrors, FieldError};
pub use fleet::{Broker, Fleet};
pub use input::{
    CaptureFormat, CaptureInput, DEFAULT_TONE_HZ, Input, InputKind, Pattern, SignalSource, Source,
    SrtInput,
};
pub use ota::{Install, Ota};
pub use overlay::{Clock, ClockMode, Logo, LowerThird, OVERLAY_NAMES, Overlays, parse_color};
pub use scene::{Corner, Layout, Pip, Scene, Shot};
pub use secret::{REDACTED, SEALED_PREFIX, Secret, SecretRef};
pub use uplink::{
    ANY_ADDRESS, DEFAULT_SRT_LATENCY_MS, RtmpOutput, RtmpUrl, SrtEnd, SrtMode, SrtOutput,
};
pub use validate::{check_gain_db, srt_adaptive_range};

/// Most inputs with pictures a box mixes.
pub const MAX_INPUTS: usize = 4;
/// Sound-only inputs (`alsa`) beside them.
pub const MAX_SOUND_INPUTS: usize = 2;
/// Most rungs in a ladder.
pub const MAX_RUNGS: usize = 4;

/// The whole box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Board profile name (`virtual`, `rk3588`, …).
    pub board: String,
    pub program: Program,
    #[serde(default)]
    pub audio: Audio,
    pub inputs: Vec<Input>,
    /// Named shots to switch the program to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenes: Vec<Scene>,
    pub ladder: Ladder,
    #[serde(default)]
    pub outputs: Outputs,
    #[serde(default)]
    pub http: Http,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub recording: Recording,
    #[serde(default)]
    pub multiview: Multiview,
    #[serde(default)]
    pub ingest: Ingest,
    #[serde(default)]
    pub overlays: Overlays,
    /// The link to the fleet manager (MQTT 5); off unless enabled.
    #[serde(default, skip_serializing_if = "Fleet::is_default")]
    pub fleet: Fleet,
    /// When and how firmware updates install; the default waits for the show to end.
    #[serde(default, skip_serializing_if = "Ota::is_default")]
    pub ota: Ota,
    /// What the box does with capture devices that appear while it runs.
    #[serde(default, skip_serializing_if = "Capture::is_default")]
    pub capture: Capture,
}

/// Cameras plugged in while the box runs: offered in the web UI (`GET /api/v1/devices`
/// and a `device` event), and taken as inputs by themselves when `auto_add` says so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capture {
    /// A capture device that appears becomes an input (`camN`, kind `v4l2`) while the
    /// program has room for one more.
    pub auto_add: bool,
}

impl Capture {
    pub fn is_default(&self) -> bool {
        self == &Capture::default()
    }
}

/// The box's own servers that inputs arrive through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ingest {
    /// Where the RTMP ingest server listens while any `rtmp` input is configured.
    pub rtmp_listen: String,
}

impl Default for Ingest {
    fn default() -> Self {
        Self {
            rtmp_listen: "0.0.0.0:1935".into(),
        }
    }
}

/// Small JPEG pictures of every input and of the program, for the web UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Multiview {
    /// Thumbnails per second of each source (0–10; 0: none).
    pub fps: u32,
}

impl Default for Multiview {
    fn default() -> Self {
        Self { fps: 2 }
    }
}

/// The mixed program every rung is scaled from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// What the program shows at start (see [`Shot`]).
    #[serde(default)]
    pub layout: Layout,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub pip: Pip,
}

impl Program {
    pub fn shot(&self) -> Shot {
        Shot {
            layout: self.layout,
            inputs: self.inputs.clone(),
            pip: self.pip,
        }
    }
}

/// The program's audio: a mix of every input's audio, encoded once as AAC-LC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audio {
    pub sample_rate: u32,
    pub channels: u32,
    pub bitrate_kbps: u32,
    /// Only the inputs on program are heard (audio follows video).
    pub follow_video: bool,
    /// Gain on the whole mix, dB (−96…+20).
    pub master_gain_db: f64,
}

impl Default for Audio {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            channels: 2,
            bitrate_kbps: 128,
            follow_video: false,
            master_gain_db: 0.0,
        }
    }
}

/// The adaptive-bitrate ladder: one H.264 encode per rung, all fed from the program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    /// `auto` (the board profile's encoders, probed in order) or one encoder element name.
    #[serde(default = "default_encoder")]
    pub encoder: String,
    /// x264 speed preset used when the software encoder runs.
    #[serde(default = "default_x264_preset")]
    pub x264_preset: String,
    pub rungs: Vec<Rung>,
}

fn default_encoder() -> String {
    "auto".into()
}

fn default_x264_preset() -> String {
    "veryfast".into()
}

/// x264 presets a live box may use (the slower ones cannot keep up on an appliance).
pub const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Unique name, also the rung's folder in the HLS origin (`720p`).
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outputs {
    pub hls: Hls,
    /// SRT destinations (the cloud origin).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub srt: Vec<SrtOutput>,
    /// RTMP/RTMPS destinations (platforms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rtmp: Vec<RtmpOutput>,
}

/// The live HLS origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hls {
    /// Target segment duration in seconds (1–10); every segment starts with a keyframe.
    pub segment_seconds: u32,
    /// Segments in each live playlist.
    pub window: u32,
    /// Also serve low-latency HLS (CMAF parts, blocking reload) at `/hls/ll/master.m3u8`.
    pub low_latency: bool,
    /// Low-latency HLS part target, ms (100–1000, at most half a segment).
    pub part_ms: u32,
}

impl Default for Hls {
    fn default() -> Self {
        Self {
            segment_seconds: 2,
            window: 6,
            low_latency: true,
            part_ms: 400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Address the web UI, API and HLS origin listen on.
    pub listen: String,
    /// Also serve all of it over HTTPS on this address (e.g. `0.0.0.0:8443`), with a
    /// per-device self-signed certificate made on first start. Off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_listen: Option<String>,
    /// Who may play the HLS origin: anyone who reaches the box (`open`), or only holders
    /// of a URL the box signed, until it expires (`signed`).
    pub hls_access: HlsAccess,
    /// How long a signed HLS URL lasts unless asked otherwise, s (60–604800).
    pub hls_url_ttl_s: u32,
    /// With `https_listen`: send the web UI and the API on plain HTTP to HTTPS (308). The
    /// HLS origin stays on both, for players that only speak HTTP. Off by default: with the
    /// self-signed certificate a technician has to accept it first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redirect_to_https: bool,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            https_listen: None,
            hls_access: HlsAccess::Open,
            hls_url_ttl_s: 6 * 3600,
            redirect_to_https: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HlsAccess {
    #[default]
    Open,
    Signed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Where the store, the HLS origin and recordings live.
    pub data_dir: PathBuf,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("/var/lib/fourcast"),
        }
    }
}

/// Local recording of the program (the top rung, encoded once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recording {
    /// Start recording when the box starts.
    pub auto_start: bool,
    /// Where files go; default `<data_dir>/recordings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A USB drive's mount point: used instead of `path` whenever something is mounted there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usb_path: Option<PathBuf>,
    /// A new file every this many seconds (10–86400).
    pub split_seconds: u32,
    /// …or when a file reaches this many MiB (1–1000000), whichever comes first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_mb: Option<u32>,
    /// Recording stops (or, with `delete_oldest`, old files go) before free space falls
    /// below this many MiB.
    pub free_space_floor_mb: u32,
    /// Delete the oldest finished recordings to stay above the floor.
    pub delete_oldest: bool,
}

impl Default for Recording {
    fn default() -> Self {
        Self {
            auto_start: false,
            path: None,
            usb_path: None,
            split_seconds: 600,
            split_mb: None,
            free_space_floor_mb: 512,
            delete_oldest: false,
        }
    }
}

impl Config {
    /// Where recordings go right now: the USB drive when one is mounted at `usb_path`,
    /// else `path`, else `<data_dir>/recordings`.
    pub fn recording_dir(&self) -> PathBuf {
        if let Some(usb) = &self.recording.usb_path
            && is_mount_point(usb)
        {
            return usb.clone();
        }
        self.recording
            .path
            .clone()
            .unwrap_or_else(|| self.storage.data_dir.join("recordings"))
    }

    /// Parses and validates a TOML document; every error names its field path.
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        let config = Config::parse(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses strictly (unknown fields are errors) without the whole-document checks, for
    /// a caller that must first resolve sealed or redacted secrets.
    pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigErrors::syntax(&e))?;
        serde_path_to_error::deserialize(de).map_err(ConfigErrors::from_serde)
    }

    /// Every secret in the document, with its field path and the destination owning it.
    pub fn secrets_mut(&mut self) -> Vec<SecretRef<'_>> {
        let mut out = Vec::new();
        for (i, s) in self.outputs.srt.iter_mut().enumerate() {
            let target = match &s.end {
                SrtEnd::Caller { host, port } => format!("srt://{host}:{port}"),
                SrtEnd::Listener { bind, port } => format!("srt://{bind}:{port}?listener"),
            };
            if let Some(p) = s.passphrase.as_mut() {
                out.push(SecretRef {
                    path: format!("outputs.srt[{i}].passphrase"),
                    owner: s.name.clone(),
                    target,
                    secret: p,
                });
            }
        }
        for (i, r) in self.outputs.rtmp.iter_mut().enumerate() {
            out.push(SecretRef {
                path: format!("outputs.rtmp[{i}].key"),
                owner: r.name.clone(),
                target: r.url.clone(),
                secret: &mut r.key,
            });
        }
        for (i, input) in self.inputs.iter_mut().enumerate() {
            let owner = format!("input {}", input.name);
            for (field, secret) in input.secrets_mut() {
                out.push(SecretRef {
                    path: format!("inputs[{i}].{field}"),
                    owner: owner.clone(),
                    target: String::new(),
                    secret,
                });
            }
        }
        out
    }

    /// The plain values of every secret, to scrub from messages that leave the box.
    pub fn secret_values(&self) -> Vec<String> {
        let srt = self
            .outputs
            .srt
            .iter()
            .filter_map(|s| s.passphrase.as_ref());
        let rtmp = self.outputs.rtmp.iter().map(|r| &r.key);
        let inputs = self
            .inputs
            .iter()
            .flat_map(|i| i.secrets().into_iter().map(|(_, s)| s));
        srt.chain(rtmp)
            .chain(inputs)
            .filter(|s| s.is_plain() && !s.expose().is_empty())
            .map(|s| s.expose().to_string())
            .collect()
    }

    pub fn rung(&self, name: &str) -> Option<&Rung> {
        self.ladder.rungs.iter().find(|r| r.name == name)
    }

    /// Checks the document as a whole; returns every problem found.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let errors = validate::check(self);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The TOML text of this config.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .expect("a Config always serialises: it has no maps with non-string keys")
    }

    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod uplink_tests;

/// True if `p` is a mount point (its device differs from its parent's).
fn is_mount_point(p: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(me), Some(parent)) = (std::fs::metadata(p), p.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|up| up.dev() != me.dev())
}
