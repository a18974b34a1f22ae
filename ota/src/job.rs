//! One update job: `queued → downloading → verifying → installing → rebooting → checking
//! health → succeeded | failed | rolled back`. One method per transition, each checking
//! where it may come from; the agent persists the job before every step that can be
//! interrupted, and [`Job::resume`] says what to do with a job found after a restart.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Downloading {
        done_bytes: u64,
        total_bytes: Option<u64>,
    },
    Verifying,
    Installing {
        percent: u8,
    },
    /// Installed into `slot`; the box reboots into it.
    Rebooting {
        slot: String,
    },
    /// Booted into the new slot; healthy by `deadline_ms` or rolled back.
    CheckingHealth {
        slot: String,
        deadline_ms: u64,
    },
    Succeeded,
    Failed {
        reason: String,
    },
    RolledBack {
        reason: String,
    },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Downloading { .. } => "downloading",
            Phase::Verifying => "verifying",
            Phase::Installing { .. } => "installing",
            Phase::Rebooting { .. } => "rebooting",
            Phase::CheckingHealth { .. } => "checking_health",
            Phase::Succeeded => "succeeded",
            Phase::Failed { .. } => "failed",
            Phase::RolledBack { .. } => "rolled_back",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Phase::Succeeded | Phase::Failed { .. } | Phase::RolledBack { .. }
        )
    }
}

/// A transition asked for from a phase it cannot come from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an update job cannot go from {from} to {to}")]
pub struct BadTransition {
    pub from: &'static str,
    pub to: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    /// Where the bundle comes from, and its SHA-256 (hex) as the job pins it.
    pub url: String,
    pub sha256: String,
    /// May install a version older than the running one.
    pub allow_downgrade: bool,
    /// The slot and version the box ran when the job started (what a rollback returns to).
    pub from_slot: String,
    pub from_version: String,
    /// The version the bundle's manifest says it installs (known once verified).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to_version: String,
    /// When the reboot may go, if the job says (else the box's `[ota]` policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<crate::when::When>,
    /// How long the new firmware has to prove itself after booting, ms.
    pub health_window_ms: u64,
    /// Stored flat: `"phase": "downloading", "done_bytes": …`.
    #[serde(flatten)]
    pub phase: Phase,
    /// Every phase entered, with when.
    pub history: Vec<(String, u64)>,
}

impl Job {
    pub fn new(
        id: &str,
        url: &str,
        sha256: &str,
        from_slot: &str,
        from_version: &str,
        now_ms: u64,
    ) -> Job {
        Job {
            id: id.into(),
            url: url.into(),
            sha256: sha256.to_ascii_lowercase(),
            allow_downgrade: false,
            from_slot: from_slot.into(),
            from_version: from_version.into(),
            to_version: String::new(),
            when: None,
            health_window_ms: 120_000,
            phase: Phase::Queued,
            history: vec![("queued".into(), now_ms)],
        }
    }

    fn go(&mut self, allowed: bool, to: Phase, now_ms: u64) -> Result<(), BadTransition> {
        if !allowed {
            return Err(BadTransition {
                from: self.phase.name(),
                to: to.name(),
            });
        }
        if self.phase.name() != to.name() {
            self.history.push((to.name().into(), now_ms));
        }
        self.phase = to;
        Ok(())
    }

    /// Bytes arrived (from `queued`, or more of a download).
    pub fn downloading(
        &mut self,
        done_bytes: u64,
        total_bytes: Option<u64>,
        now_ms: u64,
    ) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::Queued | Phase::Downloading { .. });
        self.go(
            ok,
            Phase::Downloading {
                done_bytes,
                total_bytes,
            },
            now_ms,
        )
    }

    /// The whole bundle is here: its hash and signature are checked next.
    pub fn verifying(&mut self, now_ms: u64) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::Downloading { .. } | Phase::Verifying);
        self.go(ok, Phase::Verifying, now_ms)
    }

    pub fn installing(&mut self, percent: u8, now_ms: u64) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::Verifying | Phase::Installing { .. });
        self.go(
            ok,
            Phase::Installing {
                percent: percent.min(100),
            },
            now_ms,
        )
    }

    /// RAUC installed into `slot`; the reboot is next (when the policy allows).
    pub fn rebooting(&mut self, slot: &str, now_ms: u64) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::Installing { .. });
        self.go(ok, Phase::Rebooting { slot: slot.into() }, now_ms)
    }

    /// Started again after the reboot, from `booted_slot`. Booted where the job installed:
    /// the health window opens. Anywhere else: the bootloader fell back on its own, and the
    /// job fails saying where the box runs.
    pub fn booted(&mut self, booted_slot: &str, now_ms: u64) -> Result<(), BadTransition> {
        let Phase::Rebooting { slot } = &self.phase else {
            return self.go(
                false,
                Phase::CheckingHealth {
                    slot: booted_slot.into(),
                    deadline_ms: 0,
                },
                now_ms,
            );
        };
        if slot != booted_slot {
            let reason = format!(
                "installed into {slot} but the box booted {booted_slot}: the bootloader fell back without being asked"
            );
            return self.go(true, Phase::Failed { reason }, now_ms);
        }
        let deadline_ms = now_ms + self.health_window_ms;
        let slot = slot.clone();
        self.go(true, Phase::CheckingHealth { slot, deadline_ms }, now_ms)
    }

    /// Healthy within the window: the slot is marked good and the job succeeded.
    pub fn healthy(&mut self, now_ms: u64) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::CheckingHealth { .. });
        self.go(ok, Phase::Succeeded, now_ms)
    }

    /// Not healthy in time: the new slot is marked bad and the box returns to the old one.
    pub fn rolled_back(&mut self, reason: &str, now_ms: u64) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::CheckingHealth { .. });
        self.go(
            ok,
            Phase::RolledBack {
                reason: reason.into(),
            },
            now_ms,
        )
    }

    /// Found, while checking health after a restart, running another slot than the one
    /// being checked: the bootloader fell back on its own.
    pub fn fell_back(&mut self, reason: &str, now_ms: u64) -> Result<(), BadTransition> {
        let ok = matches!(self.phase, Phase::CheckingHealth { .. });
        self.go(
            ok,
            Phase::Failed {
                reason: reason.into(),
            },
            now_ms,
        )
    }

    /// Refused or broken before the reboot (bad hash, signature, compatible, downgrade,
    /// RAUC's error): nothing changed in the booted slot.
    pub fn failed(&mut self, reason: &str, now_ms: u64) -> Result<(), BadTransition> {
        let ok = !self.phase.is_final() && !matches!(self.phase, Phase::CheckingHealth { .. });
        self.go(
            ok,
            Phase::Failed {
                reason: reason.into(),
            },
            now_ms,
        )
    }

    /// What to do with this job, found in the store after a restart or a power cut.
    pub fn resume(&self, booted_slot: &str, now_ms: u64) -> Resume {
        match &self.phase {
            Phase::Queued => Resume::Start,
            Phase::Downloading { done_bytes, .. } => Resume::Download {
                from_byte: *done_bytes,
            },
            // The bundle on disk is checked again: a cut during the check proves nothing.
            Phase::Verifying => Resume::Verify,
            // RAUC's own state says whether the install finished; the agent asks it.
            Phase::Installing { .. } => Resume::AskRauc,
            Phase::Rebooting { .. } => Resume::Booted(booted_slot.to_string()),
            Phase::CheckingHealth { slot, deadline_ms }
                if slot == booted_slot && now_ms < *deadline_ms =>
            {
                Resume::CheckHealth {
                    remaining_ms: deadline_ms - now_ms,
                }
            }
            Phase::CheckingHealth { slot, .. } if slot == booted_slot => Resume::RollBack {
                reason: "the health window ended while the box was down".into(),
            },
            Phase::CheckingHealth { slot, .. } => Resume::Report(format!(
                "was checking {slot} but the box booted {booted_slot}: the bootloader fell back"
            )),
            _ => Resume::Done,
        }
    }
}

/// What a job found after a restart needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    Start,
    Download {
        from_byte: u64,
    },
    Verify,
    AskRauc,
    /// The reboot happened: call [`Job::booted`] with this slot.
    Booted(String),
    CheckHealth {
        remaining_ms: u64,
    },
    RollBack {
        reason: String,
    },
    /// Fail the job with this reason (nothing left to try).
    Report(String),
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job::new(
            "j1",
            "https://updates/b.raucb",
            "ABCD",
            "rootfs.0",
            "0.1.0",
            0,
        )
    }

    #[test]
    fn the_happy_path_in_order_and_nothing_skipped() {
        let mut j = job();
        assert!(
            j.installing(0, 1).is_err(),
            "cannot install before downloading"
        );
        j.downloading(10, Some(100), 1).unwrap();
        j.downloading(100, Some(100), 2).unwrap();
        j.verifying(3).unwrap();
        j.installing(50, 4).unwrap();
        assert!(j.healthy(5).is_err());
        j.rebooting("rootfs.1", 6).unwrap();
        j.booted("rootfs.1", 10).unwrap();
        assert_eq!(
            j.phase,
            Phase::CheckingHealth {
                slot: "rootfs.1".into(),
                deadline_ms: 120_010
            }
        );
        assert!(
            j.failed("late", 11).is_err(),
            "after the reboot it is a rollback, not a failure"
        );
        j.healthy(20).unwrap();
        let names: Vec<&str> = j.history.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "queued",
                "downloading",
                "verifying",
                "installing",
                "rebooting",
                "checking_health",
                "succeeded"
            ]
        );
        assert!(j.rolled_back("x", 21).is_err(), "final");
        assert_eq!(j.sha256, "abcd");
    }

    #[test]
    fn an_unasked_fallback_fails_the_job_naming_the_slot() {
        let mut j = job();
        j.downloading(1, None, 0).unwrap();
        j.verifying(0).unwrap();
        j.installing(100, 0).unwrap();
        j.rebooting("rootfs.1", 0).unwrap();
        j.booted("rootfs.0", 5).unwrap();
        assert!(matches!(&j.phase, Phase::Failed { reason } if reason.contains("booted rootfs.0")));
    }

    #[test]
    fn a_power_cut_anywhere_resumes_or_reports() {
        let mut j = job();
        assert_eq!(j.resume("rootfs.0", 0), Resume::Start);
        j.downloading(4096, Some(9000), 0).unwrap();
        assert_eq!(
            j.resume("rootfs.0", 0),
            Resume::Download { from_byte: 4096 }
        );
        j.verifying(0).unwrap();
        assert_eq!(j.resume("rootfs.0", 0), Resume::Verify);
        j.installing(30, 0).unwrap();
        assert_eq!(j.resume("rootfs.0", 0), Resume::AskRauc);
        j.rebooting("rootfs.1", 0).unwrap();
        assert_eq!(j.resume("rootfs.1", 0), Resume::Booted("rootfs.1".into()));
        j.booted("rootfs.1", 1_000).unwrap();
        assert_eq!(
            j.resume("rootfs.1", 21_000),
            Resume::CheckHealth {
                remaining_ms: 100_000
            }
        );
        assert!(matches!(
            j.resume("rootfs.1", 200_000),
            Resume::RollBack { .. }
        ));
        assert!(
            matches!(j.resume("rootfs.0", 2_000), Resume::Report(r) if r.contains("fell back"))
        );
        let mut fell = j.clone();
        fell.fell_back("fell back", 2_000).unwrap();
        assert_eq!(fell.phase.name(), "failed");
        j.rolled_back("no frames", 2_000).unwrap();
        assert_eq!(j.resume("rootfs.0", 3_000), Resume::Done);
    }

    #[test]
    fn a_job_survives_being_stored() {
        let mut j = job();
        j.downloading(5, Some(10), 1).unwrap();
        let back: Job = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
        assert_eq!(back, j);
    }
}
