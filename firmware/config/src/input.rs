//! Inputs: what the program can show, each a kind with its own fields.
//!
//! On disk and over the API an input is one flat table with a `kind` tag (`kind = "srt"`,
//! `listen_port = 9001`). It is parsed into [`Input`], whose [`Source`] carries exactly the
//! fields of its kind with their defaults resolved, so nothing downstream re-derives a
//! default or unwraps an `Option` that "cannot" be empty. A field of another kind, or a
//! missing one, is an error naming its path (`inputs[1].listen_port: an srt input needs
//! a listen_port`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::FieldShape;
use crate::secret::Secret;
use crate::uplink::DEFAULT_SRT_LATENCY_MS;

/// The tone a test input plays unless told otherwise, Hz.
pub const DEFAULT_TONE_HZ: u32 = 440;

/// One source that can be shown in the program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "InputDoc", into = "InputDoc")]
pub struct Input {
    /// Short unique name (`cam1`): letters, digits, `-` and `_`.
    pub name: String,
    /// What the picture is labelled with; defaults to the name.
    pub label: Option<String>,
    /// Where the picture and sound come from.
    pub source: Source,
    /// The input's gain on the audio mix, dB (−96…+20).
    pub gain_db: f64,
    /// Silent on the audio mix.
    pub mute: bool,
}

/// Where an input's picture and sound come from, with the fields of that kind only.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A moving test pattern with a label, a burnt-in clock and a tone.
    Test { pattern: Pattern, tone_hz: u32 },
    /// A media file played in a loop, or once and then its slate.
    File { path: PathBuf, looped: bool },
    /// A remote camera or encoder sending MPEG-TS over SRT to the box (the box listens).
    Srt(SrtInput),
    /// A phone app or OBS publishing to the box's RTMP ingest server with this key.
    Rtmp { key: Secret },
    /// An HDMI receiver or a USB camera on the board (Video4Linux), with its sound from an
    /// ALSA device if it has one.
    V4l2(CaptureInput),
    /// Sound only, from an ALSA device on the board (the venue's desk through a USB audio
    /// interface, a wireless microphone's receiver): mixed into the program's sound, never
    /// a picture.
    Alsa { device: String },
}

/// A capture device on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureInput {
    /// Its node: best a stable name (`/dev/v4l/by-path/…`), which stays with the port a
    /// camera is plugged into, or `/dev/videoN`.
    pub device: PathBuf,
    /// The ALSA device its sound comes from (`hw:CARD=HDMI,DEV=0`), if any.
    pub audio: Option<String>,
    /// Raw pictures or MJPEG (USB cameras; an HDMI receiver sends what its source sends).
    pub format: CaptureFormat,
    /// Where its signal is read (`signal` in the config).
    pub signal: SignalSource,
}

/// Where a capture input's signal (no signal, no lock, out of range, the incoming timings)
/// is read from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SignalSource {
    /// The capture node itself (`"node"`): HDMI receivers with their own video node, such
    /// as RK3588's `rk_hdmirx` (which also reports the source's 5 V there).
    #[default]
    Node,
    /// A bridge chip's own node, found by its name in sysfs (`"subdev:tc358743"`): the
    /// Raspberry Pi's TC358743 HDMI-to-CSI bridge reports timings on its subdevice, not on
    /// the CSI receiver's video node.
    Subdev(String),
    /// Nothing but frames (`"frames"`): USB HDMI grabbers that report no timings and send
    /// their own "no signal" picture; only a camera that stops sending shows.
    Frames,
}

impl SignalSource {
    /// The config's word for it.
    pub fn nick(&self) -> String {
        match self {
            SignalSource::Node => "node".into(),
            SignalSource::Subdev(name) => format!("subdev:{name}"),
            SignalSource::Frames => "frames".into(),
        }
    }

    /// Reads the config's word; the error says what is allowed.
    pub fn parse(text: &str) -> Result<SignalSource, String> {
        match text {
            "node" => Ok(SignalSource::Node),
            "frames" => Ok(SignalSource::Frames),
            _ => match text.strip_prefix("subdev:") {
                Some(name)
                    if !name.is_empty()
                        && name.len() <= 32
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || " -_.".contains(c)) =>
                {
                    Ok(SignalSource::Subdev(name.to_string()))
                }
                _ => Err(format!(
                    "{text:?}: use \"node\", \"frames\" or \"subdev:NAME\" (the bridge's name \
                     in sysfs, e.g. subdev:tc358743)"
                )),
            },
        }
    }
}

/// Which of a USB camera's formats to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureFormat {
    /// Raw when raw reaches the program's size at its rate; else MJPEG where the board
    /// decodes it in hardware; else the best raw (MJPEG when that is all there is).
    #[default]
    Auto,
    /// Raw pictures only, at the size that best keeps the program's rate.
    Raw,
    /// Motion-JPEG, decoded by the board's JPEG decoder (software `jpegdec` if it has none).
    Mjpeg,
}

/// An SRT input: the box listens, a sender calls it.
#[derive(Debug, Clone, PartialEq)]
pub struct SrtInput {
    /// The UDP port the box listens on.
    pub listen_port: u16,
    /// The passphrase the sender must encrypt with (10–79 characters).
    pub passphrase: Option<Secret>,
    /// Callers with another stream id are refused.
    pub streamid: Option<String>,
    /// The SRT receive latency, ms (20–10000).
    pub latency_ms: u32,
    /// Takes any sender without a passphrase. False (the default) makes a passphrase
    /// required: a venue network is shared with the public.
    pub open: bool,
}

/// The kind of an input, as its `kind` tag names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A moving test pattern with a label, a burnt-in clock and a tone.
    Test,
    /// A media file played in a loop or once.
    File,
    /// A remote camera or encoder sending MPEG-TS over SRT to the box (the box listens).
    Srt,
    /// A phone app or OBS publishing to the box's RTMP ingest server.
    Rtmp,
    /// An HDMI receiver or a USB camera on the board.
    V4l2,
    /// Sound only, from an ALSA device on the board.
    Alsa,
}

impl InputKind {
    /// The word the config uses for it.
    pub fn nick(self) -> &'static str {
        match self {
            InputKind::Test => "test",
            InputKind::File => "file",
            InputKind::Srt => "srt",
            InputKind::Rtmp => "rtmp",
            InputKind::V4l2 => "v4l2",
            InputKind::Alsa => "alsa",
        }
    }
}

impl Source {
    pub fn kind(&self) -> InputKind {
        match self {
            Source::Test { .. } => InputKind::Test,
            Source::File { .. } => InputKind::File,
            Source::Srt(_) => InputKind::Srt,
            Source::Rtmp { .. } => InputKind::Rtmp,
            Source::V4l2(_) => InputKind::V4l2,
            Source::Alsa { .. } => InputKind::Alsa,
        }
    }
}

impl Input {
    /// Whether it sends pictures (a sound-only `alsa` input does not: it is never a tile).
    pub fn has_picture(&self) -> bool {
        !matches!(self.source, Source::Alsa { .. })
    }

    /// A named input of this source, labelled with its name, at unity gain.
    pub fn new(name: &str, source: Source) -> Input {
        Input {
            name: name.into(),
            label: None,
            source,
            gain_db: 0.0,
            mute: false,
        }
    }

    /// A test input showing `pattern` with the default tone.
    pub fn test(name: &str, pattern: Pattern) -> Input {
        Input::new(
            name,
            Source::Test {
                pattern,
                tone_hz: DEFAULT_TONE_HZ,
            },
        )
    }

    /// A file input played in a loop.
    pub fn file(name: &str, path: impl Into<PathBuf>) -> Input {
        Input::new(
            name,
            Source::File {
                path: path.into(),
                looped: true,
            },
        )
    }

    /// An SRT input listening on `listen_port` for a sender encrypting with `passphrase`,
    /// default latency.
    pub fn srt(name: &str, listen_port: u16, passphrase: &str) -> Input {
        Input::new(
            name,
            Source::Srt(SrtInput {
                listen_port,
                passphrase: Some(Secret::new(passphrase)),
                streamid: None,
                latency_ms: DEFAULT_SRT_LATENCY_MS,
                open: false,
            }),
        )
    }

    /// An RTMP input published with `key`.
    pub fn rtmp(name: &str, key: &str) -> Input {
        Input::new(
            name,
            Source::Rtmp {
                key: Secret::new(key),
            },
        )
    }

    pub fn kind(&self) -> InputKind {
        self.source.kind()
    }

    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// The stream key or passphrase this input holds, with the field that holds it.
    pub fn secrets(&self) -> Vec<(&'static str, &Secret)> {
        match &self.source {
            Source::Srt(SrtInput {
                passphrase: Some(p),
                ..
            }) => vec![("passphrase", p)],
            Source::Rtmp { key } => vec![("key", key)],
            _ => Vec::new(),
        }
    }

    /// The same, to resolve or seal in place.
    pub fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        match &mut self.source {
            Source::Srt(SrtInput {
                passphrase: Some(p),
                ..
            }) => vec![("passphrase", p)],
            Source::Rtmp { key } => vec![("key", key)],
            _ => Vec::new(),
        }
    }
}

/// An input as written: one flat table, its kind's fields optional. Only [`Input`]'s
/// conversions use it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDoc {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    kind: InputKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pattern: Option<Pattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tone_hz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(rename = "loop", default, skip_serializing_if = "Option::is_none")]
    looped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    listen_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passphrase: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    streamid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<CaptureFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    gain_db: f64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    mute: bool,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl TryFrom<InputDoc> for Input {
    type Error = FieldShape;

    fn try_from(d: InputDoc) -> Result<Input, FieldShape> {
        let kind = d.kind;
        let foreign = |field: &'static str, set: bool, owner: InputKind| {
            if set && kind != owner {
                Err(FieldShape {
                    field,
                    message: format!("only {} inputs have {field}", owner.nick()),
                })
            } else {
                Ok(())
            }
        };
        foreign("pattern", d.pattern.is_some(), InputKind::Test)?;
        foreign("tone_hz", d.tone_hz.is_some(), InputKind::Test)?;
        foreign("path", d.path.is_some(), InputKind::File)?;
        foreign("loop", d.looped.is_some(), InputKind::File)?;
        foreign("listen_port", d.listen_port.is_some(), InputKind::Srt)?;
        foreign("passphrase", d.passphrase.is_some(), InputKind::Srt)?;
        foreign("streamid", d.streamid.is_some(), InputKind::Srt)?;
        foreign("latency_ms", d.latency_ms.is_some(), InputKind::Srt)?;
        foreign("open", d.open.is_some(), InputKind::Srt)?;
        foreign("key", d.key.is_some(), InputKind::Rtmp)?;
        if d.device.is_some() && !matches!(kind, InputKind::V4l2 | InputKind::Alsa) {
            return Err(FieldShape {
                field: "device",
                message: "only v4l2 and alsa inputs have device".into(),
            });
        }
        foreign("audio", d.audio.is_some(), InputKind::V4l2)?;
        foreign("format", d.format.is_some(), InputKind::V4l2)?;
        foreign("signal", d.signal.is_some(), InputKind::V4l2)?;
        let needs = |field: &'static str| FieldShape {
            field,
            message: format!("a{} {} input needs a {field}", an(kind), kind.nick()),
        };
        let source = match kind {
            InputKind::Test => Source::Test {
                pattern: d.pattern.ok_or_else(|| needs("pattern"))?,
                tone_hz: d.tone_hz.unwrap_or(DEFAULT_TONE_HZ),
            },
            InputKind::File => Source::File {
                path: d.path.ok_or_else(|| needs("path"))?,
                looped: d.looped.unwrap_or(true),
            },
            InputKind::Srt => Source::Srt(SrtInput {
                listen_port: d.listen_port.ok_or_else(|| needs("listen_port"))?,
                passphrase: d.passphrase,
                streamid: d.streamid,
                latency_ms: d.latency_ms.unwrap_or(DEFAULT_SRT_LATENCY_MS),
                open: d.open.unwrap_or(false),
            }),
            InputKind::Rtmp => Source::Rtmp {
                key: d.key.ok_or_else(|| needs("key"))?,
            },
            InputKind::V4l2 => Source::V4l2(CaptureInput {
                device: d.device.ok_or_else(|| needs("device"))?,
                audio: d.audio,
                format: d.format.unwrap_or_default(),
                signal: match d.signal.as_deref() {
                    None => SignalSource::Node,
                    Some(text) => SignalSource::parse(text).map_err(|message| FieldShape {
                        field: "signal",
                        message,
                    })?,
                },
            }),
            InputKind::Alsa => Source::Alsa {
                device: d
                    .device
                    .ok_or_else(|| needs("device"))?
                    .to_string_lossy()
                    .into_owned(),
            },
        };
        Ok(Input {
            name: d.name,
            label: d.label,
            source,
            gain_db: d.gain_db,
            mute: d.mute,
        })
    }
}

fn an(kind: InputKind) -> &'static str {
    match kind {
        InputKind::Srt | InputKind::Rtmp | InputKind::Alsa => "n",
        InputKind::Test | InputKind::File | InputKind::V4l2 => "",
    }
}

impl From<Input> for InputDoc {
    fn from(i: Input) -> InputDoc {
        let mut d = InputDoc {
            name: i.name,
            label: i.label,
            kind: i.source.kind(),
            pattern: None,
            tone_hz: None,
            path: None,
            looped: None,
            listen_port: None,
            passphrase: None,
            streamid: None,
            latency_ms: None,
            open: None,
            key: None,
            device: None,
            audio: None,
            format: None,
            signal: None,
            gain_db: i.gain_db,
            mute: i.mute,
        };
        match i.source {
            Source::Test { pattern, tone_hz } => {
                d.pattern = Some(pattern);
                d.tone_hz = Some(tone_hz);
            }
            Source::File { path, looped } => {
                d.path = Some(path);
                d.looped = (!looped).then_some(false);
            }
            Source::Srt(s) => {
                d.listen_port = Some(s.listen_port);
                d.passphrase = s.passphrase;
                d.streamid = s.streamid;
                d.latency_ms = Some(s.latency_ms);
                d.open = s.open.then_some(true);
            }
            Source::Rtmp { key } => d.key = Some(key),
            Source::V4l2(c) => {
                d.device = Some(c.device);
                d.audio = c.audio;
                d.format = (c.format != CaptureFormat::Auto).then_some(c.format);
                d.signal = (c.signal != SignalSource::Node).then(|| c.signal.nick());
            }
            Source::Alsa { device } => d.device = Some(device.into()),
        }
        d
    }
}

/// Test patterns (GStreamer `videotestsrc` patterns that move or can be moved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    Smpte,
    Ball,
    ZonePlate,
    Colors,
    Bar,
    Snow,
    Pinwheel,
    Spokes,
    Gradient,
    Circular,
    /// Solid colours: easy to tell apart by one pixel.
    Red,
    Green,
    Blue,
    White,
    Black,
}

impl Pattern {
    /// The `videotestsrc` nick.
    pub fn nick(self) -> &'static str {
        match self {
            Pattern::Smpte => "smpte",
            Pattern::Ball => "ball",
            Pattern::ZonePlate => "zone-plate",
            Pattern::Colors => "colors",
            Pattern::Bar => "bar",
            Pattern::Snow => "snow",
            Pattern::Pinwheel => "pinwheel",
            Pattern::Spokes => "spokes",
            Pattern::Gradient => "gradient",
            Pattern::Circular => "circular",
            Pattern::Red => "red",
            Pattern::Green => "green",
            Pattern::Blue => "blue",
            Pattern::White => "white",
            Pattern::Black => "black",
        }
    }

    pub fn from_nick(nick: &str) -> Option<Pattern> {
        ALL_PATTERNS.iter().copied().find(|p| p.nick() == nick)
    }
}

const ALL_PATTERNS: &[Pattern] = &[
    Pattern::Smpte,
    Pattern::Ball,
    Pattern::ZonePlate,
    Pattern::Colors,
    Pattern::Bar,
    Pattern::Snow,
    Pattern::Pinwheel,
    Pattern::Spokes,
    Pattern::Gradient,
    Pattern::Circular,
    Pattern::Red,
    Pattern::Green,
    Pattern::Blue,
    Pattern::White,
    Pattern::Black,
];
