//! When an update may install and reboot without cutting a live show: now, at the next idle
//! moment (no uplink live, not recording), or inside a maintenance window. Downloads may
//! run while live; the reboot waits. A technician may postpone or force.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum When {
    Now,
    Idle,
    /// Minutes after midnight UTC; the window may wrap past midnight (22:00–04:00).
    Window {
        start_min: u32,
        end_min: u32,
    },
}

/// What the box is doing that an update must not cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    pub uplinks_live: Vec<String>,
    pub recording: bool,
}

/// Go ahead, or wait (why, and when it might go, if anyone can tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Go,
    Wait {
        why: String,
        retry_at_ms: Option<u64>,
    },
}

const DAY_MS: u64 = 86_400_000;

/// Decides at `now_ms` for `policy`, given what runs; `postponed_until_ms` (a technician's
/// postpone) holds even `now`; `forced` goes whatever runs.
pub fn decide(
    policy: &When,
    activity: &Activity,
    now_ms: u64,
    postponed_until_ms: Option<u64>,
    forced: bool,
) -> Decision {
    if forced {
        return Decision::Go;
    }
    if let Some(until) = postponed_until_ms
        && now_ms < until
    {
        return Decision::Wait {
            why: "postponed by a technician".into(),
            retry_at_ms: Some(until),
        };
    }
    match policy {
        When::Now => Decision::Go,
        When::Idle => {
            let mut busy = Vec::new();
            if !activity.uplinks_live.is_empty() {
                busy.push(format!(
                    "uplinks live: {}",
                    activity.uplinks_live.join(", ")
                ));
            }
            if activity.recording {
                busy.push("recording".to_string());
            }
            if busy.is_empty() {
                Decision::Go
            } else {
                Decision::Wait {
                    why: format!(
                        "busy ({}): reboots into the update when the show ends",
                        busy.join("; ")
                    ),
                    retry_at_ms: None,
                }
            }
        }
        When::Window { start_min, end_min } => {
            let minute = ((now_ms % DAY_MS) / 60_000) as u32;
            let inside = if start_min <= end_min {
                (*start_min..*end_min).contains(&minute)
            } else {
                minute >= *start_min || minute < *end_min
            };
            if inside {
                return Decision::Go;
            }
            let day_start = now_ms - now_ms % DAY_MS;
            let mut at = day_start + u64::from(*start_min) * 60_000;
            if at <= now_ms {
                at += DAY_MS;
            }
            Decision::Wait {
                why: format!(
                    "outside the maintenance window {:02}:{:02}–{:02}:{:02} UTC",
                    start_min / 60,
                    start_min % 60,
                    end_min / 60,
                    end_min % 60
                ),
                retry_at_ms: Some(at),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn idle_waits_for_the_show_to_end_and_says_why() {
        let live = Activity {
            uplinks_live: vec!["origin".into()],
            recording: true,
        };
        let d = decide(&When::Idle, &live, 0, None, false);
        assert!(
            matches!(&d, Decision::Wait { why, retry_at_ms: None } if why.contains("origin") && why.contains("recording")),
            "{d:?}"
        );
        assert_eq!(
            decide(&When::Idle, &Activity::default(), 0, None, false),
            Decision::Go
        );
        assert_eq!(
            decide(&When::Idle, &live, 0, None, true),
            Decision::Go,
            "forced"
        );
    }

    #[test]
    fn windows_wrap_midnight_and_say_when_they_open() {
        let night = When::Window {
            start_min: 22 * 60,
            end_min: 4 * 60,
        };
        assert_eq!(
            decide(&night, &Activity::default(), 23 * H, None, false),
            Decision::Go
        );
        assert_eq!(
            decide(&night, &Activity::default(), 3 * H, None, false),
            Decision::Go
        );
        let d = decide(&night, &Activity::default(), 12 * H, None, false);
        assert_eq!(
            d,
            Decision::Wait {
                why: "outside the maintenance window 22:00–04:00 UTC".into(),
                retry_at_ms: Some(22 * H)
            }
        );
    }

    #[test]
    fn a_postpone_holds_even_now() {
        let d = decide(&When::Now, &Activity::default(), 10, Some(1_000), false);
        assert!(matches!(
            d,
            Decision::Wait {
                retry_at_ms: Some(1_000),
                ..
            }
        ));
        assert_eq!(
            decide(&When::Now, &Activity::default(), 1_000, Some(1_000), false),
            Decision::Go
        );
    }
}
