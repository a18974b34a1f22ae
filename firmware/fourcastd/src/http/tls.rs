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
