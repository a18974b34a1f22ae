//! The `ssh://user@box[:port]` target: a real box. Its API is reached through an SSH
//! tunnel to its port 8080 (so the harness speaks to loopback, as with the VM); shell
//! steps run over SSH; receivers run on this machine, reached by the box at `--tester`.
//! A power cut is `--power-cut CMD` run here (a switched PDU or a relay on the box's
//! supply); without one the box is told to reboot at once without syncing
//! (`echo b > /proc/sysrq-trigger`), the nearest software gets to a cut. Cables are a
//! person's job unless `--cable CMD` (an HDMI switch) is given: the harness asks and waits
//! for Enter. Bundles come from the box's own build (`--bundle good=… --bundle
//! unhealthy=… --bundle broken=…`), signed with its keys.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::scenario::Firmware;
use crate::target::Target;

pub(crate) struct SshBox {
    /// `user@host`
    pub(crate) host: String,
    pub(crate) ssh_port: u16,
    pub(crate) tester: String,
    pub(crate) power_cut: Option<String>,
    pub(crate) cable: Option<String>,
    pub(crate) bundles: Vec<(Firmware, PathBuf)>,
    local: u16,
    tunnel: Option<Child>,
    boots: u32,
}

/// `ssh://user@host[:port]` → (`user@host`, port).
pub(crate) fn parse_address(target: &str) -> Result<(String, u16), String> {
    let rest = target
        .strip_prefix("ssh://")
        .ok_or_else(|| format!("target {target:?}: vm or ssh://user@host[:port]"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("target {target:?}: port {p:?} is not a number"))?,
        ),
        None => (rest, 22),
    };
    if host.is_empty() || host.contains('/') {
        return Err(format!("target {target:?}: no host"));
    }
    Ok((host.to_string(), port))
}

impl SshBox {
    pub(crate) fn new(target: &str, tester: String) -> Result<SshBox, String> {
        let (host, ssh_port) = parse_address(target)?;
        for program in ["ssh", "scp"] {
            fourcast_e2e::peers::require(program, "openssh-client");
        }
        Ok(SshBox {
            host,
            ssh_port,
            tester,
            power_cut: None,
            cable: None,
            bundles: Vec::new(),
            local: fourcast_e2e::free_port(),
            tunnel: None,
            boots: 0,
        })
    }

    fn ssh(&self) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-p"])
            .arg(self.ssh_port.to_string())
            .arg(&self.host);
        c
    }

    fn open_tunnel(&mut self) -> Result<(), String> {
        if let Some(Ok(None)) = self.tunnel.as_mut().map(Child::try_wait) {
            return Ok(());
        }
        let child = self
            .ssh()
            .args(["-N", "-o", "ExitOnForwardFailure=yes", "-L"])
            .arg(format!("127.0.0.1:{}:127.0.0.1:8080", self.local))
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("ssh: {e}"))?;
        self.tunnel = Some(child);
        Ok(())
    }

    fn ask(&self, what: &str) {
        eprintln!("hil: {what}, then press Enter");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
}

impl Target for SshBox {
    fn power_on(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let _ = self.open_tunnel();
            if fourcast_e2e::http_get(self.local, "/api/v1/setup").is_ok() {
                self.boots += 1;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{}: the API did not answer in 300 s", self.host));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn power_cut(&mut self) -> Result<(), String> {
        match &self.power_cut {
            Some(cmd) => {
                let ok = Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    return Err(format!("--power-cut {cmd:?} failed"));
                }
            }
            None => {
                // The connection dies with the box: its exit code means nothing.
                let _ = self.ssh().arg("echo b > /proc/sysrq-trigger").status();
            }
        }
        if let Some(mut t) = self.tunnel.take() {
            let _ = t.kill();
            let _ = t.wait();
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<(), String> {
        // A real box reboots by itself; the tunnel comes back when it does.
        if !matches!(self.tunnel.as_mut().map(Child::try_wait), Some(Ok(None))) {
            let _ = self.open_tunnel();
        }
        Ok(())
    }

    fn sh(&mut self, script: &str) -> Result<String, String> {
        let out = self
            .ssh()
            .arg(script)
            .output()
            .map_err(|e| format!("ssh: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "on {}: {script} → {}",
                self.host,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn port(&self) -> u16 {
        self.local
    }

    fn tester(&self) -> String {
        self.tester.clone()
    }

    fn boots(&self) -> u32 {
        self.boots
    }

    fn bundle(&mut self, firmware: Firmware) -> Result<PathBuf, String> {
        // A real box's firmware is root-filesystem sized already.
        let firmware = if firmware == Firmware::Large {
            Firmware::Good
        } else {
            firmware
        };
        self.bundles
            .iter()
            .find(|(f, _)| *f == firmware)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| format!("no --bundle {firmware:?} given for this box"))
    }

    fn cable(&mut self, device: &str, plugged: bool) -> Result<(), String> {
        let action = if plugged { "plug in" } else { "pull out" };
        match &self.cable {
            Some(cmd) => {
                let ok = Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "{cmd} {} {device}",
                        if plugged { "in" } else { "out" }
                    ))
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    Ok(())
                } else {
                    Err(format!("--cable {cmd:?} failed"))
                }
            }
            None => {
                self.ask(&format!("{action} the cable of {device}"));
                Ok(())
            }
        }
    }

    fn put(&mut self, name: &str, _bytes: &[u8]) -> Result<(), String> {
        Err(format!(
            "{name}: a real box keeps its own fleet identity; the fleet scenarios run on vm"
        ))
    }

    fn fetch(&mut self, remote: &str, local: &Path) -> Result<(), String> {
        let ok = Command::new("scp")
            .args(["-q", "-o", "BatchMode=yes", "-P"])
            .arg(self.ssh_port.to_string())
            .arg(format!("{}:{remote}", self.host))
            .arg(local)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(())
        } else {
            Err(format!("scp {remote} failed"))
        }
    }

    fn logs(&self) -> String {
        let out = self
            .ssh()
            .arg("journalctl -u fourcastd -n 40 --no-pager")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        format!("fourcastd's journal on {}:\n{out}", self.host)
    }
}

impl Drop for SshBox {
    fn drop(&mut self) {
        if let Some(mut t) = self.tunnel.take() {
            let _ = t.kill();
            let _ = t.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_address_is_read_or_refused_by_name() {
        assert_eq!(
            parse_address("ssh://root@10.1.2.3").unwrap(),
            ("root@10.1.2.3".into(), 22)
        );
        assert_eq!(
            parse_address("ssh://me@box:2222").unwrap(),
            ("me@box".into(), 2222)
        );
        assert!(
            parse_address("ssh://me@box:x")
                .unwrap_err()
                .contains("\"x\"")
        );
        assert!(
            parse_address("box")
                .unwrap_err()
                .contains("ssh://user@host")
        );
    }
}
