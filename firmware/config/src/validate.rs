//! Whole-document checks. Each returns errors naming the field path; none stops at the first.

use crate::name::valid_name;
use std::collections::HashSet;
use std::net::SocketAddr;

use crate::uplink::valid_host;
use crate::{
    Config, FieldError, InputKind, MAX_INPUTS, MAX_RUNGS, MAX_SOUND_INPUTS, RtmpOutput, RtmpUrl,
    Secret, Source, SrtEnd, SrtInput, SrtOutput, X264_PRESETS,
};

/// Bitrates a rung may ask for, in kbit/s.
pub(crate) const RUNG_KBPS: std::ops::RangeInclusive<u32> = 100..=50_000;
const AUDIO_KBPS: std::ops::RangeInclusive<u32> = 32..=320;
const PROGRAM_WIDTH: std::ops::RangeInclusive<u32> = 320..=3840;
const PROGRAM_HEIGHT: std::ops::RangeInclusive<u32> = 180..=2160;
const FPS: std::ops::RangeInclusive<u32> = 1..=60;
const SEGMENT_SECONDS: std::ops::RangeInclusive<u32> = 1..=10;
const WINDOW: std::ops::RangeInclusive<u32> = 3..=30;
const PART_MS: std::ops::RangeInclusive<u32> = 100..=1000;
const TONE_HZ: std::ops::RangeInclusive<u32> = 20..=20_000;
const MIN_RUNG_SIDE: u32 = 64;
const SRT_LATENCY_MS: std::ops::RangeInclusive<u32> = 20..=10_000;
const SRT_PASSPHRASE_CHARS: std::ops::RangeInclusive<usize> = 10..=79;

pub(crate) fn check(c: &Config) -> Vec<FieldError> {
    let mut errs = Vec::new();
    board(c, &mut errs);
    program(c, &mut errs);
    audio(c, &mut errs);
    inputs(c, &mut errs);
    ladder(c, &mut errs);
    outputs(c, &mut errs);
    http(c, &mut errs);
    storage(c, &mut errs);
    recording(c, &mut errs);
    crate::overlay::check(c, &mut errs);
    crate::fleet::check(&c.fleet, &mut errs);
    crate::ota::check(&c.ota, &mut errs);
    in_range(
        &mut errs,
        "multiview.fps",
        c.multiview.fps,
        &(0..=10),
        " per second",
    );
    in_range(
        &mut errs,
        "http.hls_url_ttl_s",
        c.http.hls_url_ttl_s,
        &(60..=604_800),
        " s",
    );
    crate::scene::check(c, &mut errs);
    errs
}

fn recording(c: &Config, errs: &mut Vec<FieldError>) {
    let r = &c.recording;
    in_range(
        errs,
        "recording.split_seconds",
        r.split_seconds,
        &(10..=86_400),
        " s",
    );
    if let Some(mb) = r.split_mb {
        in_range(errs, "recording.split_mb", mb, &(1..=1_000_000), " MiB");
    }
    in_range(
        errs,
        "recording.free_space_floor_mb",
        r.free_space_floor_mb,
        &(1..=1_000_000),
        " MiB",
    );
    for (field, p) in [("path", &r.path), ("usb_path", &r.usb_path)] {
        if let Some(p) = p
            && !p.is_absolute()
        {
            err(
                errs,
                format!("recording.{field}"),
                format!("{}: must be an absolute path", p.display()),
            );
        }
    }
}

pub(crate) fn err(errs: &mut Vec<FieldError>, path: impl Into<String>, message: impl Into<String>) {
    errs.push(FieldError::new(path, message));
}

pub(crate) fn in_range(
    errs: &mut Vec<FieldError>,
    path: &str,
    value: u32,
    range: &std::ops::RangeInclusive<u32>,
    unit: &str,
) {
    if !range.contains(&value) {
        err(
            errs,
            path,
            format!(
                "{value}{unit} is out of range {}–{}{unit}",
                range.start(),
                range.end()
            ),
        );
    }
}

fn board(c: &Config, errs: &mut Vec<FieldError>) {
    if let Err(e) = fourcast_board::profile(&c.board) {
        err(errs, "board", e.to_string());
    }
}

fn program(c: &Config, errs: &mut Vec<FieldError>) {
    let p = &c.program;
    in_range(errs, "program.width", p.width, &PROGRAM_WIDTH, "");
    in_range(errs, "program.height", p.height, &PROGRAM_HEIGHT, "");
    even(errs, "program.width", p.width);
    even(errs, "program.height", p.height);
    in_range(errs, "program.fps", p.fps, &FPS, "");
}

fn even(errs: &mut Vec<FieldError>, path: &str, v: u32) {
    if !v.is_multiple_of(2) {
        err(errs, path, format!("{v} must be even (4:2:0 video)"));
    }
}

fn audio(c: &Config, errs: &mut Vec<FieldError>) {
    let a = &c.audio;
    if ![44_100, 48_000].contains(&a.sample_rate) {
        err(
            errs,
            "audio.sample_rate",
            format!("{} Hz: must be 44100 or 48000", a.sample_rate),
        );
    }
    if ![1, 2].contains(&a.channels) {
        err(
            errs,
            "audio.channels",
            format!("{}: must be 1 or 2", a.channels),
        );
    }
    in_range(
        errs,
        "audio.bitrate_kbps",
        a.bitrate_kbps,
        &AUDIO_KBPS,
        " kbit/s",
    );
    if let Err(m) = check_gain_db(a.master_gain_db) {
        err(errs, "audio.master_gain_db", m);
    }
    for (i, input) in c.inputs.iter().enumerate() {
        if let Err(m) = check_gain_db(input.gain_db) {
            err(errs, format!("inputs[{i}].gain_db"), m);
        }
    }
}

/// A gain on the audio mix: −96 dB (silence) to +20 dB.
pub fn check_gain_db(db: f64) -> Result<(), String> {
    if db.is_finite() && (-96.0..=20.0).contains(&db) {
        Ok(())
    } else {
        Err(format!("{db} dB: must be −96…+20 dB"))
    }
}

fn inputs(c: &Config, errs: &mut Vec<FieldError>) {
    if c.inputs.is_empty() {
        err(errs, "inputs", "at least one input is needed");
    }
    let pictures = c.inputs.iter().filter(|i| i.has_picture()).count();
    if pictures > MAX_INPUTS {
        err(
            errs,
            "inputs",
            format!("{pictures} inputs with pictures: at most {MAX_INPUTS} are supported"),
        );
    }
    let sounds = c.inputs.len() - pictures;
    if sounds > MAX_SOUND_INPUTS {
        err(
            errs,
            "inputs",
            format!("{sounds} sound-only inputs: at most {MAX_SOUND_INPUTS} are supported"),
        );
    }
    let mut seen = HashSet::new();
    let mut ports = HashSet::new();
    let mut keys = HashSet::new();
    let mut devices = HashSet::new();
    let mut sounds = HashSet::new();
    for (i, input) in c.inputs.iter().enumerate() {
        let at = |field: &str| format!("inputs[{i}].{field}");
        if !valid_name(&input.name) {
            err(
                errs,
                at("name"),
                format!("\"{}\": use 1–32 letters, digits, '-' or '_'", input.name),
            );
        } else if !seen.insert(input.name.as_str()) {
            err(
                errs,
                at("name"),
                format!("\"{}\" is used by another input", input.name),
            );
        }
        if input
            .label
            .as_deref()
            .is_some_and(|l| l.chars().count() > 64)
        {
            err(errs, at("label"), "at most 64 characters");
        }
        match &input.source {
            Source::Test { tone_hz, .. } => {
                in_range(errs, &at("tone_hz"), *tone_hz, &TONE_HZ, " Hz")
            }
            Source::File { path, .. } => file_source(path, &at("path"), errs),
            Source::Srt(srt) => srt_source(srt, &at, &mut ports, errs),
            Source::Rtmp { key } => rtmp_key(key, &at("key"), &mut keys, errs),
            Source::V4l2(c) => capture_source(c, &at, &mut devices, errs),
            Source::Alsa { device } => {
                if !alsa_name(device) {
                    err(
                        errs,
                        at("device"),
                        format!("{device:?}: give an ALSA device name (hw:CARD=USB,DEV=0)"),
                    );
                } else if !sounds.insert(device.as_str()) {
                    err(
                        errs,
                        at("device"),
                        format!("{device} is used by another input"),
                    );
                }
            }
        }
    }
    if c.inputs.iter().any(|i| i.kind() == InputKind::Rtmp)
        && c.ingest.rtmp_listen.parse::<SocketAddr>().is_err()
    {
        err(
            errs,
            "ingest.rtmp_listen",
            format!("{:?}: use address:port", c.ingest.rtmp_listen),
        );
    }
}

/// A capture device need not be there (a camera may be unplugged): it must be a device
/// node's path, used by one input only; its ALSA device a plain ALSA name.
fn capture_source(
    c: &crate::input::CaptureInput,
    at: &dyn Fn(&str) -> String,
    devices: &mut HashSet<std::path::PathBuf>,
    errs: &mut Vec<FieldError>,
) {
    let d = &c.device;
    if !d.starts_with("/dev/") || d.components().any(|p| p == std::path::Component::ParentDir) {
        err(
            errs,
            at("device"),
            format!(
                "{}: give the device's node under /dev (/dev/video0, /dev/v4l/by-path/…)",
                d.display()
            ),
        );
    } else if !devices.insert(d.clone()) {
        err(
            errs,
            at("device"),
            format!("{} is used by another input", d.display()),
        );
    }
    if let Some(a) = &c.audio
        && !alsa_name(a)
    {
        err(
            errs,
            at("audio"),
            format!("{a:?}: give an ALSA device name (hw:CARD=HDMI,DEV=0)"),
        );
    }
}

/// A plain ALSA device name (`hw:CARD=HDMI,DEV=0`, `plughw:1,0`): no paths, no spaces.
fn alsa_name(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 64
        && a.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ":,=_.-".contains(ch))
}

fn file_source(path: &std::path::Path, at: &str, errs: &mut Vec<FieldError>) {
    if !path.is_file() {
        err(errs, at, format!("{}: no such file", path.display()));
    } else if let Err(e) = std::fs::File::open(path) {
        err(errs, at, format!("{}: cannot be read: {e}", path.display()));
    }
}

fn srt_source(
    srt: &SrtInput,
    at: &dyn Fn(&str) -> String,
    ports: &mut HashSet<u16>,
    errs: &mut Vec<FieldError>,
) {
    let p = srt.listen_port;
    if p < 1024 {
        err(
            errs,
            at("listen_port"),
            format!("{p}: use a port from 1024 up"),
        );
    } else if !ports.insert(p) {
        err(
            errs,
            at("listen_port"),
            format!("{p} is used by another srt input"),
        );
    }
    match &srt.passphrase {
        Some(p) if p.is_plain() && !SRT_PASSPHRASE_CHARS.contains(&p.expose().chars().count()) => {
            err(errs, at("passphrase"), "10–79 characters");
        }
        None if !srt.open => err(
            errs,
            at("passphrase"),
            "without a passphrase any sender on the network can take this input: set one (10–79 characters), or `open = true` to accept that",
        ),
        _ => {}
    }
    if let Some(s) = &srt.streamid
        && (s.is_empty() || s.len() > 512)
    {
        err(errs, at("streamid"), "1–512 characters");
    }
    in_range(
        errs,
        &at("latency_ms"),
        srt.latency_ms,
        &SRT_LATENCY_MS,
        " ms",
    );
}

fn rtmp_key<'a>(
    key: &'a Secret,
    at: &str,
    keys: &mut HashSet<&'a str>,
    errs: &mut Vec<FieldError>,
) {
    if !key.is_plain() {
        return;
    }
    let k = key.expose();
    let well_formed = (8..=128).contains(&k.len())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !well_formed {
        err(errs, at, "8–128 letters, digits, '-', '_' or '.'");
    } else if !keys.insert(k) {
        err(errs, at, "another rtmp input has this key");
    }
}

fn ladder(c: &Config, errs: &mut Vec<FieldError>) {
    let l = &c.ladder;
    if l.encoder != "auto" && !valid_element_name(&l.encoder) {
        err(
            errs,
            "ladder.encoder",
            format!(
                "\"{}\" is not an element name; use \"auto\" or e.g. \"x264enc\"",
                l.encoder
            ),
        );
    }
    if !X264_PRESETS.contains(&l.x264_preset.as_str()) {
        err(
            errs,
            "ladder.x264_preset",
            format!(
                "\"{}\": must be one of {}",
                l.x264_preset,
                X264_PRESETS.join(", ")
            ),
        );
    }
    if l.rungs.is_empty() {
        err(errs, "ladder.rungs", "at least one rung is needed");
    }
    if l.rungs.len() > MAX_RUNGS {
        err(
            errs,
            "ladder.rungs",
            format!("{} rungs: at most {MAX_RUNGS} are supported", l.rungs.len()),
        );
    }
    let mut seen = HashSet::new();
    for (i, r) in l.rungs.iter().enumerate() {
        let at = |field: &str| format!("ladder.rungs[{i}].{field}");
        if !valid_name(&r.name) {
            err(
                errs,
                at("name"),
                format!("\"{}\": use 1–32 letters, digits, '-' or '_'", r.name),
            );
        } else if !seen.insert(r.name.as_str()) {
            err(
                errs,
                at("name"),
                format!("\"{}\" is used by another rung", r.name),
            );
        }
        for (field, v, max) in [
            ("width", r.width, c.program.width),
            ("height", r.height, c.program.height),
        ] {
            if v > max {
                err(errs, at(field), format!("must be ≤ program {field} {max}"));
            } else if v < MIN_RUNG_SIDE {
                err(
                    errs,
                    at(field),
                    format!("{v} is below the minimum {MIN_RUNG_SIDE}"),
                );
            }
            even(errs, &at(field), v);
        }
        in_range(
            errs,
            &at("bitrate_kbps"),
            r.bitrate_kbps,
            &RUNG_KBPS,
            " kbit/s",
        );
    }
}

fn valid_element_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

fn outputs(c: &Config, errs: &mut Vec<FieldError>) {
    let h = &c.outputs.hls;
    in_range(
        errs,
        "outputs.hls.segment_seconds",
        h.segment_seconds,
        &SEGMENT_SECONDS,
        " s",
    );
    in_range(errs, "outputs.hls.window", h.window, &WINDOW, " segments");
    in_range(errs, "outputs.hls.part_ms", h.part_ms, &PART_MS, " ms");
    if h.part_ms * 2 > h.segment_seconds.saturating_mul(1000) && PART_MS.contains(&h.part_ms) {
        errs.push(FieldError::new(
            "outputs.hls.part_ms",
            format!(
                "{} ms: a part is at most half a segment ({} s)",
                h.part_ms, h.segment_seconds
            ),
        ));
    }
    let mut names = HashSet::new();
    for (i, o) in c.outputs.srt.iter().enumerate() {
        srt(c, &format!("outputs.srt[{i}]"), o, &mut names, errs);
    }
    for (i, o) in c.outputs.rtmp.iter().enumerate() {
        rtmp(c, &format!("outputs.rtmp[{i}]"), o, &mut names, errs);
    }
}

fn destination_name<'a>(
    at: &str,
    name: &'a str,
    names: &mut HashSet<&'a str>,
    errs: &mut Vec<FieldError>,
) {
    if !valid_name(name) {
        err(
            errs,
            format!("{at}.name"),
            format!("\"{name}\": use 1–32 letters, digits, '-' or '_'"),
        );
    } else if !names.insert(name) {
        err(
            errs,
            format!("{at}.name"),
            format!("\"{name}\" is used by another destination"),
        );
    }
}

fn rung_ref(c: &Config, at: &str, rung: &str, errs: &mut Vec<FieldError>) {
    if c.rung(rung).is_none() {
        let known: Vec<&str> = c.ladder.rungs.iter().map(|r| r.name.as_str()).collect();
        err(
            errs,
            format!("{at}.rung"),
            format!("no rung \"{rung}\" in the ladder ({})", known.join(", ")),
        );
    }
}

fn srt<'a>(
    c: &Config,
    at: &str,
    o: &'a SrtOutput,
    names: &mut HashSet<&'a str>,
    errs: &mut Vec<FieldError>,
) {
    destination_name(at, &o.name, names, errs);
    match &o.end {
        SrtEnd::Caller { host, .. } if !valid_host(host) => err(
            errs,
            format!("{at}.host"),
            format!("\"{host}\" is not a host name or address"),
        ),
        SrtEnd::Listener { bind, .. } if bind.parse::<std::net::IpAddr>().is_err() => err(
            errs,
            format!("{at}.bind"),
            format!("\"{bind}\" is not a local IP address"),
        ),
        SrtEnd::Caller { .. } | SrtEnd::Listener { .. } => {}
    }
    if o.end.port() == 0 {
        err(errs, format!("{at}.port"), "0 is not a port: use 1–65535");
    }
    in_range(
        errs,
        &format!("{at}.latency_ms"),
        o.latency_ms,
        &SRT_LATENCY_MS,
        " ms",
    );
    if let Some(p) = &o.passphrase
        && p.is_plain()
    {
        let n = p.expose().chars().count();
        if !SRT_PASSPHRASE_CHARS.contains(&n) {
            err(
                errs,
                format!("{at}.passphrase"),
                format!(
                    "{n} characters: SRT needs {}–{}",
                    SRT_PASSPHRASE_CHARS.start(),
                    SRT_PASSPHRASE_CHARS.end()
                ),
            );
        }
    }
    if let Some(k) = o.key_length {
        if ![16, 24, 32].contains(&k) {
            err(
                errs,
                format!("{at}.key_length"),
                format!("{k}: must be 16, 24 or 32 bytes (AES-128/192/256)"),
            );
        } else if o.passphrase.is_none() {
            err(
                errs,
                format!("{at}.key_length"),
                "a key length needs a passphrase",
            );
        }
    }
    if let Some(id) = &o.streamid
        && (id.len() > 512 || id.chars().any(|c| c.is_control()))
    {
        err(
            errs,
            format!("{at}.streamid"),
            "at most 512 printable characters",
        );
    }
    rung_ref(c, at, &o.rung, errs);
    if o.adaptive {
        let (min, max) = srt_adaptive_range(c, o);
        for (field, v) in [("min_kbps", min), ("max_kbps", max)] {
            in_range(errs, &format!("{at}.{field}"), v, &RUNG_KBPS, " kbit/s");
        }
        if min >= max {
            err(
                errs,
                format!("{at}.min_kbps"),
                format!("{min} kbit/s must be below max_kbps {max}"),
            );
        }
    } else {
        for (field, set) in [("min_kbps", o.min_kbps), ("max_kbps", o.max_kbps)] {
            if set.is_some() {
                err(
                    errs,
                    format!("{at}.{field}"),
                    "only an adaptive uplink has a bitrate range (set adaptive = true)",
                );
            }
        }
    }
}

/// The adaptive uplink's bitrate range: as configured, or a quarter of the rung's bitrate
/// up to the rung's bitrate.
pub fn srt_adaptive_range(c: &Config, o: &SrtOutput) -> (u32, u32) {
    let rung = c.rung(&o.rung).map(|r| r.bitrate_kbps).unwrap_or(2000);
    let max = o.max_kbps.unwrap_or(rung);
    (o.min_kbps.unwrap_or(max / 4), max)
}

fn rtmp<'a>(
    c: &Config,
    at: &str,
    o: &'a RtmpOutput,
    names: &mut HashSet<&'a str>,
    errs: &mut Vec<FieldError>,
) {
    destination_name(at, &o.name, names, errs);
    if let Err(e) = RtmpUrl::parse(&o.url) {
        err(errs, format!("{at}.url"), e);
    }
    if o.key.is_plain() {
        let k = o.key.expose();
        if k.is_empty() {
            err(errs, format!("{at}.key"), "the stream key is empty");
        } else if k.len() > 256 || k.chars().any(|c| c.is_whitespace() || c.is_control()) {
            // Never echo the key itself.
            err(
                errs,
                format!("{at}.key"),
                "at most 256 characters, no spaces or control characters",
            );
        }
    }
    rung_ref(c, at, &o.rung, errs);
}

fn http(c: &Config, errs: &mut Vec<FieldError>) {
    if let Err(e) = c.http.listen.parse::<SocketAddr>() {
        err(
            errs,
            "http.listen",
            format!(
                "\"{}\": {e}; expected address:port, e.g. 0.0.0.0:8080",
                c.http.listen
            ),
        );
    }
    if let Some(https) = &c.http.https_listen {
        match https.parse::<SocketAddr>() {
            Err(e) => err(
                errs,
                "http.https_listen",
                format!("\"{https}\": {e}; expected address:port, e.g. 0.0.0.0:8443"),
            ),
            Ok(a) if https.parse::<SocketAddr>().ok() == c.http.listen.parse().ok() => err(
                errs,
                "http.https_listen",
                format!("{a} is http.listen too: HTTPS needs its own port"),
            ),
            Ok(_) => {}
        }
    } else if c.http.redirect_to_https {
        err(
            errs,
            "http.redirect_to_https",
            "there is no HTTPS to send to: set http.https_listen too",
        );
    }
}

fn storage(c: &Config, errs: &mut Vec<FieldError>) {
    if c.storage.data_dir.as_os_str().is_empty() {
        err(errs, "storage.data_dir", "must not be empty");
    }
}
