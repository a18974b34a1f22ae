//! A broker's address: `mqtts://host[:port]`, or plain `mqtt://` where a lab allows it.

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

/// Parses `url`; plain `mqtt://` only with `allow_plain` (a lab broker).
pub fn parse(url: &str, allow_plain: bool) -> Result<Broker, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("mqtt://") {
        if !allow_plain {
            return Err(format!(
                "{url}: plain mqtt:// sends the fleet's commands in the clear; use mqtts:// (or allow plain MQTT for a lab broker)"
            ));
        }
        (false, rest)
    } else {
        return Err(format!("{url:?}: use mqtts://host[:port]"));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{url}: port {p:?} is not a port"))?;
            (h, port)
        }
        _ => (rest, if tls { 8883 } else { 1883 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
        return Err(format!("{url}: no host name in it"));
    }
    Ok(Broker {
        tls,
        host: host.to_string(),
        port,
    })
}
