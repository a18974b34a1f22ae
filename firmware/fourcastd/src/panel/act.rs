//! Presses carried out: the switcher rule says what a press means, the HTTP API's own
//! handlers do it (so a press is checked and refused exactly as the API would).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use fourcast_board::panel::switcher::{Action, Button};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::{Panel, lock};
use crate::http::device::Device;

/// The last press and what came of it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pressed {
    pub button: Button,
    /// What it asked for (`take wide`, `recording start`, `uplinks stop`), if anything.
    pub action: Option<String>,
    /// The API's status for it (200 when it only moved the preview).
    pub status: u16,
}

pub(super) async fn carry_out(
    device: Device,
    panel: Panel,
    mut presses: mpsc::Receiver<Button>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let button = tokio::select! {
            b = presses.recv() => match b { Some(b) => b, None => return },
            _ = stop.changed() => return,
        };
        let c = device.controller.clone();
        let snapshot = match tokio::task::spawn_blocking(move || c.snapshot()).await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let facts = super::facts(&snapshot);
        let action = lock(&panel.shared).switcher.press(button, &facts);
        let (action_text, status) = match action {
            Some(a) => {
                let text = describe(&a);
                let status = run(&device, &snapshot, a).await;
                (Some(text), status)
            }
            None => (None, 200),
        };
        tracing::info!(
            button = button.name(),
            action = action_text.as_deref().unwrap_or("-"),
            status,
            "panel press"
        );
        let mut s = lock(&panel.shared);
        s.view.presses += 1;
        s.view.last_press = Some(Pressed {
            button,
            action: action_text,
            status,
        });
        s.view.preview = s.switcher.preview(&facts.scenes).map(str::to_string);
        drop(s);
        let _ = panel.nudge.try_send(());
    }
}

fn describe(a: &Action) -> String {
    match a {
        Action::Take(scene) => format!("take {scene}"),
        Action::StartRecording => "recording start".into(),
        Action::StopRecording => "recording stop".into(),
        Action::GoLive => "uplinks start".into(),
        Action::StopLive => "uplinks stop".into(),
    }
}

/// Runs `action` through the API's handlers; the worst status of what it did.
async fn run(device: &Device, s: &crate::controller::Snapshot, action: Action) -> u16 {
    let c = device.controller.clone();
    match action {
        Action::Take(scene) => {
            let body = serde_json::json!({ "scene": scene }).to_string();
            status(crate::http::program::take(State(c), Bytes::from(body)).await)
        }
        Action::StartRecording => status(crate::http::recordings::recording_start(State(c)).await),
        Action::StopRecording => status(crate::http::recordings::recording_stop(State(c)).await),
        Action::GoLive | Action::StopLive => {
            let verb = if action == Action::GoLive {
                "start"
            } else {
                "stop"
            };
            let names = s.config.outputs.srt.iter().map(|o| o.name.clone());
            let names: Vec<String> = names
                .chain(s.config.outputs.rtmp.iter().map(|o| o.name.clone()))
                .collect();
            let mut worst = 200;
            for name in names {
                let r = crate::http::config::output_action(
                    State(c.clone()),
                    Path((name, verb.to_string())),
                )
                .await;
                worst = worst.max(status(r));
            }
            worst
        }
    }
}

fn status(r: Response) -> u16 {
    r.status().as_u16()
}
