//! The front panel: the board's status screen, lamps, fan and buttons (drivers and rules in
//! `fourcast_board::panel`), wired as the board's profile says. One thread draws what the
//! box is doing every half second and sends it to the hardware when it changed; one reads
//! the buttons; presses become the HTTP API's own actions. A board with none of the parts
//! (the virtual board) still has the panel: the web UI shows it and its buttons press it.

mod act;
mod hardware;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fourcast_board::panel::PanelProfile;
use fourcast_board::panel::lamps::{StatusLamps, Tally, tally};
use fourcast_board::panel::screen::{Frame, Status, render};
use fourcast_board::panel::switcher::{Button, Facts, Switcher};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::http::access::Access;
use crate::http::device::Device;

/// How often the panel looks at the box when nothing happens (a take, a press or any
/// other event makes it look at once, so a tally follows a cut in milliseconds).
const TICK: Duration = Duration::from_millis(500);
/// Presses waiting to be carried out; more are dropped (a stuck button must not queue
/// takes for minutes).
const PRESSES: usize = 8;

/// The panel, shared with the HTTP API.
#[derive(Clone)]
pub(crate) struct Panel {
    shared: Arc<Mutex<Shared>>,
    presses: mpsc::Sender<Button>,
    /// Makes the panel look at the box now.
    nudge: std::sync::mpsc::SyncSender<()>,
}

#[derive(Default)]
struct Shared {
    view: PanelView,
    frame: Frame,
    switcher: Switcher,
}

/// What the panel shows now (`GET /api/v1/panel`).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PanelView {
    /// What the screen says.
    pub screen: Status,
    /// Pictures drawn since the start (a new one only when something on it changed).
    pub frames: u64,
    pub lamps: StatusLamps,
    pub tally: Vec<InputTally>,
    /// The scene Cut takes.
    pub preview: Option<String>,
    /// The fan's duty, percent, when the board has a fan.
    pub fan_pct: Option<u8>,
    /// The parts the board's profile names and how each is doing.
    pub parts: Vec<hardware::PartState>,
    /// Presses carried out since the start.
    pub presses: u64,
    /// The last one and what came of it.
    pub last_press: Option<act::Pressed>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct InputTally {
    pub input: String,
    pub tally: Tally,
}

impl Panel {
    pub(crate) fn view(&self) -> PanelView {
        lock(&self.shared).view.clone()
    }

    /// The screen as a PNG.
    pub(crate) fn screen_png(&self) -> Vec<u8> {
        lock(&self.shared).frame.to_png()
    }

    /// Presses `button` as if on the box; false when presses are already queued.
    pub(crate) fn press(&self, button: Button) -> bool {
        self.presses.try_send(button).is_ok()
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the panel for `board`'s wiring.
pub(crate) fn start(
    device: &Device,
    access: Arc<Access>,
    board: PanelProfile,
    stop: watch::Receiver<bool>,
) -> Panel {
    let (tx, rx) = mpsc::channel(PRESSES);
    let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
    let panel = Panel {
        shared: Arc::new(Mutex::new(Shared::default())),
        presses: tx.clone(),
        nudge: nudge.clone(),
    };
    let mut hw = hardware::Hardware::new(&board);
    let (shared, c, stop_draw) = (
        panel.shared.clone(),
        device.controller.clone(),
        stop.clone(),
    );
    tokio::spawn(nudge_on_events(device.controller.clone(), nudge));
    let draw = std::thread::Builder::new()
        .name("panel".into())
        .spawn(move || {
            let mut frames = 0u64;
            while !*stop_draw.borrow() {
                let (view, frame) = look(&c, &access, &shared, &mut hw, &mut frames);
                let mut s = lock(&shared);
                s.view = PanelView {
                    presses: s.view.presses,
                    last_press: s.view.last_press.take(),
                    ..view
                };
                s.frame = frame;
                drop(s);
                if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                    nudged.recv_timeout(TICK)
                {
                    std::thread::sleep(TICK);
                }
            }
            hw.dark();
        });
    if let Err(e) = draw {
        tracing::error!("the front panel cannot start: {e}");
    }
    if let Some(wiring) = board.buttons {
        hardware::read_buttons(wiring, tx, stop.clone());
    }
    tokio::spawn(act::carry_out(device.clone(), panel.clone(), rx, stop));
    panel
}

/// Wakes the panel on every event of the box but segment notices (a take, a recording, an
/// uplink, a config change, a press: `act` emits one).
async fn nudge_on_events(c: crate::controller::Controller, nudge: std::sync::mpsc::SyncSender<()>) {
    use crate::controller::Event;
    use fourcast_engine::EngineEvent;
    let mut events = c.subscribe();
    loop {
        match events.recv().await {
            Ok(Event::Engine(EngineEvent::SegmentPublished { .. })) => {}
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                let _ = nudge.try_send(());
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One look at the box: the screen, lamps and tallies, sent to the hardware.
fn look(
    c: &crate::controller::Controller,
    access: &Access,
    shared: &Mutex<Shared>,
    hw: &mut hardware::Hardware,
    frames: &mut u64,
) -> (PanelView, Frame) {
    let snapshot = c.snapshot();
    let program = c.program();
    let facts = facts(&snapshot);
    let preview = lock(shared)
        .switcher
        .preview(&facts.scenes)
        .map(str::to_string);
    let preview_inputs: Vec<String> = preview
        .as_deref()
        .and_then(|name| snapshot.config.scenes.iter().find(|s| s.name == name))
        .map(|scene| {
            scene
                .shot()
                .shown(&snapshot.config)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let engine = &snapshot.engine;
    let live = engine.uplinks.iter().any(|u| u.state.as_str() == "live");
    let error = engine
        .uplinks
        .iter()
        .any(|u| u.state.as_str() == "retrying")
        || (snapshot.uptime_s > 10.0 && engine.program.fps < 1.0)
        || engine
            .recording
            .as_ref()
            .is_some_and(|r| r.state == "failed");
    let temp_c = hw.temperature_c();
    let status = Status {
        address: address(),
        live,
        recording: facts.recording,
        error,
        program_kbps: engine.rungs.first().map(|r| r.measured_kbps.round() as u32),
        temp_c,
        setup_code: access.setup_code(),
        next_scene: preview.clone(),
    };
    let lamps = StatusLamps {
        live,
        rec: facts.recording,
        error,
    };
    let tally: Vec<InputTally> = snapshot
        .config
        .inputs
        .iter()
        .map(|i| InputTally {
            input: i.name.clone(),
            tally: tally(&i.name, &program.inputs, &preview_inputs),
        })
        .collect();
    let frame = render(&status);
    let fan_pct = hw.show(&frame, lamps, &tally, temp_c);
    if lock(shared).frame != frame {
        *frames += 1;
    }
    let view = PanelView {
        screen: status,
        frames: *frames,
        lamps,
        tally,
        preview,
        fan_pct,
        parts: hw.parts(),
        presses: 0,
        last_press: None,
    };
    (view, frame)
}

/// What a press needs to know: the scenes, whether an uplink is on, whether it records.
fn facts(s: &crate::controller::Snapshot) -> Facts {
    let outputs = &s.config.outputs;
    Facts {
        scenes: s.config.scenes.iter().map(|sc| sc.name.clone()).collect(),
        live: outputs.srt.iter().any(|o| o.enabled) || outputs.rtmp.iter().any(|o| o.enabled),
        recording: s
            .engine
            .recording
            .as_ref()
            .is_some_and(|r| r.state == "recording"),
    }
}

/// The box's first IPv4 address that is not loopback.
fn address() -> Option<String> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    let mut found: Vec<(String, String)> = addrs
        .filter(|a| {
            !a.flags
                .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK)
        })
        .filter_map(|a| {
            let ip = a.address.as_ref()?.as_sockaddr_in()?.ip();
            Some((a.interface_name.clone(), ip.to_string()))
        })
        .collect();
    found.sort();
    found.into_iter().next().map(|(_, ip)| ip)
}
