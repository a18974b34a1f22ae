//! The RTMP ingest server: a phone app or OBS publishes to `rtmp://<box>/live/<key>` and
//! becomes the `rtmp` input whose key that is. Sessions are `rml_rtmp` server sessions
//! over tokio; the media goes to the engine's ingest hub ([`fourcast_engine::inputs::rtmp_hub`]).
//!
//! It runs while any `rtmp` input is configured, on `ingest.rtmp_listen`. Whatever a peer
//! sends (a wrong key, garbage, a session cut off mid-message) ends only that session.

use std::sync::Arc;
use std::time::Duration;

use fourcast_engine::inputs::rtmp_hub::{IngestHub, Publish};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::controller::Controller;
use crate::gate::{Gate, Pass};

/// The RTMP application publishers use.
pub(crate) const APP: &str = "live";
/// Connections not yet publishing (in the handshake, or before a key is accepted).
const MAX_STRANGERS: usize = 32;
/// …of which from one source (an IPv4 address or an IPv6 /64).
const MAX_STRANGERS_PER_SOURCE: usize = 2;
/// A connection has this long from its first byte to a publish with a valid key; a peer
/// trickling a byte every few seconds cannot hold a place longer.
const TO_PUBLISH: Duration = Duration::from_secs(10);
const CLOSED: &str = "connection closed";
/// A session that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(10);

/// Keeps the server running on the configured address while an `rtmp` input exists,
/// moving or stopping it when the config changes.
pub(crate) async fn supervise(controller: Controller) {
    let hub = controller.ingest_hub();
    let mut running: Option<(String, tokio::task::JoinHandle<()>)> = None;
    loop {
        let wanted = controller.ingest_listen();
        if running.as_ref().map(|(a, _)| a) != wanted.as_ref() {
            if let Some((addr, task)) = running.take() {
                tracing::info!(%addr, "RTMP ingest server stopped");
                task.abort();
            }
            if let Some(addr) = wanted {
                match TcpListener::bind(&addr).await {
                    Ok(listener) => {
                        tracing::info!(%addr, "RTMP ingest server listening (rtmp://<box>/{APP}/<key>)");
                        running = Some((addr, tokio::spawn(serve(listener, hub.clone()))));
                    }
                    // Tried again on the next round: the port may be free by then.
                    Err(e) => tracing::error!(%addr, "RTMP ingest server cannot listen: {e}"),
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn serve(listener: TcpListener, hub: Arc<IngestHub>) {
    // Publishers are bounded by the hub (one per configured key); strangers by this gate.
    let strangers = Gate::new(MAX_STRANGERS, MAX_STRANGERS_PER_SOURCE);
    loop {
        let Ok((socket, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Some(pass) = strangers.admit(peer.ip()) else {
            tracing::warn!(%peer, "RTMP ingest: too many connections not publishing, refused");
            continue;
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            match session(socket, &hub, pass).await {
                Ok(input) => tracing::info!(%peer, input, "RTMP publish ended"),
                Err(e) => tracing::warn!(%peer, "RTMP ingest session closed: {e}"),
            }
        });
    }
}

/// One connection: handshake, connect, publish, media until the publisher stops. `pass`
/// holds a stranger's place until the publish is accepted.
async fn session(mut socket: TcpStream, hub: &IngestHub, pass: Pass) -> Result<String, String> {
    let _ = socket.set_nodelay(true);
    let mut pass = Some(pass);
    let deadline = tokio::time::Instant::now() + TO_PUBLISH;
    let mut buf = vec![0u8; 64 * 1024];
    let mut handshake = Handshake::new(PeerType::Server);
    let remaining = loop {
        let n = read_before(&mut socket, &mut buf, deadline).await?;
        match handshake
            .process_bytes(&buf[..n])
            .map_err(|e| format!("handshake: {e:?}"))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                write(&mut socket, &response_bytes).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                write(&mut socket, &response_bytes).await?;
                break remaining_bytes;
            }
        }
    };
    let (mut rtmp, results) =
        ServerSession::new(ServerSessionConfig::new()).map_err(|e| format!("{e:?}"))?;
    let mut state = Session {
        publish: None,
        input: String::new(),
    };
    let mut pending = results;
    pending.extend(feed(&mut rtmp, &remaining)?);
    loop {
        while !pending.is_empty() {
            let results = std::mem::take(&mut pending);
            for result in results {
                match result {
                    ServerSessionResult::OutboundResponse(packet) => {
                        write(&mut socket, &packet.bytes).await?;
                    }
                    ServerSessionResult::RaisedEvent(event) => {
                        match state.on_event(event, &mut rtmp, hub)? {
                            Step::More(results) => pending.extend(results),
                            Step::Done => return Ok(state.input),
                        }
                    }
                    ServerSessionResult::UnhandleableMessageReceived(_) => {}
                }
            }
        }
        if state.publish.as_ref().is_some_and(Publish::is_closed) {
            return Err(format!("input {} was removed from the config", state.input));
        }
        let read = if state.publish.is_some() {
            // A publisher now: its place among strangers is free for the next one.
            drop(pass.take());
            read(&mut socket, &mut buf).await
        } else {
            read_before(&mut socket, &mut buf, deadline).await
        };
        let n = match read {
            Ok(n) => n,
            // A publisher that just hangs up has finished.
            Err(e) if state.publish.is_some() && e == CLOSED => return Ok(state.input),
            Err(e) => return Err(e),
        };
        pending = feed(&mut rtmp, &buf[..n])?;
    }
}

/// Hands bytes to the RTMP session. `rml_rtmp` 0.8 panics on some crafted chunk sequences
/// (an integer underflow in its chunk deserializer): that ends this session with an error,
/// never the daemon.
fn feed(rtmp: &mut ServerSession, bytes: &[u8]) -> Result<Vec<ServerSessionResult>, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rtmp.handle_input(bytes))) {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(e)) => Err(format!("bad RTMP: {e:?}")),
        Err(_) => Err("malformed RTMP chunks (the parser gave up on them)".into()),
    }
}

struct Session {
    publish: Option<Publish>,
    input: String,
}

enum Step {
    More(Vec<ServerSessionResult>),
    Done,
}

impl Session {
    fn on_event(
        &mut self,
        event: ServerSessionEvent,
        rtmp: &mut ServerSession,
        hub: &IngestHub,
    ) -> Result<Step, String> {
        let more = match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                if app_name != APP {
                    rtmp.reject_request(
                        request_id,
                        "NetConnection.Connect.Rejected",
                        "unknown application",
                    )
                    .map_err(|e| format!("{e:?}"))?;
                    return Err(format!(
                        "unknown application {app_name:?} (use /{APP}/<key>)"
                    ));
                }
                rtmp.accept_request(request_id)
                    .map_err(|e| format!("{e:?}"))?
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => match hub.publish(&stream_key) {
                Ok(publish) => {
                    self.input = publish.input().to_string();
                    tracing::info!(input = %self.input, "RTMP publish started");
                    self.publish = Some(publish);
                    rtmp.accept_request(request_id)
                        .map_err(|e| format!("{e:?}"))?
                }
                Err(refused) => {
                    // The key itself is a secret: never logged.
                    let _ = rtmp.reject_request(
                        request_id,
                        "NetStream.Publish.BadName",
                        &refused.to_string(),
                    );
                    return Err(format!("publish refused: {refused}"));
                }
            },
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                if let Some(p) = &self.publish {
                    p.video(timestamp.value, &data);
                }
                Vec::new()
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                if let Some(p) = &self.publish {
                    p.audio(timestamp.value, &data);
                }
                Vec::new()
            }
            ServerSessionEvent::PublishStreamFinished { .. } => return Ok(Step::Done),
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => {
                let _ = rtmp.reject_request(
                    request_id,
                    "NetStream.Play.Failed",
                    "this box takes publishers only",
                );
                return Err("a player asked to play: refused".into());
            }
            _ => Vec::new(),
        };
        Ok(Step::More(more))
    }
}

/// Reads before `deadline` (a stranger's time to publish), else ends the session.
async fn read_before(
    socket: &mut TcpStream,
    buf: &mut [u8],
    deadline: tokio::time::Instant,
) -> Result<usize, String> {
    match tokio::time::timeout_at(deadline, read(socket, buf)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no publish with a valid key within {} s",
            TO_PUBLISH.as_secs()
        )),
    }
}

async fn read(socket: &mut TcpStream, buf: &mut [u8]) -> Result<usize, String> {
    match tokio::time::timeout(IDLE, socket.read(buf)).await {
        Err(_) => Err(format!("nothing received for {} s", IDLE.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(0)) => Err(CLOSED.into()),
        Ok(Ok(n)) => Ok(n),
    }
}

async fn write(socket: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    match tokio::time::timeout(IDLE, socket.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the peer stopped reading".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1000-byte message started on chunk stream 3, then a full header for a 10-byte
    /// message on chunk stream 4: `rml_rtmp` 0.8's deserializer underflows on it.
    fn crafted_chunks() -> Vec<u8> {
        let mut b = vec![0x03, 0, 0, 0, 0x00, 0x03, 0xE8, 0x14, 0, 0, 0, 0];
        b.extend([0x02u8; 128]);
        b.extend([0x04, 0, 0, 0, 0, 0, 10, 0x14, 0, 0, 0, 0]);
        b.extend([0x02u8; 10]);
        b
    }

    #[test]
    fn crafted_chunks_end_the_session_not_the_daemon() {
        let (mut rtmp, _) = ServerSession::new(ServerSessionConfig::new()).unwrap();
        let e = feed(&mut rtmp, &crafted_chunks()).unwrap_err();
        assert!(e.contains("RTMP"), "{e}");
    }

    #[test]
    fn the_parser_itself_panics_on_them_in_a_checked_build() {
        // The reason `feed` exists: if rml_rtmp stops panicking here, `feed`'s guard can
        // go (and this test says so).
        let (mut rtmp, _) = ServerSession::new(ServerSessionConfig::new()).unwrap();
        let bytes = crafted_chunks();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rtmp.handle_input(&bytes).map(|_| ())
        }));
        assert!(
            cfg!(not(debug_assertions)) || outcome.is_err(),
            "rml_rtmp no longer panics on crafted chunks: {outcome:?}"
        );
    }
}
