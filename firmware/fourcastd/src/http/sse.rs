//! The event stream for the web UI and automation: `GET /api/v1/events/stream` is
//! Server-Sent Events. Each box event is sent as it happens (its `type` is the SSE event
//! name), and a `status` event (the same document as `GET /api/v1/status`) once a second,
//! which carries the audio levels for meters and the outputs' health.
//!
//! Bounded: a client that reads too slowly skips events (the broadcast channel says how
//! many, sent as a `lagged` event) rather than holding memory in the box.

use crate::http::reply::blocking;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;

use crate::controller::{Controller, Event};

/// How often the `status` event is sent.
const STATUS_EVERY: Duration = Duration::from_secs(1);

struct Feed {
    controller: Controller,
    rx: broadcast::Receiver<Event>,
    tick: tokio::time::Interval,
}

pub(crate) async fn stream(
    State(c): State<Controller>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let mut tick = tokio::time::interval(STATUS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        rx: c.subscribe(),
        controller: c,
        tick,
    };
    let events = stream::unfold(feed, |mut feed| async move {
        let event = next(&mut feed).await?;
        Some((Ok(event), feed))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn next(feed: &mut Feed) -> Option<SseEvent> {
    loop {
        tokio::select! {
            got = feed.rx.recv() => match got {
                Ok(Event::Engine(fourcast_engine::EngineEvent::SegmentPublished { .. })) => {}
                Ok(e) => return Some(box_event(&e)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    return Some(SseEvent::default().event("lagged").data(n.to_string()));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            _ = feed.tick.tick() => {
                let c = feed.controller.clone();
                let status = blocking(move || crate::http::status::status_of(&c)).await.ok()?;
                let data = serde_json::to_string(&status).unwrap_or_default();
                return Some(SseEvent::default().event("status").data(data));
            }
        }
    }
}

fn box_event(e: &Event) -> SseEvent {
    let json = serde_json::to_value(e).unwrap_or_default();
    // Engine events are named by their own type (`uplink_failed`, `recording_stopped`, …);
    // `error` and `warning` become `engine_error` and `engine_warning`, because a browser's
    // EventSource fires its own `error` for a lost connection.
    let name = match json["type"].as_str().unwrap_or("event") {
        "error" => "engine_error".to_string(),
        "warning" => "engine_warning".to_string(),
        other => other.to_string(),
    };
    SseEvent::default()
        .event(name)
        .data(serde_json::to_string(&json).unwrap_or_default())
}
