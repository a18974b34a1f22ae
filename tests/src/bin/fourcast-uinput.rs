//! A panel's buttons for the virtual board: makes a uinput keyboard with a name and key
//! codes (as a board's `gpio-keys` would be), then presses keys as told on standard input,
//! one `press CODE` per line, until its input ends. Runs inside the VM.
//!
//! `fourcast-uinput NAME CODE...`
#![allow(unsafe_code)] // uinput's ioctls; nothing else here

use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;

const UI_SET_EVBIT: libc::c_ulong = 0x4004_5564;
const UI_SET_KEYBIT: libc::c_ulong = 0x4004_5565;
const UI_DEV_CREATE: libc::c_ulong = 0x5501;
const UI_DEV_DESTROY: libc::c_ulong = 0x5502;
const EV_SYN: u16 = 0;
const EV_KEY: u16 = 1;
const BUS_VIRTUAL: u16 = 0x06;

fn event(kind: u16, code: u16, value: i32) -> [u8; 24] {
    let mut e = [0u8; 24];
    e[16..18].copy_from_slice(&kind.to_ne_bytes());
    e[18..20].copy_from_slice(&code.to_ne_bytes());
    e[20..24].copy_from_slice(&value.to_ne_bytes());
    e
}

fn ioctl(fd: i32, request: libc::c_ulong, arg: libc::c_ulong, what: &str) {
    // SAFETY: these uinput requests take an integer argument (or none).
    if unsafe { libc::ioctl(fd, request, arg) } < 0 {
        eprintln!("{what}: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, codes)) = args.split_first() else {
        eprintln!("usage: fourcast-uinput NAME CODE...");
        std::process::exit(2);
    };
    let codes: Vec<u16> = codes
        .iter()
        .map(|c| c.parse().expect("a key code is a number"))
        .collect();
    let mut dev = OpenOptions::new()
        .write(true)
        .open("/dev/uinput")
        .unwrap_or_else(|e| panic!("/dev/uinput: {e}"));
    let fd = dev.as_raw_fd();
    ioctl(fd, UI_SET_EVBIT, EV_KEY.into(), "UI_SET_EVBIT");
    for &c in &codes {
        ioctl(fd, UI_SET_KEYBIT, c.into(), "UI_SET_KEYBIT");
    }
    // struct uinput_user_dev: name[80], input_id (4 × u16), ff_effects_max, 4 × 64 axes.
    let mut setup = vec![0u8; 80 + 8 + 4 + 4 * 64 * 4];
    setup[..name.len().min(79)].copy_from_slice(&name.as_bytes()[..name.len().min(79)]);
    setup[80..82].copy_from_slice(&BUS_VIRTUAL.to_ne_bytes());
    setup[82..84].copy_from_slice(&0x4643u16.to_ne_bytes());
    setup[84..86].copy_from_slice(&1u16.to_ne_bytes());
    dev.write_all(&setup).expect("uinput device set-up");
    ioctl(fd, UI_DEV_CREATE, 0, "UI_DEV_CREATE");
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Some(code) = line
            .strip_prefix("press ")
            .and_then(|c| c.trim().parse().ok())
        else {
            continue;
        };
        for value in [1, 0] {
            dev.write_all(&event(EV_KEY, code, value))
                .expect("key event");
            dev.write_all(&event(EV_SYN, 0, 0)).expect("sync event");
        }
        println!("pressed {code}");
    }
    ioctl(fd, UI_DEV_DESTROY, 0, "UI_DEV_DESTROY");
}
