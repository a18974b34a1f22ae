//! The virtual board with a real kernel: Debian's 6.1 kernel under `qemu-system-x86_64`
//! (TCG: a stock kernel does not boot under this machine's paravirtual KVM), the host's root
//! read-only over 9p under a tmpfs overlay, the board's devices from real drivers (`vivid`
//! HDMI inputs, `snd-aloop`, `i2c-stub`, `uinput`), the box's HTTP port forwarded to the
//! host's loopback. The kernel and initramfs are built once by `hil/vm/build.sh`; the guest
//! runs `hil/vm/guest-agent.sh`, which takes shell requests through a shared folder.
//!
//! One VM at a time: emulation takes both cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Response, TempDir, free_port, http_request, http_send};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Where `hil/vm/build.sh` puts the kernel and initramfs.
fn vm_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("vm")
}

/// Builds the kernel and initramfs once (`hil/vm/build.sh`); the folder they are in.
pub fn kernel() -> PathBuf {
    crate::peers::require("qemu-system-x86_64", "qemu-system-x86");
    let dir = vm_dir();
    let build = Command::new("bash")
        .arg(root().join("hil/vm/build.sh"))
        .arg(&dir)
        .output()
        .expect("hil/vm/build.sh runs");
    assert!(
        build.status.success(),
        "hil/vm/build.sh failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    dir
}

/// Writes what the guest agent reads at boot into the shared folder: the kernel's version
/// and modules, and the board's devices (one `modprobe` line each, e.g. `vivid n_devs=4 …`).
pub fn prepare_share(share: &Path, modules: &[&str]) {
    let dir = kernel();
    let version = std::fs::read_to_string(dir.join("kernel-version")).unwrap();
    std::fs::write(share.join("kernel-version"), version.trim()).unwrap();
    std::fs::write(share.join("kpkg"), dir.join("kpkg").display().to_string()).unwrap();
    std::fs::write(share.join("modules"), modules.join("\n") + "\n").unwrap();
}

/// QEMU for the board, its console in `share/console.log`: the guest's 8080 forwarded to
/// the host's `port`, `append` added to the kernel's command line, `extra` to QEMU's.
pub fn qemu(share: &Path, port: u16, append: &str, extra: &[String]) -> Command {
    let dir = vm_dir();
    let console = std::fs::File::create(share.join("console.log")).unwrap();
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args([
        "-accel",
        "tcg,thread=multi",
        "-cpu",
        "max",
        "-m",
        "2G",
        "-smp",
        "2",
    ])
    .args(["-nographic", "-no-reboot"])
    .arg("-kernel")
    .arg(dir.join("vmlinux"))
    .arg("-initrd")
    .arg(dir.join("initrd.img"))
    .arg("-append")
    .arg(format!(
        "console=ttyS0 quiet panic=-1 root=hostroot \
         rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose init={} {append}",
        root().join("hil/vm/guest-agent.sh").display()
    ))
    .arg("-virtfs")
    .arg("local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
    .arg("-virtfs")
    .arg(format!(
        "local,path={},mount_tag=vbout,security_model=none",
        share.display()
    ))
    .arg("-netdev")
    .arg(format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:8080"))
    .args(["-device", "virtio-net-pci,netdev=n0"])
    .args(extra)
    .stdin(Stdio::null())
    .stdout(console.try_clone().unwrap())
    .stderr(console);
    cmd
}

/// Request `n` to the guest agent through the shared folder: `script` runs in the guest
/// (bash, as root); its exit code and output. `alive` says whether the machine still runs.
pub fn guest_sh(
    share: &Path,
    n: u32,
    script: &str,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<(i32, String), String> {
    let ctl = share.join("ctl");
    let base = ctl.join(format!("{n:05}"));
    let tmp = ctl.join(format!("{n:05}.part"));
    std::fs::write(&tmp, script).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, base.with_extension("sh")).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let rc = base.with_extension("rc");
    while !rc.exists() {
        if Instant::now() > deadline {
            return Err(format!("the guest did not run {script:?} in 120 s"));
        }
        alive()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = std::fs::read_to_string(base.with_extension("out")).unwrap_or_default();
    let code = std::fs::read_to_string(&rc)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(-1);
    Ok((code, out))
}

pub struct Vm {
    qemu: Child,
    pub share: TempDir,
    /// The host port the guest's 8080 is forwarded to.
    pub port: u16,
    next: u32,
    /// The box's API token, once the daemon runs and is set up.
    pub token: String,
    /// Seconds from QEMU's start to the guest agent's first request.
    pub boot_s: f64,
}

impl Vm {
    /// Boots the board with `modules` (one `modprobe` line each, e.g. `vivid n_devs=4 …`).
    pub fn boot(modules: &[&str]) -> Vm {
        let share = TempDir::new("vm");
        prepare_share(&share.0, modules);
        let port = free_port();
        let started = Instant::now();
        let qemu = qemu(&share.0, port, "", &[])
            .spawn()
            .expect("qemu-system-x86_64 starts");
        let mut vm = Vm {
            qemu,
            share,
            port,
            next: 0,
            token: String::new(),
            boot_s: 0.0,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !vm.share.0.join("ready").exists() {
            if let Ok(Some(status)) = vm.qemu.try_wait() {
                panic!("the VM stopped ({status}) while booting:\n{}", vm.console());
            }
            assert!(
                Instant::now() < deadline,
                "the VM did not boot in 120 s:\n{}",
                vm.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        vm.boot_s = started.elapsed().as_secs_f64();
        vm
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(self.share.0.join("console.log")).unwrap_or_default()
    }

    /// Runs `script` in the guest (bash, as root); its exit code and output.
    pub fn sh(&mut self, script: &str) -> (i32, String) {
        self.next += 1;
        let qemu = &mut self.qemu;
        guest_sh(&self.share.0, self.next, script, || match qemu.try_wait() {
            Ok(Some(status)) => Err(format!("the VM stopped ({status})")),
            _ => Ok(()),
        })
        .unwrap_or_else(|e| panic!("{e}:\n{}", self.console()))
    }

    /// Like [`Vm::sh`], and the script must succeed.
    pub fn run(&mut self, script: &str) -> String {
        let (code, out) = self.sh(script);
        assert_eq!(code, 0, "in the guest: {script}\n{out}");
        out
    }

    /// Starts the release daemon in the guest with `config` (TOML), waits for its HTTP
    /// server and sets it up (admin password, an API token).
    pub fn start_daemon(&mut self, config: &str) {
        std::fs::write(self.share.0.join("box.toml"), config).unwrap();
        let daemon = crate::fourcastd();
        self.run(&format!(
            "mkdir -p /run/data; setsid {} run --config /run/out/box.toml --data-dir /run/data \
             --listen 0.0.0.0:8080 >/run/out/daemon.log 2>&1 < /dev/null &",
            daemon.display()
        ));
        let deadline = Instant::now() + Duration::from_secs(90);
        while crate::http_get(self.port, "/api/v1/setup").is_err() {
            assert!(
                Instant::now() < deadline,
                "the daemon in the guest did not answer in 90 s:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        let code = self.run("cat /run/data/setup-code");
        self.token = crate::claim(self.port, code.trim(), "vm-board-password");
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.share.0.join("daemon.log")).unwrap_or_default()
    }

    /// GET with the token.
    pub fn get(&self, path: &str) -> Response {
        http_request(
            self.port,
            "GET",
            path,
            &[("Authorization", &format!("Bearer {}", self.token))],
        )
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.daemon_log()))
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_slice(&self.get(path).body).expect("JSON")
    }

    /// Any method with the token and a body.
    pub fn send(&self, method: &str, path: &str, body: &[u8]) -> Response {
        let bearer = format!("Bearer {}", self.token);
        http_send(self.port, method, path, &[("Authorization", &bearer)], body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.daemon_log()))
    }

    /// Polls `check` every 200 ms; panics with the daemon's log after `timeout`. Returns
    /// how long it took.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&mut Vm) -> bool,
    ) -> Duration {
        let start = Instant::now();
        while !check(self) {
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        start.elapsed()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let ctl = self.share.0.join("ctl");
        let _ = std::fs::write(ctl.join("99999.part"), "poweroff");
        let _ = std::fs::rename(ctl.join("99999.part"), ctl.join("99999.sh"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.qemu.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}
