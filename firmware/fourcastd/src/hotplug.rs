//! Cameras plugged in and out while the box runs, from the kernel's own uevents (a netlink
//! socket: no udev needed). A device that appears is announced (`device` event, and
//! `GET /api/v1/devices` lists it) and, with `capture.auto_add`, becomes an input while the
//! program has room; one that goes is announced. An input whose device goes shows its slate
//! by itself (the capture's own watch sees the node fail) and comes back when it returns.

use std::collections::HashMap;
use std::time::Duration;

use fourcast_config::{CaptureInput, Input, MAX_INPUTS, Source};
use fourcast_engine::inputs::devices::{CaptureDevice, discover, parse_uevent};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, socket,
};
use std::os::fd::AsRawFd;

use crate::controller::{Controller, Event};

/// A new node needs a moment before it answers (the driver finishes registering it).
const SETTLE: Duration = Duration::from_millis(300);

/// Starts watching; a box where the socket cannot be had (no netlink in a container) says
/// so and goes on without hotplug.
pub(crate) fn start(c: Controller) {
    let sock = match socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkKObjectUEvent,
    ) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("no hotplug (kernel uevents): {e}");
            return;
        }
    };
    if let Err(e) = bind(sock.as_raw_fd(), &NetlinkAddr::new(0, 1)) {
        tracing::warn!("no hotplug (kernel uevents): bind: {e}");
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("hotplug".into())
        .spawn(move || {
            let mut known: HashMap<String, CaptureDevice> = discover()
                .into_iter()
                .map(|d| (d.node.clone(), d))
                .collect();
            let mut buf = vec![0u8; 8192];
            loop {
                let n = match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::ENOBUFS) => continue,
                    Err(e) => {
                        tracing::warn!("hotplug stops: {e}");
                        return;
                    }
                };
                let Some(ev) = parse_uevent(&buf[..n]) else {
                    continue;
                };
                if ev.subsystem != "video4linux" {
                    continue;
                }
                let Some(node) = ev.devname.map(|n| format!("/dev/{n}")) else {
                    continue;
                };
                match ev.action.as_str() {
                    "add" => {
                        std::thread::sleep(SETTLE);
                        let found = discover().into_iter().find(|d| d.node == node);
                        if let Some(d) = found {
                            appeared(&c, &d);
                            known.insert(node, d);
                        }
                    }
                    "remove" => {
                        let gone = known.remove(&node);
                        c.emit(Event::Device {
                            action: "removed",
                            node,
                            card: gone.as_ref().map(|d| d.card.clone()),
                            stable: gone.map(|d| d.stable),
                            input: None,
                        });
                    }
                    _ => {}
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no hotplug: {e}");
    }
}

/// Announces a new capture device and, when the config says so, takes it as an input.
fn appeared(c: &Controller, d: &CaptureDevice) {
    let running = c.running();
    let used = crate::http::devices::with_inputs(c, vec![d.clone()])
        .pop()
        .and_then(|d| d.input);
    let mut input = used.clone();
    if used.is_none() && running.config.capture.auto_add {
        match add_input(c, &running.config, d, running.revision) {
            Ok(name) => input = Some(name),
            Err(e) => tracing::warn!(node = d.node.as_str(), "not taken as an input: {e}"),
        }
    }
    tracing::info!(node = d.node.as_str(), card = d.card.as_str(), input = ?input, "capture device appeared");
    c.emit(Event::Device {
        action: "added",
        node: d.node.clone(),
        card: Some(d.card.clone()),
        stable: Some(d.stable.clone()),
        input,
    });
}

/// Adds `d` as the next free `camN`, on its stable name.
fn add_input(
    c: &Controller,
    config: &fourcast_config::Config,
    d: &CaptureDevice,
    revision: u64,
) -> Result<String, String> {
    if config.inputs.iter().filter(|i| i.has_picture()).count() >= MAX_INPUTS {
        return Err(format!("the program already has {MAX_INPUTS} inputs"));
    }
    let n = (1..=MAX_INPUTS + 1)
        .find(|n| !config.inputs.iter().any(|i| i.name == format!("cam{n}")))
        .unwrap_or(MAX_INPUTS + 1);
    let name = format!("cam{n}");
    let mut new = config.clone();
    new.inputs.push(Input {
        label: Some(format!("CAM {n}")),
        ..Input::new(
            &name,
            Source::V4l2(CaptureInput {
                device: d.stable.clone().into(),
                audio: None,
                format: Default::default(),
                signal: Default::default(),
            }),
        )
    });
    c.change_config(new, "hotplug", Some(revision))
        .map(|_| name)
        .map_err(|e| e.to_string())
}
