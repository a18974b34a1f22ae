//! A RAUC rig for the update tests: a private D-Bus (with the policy the box ships), a real
//! `rauc service` with two file-backed slots and a custom bootloader backend that keeps its
//! state in files, a test CA (openssl) that signs bundles, and a "bootloader" that plays
//! the reboot: it picks the slot to boot as a real one would and restarts RAUC on it.
//!
//! The slots are raw images holding an os-release (`VERSION_ID=…`), which the daemon reads
//! as the booted firmware's version (`--release-file`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

pub const COMPATIBLE: &str = "fourcast-test";
/// The bootnames of the two slots (`rootfs.0`, `rootfs.1`).
pub const SLOTS: [(&str, &str); 2] = [("A", "rootfs.0"), ("B", "rootfs.1")];
const IMAGE_BYTES: usize = 4096;
/// A slot's size: room for the largest test image.
const SLOT_BYTES: usize = 2 << 20;

/// The backend RAUC calls (`bootloader-custom-backend`). `get-primary` answers what the
/// bootloader would boot next: the primary if it is good, else the other one. `set-primary`
/// also makes the slot bootable, as the U-Boot and GRUB backends do.
const BACKEND: &str = r#"#!/bin/sh
d="$(dirname "$0")/boot"
other() { if [ "$1" = A ]; then echo B; else echo A; fi; }
case "$1" in
  get-primary)
    p=$(cat "$d/primary")
    if [ "$(cat "$d/state.$p")" = good ]; then echo "$p"; else other "$p"; fi ;;
  set-primary) echo "$2" > "$d/primary"; echo good > "$d/state.$2" ;;
  get-state) cat "$d/state.$2" ;;
  set-state) echo "$3" > "$d/state.$2" ;;
  *) exit 1 ;;
esac
"#;

/// Who signs a bundle.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The CA in the box's keyring.
    Ours,
    /// A CA the box does not know.
    Stranger,
}

pub struct Rig {
    pub dir: TempDir,
    pub address: String,
    bus: Child,
    service: Option<Child>,
    /// The slot RAUC was started on (bootname).
    pub booted: String,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn need(program: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is missing: apt-get install {package} (make test-deps installs it)"
    );
}

/// An os-release image of a slot, padded as a raw slot holds it.
pub fn image(version: &str) -> Vec<u8> {
    let mut bytes = format!("NAME=Fourcast\nID=fourcast\nVERSION_ID={version}\n").into_bytes();
    bytes.resize(IMAGE_BYTES, 0);
    bytes
}

/// An image of about `bytes`, incompressible after its os-release (for downloads that
/// take a while).
pub fn big_image(version: &str, bytes: usize) -> Vec<u8> {
    let mut v = image(version);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while v.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(bytes);
    v
}

impl Rig {
    /// Slot A booted, holding firmware `running`; slot B empty.
    pub fn start(running: &str) -> Rig {
        for (p, pkg) in [
            ("rauc", "rauc"),
            ("dbus-daemon", "dbus"),
            ("gdbus", "libglib2.0-bin"),
            ("mksquashfs", "squashfs-tools"),
            ("openssl", "openssl"),
        ] {
            need(p, pkg);
        }
        let dir = TempDir::new("rauc");
        let d = &dir.0;
        // The bus socket must be reachable by an unprivileged user (the policy test).
        for sub in ["boot", "mnt", "slots", "bus", "pki"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        set_mode(d, 0o755);
        set_mode(&d.join("bus"), 0o755);
        std::fs::write(d.join("backend.sh"), BACKEND).unwrap();
        set_mode(&d.join("backend.sh"), 0o755);
        // RAUC runs this before it touches a slot: an install the test can catch midway.
        let slow = d.join("slow-install");
        std::fs::write(
            d.join("pre-install.sh"),
            format!(
                "#!/bin/sh
if [ -f {0} ]; then sleep \"$(cat {0})\"; fi
exit 0
",
                slow.display()
            ),
        )
        .unwrap();
        set_mode(&d.join("pre-install.sh"), 0o755);
        std::fs::write(d.join("boot/primary"), "A\n").unwrap();
        for (boot, _) in SLOTS {
            std::fs::write(d.join(format!("boot/state.{boot}")), "good\n").unwrap();
        }
        let mut a = image(running);
        a.resize(SLOT_BYTES, 0);
        std::fs::write(d.join("slots/A"), a).unwrap();
        std::fs::write(d.join("slots/B"), vec![0u8; SLOT_BYTES]).unwrap();
        for ca in ["ca", "stranger"] {
            make_ca(&d.join("pki"), ca);
        }
        std::fs::write(
            d.join("system.conf"),
            format!(
                "[system]\ncompatible={COMPATIBLE}\nbootloader=custom\n\
                 [handlers]\nbootloader-custom-backend={backend}\npre-install={pre}\n\
                 [keyring]\npath={ca}\n\
                 [slot.rootfs.0]\ndevice={a}\ntype=raw\nbootname=A\n\
                 [slot.rootfs.1]\ndevice={b}\ntype=raw\nbootname=B\n",
                backend = d.join("backend.sh").display(),
                pre = d.join("pre-install.sh").display(),
                ca = d.join("pki/ca.pem").display(),
                a = d.join("slots/A").display(),
                b = d.join("slots/B").display(),
            ),
        )
        .unwrap();
        let policy =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ota/dbus/de.pengutronix.rauc.conf");
        let socket = d.join("bus/socket");
        std::fs::write(d.join("bus.conf"), bus_config(&socket, &policy)).unwrap();
        let bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", d.join("bus.conf").display()))
            .arg("--nofork")
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let address = format!("unix:path={}", socket.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the private bus did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut rig = Rig {
            dir,
            address,
            bus,
            service: None,
            booted: "A".into(),
        };
        rig.start_service("A");
        rig
    }

    fn start_service(&mut self, bootname: &str) {
        let d = &self.dir.0;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("rauc.log"))
            .unwrap();
        let child = Command::new("rauc")
            .arg(format!("--conf={}", d.join("system.conf").display()))
            .arg(format!("--mount={}", d.join("mnt").display()))
            .arg(format!("--override-boot-slot={bootname}"))
            .arg("service")
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .env_remove("DBUS_STARTER_BUS_TYPE")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rauc service starts");
        self.service = Some(child);
        self.booted = bootname.to_string();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self
            .call(&["Get", "de.pengutronix.rauc.Installer", "BootSlot"])
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "rauc service did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A `org.freedesktop.DBus.Properties` call as root, through `gdbus`.
    fn call(&self, args: &[&str]) -> Result<String, String> {
        let method = format!("org.freedesktop.DBus.Properties.{}", args[0]);
        self.gdbus(None, &method, &args[1..])
    }

    /// `gdbus` as another user (uid = gid) calling RAUC: what the policy lets through.
    pub fn call_as(&self, uid: u32, method: &str) -> Result<String, String> {
        self.gdbus(Some(uid), method, &[])
    }

    fn gdbus(&self, uid: Option<u32>, method: &str, args: &[&str]) -> Result<String, String> {
        let mut cmd = match uid {
            Some(uid) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .args(["--clear-groups", "gdbus"]);
                c
            }
            None => Command::new("gdbus"),
        };
        cmd.args(["call", "--address", &self.address])
            .args(["--dest", "de.pengutronix.rauc", "--object-path", "/"])
            .args(["--method", method])
            .args(args);
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("rauc.log")).unwrap_or_default()
    }

    /// The bootloader's state: (primary, state of A, state of B).
    pub fn boot_state(&self) -> (String, String, String) {
        let r = |f: &str| {
            std::fs::read_to_string(self.dir.0.join("boot").join(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        (r("primary"), r("state.A"), r("state.B"))
    }

    pub fn slot_image(&self, bootname: &str) -> Vec<u8> {
        std::fs::read(self.dir.0.join("slots").join(bootname)).unwrap()
    }

    /// The reboot: RAUC stops, the bootloader picks the primary if it is good (else the
    /// other slot), RAUC starts on it. Returns the bootname booted.
    pub fn reboot(&mut self) -> String {
        self.stop_service();
        let (primary, a, b) = self.boot_state();
        let good = |s: &str| if s == "A" { a == "good" } else { b == "good" };
        let boot = if good(&primary) {
            primary
        } else if primary == "A" {
            "B".to_string()
        } else {
            "A".to_string()
        };
        self.start_service(&boot);
        boot
    }

    /// Makes RAUC's next installs pause `seconds` before touching a slot (0: no pause).
    pub fn slow_install(&self, seconds: u32) {
        let f = self.dir.0.join("slow-install");
        if seconds == 0 {
            let _ = std::fs::remove_file(f);
        } else {
            std::fs::write(f, seconds.to_string()).unwrap();
        }
    }

    /// A power cut: RAUC dies with the daemon, then the machine boots again (the same
    /// slot, as nothing was made primary).
    pub fn power_cut(&mut self) -> String {
        self.reboot()
    }

    /// A boot that failed `n` times on the primary (the daemon would not start): the
    /// bootloader's counter runs out, it marks the primary bad and boots the other slot.
    pub fn fall_back(&mut self) -> String {
        let (primary, _, _) = self.boot_state();
        std::fs::write(self.dir.0.join(format!("boot/state.{primary}")), "bad\n").unwrap();
        self.reboot()
    }

    fn stop_service(&mut self) {
        if let Some(mut c) = self.service.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The daemon's arguments for this rig, booted on `self.booted`; the reboot command
    /// leaves a mark the test waits for.
    pub fn daemon_args(&self) -> Vec<String> {
        let d = &self.dir.0;
        vec![
            "--rauc-bus".into(),
            self.address.clone(),
            "--rauc-conf".into(),
            d.join("system.conf").display().to_string(),
            "--release-file".into(),
            d.join("slots").join(&self.booted).display().to_string(),
            "--reboot-command".into(),
            format!("touch {}", self.reboot_mark().display()),
        ]
    }

    pub fn reboot_mark(&self) -> PathBuf {
        self.dir.0.join("rebooted")
    }

    /// A bundle of `image`, claiming `version` and `compatible`, signed by `signer`.
    pub fn bundle(
        &self,
        name: &str,
        version: &str,
        compatible: &str,
        image: &[u8],
        signer: Signer,
    ) -> PathBuf {
        let d = &self.dir.0;
        let content = d.join(format!("content-{name}"));
        std::fs::create_dir_all(&content).unwrap();
        std::fs::write(content.join("rootfs.img"), image).unwrap();
        std::fs::write(
            content.join("manifest.raucm"),
            format!(
                "[update]\ncompatible={compatible}\nversion={version}\n\
                 [bundle]\nformat=plain\n[image.rootfs]\nfilename=rootfs.img\n"
            ),
        )
        .unwrap();
        let out = d.join(format!("{name}.raucb"));
        let _ = std::fs::remove_file(&out);
        let ca = match signer {
            Signer::Ours => "ca",
            Signer::Stranger => "stranger",
        };
        let pki = d.join("pki");
        run(Command::new("rauc")
            .arg(format!(
                "--cert={}",
                pki.join(format!("{ca}-signer.pem")).display()
            ))
            .arg(format!(
                "--key={}",
                pki.join(format!("{ca}-signer.key")).display()
            ))
            .arg("bundle")
            .arg(&content)
            .arg(&out));
        out
    }

    /// A squashfs with a manifest and no signature at all.
    pub fn unsigned_bundle(&self, version: &str) -> PathBuf {
        let d = &self.dir.0;
        let content = d.join("content-unsigned");
        std::fs::create_dir_all(&content).unwrap();
        std::fs::write(content.join("rootfs.img"), image(version)).unwrap();
        std::fs::write(
            content.join("manifest.raucm"),
            format!("[update]\ncompatible={COMPATIBLE}\nversion={version}\n[image.rootfs]\nfilename=rootfs.img\n"),
        )
        .unwrap();
        let out = d.join("unsigned.raucb");
        let _ = std::fs::remove_file(&out);
        run(Command::new("mksquashfs").arg(&content).arg(&out).args([
            "-all-root",
            "-noappend",
            "-no-progress",
            "-quiet",
        ]));
        out
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop_service();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `<name>.pem` (a CA) and `<name>-signer.{pem,key}` (a signing certificate it issued).
pub fn make_ca(dir: &Path, name: &str) {
    let p = |f: &str| dir.join(f).display().to_string();
    run(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        &format!("/CN=fourcast test {name}"),
        "-keyout",
        &p(&format!("{name}.key")),
        "-out",
        &p(&format!("{name}.pem")),
    ]));
    run(Command::new("openssl").args([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN=fourcast test {name} signer"),
        "-keyout",
        &p(&format!("{name}-signer.key")),
        "-out",
        &p(&format!("{name}-signer.csr")),
    ]));
    run(Command::new("openssl").args([
        "x509",
        "-req",
        "-days",
        "30",
        "-set_serial",
        "2",
        "-in",
        &p(&format!("{name}-signer.csr")),
        "-CA",
        &p(&format!("{name}.pem")),
        "-CAkey",
        &p(&format!("{name}.key")),
        "-out",
        &p(&format!("{name}-signer.pem")),
    ]));
}

/// A system-bus-like config on a private socket, with the RAUC policy the box ships.
fn bus_config(socket: &Path, policy: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"#,
        socket = socket.display(),
        policy = policy.display()
    )
}

/// An HTTP server for one bundle on loopback: answers `Range` requests, sends at most
/// `bytes_per_s`, and drops the first connection after `drop_after` bytes (a broken link).
pub struct BundleServer {
    pub port: u16,
    /// The `Range` header of every request (`-` when none).
    pub ranges: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl BundleServer {
    pub fn start(file: &Path, bytes_per_s: usize, drop_after: Option<usize>) -> BundleServer {
        use std::io::{BufRead, BufReader, Write};
        let body = std::fs::read(file).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ranges = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = ranges.clone();
        std::thread::spawn(move || {
            let mut first = true;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut range = "-".to_string();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range:") {
                        range = v.trim().to_string();
                    }
                }
                seen.lock().unwrap().push(range.clone());
                let from: usize = range
                    .strip_prefix("bytes=")
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let head = if range == "-" {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                } else {
                    format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
                        body.len() - from,
                        body.len() - 1,
                        body.len()
                    )
                };
                if conn.write_all(head.as_bytes()).is_err() {
                    continue;
                }
                let chunk = (bytes_per_s / 10).max(1024);
                let mut sent = 0;
                for piece in body[from..].chunks(chunk) {
                    if first && drop_after.is_some_and(|d| sent >= d) {
                        break;
                    }
                    if conn.write_all(piece).is_err() {
                        break;
                    }
                    sent += piece.len();
                    std::thread::sleep(Duration::from_millis(100));
                }
                first = false;
            }
        });
        BundleServer { port, ranges }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/bundle.raucb", self.port)
    }
}

/// SHA-256 of a file, hex (with `sha256sum`).
pub fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
