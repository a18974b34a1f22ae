//! What an uplink is, all of it from config.

use fourcast_config::{Config, RtmpUrl, Secret, SrtEnd, srt_adaptive_range};

/// What a destination is, all of it from config; a change to any of it restarts only
/// this destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub enabled: bool,
    pub rung: String,
    pub link: Link,
    /// `(min, max)` kbit/s for an adaptive uplink, which has its own encoder.
    pub adaptive: Option<(u32, u32)>,
    /// For an own encoder: the rung's size, the program's caps and frame rate.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub raw_caps: gst::Caps,
    pub x264_preset: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Srt {
        end: SrtEnd,
        latency_ms: u32,
        passphrase: Option<Secret>,
        key_length: u32,
        streamid: Option<String>,
    },
    Rtmp {
        url: RtmpUrl,
        key: Secret,
    },
}

impl Spec {
    pub fn kind(&self) -> &'static str {
        match self.link {
            Link::Srt { .. } => "srt",
            Link::Rtmp { .. } => "rtmp",
        }
    }

    pub(super) fn secrets(&self) -> Vec<String> {
        match &self.link {
            Link::Srt { passphrase, .. } => {
                passphrase.iter().map(|p| p.expose().to_string()).collect()
            }
            Link::Rtmp { key, .. } => vec![key.expose().to_string()],
        }
    }

    /// Where it goes, for status (never with a secret).
    pub fn target(&self) -> String {
        match &self.link {
            Link::Srt { end, .. } => match end {
                SrtEnd::Caller { host, port } => format!("srt://{host}:{port}"),
                SrtEnd::Listener { bind, port } => format!("srt://{bind}:{port} (listening)"),
            },
            Link::Rtmp { url, .. } => format!(
                "{}://{}:{}/{}",
                if url.secure { "rtmps" } else { "rtmp" },
                url.host,
                url.port,
                url.application
            ),
        }
    }
}

/// Every destination the config asks for (validated config: rungs exist, URLs parse).
pub fn specs(config: &Config) -> Vec<Spec> {
    let raw_caps = crate::program::video_caps(config);
    let size = |rung: &str| {
        config
            .rung(rung)
            .map(|r| (r.width, r.height))
            .unwrap_or((config.program.width, config.program.height))
    };
    let base = |name: &str, enabled: bool, rung: &str, link: Link| {
        let (width, height) = size(rung);
        Spec {
            name: name.to_string(),
            enabled,
            rung: rung.to_string(),
            link,
            adaptive: None,
            width,
            height,
            fps: config.program.fps,
            raw_caps: raw_caps.clone(),
            x264_preset: config.ladder.x264_preset.clone(),
        }
    };
    let mut out = Vec::new();
    for o in &config.outputs.srt {
        let mut spec = base(
            &o.name,
            o.enabled,
            &o.rung,
            Link::Srt {
                end: o.end.clone(),
                latency_ms: o.latency_ms,
                passphrase: o.passphrase.clone(),
                key_length: if o.passphrase.is_some() {
                    o.key_length.unwrap_or(16)
                } else {
                    0
                },
                streamid: o.streamid.clone(),
            },
        );
        if o.adaptive {
            spec.adaptive = Some(srt_adaptive_range(config, o));
        }
        out.push(spec);
    }
    for o in &config.outputs.rtmp {
        if let Ok(url) = RtmpUrl::parse(&o.url) {
            out.push(base(
                &o.name,
                o.enabled,
                &o.rung,
                Link::Rtmp {
                    url,
                    key: o.key.clone(),
                },
            ));
        }
    }
    out
}
