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

/// The RTMP application publishers use.
pub(crate) const APP: &str = "live";
/// Sessions at once (publishers, and anyone still in the handshake).
const MAX_SESSIONS: usize = 8;
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
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    loop {
        let Ok((socket, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "RTMP ingest: too many sessions, connection refused");
            continue;
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            match session(socket, &hub).await {
                Ok(input) => tracing::info!(%peer, input, "RTMP publish ended"),
                Err(e) => tracing::warn!(%peer, "RTMP ingest session closed: {e}"),
            }
            drop(slot);
        });
    }
}

/// One connection: handshake, connect, publish, media until the publisher stops.
async fn session(mut socket: TcpStream, hub: &IngestHub) -> Result<String, String> {
    let _ = socket.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut handshake = Handshake::new(PeerType::Server);
    let remaining = loop {
        let n = read(&mut socket, &mut buf).await?;
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
    pending.extend(
        rtmp.handle_input(&remaining)
            .map_err(|e| format!("bad RTMP: {e:?}"))?,
    );
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
        let n = match read(&mut socket, &mut buf).await {
            Ok(n) => n,
            // A publisher that just hangs up has finished.
            Err(e) if state.publish.is_some() && e == CLOSED => return Ok(state.input),
            Err(e) => return Err(e),
        };
        pending = rtmp
            .handle_input(&buf[..n])
            .map_err(|e| format!("bad RTMP: {e:?}"))?;
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
