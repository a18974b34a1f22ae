//! `[ota]`: when and how the box takes a firmware update (the agent is
//! `firmware/fourcastd/src/ota/`; where RAUC is comes from the daemon's command line, never
//! from here, so no API client can point the box at another updater).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::validate::{err, in_range};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ota {
    /// When a job that does not say reboots the box into new firmware: `now`, `idle` (no
    /// uplink live and not recording) or `window` (inside `window`). Downloads and the
    /// install into the other slot go ahead while live; only the reboot waits.
    pub install: Install,
    /// The maintenance window, `HH:MM-HH:MM` in UTC (may wrap midnight).
    pub window: String,
    /// How long new firmware has to prove itself after its first boot, s (30–3600).
    pub health_window_s: u32,
    /// A download's cap, kbit/s (0: none) …
    pub download_max_kbps: u32,
    /// … and, while an uplink is live, this share of the live uplinks' bitrate, % (0–1000;
    /// 0: none). The lower of the two holds.
    pub download_uplink_percent: u32,
    /// The largest bundle taken, MiB (1–16384).
    pub max_bundle_mib: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Install {
    Now,
    Idle,
    Window,
}

impl Default for Ota {
    fn default() -> Self {
        Ota {
            install: Install::Idle,
            window: "02:00-05:00".into(),
            health_window_s: 180,
            download_max_kbps: 0,
            download_uplink_percent: 50,
            max_bundle_mib: 2048,
        }
    }
}

impl Ota {
    pub fn is_default(&self) -> bool {
        self == &Ota::default()
    }

    /// The window as minutes of the UTC day, (start, end).
    pub fn window_minutes(&self) -> Result<(u32, u32), String> {
        let bad = || format!("{:?}: use HH:MM-HH:MM (UTC), e.g. 02:00-05:00", self.window);
        let (a, b) = self.window.split_once('-').ok_or_else(bad)?;
        let minute = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        match (minute(a), minute(b)) {
            (Some(s), Some(e)) if s != e => Ok((s, e)),
            _ => Err(bad()),
        }
    }
}

pub(crate) fn check(o: &Ota, errs: &mut Vec<FieldError>) {
    in_range(
        errs,
        "ota.health_window_s",
        o.health_window_s,
        &(30..=3600),
        " s",
    );
    in_range(
        errs,
        "ota.download_uplink_percent",
        o.download_uplink_percent,
        &(0..=1000),
        " %",
    );
    in_range(
        errs,
        "ota.max_bundle_mib",
        o.max_bundle_mib,
        &(1..=16_384),
        " MiB",
    );
    if let Err(e) = o.window_minutes() {
        err(errs, "ota.window", e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_and_bad_ones_are_named() {
        let mut o = Ota::default();
        assert_eq!(o.window_minutes(), Ok((120, 300)));
        o.window = "23:30-01:00".into();
        assert_eq!(o.window_minutes(), Ok((1410, 60)));
        for bad in ["2-5", "02:00", "25:00-01:00", "01:00-01:00"] {
            o.window = bad.into();
            let mut errs = Vec::new();
            check(&o, &mut errs);
            assert_eq!(errs.len(), 1, "{bad}");
            assert_eq!(errs[0].path, "ota.window");
        }
    }
}
