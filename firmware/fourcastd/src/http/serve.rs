//! The front door for HTTP and HTTPS: accept, admit through the [`Gate`], finish the TLS
//! handshake within [`HANDSHAKE`], and serve HTTP/1.1 with a deadline for every request's
//! headers ([`HEADER_READ`], which also closes a keep-alive connection left idle that long).
//! A socket that never sends a request, or sends it a byte at a time, is closed; one source
//! cannot hold more than its share of connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::gate::Gate;
use crate::http::tls::Https;

/// How long a client may take to send a request's headers, or to start its next request
/// on a kept-alive connection.
pub(crate) const HEADER_READ: Duration = Duration::from_secs(10);
/// How long a client may take to finish the TLS handshake.
pub(crate) const HANDSHAKE: Duration = Duration::from_secs(10);
/// How long open requests get to finish when the box stops.
const DRAIN: Duration = Duration::from_millis(500);

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop` changes.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    gate: Arc<Gate>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, most likely: wait rather than spin.
                    tracing::warn!("http accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let Some(pass) = gate.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tls, app, stop) = (tls.clone(), app.clone(), stop.clone());
        tokio::spawn(async move {
            let _pass = pass;
            match tls {
                None => connection(tcp, peer, false, app, stop).await,
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await
                    {
                        connection(stream, peer, true, app, stop).await;
                    }
                }
            }
        });
    }
}

async fn connection<S>(
    io: S,
    peer: SocketAddr,
    https: bool,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        if https {
            req.extensions_mut().insert(Https);
        }
        app.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}
