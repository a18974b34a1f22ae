//! Fetches a bundle over HTTP(S) into a partial file: resumed with a `Range` request after
//! a dropped connection, paced to the cap `[ota]` sets beside the live uplinks (the pure
//! `fourcast_ota::download` rules), bounded in size and in time without progress.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fourcast_ota::download::{Cap, Pacer, resume_range, total_of_content_range};
use futures_util::StreamExt;
use hyper::body::Body as _;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

/// Attempts before the download is given up (a dropped connection resumes).
const ATTEMPTS: u32 = 20;
/// A connection that brings nothing for this long is dropped and resumed.
const STALL: Duration = Duration::from_secs(30);
/// Never slower than this, whatever the uplinks send: the download must end.
const FLOOR_KBPS: u32 = 256;

struct Url {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse(url: &str) -> Result<Url, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{url:?}: a bundle URL is http:// or https://"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err("a bundle URL carries no user or password".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_matches(|c| c == '[' || c == ']').to_string(),
            p.parse().map_err(|_| format!("{url:?}: bad port"))?,
        ),
        _ => (authority.to_string(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok(Url {
        tls,
        host,
        port,
        path: path.to_string(),
    })
}

/// Checks a URL a job gives, before it is queued.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    parse(url).map(|_| ())
}

fn cap(policy: &fourcast_config::Ota) -> Cap {
    Cap {
        max_kbps: (policy.download_max_kbps > 0).then_some(policy.download_max_kbps),
        uplink_share: (policy.download_uplink_percent > 0)
            .then(|| f64::from(policy.download_uplink_percent) / 100.0),
        floor_kbps: FLOOR_KBPS,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Downloads `url` into `part` (appending to what is there). `uplink_kbps` says what the
/// live uplinks send now; `progress` hears (bytes on disk, whole size if known).
pub(crate) async fn fetch(
    url: &str,
    part: &Path,
    max_bytes: u64,
    policy: &fourcast_config::Ota,
    uplink_kbps: impl Fn() -> u32,
    mut progress: impl FnMut(u64, Option<u64>),
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let url = parse(url)?;
    let cap = cap(policy);
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let wait = Duration::from_secs(u64::from(attempt.min(10)));
            tokio::select! {
                _ = stop.changed() => return Err("the box is stopping".into()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        match once(
            &url,
            part,
            max_bytes,
            cap,
            &uplink_kbps,
            &mut progress,
            stop,
        )
        .await
        {
            Ok(()) => return Ok(()),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Again(e)) => {
                tracing::warn!("bundle download: {e}; resuming");
                last_error = e;
            }
        }
    }
    Err(format!(
        "the download failed {ATTEMPTS} times: {last_error}"
    ))
}

enum Attempt {
    Again(String),
    Fatal(String),
}

async fn once(
    url: &Url,
    part: &Path,
    max_bytes: u64,
    cap: Cap,
    uplink_kbps: &impl Fn() -> u32,
    progress: &mut impl FnMut(u64, Option<u64>),
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Attempt> {
    let again = |e: String| Attempt::Again(e);
    let have = tokio::fs::metadata(part).await.map_or(0, |m| m.len());
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((url.host.as_str(), url.port)),
    )
    .await
    .map_err(|_| again(format!("{}:{} did not answer in 10 s", url.host, url.port)))?
    .map_err(|e| again(format!("cannot connect to {}:{}: {e}", url.host, url.port)))?;
    let mut request = hyper::Request::get(&url.path)
        .header(hyper::header::HOST, &url.host)
        .header(hyper::header::USER_AGENT, "fourcastd");
    if let Some(range) = resume_range(have) {
        request = request.header(hyper::header::RANGE, range);
    }
    let request = request
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| Attempt::Fatal(e.to_string()))?;
    let response = if url.tls {
        let tls = tls_connect(&url.host, tcp).await?;
        send(hyper_util::rt::TokioIo::new(tls), request).await?
    } else {
        send(hyper_util::rt::TokioIo::new(tcp), request).await?
    };
    let status = response.status();
    let (done, total, append) = match status.as_u16() {
        206 => {
            let total = response
                .headers()
                .get(hyper::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(total_of_content_range);
            (have, total, true)
        }
        200 => (0, response.body().size_hint().exact(), false),
        416 if have > 0 => {
            // What is on disk is not a start of this file: begin again.
            let _ = tokio::fs::remove_file(part).await;
            return Err(again("the server refused the resume range".into()));
        }
        code => {
            return Err(Attempt::Fatal(format!(
                "the server answered {code} for the bundle"
            )));
        }
    };
    if total.is_some_and(|t| t > max_bytes) {
        return Err(Attempt::Fatal(format!(
            "the bundle is {} MiB, more than ota.max_bundle_mib allows",
            total.unwrap_or(0) >> 20
        )));
    }
    copy(
        response,
        part,
        append,
        done,
        total,
        max_bytes,
        cap,
        uplink_kbps,
        progress,
        stop,
    )
    .await
}

/// The body into `part`, paced; `done` bytes were there before.
#[allow(clippy::too_many_arguments)]
async fn copy(
    response: hyper::Response<hyper::body::Incoming>,
    part: &Path,
    append: bool,
    mut done: u64,
    total: Option<u64>,
    max_bytes: u64,
    cap: Cap,
    uplink_kbps: &impl Fn() -> u32,
    progress: &mut impl FnMut(u64, Option<u64>),
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Attempt> {
    let again = Attempt::Again;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .await
        .map_err(|e| Attempt::Fatal(format!("cannot write the bundle: {e}")))?;
    let mut body = http_body_util::BodyDataStream::new(response.into_body());
    let mut pacer = Pacer::new(now_ms());
    let mut rate = cap.kbps(uplink_kbps());
    let mut rate_at = now_ms();
    progress(done, total);
    loop {
        let chunk = tokio::select! {
            _ = stop.changed() => return Err(Attempt::Fatal("the box is stopping".into())),
            c = tokio::time::timeout(STALL, body.next()) => c,
        };
        let chunk = match chunk {
            Err(_) => return Err(again(format!("no data for {} s", STALL.as_secs()))),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(again(format!("the connection broke: {e}"))),
            Ok(Some(Ok(c))) => c,
        };
        if done + chunk.len() as u64 > max_bytes {
            return Err(Attempt::Fatal(
                "the bundle is larger than ota.max_bundle_mib allows".into(),
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| Attempt::Fatal(format!("cannot write the bundle: {e}")))?;
        done += chunk.len() as u64;
        progress(done, total);
        let now = now_ms();
        if now >= rate_at + 1000 {
            rate = cap.kbps(uplink_kbps());
            rate_at = now;
        }
        let wait = pacer.wait_ms(chunk.len(), rate, now);
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
    file.sync_all()
        .await
        .map_err(|e| Attempt::Fatal(format!("cannot write the bundle: {e}")))?;
    match total {
        Some(t) if done < t => Err(again(format!(
            "the connection ended at {done} of {t} bytes"
        ))),
        _ => Ok(()),
    }
}

async fn send<I>(
    io: I,
    request: hyper::Request<http_body_util::Empty<hyper::body::Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, Attempt>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Attempt::Again(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .map_err(|_| Attempt::Again("the server did not answer in 30 s".into()))?
        .map_err(|e| Attempt::Again(format!("the request failed: {e}")))
}

/// TLS with the system's trusted CAs (`SSL_CERT_FILE` names another bundle).
async fn tls_connect(
    host: &str,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Attempt> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    let file = std::env::var("SSL_CERT_FILE")
        .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    let pem = std::fs::read(&file).map_err(|e| Attempt::Fatal(format!("{file}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Attempt::Fatal(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| Attempt::Fatal(format!("{host}: {e}")))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| Attempt::Again(format!("TLS with {host}: {e}")))
}
