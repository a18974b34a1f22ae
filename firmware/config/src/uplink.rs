//! Uplinks: SRT to the cloud origin and RTMP(S) to platforms.

use serde::{Deserialize, Serialize};

use crate::error::FieldShape;
use crate::secret::Secret;

fn yes() -> bool {
    true
}

fn default_latency_ms() -> u32 {
    DEFAULT_SRT_LATENCY_MS
}

/// SRT's own default receive latency.
pub const DEFAULT_SRT_LATENCY_MS: u32 = 120;

/// One SRT uplink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SrtOutputDoc", into = "SrtOutputDoc")]
pub struct SrtOutput {
    /// Unique among all uplinks (`origin`); names it in status and metrics.
    pub name: String,
    pub enabled: bool,
    /// Who calls whom, with the address each side needs.
    pub end: SrtEnd,
    /// SRT latency (the receiver's buffer for retransmission), 20–10000 ms.
    pub latency_ms: u32,
    /// AES encryption: 10–79 characters.
    pub passphrase: Option<Secret>,
    /// AES key length in bytes: 16, 24 or 32 (default 16 when a passphrase is set).
    pub key_length: Option<u32>,
    /// SRT stream ID, e.g. `#!::r=live/venue1,m=publish`.
    pub streamid: Option<String>,
    /// Which ladder rung feeds it (its size, and its bitrate unless adaptive).
    pub rung: String,
    /// Follow the link: the uplink gets its own encoder, whose bitrate the box lowers when
    /// the link congests and raises when it clears, within `min_kbps`–`max_kbps`.
    pub adaptive: bool,
    /// Adaptive floor (default a quarter of the rung's bitrate).
    pub min_kbps: Option<u32>,
    /// Adaptive ceiling (default the rung's bitrate).
    pub max_kbps: Option<u32>,
}

/// The two ends of an SRT connection, from the box's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrtEnd {
    /// The box calls the origin at `host:port`.
    Caller { host: String, port: u16 },
    /// The box waits on `bind:port` for the origin (or a player) to call it.
    Listener { bind: String, port: u16 },
}

/// Where a listener binds unless told otherwise: every address.
pub const ANY_ADDRESS: &str = "0.0.0.0";

impl SrtEnd {
    pub fn mode(&self) -> SrtMode {
        match self {
            SrtEnd::Caller { .. } => SrtMode::Caller,
            SrtEnd::Listener { .. } => SrtMode::Listener,
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            SrtEnd::Caller { port, .. } | SrtEnd::Listener { port, .. } => *port,
        }
    }
}

impl SrtOutput {
    /// An enabled, fixed-rate uplink from `rung` with SRT's default latency, no encryption.
    pub fn new(name: &str, end: SrtEnd, rung: &str) -> SrtOutput {
        SrtOutput {
            name: name.into(),
            enabled: true,
            end,
            latency_ms: DEFAULT_SRT_LATENCY_MS,
            passphrase: None,
            key_length: None,
            streamid: None,
            rung: rung.into(),
            adaptive: false,
            min_kbps: None,
            max_kbps: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrtMode {
    /// The box calls the origin.
    Caller,
    /// The box waits for the origin (or a player) to call it.
    Listener,
}

/// An SRT uplink as written: `mode` with `host` (caller) or `bind` (listener) beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SrtOutputDoc {
    name: String,
    #[serde(default = "yes")]
    enabled: bool,
    mode: SrtMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bind: Option<String>,
    #[serde(default = "default_latency_ms")]
    latency_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passphrase: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    streamid: Option<String>,
    rung: String,
    #[serde(default)]
    adaptive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_kbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_kbps: Option<u32>,
}

impl TryFrom<SrtOutputDoc> for SrtOutput {
    type Error = FieldShape;

    fn try_from(d: SrtOutputDoc) -> Result<SrtOutput, FieldShape> {
        let shape = |field, message: &str| FieldShape {
            field,
            message: message.into(),
        };
        let end = match (d.mode, d.host, d.bind) {
            (SrtMode::Caller, Some(host), None) => SrtEnd::Caller { host, port: d.port },
            (SrtMode::Caller, None, _) => {
                return Err(shape("host", "a caller needs the host to call"));
            }
            (SrtMode::Caller, Some(_), Some(_)) => {
                return Err(shape("bind", "only a listener binds; a caller has a host"));
            }
            (SrtMode::Listener, None, bind) => SrtEnd::Listener {
                bind: bind.unwrap_or_else(|| ANY_ADDRESS.into()),
                port: d.port,
            },
            (SrtMode::Listener, Some(_), _) => {
                return Err(shape(
                    "host",
                    "a listener has no host to call; use `bind` for the local address",
                ));
            }
        };
        Ok(SrtOutput {
            name: d.name,
            enabled: d.enabled,
            end,
            latency_ms: d.latency_ms,
            passphrase: d.passphrase,
            key_length: d.key_length,
            streamid: d.streamid,
            rung: d.rung,
            adaptive: d.adaptive,
            min_kbps: d.min_kbps,
            max_kbps: d.max_kbps,
        })
    }
}

impl From<SrtOutput> for SrtOutputDoc {
    fn from(o: SrtOutput) -> SrtOutputDoc {
        let (mode, host, bind, port) = match o.end {
            SrtEnd::Caller { host, port } => (SrtMode::Caller, Some(host), None, port),
            SrtEnd::Listener { bind, port } => (SrtMode::Listener, None, Some(bind), port),
        };
        SrtOutputDoc {
            name: o.name,
            enabled: o.enabled,
            mode,
            host,
            port,
            bind,
            latency_ms: o.latency_ms,
            passphrase: o.passphrase,
            key_length: o.key_length,
            streamid: o.streamid,
            rung: o.rung,
            adaptive: o.adaptive,
            min_kbps: o.min_kbps,
            max_kbps: o.max_kbps,
        }
    }
}

/// One RTMP or RTMPS destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtmpOutput {
    /// Unique among all destinations (`youtube`).
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The server and application, without the key: `rtmp://a.rtmp.youtube.com/live2`.
    pub url: String,
    /// The stream key, kept apart from the URL and never shown back.
    pub key: Secret,
    /// Which ladder rung feeds it.
    pub rung: String,
}

/// An `rtmp://` or `rtmps://` URL taken apart the way `rtmp2sink` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    pub application: String,
}

impl RtmpUrl {
    pub fn parse(url: &str) -> Result<RtmpUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("\"{url}\" is not a URL; expected rtmp://host/app"))?;
        let secure = match scheme {
            "rtmp" => false,
            "rtmps" => true,
            other => {
                return Err(format!(
                    "unknown scheme \"{other}\": use rtmp:// or rtmps://"
                ));
            }
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("port \"{p}\" is not a number 1–65535"))?,
            ),
            None => (authority, if secure { 443 } else { 1935 }),
        };
        if !valid_host(host) {
            return Err(format!("host \"{host}\" is not a host name or address"));
        }
        let application = path.trim_matches('/');
        if application.is_empty() {
            return Err("the URL needs an application path, e.g. rtmp://host/live".into());
        }
        if application
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        {
            return Err(format!(
                "application \"{application}\" has spaces, '?' or '#': put the key in `key`"
            ));
        }
        Ok(RtmpUrl {
            secure,
            host: host.to_string(),
            port,
            application: application.to_string(),
        })
    }
}

/// A DNS name or an IP address literal, without brackets.
pub(crate) fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtmp_urls_come_apart() {
        let u = RtmpUrl::parse("rtmp://a.rtmp.youtube.com/live2").unwrap();
        assert_eq!(
            u,
            RtmpUrl {
                secure: false,
                host: "a.rtmp.youtube.com".into(),
                port: 1935,
                application: "live2".into()
            }
        );
        let u = RtmpUrl::parse("rtmps://live-api-s.facebook.com:443/rtmp/").unwrap();
        assert!(u.secure);
        assert_eq!((u.port, u.application.as_str()), (443, "rtmp"));
        let u = RtmpUrl::parse("rtmp://127.0.0.1:19350/app/sub").unwrap();
        assert_eq!((u.port, u.application.as_str()), (19350, "app/sub"));
    }

    #[test]
    fn bad_rtmp_urls_say_why() {
        for (url, why) in [
            ("a.rtmp.youtube.com/live2", "not a URL"),
            ("http://host/live", "unknown scheme"),
            ("srt://host:9000/live", "unknown scheme"),
            ("rtmp:///live", "host"),
            ("rtmp://bad host/live", "host"),
            ("rtmp://host:0/live", "port"),
            ("rtmp://host:99999/live", "port"),
            ("rtmp://host", "application"),
            ("rtmp://host/live?key=1", "'?'"),
        ] {
            let e = RtmpUrl::parse(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }
}
