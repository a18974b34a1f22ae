//! Asking a capture device's driver about its signal: `VIDIOC_QUERY_DV_TIMINGS` on a file
//! descriptor of our own (GStreamer 1.22's `v4l2src` keeps streaming the receiver's noise
//! picture on no-signal and says nothing on no-lock or out-of-range). What the answer means
//! is `fourcast_media_core::signal`'s to decide. Where it is asked follows the input's
//! `signal`: the capture node, a bridge chip's own node found by name, or nowhere.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fourcast_config::SignalSource;
use fourcast_media_core::signal::Probe;

/// `V4L2_CID_DV_RX_POWER_PRESENT`: the source's 5 V on each input (bit 0: the first).
const CID_DV_RX_POWER_PRESENT: u32 = 0x00a0_0964;

/// `struct v4l2_control`.
#[repr(C)]
struct Control {
    id: u32,
    value: i32,
}

nix::ioctl_readwrite!(g_ctrl, b'V', 27, Control);

/// `struct v4l2_dv_timings` (linux/videodev2.h): a type and a 128-byte union whose
/// `v4l2_bt_timings` is what HDMI receivers fill. Packed, 132 bytes.
#[repr(C, packed)]
pub(crate) struct DvTimings {
    kind: u32,
    bt: [u8; 128],
}

nix::ioctl_read!(query_dv_timings, b'V', 99, DvTimings);

/// A device node opened for asking (never for streaming).
pub(crate) struct Device {
    file: std::fs::File,
}

impl Device {
    /// Opens `path` without blocking; a node that is gone is `ENOENT`/`ENODEV`.
    pub(crate) fn open(path: &Path) -> std::io::Result<Device> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)?;
        Ok(Device { file })
    }

    /// Whether the source's 5 V reaches the receiver, if its driver says (RK3588's
    /// `rk_hdmirx` does): none means no cable or a source switched off.
    fn power_present(&self) -> Option<bool> {
        let mut c = Control {
            id: CID_DV_RX_POWER_PRESENT,
            value: 0,
        };
        // SAFETY: as in `probe`: an open descriptor and a live `struct v4l2_control` of the
        // size the request encodes.
        unsafe { g_ctrl(self.file.as_raw_fd(), &mut c) }
            .ok()
            .map(|_| c.value & 1 != 0)
    }

    /// What the receiver sees on its cable now.
    pub(crate) fn probe(&self) -> Probe {
        if self.power_present() == Some(false) {
            return Probe::NoLink;
        }
        let mut t = DvTimings {
            kind: 0,
            bt: [0; 128],
        };
        // SAFETY: `self.file` is an open descriptor for the whole call; `t` is a live,
        // writable `struct v4l2_dv_timings` of exactly the size the request encodes (the
        // macro derives the request from `size_of::<DvTimings>()`), so the kernel writes
        // only inside it.
        match unsafe { query_dv_timings(self.file.as_raw_fd(), &mut t) } {
            Ok(_) => parse(&t.bt),
            Err(e) => Probe::from_errno(e as i32),
        }
    }
}

/// The device node whose sysfs name holds `name` (`tc358743 10-000f`), under /dev.
fn named_node(name: &str) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir("/sys/class/video4linux")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries.iter().find_map(|entry| {
        let node_name = std::fs::read_to_string(entry.join("name")).ok()?;
        let file = entry.file_name()?;
        node_name
            .contains(name)
            .then(|| Path::new("/dev").join(file))
    })
}

/// What a capture's signal is now: the capture node's state (gone, when unplugged) and the
/// signal read where `from` says.
pub(crate) fn look(device: &Path, from: &SignalSource) -> Probe {
    let node = match Device::open(device) {
        Ok(d) => d.probe(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Probe::Gone,
        Err(e) => Probe::from_errno(e.raw_os_error().unwrap_or(0)),
    };
    match (from, node) {
        (_, Probe::Gone) | (SignalSource::Node, _) => node,
        // A grabber that reports nothing: only whether it is there.
        (SignalSource::Frames, _) => Probe::Unsupported,
        // The bridge's own node; a bridge not found says nothing (frames alone tell).
        (SignalSource::Subdev(name), _) => named_node(name)
            .and_then(|p| Device::open(&p).ok())
            .map_or(Probe::Unsupported, |d| d.probe()),
    }
}

fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |s| {
        u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    })
}

/// `struct v4l2_bt_timings`: width, height, interlaced, polarities, pixelclock (u64), then
/// the porches and syncs; the frame rate is the pixel clock over the whole raster.
fn parse(bt: &[u8; 128]) -> Probe {
    let (width, height) = (word(bt, 0), word(bt, 4));
    let pixelclock = word(bt, 16) | (word(bt, 20) << 32);
    let htotal = width + word(bt, 24) + word(bt, 28) + word(bt, 32);
    let vtotal = height + word(bt, 36) + word(bt, 40) + word(bt, 44);
    let mhz = (pixelclock * 1000)
        .checked_div(htotal * vtotal)
        .map_or(0, |r| r as u32);
    if width == 0 || height == 0 {
        return Probe::NoLink;
    }
    Probe::Timings {
        width: width as u32,
        height: height as u32,
        mhz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cea_720p60_reads_as_its_size_and_rate() {
        let mut bt = [0u8; 128];
        let mut put = |at: usize, v: u32| bt[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put(0, 1280);
        put(4, 720);
        put(16, 74_250_000);
        // 1280 + 110 + 40 + 220 = 1650; 720 + 5 + 5 + 20 = 750.
        put(24, 110);
        put(28, 40);
        put(32, 220);
        put(36, 5);
        put(40, 5);
        put(44, 20);
        assert_eq!(
            parse(&bt),
            Probe::Timings {
                width: 1280,
                height: 720,
                mhz: 60_000
            }
        );
        assert_eq!(std::mem::size_of::<DvTimings>(), 132);
    }
}
