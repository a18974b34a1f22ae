//! RAUC over D-Bus (`de.pengutronix.rauc.Installer`, only what RAUC 1.8 has) and
//! `rauc info` for a bundle's manifest. Thin I/O: every decision is in the pure modules.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use zbus::{Connection, OwnedVariant, Variant, proxy};

use crate::manifest::{Manifest, Slot, rauc_error};

#[proxy(
    interface = "de.pengutronix.rauc.Installer",
    default_service = "de.pengutronix.rauc",
    default_path = "/"
)]
trait Installer {
    fn install_bundle(&self, source: &str, args: HashMap<&str, Variant<'_>>) -> zbus::Result<()>;
    fn mark(&self, state: &str, slot_identifier: &str) -> zbus::Result<(String, String)>;
    fn get_slot_status(&self) -> zbus::Result<Vec<(String, HashMap<String, OwnedVariant>)>>;
    fn get_primary(&self) -> zbus::Result<String>;
    #[zbus(signal)]
    fn completed(&self, result: i32) -> zbus::Result<()>;
    #[zbus(property)]
    fn operation(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn last_error(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn progress(&self) -> zbus::Result<(i32, String, i32)>;
    #[zbus(property)]
    fn compatible(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn boot_slot(&self) -> zbus::Result<String>;
}

/// RAUC's state as the agent reads it.
#[derive(Debug, Clone)]
pub struct Status {
    /// `idle` or `installing`.
    pub operation: String,
    pub compatible: String,
    pub last_error: String,
    pub slots: Vec<Slot>,
}

/// A link to RAUC on one bus.
pub struct Rauc {
    installer: InstallerProxy<'static>,
}

/// Says which bus and what went wrong, in words.
fn said(what: &str, e: zbus::Error) -> String {
    match &e {
        zbus::Error::MethodError(name, text, _) => match text {
            Some(t) => format!("{what}: {t} ({})", name.as_str()),
            None => format!("{what}: {}", name.as_str()),
        },
        _ => format!("{what}: {e}"),
    }
}

impl Rauc {
    /// `bus`: `system`, or a D-Bus address (`unix:path=…`) for a test rig.
    pub async fn connect(bus: &str) -> Result<Rauc, String> {
        let connection = if bus == "system" {
            Connection::system().await
        } else {
            zbus::connection::Builder::address(bus).build().await
        }
        .map_err(|e| said(&format!("cannot reach the D-Bus at {bus}"), e))?;
        let installer = InstallerProxy::new(&connection)
            .await
            .map_err(|e| said("cannot talk to RAUC", e))?;
        Ok(Rauc { installer })
    }

    pub async fn status(&self) -> Result<Status, String> {
        let operation = self
            .installer
            .operation()
            .await
            .map_err(|e| said("RAUC's operation", e))?;
        let compatible = self
            .installer
            .compatible()
            .await
            .map_err(|e| said("RAUC's compatible", e))?;
        let last_error = self.installer.last_error().await.unwrap_or_default();
        let slots = self
            .installer
            .get_slot_status()
            .await
            .map_err(|e| said("RAUC's slots", e))?
            .into_iter()
            .map(|(name, fields)| slot(name, &fields))
            .collect();
        Ok(Status {
            operation,
            compatible,
            last_error,
            slots,
        })
    }

    /// Installs `bundle` into the inactive slot; `progress` hears each percentage. Returns
    /// the slot RAUC made primary (where the box boots next).
    pub async fn install(
        &self,
        bundle: &Path,
        timeout: Duration,
        mut progress: impl FnMut(u8),
    ) -> Result<String, String> {
        let mut completed = self
            .installer
            .receive_completed()
            .await
            .map_err(|e| said("RAUC's Completed signal", e))?;
        let mut percent = self.installer.receive_progress_changed().await;
        let path = bundle.to_string_lossy();
        self.installer
            .install_bundle(&path, HashMap::new())
            .await
            .map_err(|e| said("RAUC refused to install", e))?;
        let wait = async {
            loop {
                tokio::select! {
                    done = completed.next() => {
                        let Some(done) = done else {
                            return Err("RAUC went away during the install".to_string());
                        };
                        let code = done.args().map(|a| a.result).unwrap_or(-1);
                        return Ok(code);
                    }
                    Some(change) = percent.next() => {
                        if let Ok((p, _, _)) = change.get().await {
                            progress(p.clamp(0, 100) as u8);
                        }
                    }
                }
            }
        };
        let code = tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| format!("RAUC did not finish within {} s", timeout.as_secs()))??;
        if code != 0 {
            let why = self.installer.last_error().await.unwrap_or_default();
            return Err(if why.is_empty() {
                format!("RAUC's install failed (code {code})")
            } else {
                why
            });
        }
        self.installer
            .get_primary()
            .await
            .map_err(|e| said("RAUC installed but names no primary slot", e))
    }

    /// The slot the bootloader boots next.
    pub async fn primary(&self) -> Result<String, String> {
        self.installer
            .get_primary()
            .await
            .map_err(|e| said("RAUC's primary slot", e))
    }

    /// `Mark(state, which)`: `good`/`bad`/`active` for `booted`/`other` or a slot name.
    /// Returns RAUC's message.
    pub async fn mark(&self, state: &str, which: &str) -> Result<String, String> {
        self.installer
            .mark(state, which)
            .await
            .map(|(_, message)| message)
            .map_err(|e| said(&format!("RAUC could not mark {which} {state}"), e))
    }
}

fn slot(name: String, fields: &HashMap<String, OwnedVariant>) -> Slot {
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(|v| <&str>::try_from(v).ok())
            .unwrap_or_default()
            .to_string()
    };
    let version = Some(text("bundle.version")).filter(|v| !v.is_empty());
    Slot {
        name,
        class: text("class"),
        bootname: text("bootname"),
        state: text("state"),
        boot_status: text("boot-status"),
        version,
    }
}

/// Reads a bundle's manifest with `rauc info`, which checks its signature against the
/// keyring in `conf` first: a tampered, unsigned or foreign bundle fails here, in RAUC's
/// words.
pub async fn info(conf: &Path, bundle: &Path) -> Result<Manifest, String> {
    let mut command = tokio::process::Command::new("rauc");
    command
        .arg(format!("--conf={}", conf.display()))
        .arg("info")
        .arg("--output-format=json")
        .arg(bundle)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .map_err(|_| "rauc info took over 120 s".to_string())?
        .map_err(|e| format!("cannot run rauc: {e}"))?;
    if !out.status.success() {
        return Err(rauc_error(&String::from_utf8_lossy(&out.stderr)));
    }
    Manifest::from_rauc_info(&String::from_utf8_lossy(&out.stdout))
}
