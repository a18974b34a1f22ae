//! Capture devices on the board, found by asking every `/dev/videoN` what it is
//! (`VIDIOC_QUERYCAP`), what it sends (`ENUM_FMT`, `ENUM_FRAMESIZES`,
//! `ENUM_FRAMEINTERVALS`) and what its input is (`ENUMINPUT`: DV timings or not, signal), and
//! where it is plugged in (sysfs), for `GET /api/v1/devices` and the web UI's "add this
//! camera". Direct ioctls through `nix`: the `v4l` crate has no DV timings, and this needs
//! only the five calls. Everything is bounded: a driver that lists without end is cut off.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// At most this many nodes, formats per node, sizes per format, rates per size.
const MAX_NODES: usize = 64;
const MAX_FORMATS: u32 = 16;
const MAX_SIZES: u32 = 32;
const MAX_RATES: u32 = 16;

const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
const CAP_VIDEO_CAPTURE_MPLANE: u32 = 0x0000_1000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
const BUF_TYPE_VIDEO_CAPTURE_MPLANE: u32 = 9;
const FRMSIZE_TYPE_DISCRETE: u32 = 1;
const FRMIVAL_TYPE_DISCRETE: u32 = 1;
const IN_CAP_DV_TIMINGS: u32 = 0x0000_0002;
const IN_ST_NO_POWER: u32 = 0x0000_0001;
const IN_ST_NO_SIGNAL: u32 = 0x0000_0002;

#[repr(C)]
struct Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

#[repr(C)]
struct FmtDesc {
    index: u32,
    kind: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

#[repr(C)]
struct FrmSizeEnum {
    index: u32,
    pixel_format: u32,
    kind: u32,
    /// discrete: width, height; stepwise: min/max/step width, min/max/step height.
    size: [u32; 6],
    reserved: [u32; 2],
}

#[repr(C)]
struct FrmIvalEnum {
    index: u32,
    pixel_format: u32,
    width: u32,
    height: u32,
    kind: u32,
    /// discrete: numerator, denominator (seconds per frame).
    interval: [u32; 6],
    reserved: [u32; 2],
}

#[repr(C)]
struct Input {
    index: u32,
    name: [u8; 32],
    kind: u32,
    audioset: u32,
    tuner: u32,
    std: u64,
    status: u32,
    capabilities: u32,
    reserved: [u32; 3],
}

nix::ioctl_read!(querycap, b'V', 0, Capability);
nix::ioctl_readwrite!(enum_fmt, b'V', 2, FmtDesc);
nix::ioctl_readwrite!(enum_input, b'V', 26, Input);
nix::ioctl_readwrite!(enum_framesizes, b'V', 74, FrmSizeEnum);
nix::ioctl_readwrite!(enum_frameintervals, b'V', 75, FrmIvalEnum);

/// A capture device as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptureDevice {
    /// Its node now (`/dev/video0`): can change when cameras are replugged.
    pub node: String,
    /// The name that stays with the port it is plugged into: udev's `/dev/v4l/by-path/…`
    /// when the board has udev, else the node.
    pub stable: String,
    /// Where it hangs in the machine (sysfs, below `/sys/devices/`).
    pub bus_path: Option<String>,
    /// The USB port (`1-1.2`) for a USB camera.
    pub usb_port: Option<String>,
    pub driver: String,
    pub card: String,
    pub bus_info: String,
    /// Multi-planar (RK3588's `rk_hdmirx`, many SoC receivers).
    pub multiplanar: bool,
    /// An HDMI/SDI receiver that reports the incoming timings (signal states follow them).
    pub dv_timings: bool,
    /// What its input says now: `ok`, `no-signal`, `no-power` (unknown when it has none).
    pub input_status: Option<&'static str>,
    pub formats: Vec<Format>,
    /// The config input that uses it, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Format {
    /// FourCC: `YUYV`, `NV12`, `MJPG`…
    pub fourcc: String,
    pub description: String,
    pub compressed: bool,
    pub sizes: Vec<Size>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
    /// Frame rates offered at this size (empty: the driver did not say).
    pub fps: Vec<f64>,
}

/// Every capture node under `/dev` (metadata and output nodes left out), sorted by node.
pub fn discover() -> Vec<CaptureDevice> {
    let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.strip_prefix("video").is_some_and(is_number))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by_key(|p| node_number(p));
    nodes.truncate(MAX_NODES);
    let by_path = by_path_links(Path::new("/dev/v4l/by-path"));
    nodes
        .iter()
        .filter_map(|node| describe(node, &by_path))
        .collect()
}

/// One node, as [`discover`] would list it (its `stable` name is the node itself).
pub fn describe_node(node: &Path) -> Option<CaptureDevice> {
    describe(node, &[])
}

impl CaptureDevice {
    /// What it offers, for choosing a format: each size and rate of each raw or MJPEG
    /// format (other compressed formats are never taken; a size without rates has rate 0).
    pub fn offers(&self) -> Vec<fourcast_media_core::capture_format::Offer> {
        use fourcast_media_core::capture_format::Offer;
        let mut out = Vec::new();
        for f in self
            .formats
            .iter()
            .filter(|f| !f.compressed || is_mjpeg(&f.fourcc))
        {
            for s in &f.sizes {
                let rates = if s.fps.is_empty() {
                    &[0.0][..]
                } else {
                    &s.fps[..]
                };
                out.extend(rates.iter().map(|&fps| Offer {
                    mjpeg: f.compressed,
                    width: s.width,
                    height: s.height,
                    fps,
                }));
            }
        }
        out
    }
}

fn is_mjpeg(fourcc: &str) -> bool {
    matches!(fourcc, "MJPG" | "JPEG")
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn node_number(p: &Path) -> u32 {
    p.to_string_lossy()
        .rsplit("video")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

/// udev's by-path links and the node each points to.
fn by_path_links(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| Some((e.path(), std::fs::canonicalize(e.path()).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn describe(node: &Path, by_path: &[(PathBuf, PathBuf)]) -> Option<CaptureDevice> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_nonblocking()
        .open(node)
        .ok()?;
    let fd = file.as_raw_fd();
    // SAFETY (every ioctl below): `fd` stays open for the call, and each argument is a live,
    // exclusively borrowed struct of exactly the size its request encodes (the nix macros
    // derive the request from `size_of`), so the kernel writes only inside it.
    let mut cap: Capability = unsafe { std::mem::zeroed() };
    unsafe { querycap(fd, &mut cap) }.ok()?;
    let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 {
        cap.device_caps
    } else {
        cap.capabilities
    };
    let multiplanar = caps & CAP_VIDEO_CAPTURE_MPLANE != 0;
    if caps & (CAP_VIDEO_CAPTURE | CAP_VIDEO_CAPTURE_MPLANE) == 0 {
        return None;
    }
    let buf_type = if multiplanar {
        BUF_TYPE_VIDEO_CAPTURE_MPLANE
    } else {
        BUF_TYPE_VIDEO_CAPTURE
    };
    let mut input: Input = unsafe { std::mem::zeroed() };
    let has_input = unsafe { enum_input(fd, &mut input) }.is_ok();
    let node_name = node.file_name()?.to_string_lossy().into_owned();
    let sys = Path::new("/sys/class/video4linux").join(&node_name);
    let bus_path = std::fs::canonicalize(sys.join("device"))
        .ok()
        .and_then(|p| {
            p.strip_prefix("/sys/devices")
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        });
    let canonical = std::fs::canonicalize(node).unwrap_or_else(|_| node.to_path_buf());
    let stable = by_path
        .iter()
        .filter(|(_, target)| *target == canonical)
        .map(|(link, _)| link.to_string_lossy().into_owned())
        .min()
        .unwrap_or_else(|| node.to_string_lossy().into_owned());
    Some(CaptureDevice {
        node: node.to_string_lossy().into_owned(),
        stable,
        usb_port: bus_path.as_deref().and_then(usb_port),
        bus_path,
        driver: text(&cap.driver),
        card: text(&cap.card),
        bus_info: text(&cap.bus_info),
        multiplanar,
        dv_timings: has_input && input.capabilities & IN_CAP_DV_TIMINGS != 0,
        input_status: has_input.then(|| input_status(input.status)),
        formats: formats(fd, buf_type),
        input: None,
    })
}

trait NonBlocking {
    fn custom_flags_nonblocking(&mut self) -> &mut Self;
}

impl NonBlocking for std::fs::OpenOptions {
    fn custom_flags_nonblocking(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::libc::O_NONBLOCK)
    }
}

fn formats(fd: i32, buf_type: u32) -> Vec<Format> {
    let mut out = Vec::new();
    for index in 0..MAX_FORMATS {
        // SAFETY: as in `describe`.
        let mut f: FmtDesc = unsafe { std::mem::zeroed() };
        f.index = index;
        f.kind = buf_type;
        if unsafe { enum_fmt(fd, &mut f) }.is_err() {
            break;
        }
        let mut sizes = Vec::new();
        for index in 0..MAX_SIZES {
            let mut s: FrmSizeEnum = unsafe { std::mem::zeroed() };
            s.index = index;
            s.pixel_format = f.pixelformat;
            if unsafe { enum_framesizes(fd, &mut s) }.is_err() || s.kind != FRMSIZE_TYPE_DISCRETE {
                break;
            }
            let (width, height) = (s.size[0], s.size[1]);
            let mut fps = Vec::new();
            for index in 0..MAX_RATES {
                let mut i: FrmIvalEnum = unsafe { std::mem::zeroed() };
                (i.index, i.pixel_format, i.width, i.height) =
                    (index, f.pixelformat, width, height);
                if unsafe { enum_frameintervals(fd, &mut i) }.is_err()
                    || i.kind != FRMIVAL_TYPE_DISCRETE
                {
                    break;
                }
                fps.extend(rate(i.interval[0], i.interval[1]));
            }
            sizes.push(Size { width, height, fps });
        }
        out.push(Format {
            fourcc: fourcc(f.pixelformat),
            description: text(&f.description),
            compressed: f.flags & 0x1 != 0,
            sizes,
        });
    }
    out
}

/// A C string field as text (up to its first NUL).
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

/// A pixel format's four characters (`MJPG`).
pub fn fourcc(code: u32) -> String {
    code.to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Frames per second from a frame interval (seconds as a fraction), two decimals.
fn rate(num: u32, den: u32) -> Option<f64> {
    (num > 0).then(|| (f64::from(den) / f64::from(num) * 100.0).round() / 100.0)
}

fn input_status(status: u32) -> &'static str {
    if status & IN_ST_NO_POWER != 0 {
        "no-power"
    } else if status & IN_ST_NO_SIGNAL != 0 {
        "no-signal"
    } else {
        "ok"
    }
}

/// The USB port of a device below `/sys/devices/`: the last `bus-port[.port…]` element
/// before the interface (`…/usb1/1-1/1-1.2/1-1.2:1.0` → `1-1.2`).
pub fn usb_port(bus_path: &str) -> Option<String> {
    bus_path
        .split('/')
        .rfind(|seg| {
            let Some((bus, ports)) = seg.split_once('-') else {
                return false;
            };
            is_number(bus) && !ports.contains(':') && ports.split('.').all(is_number)
        })
        .map(str::to_string)
}

/// A kernel uevent (`NETLINK_KOBJECT_UEVENT`, group 1): a header `add@/devices/…` then
/// `KEY=value` fields, NUL-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    pub action: String,
    pub subsystem: String,
    /// The node's name under `/dev` (`video0`), when the device has one.
    pub devname: Option<String>,
}

/// Reads a uevent; `None` for anything else (udev's own re-broadcasts, garbage).
pub fn parse_uevent(msg: &[u8]) -> Option<Uevent> {
    let mut fields = msg.split(|&b| b == 0).map(String::from_utf8_lossy);
    let header = fields.next()?;
    if !header.contains('@') {
        return None;
    }
    let (mut action, mut subsystem, mut devname) = (None, None, None);
    for f in fields.take(64) {
        match f.split_once('=') {
            Some(("ACTION", v)) => action = Some(v.to_string()),
            Some(("SUBSYSTEM", v)) => subsystem = Some(v.to_string()),
            Some(("DEVNAME", v)) => devname = Some(v.to_string()),
            _ => {}
        }
    }
    Some(Uevent {
        action: action?,
        subsystem: subsystem?,
        devname,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uevents_are_read_and_anything_else_is_not() {
        let msg = b"add@/devices/platform/vivid.0/video4linux/video0\0ACTION=add\0\
            DEVPATH=/devices/platform/vivid.0/video4linux/video0\0SUBSYSTEM=video4linux\0\
            MAJOR=81\0MINOR=0\0DEVNAME=video0\0SEQNUM=2187\0";
        assert_eq!(
            parse_uevent(msg),
            Some(Uevent {
                action: "add".into(),
                subsystem: "video4linux".into(),
                devname: Some("video0".into()),
            })
        );
        assert_eq!(parse_uevent(b"libudev\0\xfe\xed"), None);
        assert_eq!(parse_uevent(b"remove@/x\0ACTION=remove\0"), None); // no subsystem
        assert_eq!(parse_uevent(b""), None);
    }

    #[test]
    fn the_structs_have_the_kernels_sizes() {
        assert_eq!(std::mem::size_of::<Capability>(), 104);
        assert_eq!(std::mem::size_of::<FmtDesc>(), 64);
        assert_eq!(std::mem::size_of::<FrmSizeEnum>(), 44);
        assert_eq!(std::mem::size_of::<FrmIvalEnum>(), 52);
        assert_eq!(std::mem::size_of::<Input>(), 80);
    }

    #[test]
    fn fourcc_and_rates_read_as_people_write_them() {
        assert_eq!(fourcc(u32::from_le_bytes(*b"MJPG")), "MJPG");
        assert_eq!(fourcc(u32::from_le_bytes(*b"Y16 ")), "Y16");
        assert_eq!(fourcc(0x0102_0304), "????");
        assert_eq!(rate(1001, 30000), Some(29.97));
        assert_eq!(rate(1, 60), Some(60.0));
        assert_eq!(rate(0, 60), None);
        assert_eq!(text(b"vivid\0\0garbage"), "vivid");
        assert_eq!(input_status(0), "ok");
        assert_eq!(input_status(IN_ST_NO_SIGNAL), "no-signal");
        assert_eq!(input_status(IN_ST_NO_POWER | IN_ST_NO_SIGNAL), "no-power");
    }

    #[test]
    fn a_usb_camera_is_known_by_its_port() {
        let uvc = "pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.0";
        assert_eq!(usb_port(uvc), Some("1-1.2".into()));
        assert_eq!(
            usb_port("platform/fc880000.usb/usb3/3-1/3-1:1.0"),
            Some("3-1".into())
        );
        assert_eq!(usb_port("platform/vivid.0"), None);
        assert_eq!(usb_port("platform/fdee0000.hdmirx-controller"), None);
    }

    #[test]
    fn nodes_sort_by_number() {
        let mut v = [PathBuf::from("/dev/video10"), PathBuf::from("/dev/video2")];
        v.sort_by_key(|p| node_number(p));
        assert_eq!(v[0], PathBuf::from("/dev/video2"));
        assert!(is_number("12") && !is_number("") && !is_number("1a"));
    }
}
