//! Optional HTTPS (`[http] https_listen`): the same web UI, API and HLS origin over TLS, with
//! a per-device self-signed certificate made on first start.
//!
//! The certificate and its key live in `<data_dir>/tls/` (`cert.pem`, `key.pem`, mode 0600);
//! a board or an installer may put its own there instead. `GET /api/v1/device` shows the
//! certificate's SHA-256 fingerprint, so a technician can check what the browser warns
//! about. Sessions opened over HTTPS get a `Secure` cookie.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Marks a request that came over HTTPS (a request extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Https;

pub(crate) struct Identity {
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the certificate (DER), hex pairs with colons.
    pub fingerprint: String,
}

/// The box's certificate: from `<data_dir>/tls/`, or made now (self-signed for the host's
/// name, `localhost` and the listen address).
pub(crate) fn identity(data_dir: &Path, listen: &SocketAddr) -> anyhow::Result<Identity> {
    let dir = data_dir.join("tls");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert_path.exists() || !key_path.exists() {
        make_self_signed(&dir, &cert_path, &key_path, listen)?;
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("{}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}", cert_path.display()))?;
    let first = certs
        .first()
        .with_context(|| format!("{}: no certificate in it", cert_path.display()))?;
    let fingerprint = fingerprint(first);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("{}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        fingerprint,
    })
}

fn make_self_signed(
    dir: &Path,
    cert_path: &PathBuf,
    key_path: &PathBuf,
    listen: &SocketAddr,
) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !host.is_empty() {
        names.push(host.clone());
        names.push(format!("{host}.local"));
    }
    if !listen.ip().is_unspecified() {
        names.push(listen.ip().to_string());
    }
    names.dedup();
    let made = rcgen::generate_simple_self_signed(names).context("making the certificate")?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let mut key = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key_path)
        .with_context(|| format!("{}", key_path.display()))?;
    std::io::Write::write_all(&mut key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, made.cert.pem())?;
    tracing::info!(
        "made a self-signed TLS certificate in {} (a board may provide its own there)",
        dir.display()
    );
    Ok(())
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// With `http.redirect_to_https`, a plain-HTTP request for the web UI or the API is sent to
/// the same path over HTTPS (308, so a POST stays a POST); the HLS origin is served on both.
pub(crate) async fn redirect_to_https(
    axum::extract::State(c): axum::extract::State<crate::controller::Controller>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let https_port = {
        let running = c.running();
        let http = &running.config.http;
        match (&http.https_listen, http.redirect_to_https) {
            (Some(addr), true) => addr.parse::<SocketAddr>().ok().map(|a| a.port()),
            _ => None,
        }
    };
    let plain = req.extensions().get::<Https>().is_none();
    let Some(port) = https_port.filter(|_| plain && !req.uri().path().starts_with("/hls/")) else {
        return next.run(req).await;
    };
    // The host the client used, without its port; else the address it reached.
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((name, p)) if p.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
            _ => h.to_string(),
        })
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let location = format!("https://{host}:{port}{path}");
    match axum::http::HeaderValue::from_str(&location) {
        Ok(v) => (
            axum::http::StatusCode::PERMANENT_REDIRECT,
            [(axum::http::header::LOCATION, v)],
        )
            .into_response(),
        Err(_) => next.run(req).await,
    }
}
