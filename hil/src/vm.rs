//! The `vm` target: the virtual board (Debian's kernel under QEMU, `tests/src/vm.rs`) made
//! a box with A/B slots. Four disks: slots A and B (`/dev/vda`, `/dev/vdb`, raw, each a
//! squashfs holding an os-release and the daemon), data (`/dev/vdc`, ext4) and the boot
//! environment (`/dev/vdd`). The harness is the bootloader: before each QEMU it reads the
//! environment, picks the slot (`bootenv.rs`), writes the count back and boots with
//! `rauc.slot=`. The guest's reboot ends QEMU (`-no-reboot`), and the next `tick` boots
//! again; a power cut is QEMU's monitor `quit`. RAUC runs in the guest (its kernel has
//! dm-verity), so bundles are `verity`, as on the product.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fourcast_e2e::TempDir;
use fourcast_e2e::vm::{guest_sh, prepare_share, qemu};

use crate::bootenv::BootEnv;
use crate::scenario::Firmware;
use crate::target::Target;

pub(crate) const COMPATIBLE: &str = "fourcast-vboard";
const SLOT_BYTES: u64 = 256 << 20;
const DATA_BYTES: u64 = 1 << 30;
/// The board's devices: one HDMI input (vivid), a sound card.
const MODULES: &[&str] = &[
    "vivid n_devs=1 node_types=0x1 num_inputs=1 input_types=0x3",
    "snd-aloop",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("hil/ is in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub(crate) struct VmBoard {
    dir: TempDir,
    share: PathBuf,
    qemu: Option<Child>,
    port: u16,
    next: u32,
    boots: u32,
    /// Versions handed out so far (each bundle is newer).
    minor: u32,
}

impl VmBoard {
    /// A board as flashed at the factory: firmware 0.1.0 in slot A, B empty, an empty data
    /// disk, both slots with full boot counts; `config` is its factory config.
    pub(crate) fn flash(config: &str) -> Result<VmBoard, String> {
        let dir = TempDir::new("hil");
        let share = dir.0.join("share");
        std::fs::create_dir_all(share.join("pki")).map_err(|e| e.to_string())?;
        prepare_share(&share, MODULES);
        fourcast_e2e::rauc::make_ca(&share.join("pki"), "ca");
        let d = &dir.0.clone();
        let mut board = VmBoard {
            port: fourcast_e2e::free_port(),
            share,
            qemu: None,
            next: 0,
            boots: 0,
            minor: 1,
            dir,
        };
        let image = board.firmware_image("factory", "0.1.0", Firmware::Good)?;
        std::fs::copy(&image, d.join("slotA.img")).map_err(|e| e.to_string())?;
        for (disk, size) in [
            ("slotA.img", SLOT_BYTES),
            ("slotB.img", SLOT_BYTES),
            ("data.img", DATA_BYTES),
            ("bootenv.img", 1 << 20),
        ] {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(d.join(disk))
                .map_err(|e| e.to_string())?;
            f.set_len(size).map_err(|e| e.to_string())?;
        }
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "data"])
            .arg(d.join("data.img")))?;
        board.write_env(&BootEnv::factory())?;
        let s = &board.share;
        std::fs::write(s.join("box.toml"), config).map_err(|e| e.to_string())?;
        std::fs::write(
            s.join("boot"),
            repo().join("hil/vm/board-boot.sh").display().to_string(),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(
            s.join("system.conf"),
            format!(
                "[system]\ncompatible={COMPATIBLE}\nbootloader=custom\nbundle-formats=-plain\n\
                 data-directory=/data/rauc\n\
                 [handlers]\nbootloader-custom-backend={}\n\
                 [keyring]\npath=/run/out/pki/ca.pem\n\
                 [slot.rootfs.0]\ndevice=/dev/vda\ntype=raw\nbootname=A\n\
                 [slot.rootfs.1]\ndevice=/dev/vdb\ntype=raw\nbootname=B\n",
                repo().join("hil/vm/bootenv.sh").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        Ok(board)
    }

    fn env_file(&self) -> PathBuf {
        self.dir.0.join("bootenv.img")
    }

    fn write_env(&self, env: &BootEnv) -> Result<(), String> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.env_file())
            .map_err(|e| e.to_string())?;
        f.write_all(&env.to_sector()).map_err(|e| e.to_string())
    }

    /// A slot image: a squashfs with `/etc/os-release` and `/usr/bin/fourcastd`. A
    /// `Broken` firmware's daemon finds no GStreamer plugins and cannot start; an
    /// `Unhealthy` one runs, as an older version than its bundle claims.
    fn firmware_image(
        &mut self,
        name: &str,
        version: &str,
        kind: Firmware,
    ) -> Result<PathBuf, String> {
        let root = self.dir.0.join(format!("fw-{name}"));
        let bin = root.join("usr/bin");
        std::fs::create_dir_all(root.join("etc")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        let runs = if kind == Firmware::Unhealthy {
            "0.0.1"
        } else {
            version
        };
        std::fs::write(
            root.join("etc/os-release"),
            format!("NAME=Fourcast\nID=fourcast\nVERSION_ID={runs}\n"),
        )
        .map_err(|e| e.to_string())?;
        let daemon = fourcast_e2e::fourcastd();
        if kind == Firmware::Broken {
            std::fs::copy(&daemon, bin.join("fourcastd.real")).map_err(|e| e.to_string())?;
            std::fs::write(
                bin.join("fourcastd"),
                "#!/bin/sh\nexport GST_PLUGIN_SYSTEM_PATH=/nonexistent GST_PLUGIN_PATH=/nonexistent \
                 GST_REGISTRY=/tmp/broken-registry.bin\nexec /run/slot/usr/bin/fourcastd.real \"$@\"\n",
            )
            .map_err(|e| e.to_string())?;
            set_exec(&bin.join("fourcastd"))?;
        } else {
            std::fs::copy(&daemon, bin.join("fourcastd")).map_err(|e| e.to_string())?;
        }
        if kind == Firmware::Large {
            // Incompressible, as a real root filesystem mostly is to squashfs.
            let pad = fourcast_e2e::rauc::big_image("padding", 96 << 20);
            let share = root.join("usr/share/fourcast");
            std::fs::create_dir_all(&share).map_err(|e| e.to_string())?;
            std::fs::write(share.join("padding"), pad).map_err(|e| e.to_string())?;
        }
        let image = self.dir.0.join(format!("{name}.squashfs"));
        let _ = std::fs::remove_file(&image);
        run(Command::new("mksquashfs").arg(&root).arg(&image).args([
            "-all-root",
            "-noappend",
            "-no-progress",
            "-quiet",
        ]))?;
        let _ = std::fs::remove_dir_all(&root);
        Ok(image)
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.share.join("console.log")).unwrap_or_default()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.share.join(file)).unwrap_or_default()
    }

    /// The bootloader, then QEMU; returns when the guest agent runs.
    fn boot(&mut self) -> Result<(), String> {
        let sector = std::fs::read(self.env_file()).map_err(|e| e.to_string())?;
        let mut env = BootEnv::parse(&sector[..crate::bootenv::SECTOR])?;
        let slot = env.boot();
        self.write_env(&env)?;
        let ctl = self.share.join("ctl");
        let _ = std::fs::remove_dir_all(&ctl);
        let _ = std::fs::remove_file(self.share.join("ready"));
        let mut extra = Vec::new();
        for disk in ["slotA", "slotB", "data", "bootenv"] {
            extra.push("-drive".to_string());
            extra.push(format!(
                "file={},format=raw,if=virtio,cache=writeback",
                self.dir.0.join(format!("{disk}.img")).display()
            ));
        }
        extra.push("-monitor".into());
        extra.push(format!(
            "unix:{},server=on,wait=off",
            self.dir.0.join("monitor").display()
        ));
        let started = Instant::now();
        let child = qemu(&self.share, self.port, &format!("rauc.slot={slot}"), &extra)
            .spawn()
            .map_err(|e| format!("qemu-system-x86_64: {e}"))?;
        self.qemu = Some(child);
        self.boots += 1;
        self.next = 0;
        while !self.share.join("ready").exists() {
            if let Some(Ok(Some(status))) = self.qemu.as_mut().map(Child::try_wait) {
                self.qemu = None;
                return Err(format!(
                    "the VM stopped ({status}) while booting:\n{}",
                    self.console()
                ));
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!("the VM did not boot in 120 s:\n{}", self.console()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut log = self.read("boots.log");
        log.push_str(&format!(
            "boot {}: slot {slot}, then order {}, A {} B {} left\n",
            self.boots,
            env.order.join(" "),
            env.left_a,
            env.left_b
        ));
        let _ = std::fs::write(self.share.join("boots.log"), log);
        Ok(())
    }

    fn running(&mut self) -> bool {
        match self.qemu.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.qemu = None;
                false
            }
            None => false,
        }
    }

    /// Waits for the box's API, and sets it up on its first boot (admin password, a token
    /// kept on the data disk with the rest).
    fn await_api(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(180);
        while fourcast_e2e::http_get(self.port, "/api/v1/setup").is_err() {
            self.tick()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "the box's API did not answer in 180 s:\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }
}

fn set_exec(p: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

impl Target for VmBoard {
    fn power_on(&mut self) -> Result<(), String> {
        if !self.running() {
            self.boots = 0;
            self.boot()?;
        }
        self.await_api()
    }

    fn power_cut(&mut self) -> Result<(), String> {
        let Some(mut child) = self.qemu.take() else {
            return Ok(());
        };
        if let Ok(mut m) = std::os::unix::net::UnixStream::connect(self.dir.0.join("monitor")) {
            let _ = m.write_all(b"quit\n");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok(())
    }

    fn tick(&mut self) -> Result<(), String> {
        if self.qemu.is_some() && !self.running() {
            // The guest rebooted: the bootloader runs again.
            self.boot()?;
        }
        Ok(())
    }

    fn sh(&mut self, script: &str) -> Result<String, String> {
        self.next += 1;
        let n = self.next;
        let share = self.share.clone();
        let qemu = &mut self.qemu;
        let (code, out) = guest_sh(&share, n, script, || {
            match qemu.as_mut().map(Child::try_wait) {
                Some(Ok(None)) => Ok(()),
                _ => Err("the VM is not running".to_string()),
            }
        })?;
        if code == 0 {
            Ok(out)
        } else {
            Err(format!("in the guest: {script} → exit {code}\n{out}"))
        }
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn tester(&self) -> String {
        "10.0.2.2".into()
    }

    fn boots(&self) -> u32 {
        self.boots
    }

    fn bundle(&mut self, firmware: Firmware) -> Result<PathBuf, String> {
        self.minor += 1;
        let version = format!("0.{}.0", self.minor);
        let name = format!("v{}", self.minor);
        let image = self.firmware_image(&name, &version, firmware)?;
        let content = self.dir.0.join(format!("bundle-{name}"));
        std::fs::create_dir_all(&content).map_err(|e| e.to_string())?;
        std::fs::rename(&image, content.join("rootfs.img")).map_err(|e| e.to_string())?;
        std::fs::write(
            content.join("manifest.raucm"),
            format!(
                "[update]\ncompatible={COMPATIBLE}\nversion={version}\n\
                 [bundle]\nformat=verity\n[image.rootfs]\nfilename=rootfs.img\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let out = self.dir.0.join(format!("{name}.raucb"));
        let pki = self.share.join("pki");
        run(Command::new("rauc")
            .arg(format!("--cert={}", pki.join("ca-signer.pem").display()))
            .arg(format!("--key={}", pki.join("ca-signer.key").display()))
            .arg("bundle")
            .arg(&content)
            .arg(&out)
            .stdout(Stdio::null()))?;
        let _ = std::fs::remove_dir_all(&content);
        Ok(out)
    }

    fn cable(&mut self, device: &str, plugged: bool) -> Result<(), String> {
        // vivid's HDMI input: signal mode 0 is a locked signal, 1 is none (the cable out).
        let mode = if plugged { 0 } else { 1 };
        self.sh(&format!(
            "v4l2-ctl -d {device} -c dv_timings_signal_mode={mode}"
        ))
        .map(|_| ())
    }

    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.share.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        // A private key is readable by its owner only, as on a box.
        if name.ends_with(".key") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn fetch(&mut self, remote: &str, local: &Path) -> Result<(), String> {
        self.sh(&format!("cp '{remote}' /run/out/fetched"))?;
        std::fs::rename(self.share.join("fetched"), local).map_err(|e| e.to_string())
    }

    fn logs(&self) -> String {
        let tail = |t: String| {
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(25)..].join("\n")
        };
        format!(
            "boots:\n{}\nboard:\n{}\ndaemon:\n{}\nrauc:\n{}\nconsole:\n{}",
            self.read("boots.log"),
            tail(self.read("boot.log")),
            tail(self.read("daemon.log")),
            tail(self.read("rauc.log")),
            tail(self.console())
        )
    }
}

impl Drop for VmBoard {
    fn drop(&mut self) {
        let _ = self.power_cut();
    }
}
