//! The MQTT side both ends share (feature `mqtt`): connection options with pinned-CA
//! mutual TLS on `rumqttc`, and errors in words a fleet manager can act on. The protocol's
//! rules stay in the pure modules; this is only how they meet a broker.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{ConnectionError, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::agent::Qos;

/// The largest packet either end takes from the broker: big enough to read (and refuse
/// with a reason) an oversized payload, small enough to bound memory. The broker drops
/// anything larger (MQTT 5 Maximum Packet Size).
pub const MAX_PACKET: u32 = 2 << 20;

/// Where and how to connect.
pub struct Link<'a> {
    pub client_id: &'a str,
    pub host: &'a str,
    pub port: u16,
    /// None: plain TCP (a lab broker only).
    pub tls: Option<Tls<'a>>,
    pub keep_alive: Duration,
}

/// The broker's CA (the only one trusted) and this end's certificate and key (PEM files).
pub struct Tls<'a> {
    pub ca: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
}

pub fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    }
}

/// Options for one connection (clean start: what must survive a reconnect is kept by the
/// caller, not the broker).
pub fn options(link: &Link<'_>) -> Result<MqttOptions, String> {
    let mut o = MqttOptions::new(link.client_id, link.host, link.port);
    o.set_keep_alive(link.keep_alive)
        .set_clean_start(true)
        .set_max_packet_size(Some(MAX_PACKET))
        .set_request_channel_capacity(256)
        .set_connection_timeout(10)
        // rumqttc keeps a slot per packet id up to this limit (by default all 65535,
        // about 13 MB per client): one event is in flight at a time, replies are few.
        .set_outgoing_inflight_upper_limit(32);
    if let Some(t) = &link.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            client_config(t)?,
        )));
    }
    Ok(o)
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// A rustls client config trusting only `ca`, presenting `cert` with `key`. The key must
/// be private to its user (no group or other bits).
pub fn client_config(t: &Tls<'_>) -> Result<Arc<rustls::ClientConfig>, String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.key)
        .map_err(|e| format!("key {}: {e}", t.key.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "key {} is readable by others (mode {:o}): chmod 600 it",
            t.key.display(),
            mode & 0o777
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    let ca = read("CA", t.ca)?;
    for c in CertificateDer::pem_slice_iter(&ca) {
        let c = c.map_err(|e| format!("CA {}: {e}", t.ca.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("CA {}: {e}", t.ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("CA {}: no certificate in it", t.ca.display()));
    }
    let cert = read("certificate", t.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate {}: {e}", t.cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "certificate {}: no certificate in it",
            t.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&read("key", t.key)?)
        .map_err(|e| format!("key {}: {e}", t.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("certificate and key do not go together: {e}"))?;
    Ok(Arc::new(config))
}

/// A lost or refused connection, said so that the fix is clear.
pub fn describe(e: &ConnectionError) -> String {
    let text = e.to_string();
    let hint = if text.contains("UnknownIssuer") || text.contains("BadSignature") {
        ": the broker's certificate is not signed by the configured CA"
    } else if text.contains("NotValidForName") {
        ": the broker's certificate does not name this host"
    } else if text.contains("CertificateRequired")
        || text.contains("HandshakeFailure")
        || text.contains("certificate required")
    {
        ": the broker wants a client certificate it trusts"
    } else if text.contains("UnknownCA") || text.contains("BadCertificate") {
        ": the broker does not trust this box's certificate"
    } else if text.contains("Connection refused") && text.contains("os error") {
        ": nothing listens at the broker's address"
    } else if text.contains("NotAuthorized") || text.contains("BadUserNamePassword") {
        ": the broker refused this client"
    } else {
        ""
    };
    format!("{text}{hint}")
}
