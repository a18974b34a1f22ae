//! What a bundle says about itself: `rauc info --output-format=json` read into the two
//! fields the agent decides on (RAUC 1.8 has no `InspectBundle` over D-Bus), and the slot
//! list RAUC reports, reduced to what the box shows.

use serde::{Deserialize, Serialize};

/// A bundle's manifest, as far as the agent needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub compatible: String,
    pub version: String,
}

impl Manifest {
    /// Reads `rauc info --output-format=json` (its signature already checked by RAUC).
    pub fn from_rauc_info(json: &str) -> Result<Manifest, String> {
        #[derive(Deserialize)]
        struct Info {
            compatible: Option<String>,
            version: Option<String>,
        }
        let info: Info = serde_json::from_str(json)
            .map_err(|e| format!("rauc info printed something unexpected: {e}"))?;
        let compatible = info
            .compatible
            .filter(|c| !c.is_empty())
            .ok_or("the bundle's manifest has no compatible")?;
        let version = info
            .version
            .filter(|v| !v.is_empty())
            .ok_or("the bundle's manifest has no version")?;
        Ok(Manifest {
            compatible,
            version,
        })
    }

    /// May this bundle go on a box whose RAUC says `compatible`? RAUC checks it too; the
    /// agent checks first so the reason reaches the user in words.
    pub fn fits(&self, compatible: &str) -> Result<(), String> {
        if self.compatible == compatible {
            Ok(())
        } else {
            Err(format!(
                "the bundle is for {:?}, this box is {compatible:?}",
                self.compatible
            ))
        }
    }
}

/// One of the box's slots, as RAUC's `GetSlotStatus` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// RAUC's name, `rootfs.0`.
    pub name: String,
    pub class: String,
    /// The bootloader's name for it, `A`.
    pub bootname: String,
    /// `booted`, `active` or `inactive`.
    pub state: String,
    /// `good` or `bad` (what the bootloader will do with it).
    pub boot_status: String,
    /// The version last installed into it, when RAUC installed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The booted slot's RAUC name, from the slot list.
pub fn booted(slots: &[Slot]) -> Option<&Slot> {
    slots.iter().find(|s| s.state == "booted")
}

/// Reads the last lines RAUC printed on a failed `rauc info` into one reason, without its
/// log prefixes.
pub fn rauc_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("rauc-Message"))
        .collect();
    let last = lines.last().copied().unwrap_or("rauc info failed");
    last.trim_start_matches("rauc-Critical")
        .trim_start_matches(|c: char| c == ':' || c.is_ascii_digit() || c == '.' || c == ' ')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_rauc_info_prints() {
        let json = r#"{"compatible":"fourcast-test","version":"0.2.0","description":null,"build":null,"hooks":[],"images":[{"rootfs":{"filename":"rootfs.img","size":4096}}]}"#;
        let m = Manifest::from_rauc_info(json).unwrap();
        assert_eq!(m.version, "0.2.0");
        assert!(m.fits("fourcast-test").is_ok());
        let e = m.fits("fourcast-rk3588").unwrap_err();
        assert!(e.contains("fourcast-rk3588"), "{e}");
        let e = Manifest::from_rauc_info(r#"{"compatible":"x","version":null}"#).unwrap_err();
        assert!(e.contains("no version"), "{e}");
        assert!(Manifest::from_rauc_info("not json").is_err());
    }

    #[test]
    fn a_raucs_complaint_becomes_one_reason() {
        let stderr = "rauc-Message: 18:46:57.068: Verifying bundle signature... \nFailed to verify bundle signature: signature verification failed: certificate verify error\n";
        assert_eq!(
            rauc_error(stderr),
            "Failed to verify bundle signature: signature verification failed: certificate verify error"
        );
        assert_eq!(rauc_error(""), "rauc info failed");
    }
}
