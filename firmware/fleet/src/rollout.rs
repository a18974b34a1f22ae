//! A staged firmware rollout across boxes, as a pure state machine with time passed in: it
//! says which boxes get the update job now (a batch at a time, each batch twice the last,
//! at most `per_minute` starts a minute), counts a box done only when the box reports the
//! job's end after its *post-update health check* (`succeeded`, `failed`, `rolled_back`),
//! and aborts (no new boxes) once failures pass the threshold. Boxes never started stay
//! untouched.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The first batch's size; each next batch is twice the last.
    pub batch: usize,
    /// At most this many boxes get the job in any minute.
    pub per_minute: u32,
    /// Abort when more than this share of started boxes failed, %.
    pub max_failure_pct: f64,
    /// A box that has not reported an end this long after its start counts as failed, ms.
    pub box_timeout_ms: u64,
}

/// Where one box stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Not started: untouched.
    Pending,
    /// Sent the job; `phase` is the last the box reported.
    Running {
        phase: String,
    },
    Succeeded,
    /// Refused, failed, rolled back or silent past its time, with why.
    Failed {
        phase: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct Track {
    outcome: Outcome,
    started_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Rollout {
    plan: Plan,
    order: Vec<String>,
    boxes: BTreeMap<String, Track>,
    /// Boxes `order[..opened]` belong to batches opened so far.
    opened: usize,
    next_batch: usize,
    starts: VecDeque<u64>,
    pub aborted: Option<String>,
}

/// How many boxes stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub untouched: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
}

impl Rollout {
    pub fn new(plan: Plan, ids: Vec<String>) -> Rollout {
        let boxes = ids
            .iter()
            .map(|id| {
                let t = Track {
                    outcome: Outcome::Pending,
                    started_ms: None,
                };
                (id.clone(), t)
            })
            .collect();
        Rollout {
            next_batch: plan.batch.max(1),
            plan,
            order: ids,
            boxes,
            opened: 0,
            starts: VecDeque::new(),
            aborted: None,
        }
    }

    fn batch_ended(&self) -> bool {
        self.order[..self.opened].iter().all(|id| {
            matches!(
                self.boxes[id].outcome,
                Outcome::Succeeded | Outcome::Failed { .. }
            )
        })
    }

    /// The boxes to send the job to now (each is then `running`).
    pub fn due(&mut self, now_ms: u64) -> Vec<String> {
        if self.aborted.is_some() {
            return Vec::new();
        }
        if self.batch_ended() && self.opened < self.order.len() {
            self.opened = (self.opened + self.next_batch).min(self.order.len());
            self.next_batch = self.next_batch.saturating_mul(2);
        }
        while self.starts.front().is_some_and(|t| now_ms >= t + 60_000) {
            self.starts.pop_front();
        }
        let room = (self.plan.per_minute as usize).saturating_sub(self.starts.len());
        let due: Vec<String> = self.order[..self.opened]
            .iter()
            .filter(|id| self.boxes[*id].outcome == Outcome::Pending)
            .take(room)
            .cloned()
            .collect();
        for id in &due {
            if let Some(t) = self.boxes.get_mut(id) {
                t.outcome = Outcome::Running {
                    phase: "sent".into(),
                };
                t.started_ms = Some(now_ms);
            }
            self.starts.push_back(now_ms);
        }
        due
    }

    /// A box reported its job's phase (`reason` with `failed` and `rolled_back`). Reports
    /// from boxes not started, or after their end, change nothing.
    pub fn report(&mut self, id: &str, phase: &str, reason: Option<&str>) {
        let Some(t) = self.boxes.get_mut(id) else {
            return;
        };
        if !matches!(t.outcome, Outcome::Running { .. }) {
            return;
        }
        t.outcome = match phase {
            "succeeded" => Outcome::Succeeded,
            "failed" | "rolled_back" | "refused" => Outcome::Failed {
                phase: phase.into(),
                reason: reason.unwrap_or("").into(),
            },
            other => Outcome::Running {
                phase: other.into(),
            },
        };
        self.check();
    }

    /// Boxes silent past their time fail; the threshold is checked.
    pub fn tick(&mut self, now_ms: u64) {
        for t in self.boxes.values_mut() {
            if let (Outcome::Running { phase }, Some(at)) = (&t.outcome, t.started_ms)
                && now_ms >= at + self.plan.box_timeout_ms
            {
                t.outcome = Outcome::Failed {
                    phase: phase.clone(),
                    reason: format!(
                        "no end reported within {} s",
                        self.plan.box_timeout_ms / 1000
                    ),
                };
            }
        }
        self.check();
    }

    fn check(&mut self) {
        let c = self.counts();
        let started = c.running + c.succeeded + c.failed;
        if self.aborted.is_none()
            && started > 0
            && c.failed as f64 * 100.0 > self.plan.max_failure_pct * started as f64
        {
            self.aborted = Some(format!(
                "{} of {started} started boxes failed ({:.0} %), over the {} % threshold: no more boxes get the update",
                c.failed,
                c.failed as f64 * 100.0 / started as f64,
                self.plan.max_failure_pct
            ));
        }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for t in self.boxes.values() {
            match t.outcome {
                Outcome::Pending => c.untouched += 1,
                Outcome::Running { .. } => c.running += 1,
                Outcome::Succeeded => c.succeeded += 1,
                Outcome::Failed { .. } => c.failed += 1,
            }
        }
        c
    }

    /// Every box has ended, or the rollout was aborted and none is still running.
    pub fn finished(&self) -> bool {
        let c = self.counts();
        c.running == 0 && (c.untouched == 0 || self.aborted.is_some())
    }

    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.boxes.get(id).map(|t| &t.outcome)
    }

    pub fn boxes(&self) -> impl Iterator<Item = (&String, &Outcome)> {
        self.boxes.iter().map(|(id, t)| (id, &t.outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            batch: 2,
            per_minute: 1000,
            max_failure_pct: 20.0,
            box_timeout_ms: 600_000,
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("b{i}")).collect()
    }

    #[test]
    fn batches_widen_only_after_every_box_has_proven_itself() {
        let mut r = Rollout::new(plan(), ids(10));
        assert_eq!(r.due(0), ["b0", "b1"]);
        assert!(r.due(1).is_empty(), "the batch is still running");
        r.report("b0", "installing", None);
        r.report("b0", "rebooting", None);
        r.report("b1", "succeeded", None);
        assert!(r.due(2).is_empty(), "b0 has not proven itself");
        r.report("b0", "succeeded", None);
        assert_eq!(r.due(3), ["b2", "b3", "b4", "b5"], "twice as wide");
        for id in ["b2", "b3", "b4", "b5"] {
            r.report(id, "succeeded", None);
        }
        assert_eq!(r.due(4), ["b6", "b7", "b8", "b9"]);
        for id in ["b6", "b7", "b8", "b9"] {
            r.report(id, "succeeded", None);
        }
        assert!(r.finished());
        assert_eq!(r.counts().succeeded, 10);
    }

    #[test]
    fn failures_past_the_threshold_abort_and_leave_the_rest_untouched() {
        let mut r = Rollout::new(plan(), ids(10));
        r.due(0);
        r.report("b0", "succeeded", None);
        r.report("b1", "rolled_back", Some("no frames"));
        // 1 of 2 = 50 % > 20 %.
        assert!(r.aborted.as_deref().unwrap().contains("1 of 2"));
        assert!(r.due(10).is_empty());
        assert!(r.finished());
        assert_eq!(r.counts().untouched, 8);
        assert_eq!(
            r.outcome("b1"),
            Some(&Outcome::Failed {
                phase: "rolled_back".into(),
                reason: "no frames".into()
            })
        );
    }

    #[test]
    fn the_rate_spreads_starts_and_silence_is_a_failure() {
        let mut r = Rollout::new(
            Plan {
                batch: 10,
                per_minute: 3,
                max_failure_pct: 100.0,
                box_timeout_ms: 5_000,
            },
            ids(10),
        );
        assert_eq!(r.due(0).len(), 3);
        assert_eq!(r.due(30_000).len(), 0, "three a minute");
        assert_eq!(r.due(60_000).len(), 3);
        r.tick(60_001);
        assert_eq!(r.counts().failed, 3, "the first three went silent");
        r.report("b0", "succeeded", None);
        assert_eq!(r.counts().failed, 3, "a late report does not change an end");
    }
}
