//! A scenario as data: one TOML file in `hil/scenarios/`, its steps in order and the pass
//! criteria beside the steps that measure. Parsed strictly: an unknown step or field is an
//! error naming it, so a typo never turns a judgement off.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    #[serde(skip)]
    pub(crate) name: String,
    /// What it shows, in a sentence.
    pub(crate) about: String,
    /// The factory config the box starts from (a file in `hil/configs/`).
    #[serde(default = "default_config")]
    pub(crate) config: String,
    /// In the short set `make test` runs.
    #[serde(default)]
    pub(crate) ci: bool,
    /// How many times the steps run (`make hil`)…
    #[serde(default = "one")]
    pub(crate) repeat: u32,
    /// …and in the short set.
    #[serde(default = "one")]
    pub(crate) ci_repeat: u32,
    /// Targets it can run on (`vm`, `ssh`).
    #[serde(default = "all_targets")]
    pub(crate) targets: Vec<String>,
    pub(crate) steps: Vec<Step>,
}

fn default_config() -> String {
    "camera".into()
}
fn one() -> u32 {
    1
}
fn all_targets() -> Vec<String> {
    vec!["vm".into(), "ssh".into()]
}

/// The firmware an update carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Firmware {
    /// A newer version of this firmware.
    Good,
    /// The same, padded to the size of a real root filesystem (96 MiB): its install takes
    /// long enough to cut (on a real box, `good` is that size already).
    Large,
    /// Boots and runs, but not as the version its bundle claims: fails the health check.
    Unhealthy,
    /// Its daemon cannot start: only the bootloader's boot count can save the box.
    Broken,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Step {
    /// The power comes on (from off, or after a cut): the bootloader picks a slot.
    PowerOn,
    /// Pulls the plug now.
    PowerCut,
    /// Pulls the plug at a random moment within the next `within_s` seconds.
    PowerCutRandom {
        within_s: f64,
    },
    Wait {
        seconds: f64,
    },
    /// A new HLS segment appears on the program's first rung, polled from outside.
    ExpectHls {
        within_s: f64,
        #[serde(default)]
        figure: Option<String>,
    },
    /// The SRT receiver on the tester's side gets the program.
    ExpectSrt {
        within_s: f64,
        #[serde(default)]
        figure: Option<String>,
    },
    /// The input's cable comes out (its source shows no signal).
    PullInput {
        input: String,
    },
    PlugInput {
        input: String,
    },
    /// The API says the input is in `state` (`no-signal`, `live`, …).
    ExpectInput {
        input: String,
        state: String,
        within_s: f64,
        #[serde(default)]
        figure: Option<String>,
    },
    /// The program shows the slate for `input`'s tile (the API's tile source).
    StartReceiver,
    KillReceiver,
    StartRecording,
    /// Writes a new config revision back to back until the next power cut.
    ConfigWrites,
    /// After a boot: the stored config parses, is one the harness wrote, and the API
    /// serves it.
    CheckConfig,
    /// After a boot: every recording plays, and the last one reaches to within
    /// `max_loss_s` of the cut.
    CheckRecordings {
        max_loss_s: f64,
    },
    /// Starts watching the HLS playlists from outside (every 0.5 s) until `check_hls`.
    WatchHls,
    /// Since `watch_hls`: no stall longer than `max_stall_s` and no skipped segment.
    CheckHls {
        max_stall_s: f64,
    },
    /// Sends a bundle carrying `firmware` to the box (the API's upload).
    OtaUpload {
        firmware: Firmware,
    },
    /// The OTA job reaches `phase` (`installing`, `succeeded`, `rolled_back`, `failed`).
    ExpectOta {
        phase: String,
        within_s: f64,
        #[serde(default)]
        figure: Option<String>,
        /// Words the job's message must hold.
        #[serde(default)]
        message: Option<String>,
    },
    /// After a power cut during an install, one of its two right ends: cut before RAUC
    /// made the new slot primary, the job `failed` as cut short and the old slot runs; cut
    /// after, the new slot booted, passed health and the job `succeeded`. Figure
    /// `install finished before the cut` (1 or 0).
    ExpectCutInstall {
        within_s: f64,
    },
    /// The slot the box booted, by the API: `new` (the one the last update went to) or
    /// `old`.
    ExpectSlot {
        slot: String,
    },
    /// Caps the box's network towards the tester at `kbps` (tc tbf on its uplink's
    /// interface).
    CapNetwork {
        kbps: u32,
    },
    UncapNetwork,
    /// An adaptive uplink's target bitrate comes under `below_kbps`.
    ExpectAdapted {
        uplink: String,
        below_kbps: u32,
        within_s: f64,
        #[serde(default)]
        figure: Option<String>,
    },
    /// What the SRT receiver got since the last check decodes cleanly, with no gap between
    /// frames above `max_gap_s`.
    CheckSrt {
        max_gap_s: f64,
    },
    /// The daemon's resident memory has grown at most `max_growth_mib` since the first
    /// check.
    CheckMemory {
        max_growth_mib: f64,
    },
    /// The fleet's MQTT broker on the tester's side (mosquitto, TLS with client
    /// certificates; the box's identity is put on the box before it boots).
    StartBroker,
    KillBroker,
    /// The broker back, and the fleet manager following the box's events.
    ResumeBroker,
    /// The box's fleet link is in `state` (`connected`, …).
    ExpectFleet {
        state: String,
        within_s: f64,
        #[serde(default)]
        figure: Option<String>,
    },
    /// The box's queue drains within `within_s` of the broker's return, the events reach
    /// the fleet manager in order with none missing, and they include `kinds`.
    CheckFleetEvents {
        kinds: Vec<String>,
        within_s: f64,
    },
    /// How many boots the bootloader made since the last `power_on` (a real reboot
    /// counts one, a fallback several).
    ExpectBoots {
        at_least: u32,
    },
}

impl Scenario {
    pub(crate) fn parse(name: &str, text: &str) -> Result<Scenario, String> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        s.name = name.to_string();
        if s.steps.is_empty() {
            return Err(format!("{name}: no steps"));
        }
        if s.repeat == 0 || s.ci_repeat == 0 {
            return Err(format!("{name}: repeat and ci_repeat are at least 1"));
        }
        for t in &s.targets {
            if t != "vm" && t != "ssh" {
                return Err(format!("{name}: targets: unknown target {t:?} (vm, ssh)"));
            }
        }
        // Only the tester's side may be set up before the power comes on.
        let first_box_step = s.steps.iter().find(|st| {
            !matches!(
                st,
                Step::StartReceiver | Step::StartBroker | Step::Wait { .. }
            )
        });
        if !matches!(first_box_step, Some(Step::PowerOn)) {
            return Err(format!("{name}: power_on comes before any step on the box"));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy();
            Scenario::parse(&name, &text).unwrap();
            n += 1;
        }
        assert!(n >= 8, "{n} scenarios");
    }

    #[test]
    fn a_typo_is_an_error_naming_it() {
        let e = Scenario::parse(
            "x",
            "about = \"a\"\n[[steps]]\ndo = \"power_on\"\n[[steps]]\ndo = \"expect_hls\"\nwithin = 3\n",
        )
        .unwrap_err();
        assert!(e.contains("within"), "{e}");
        let e = Scenario::parse("x", "about = \"a\"\n[[steps]]\ndo = \"power_of\"\n").unwrap_err();
        assert!(e.contains("power_of"), "{e}");
        let e = Scenario::parse(
            "x",
            "about = \"a\"\n[[steps]]\ndo = \"wait\"\nseconds = 1\n[[steps]]\ndo = \"power_cut\"\n",
        )
        .unwrap_err();
        assert!(e.contains("power_on comes before"), "{e}");
    }
}
