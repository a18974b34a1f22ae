//! A flash in step with a sound, for lip-sync tests on the virtual board: watches how far
//! an ALSA playback has got (`hw_ptr` in its `/proc/asound/…/status`: the frames handed to
//! the card, which a loopback's other end receives at that moment) and turns a vivid
//! camera's picture white when the playback passes each tone burst's first frame, black
//! again when it passes its last. Runs inside the VM, beside `aplay`.
//!
//! `fourcast-flash STATUS DEVICE CONTROL WHITE BLACK FIRST EVERY LENGTH COUNT`: the status
//! file, the camera's node, vivid's test-pattern control id and its white and black menu
//! items, then the bursts in frames: the first's start, the distance between them, each's
//! length, and how many. Prints each flip with the frame it was due at and the one seen.
#![allow(unsafe_code)] // VIDIOC_S_CTRL; nothing else here

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// `struct v4l2_control`.
#[repr(C)]
struct Control {
    id: u32,
    value: i32,
}

nix::ioctl_readwrite!(s_ctrl, b'V', 28, Control);

fn hw_ptr(status: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("hw_ptr"))
        .and_then(|v| v.trim_start_matches([' ', ':', '\t']).trim().parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        status,
        device,
        control,
        white,
        black,
        first,
        every,
        length,
        count,
    ] = &args[..]
    else {
        eprintln!(
            "usage: fourcast-flash STATUS DEVICE CONTROL WHITE BLACK FIRST EVERY LENGTH COUNT"
        );
        std::process::exit(2);
    };
    let number = |s: &str| -> u64 {
        let parsed = match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => s.parse(),
        };
        parsed.unwrap_or_else(|_| panic!("not a number: {s}"))
    };
    let camera = OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .unwrap_or_else(|e| panic!("{device}: {e}"));
    let set = |value: u64| {
        let mut c = Control {
            id: number(control) as u32,
            value: value as i32,
        };
        // SAFETY: the descriptor is open for the call and `c` is a live `struct
        // v4l2_control` of the size the request encodes.
        if let Err(e) = unsafe { s_ctrl(camera.as_raw_fd(), &mut c) } {
            eprintln!("VIDIOC_S_CTRL: {e}");
            std::process::exit(1);
        }
    };
    set(number(black));
    let (first, every, length) = (number(first), number(every), number(length));
    let started = Instant::now();
    for k in 0..number(count) {
        let start = first + k * every;
        for (due, value) in [(start, white), (start + length, black)] {
            let seen = loop {
                match hw_ptr(status) {
                    Some(p) if p >= due => break p,
                    _ if started.elapsed() > Duration::from_secs(600) => {
                        eprintln!("the playback never reached frame {due}");
                        std::process::exit(1);
                    }
                    _ => std::thread::sleep(Duration::from_millis(1)),
                }
            };
            set(number(value));
            println!("frame {due}: {value} at {seen}");
        }
    }
}
