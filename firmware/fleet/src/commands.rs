//! Commands run once and only while fresh: the ids seen recently are remembered
//! (bounded), and a command past its expiry is refused.

use std::collections::{HashSet, VecDeque};

use crate::message::Command;

/// What to do with a command that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Run,
    /// Its id ran already (the broker redelivered it): answer 409, do not run it again.
    Duplicate,
    /// Past its expiry: answer 408 and do nothing.
    Expired,
}

/// The ids of the last `capacity` commands.
#[derive(Debug, Clone)]
pub struct Seen {
    order: VecDeque<String>,
    ids: HashSet<String>,
    capacity: usize,
}

impl Seen {
    pub fn new(capacity: usize) -> Seen {
        Seen {
            order: VecDeque::new(),
            ids: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Decides on `command` at `now_ms`, remembering its id if it is to run.
    pub fn admit(&mut self, command: &Command, now_ms: u64) -> Verdict {
        if self.ids.contains(&command.id) {
            return Verdict::Duplicate;
        }
        if now_ms >= command.expires_ms {
            return Verdict::Expired;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.order.push_back(command.id.clone());
        self.ids.insert(command.id.clone());
        Verdict::Run
    }
}

/// Whether a desired config's `version` may be applied after `last` (the version last
/// applied or refused).
pub fn fresh_version(last: Option<u64>, version: u64) -> bool {
    last.is_none_or(|l| version > l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(id: &str, expires_ms: u64) -> Command {
        Command {
            id: id.into(),
            expires_ms,
            args: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_command_runs_once_and_only_before_it_expires() {
        let mut seen = Seen::new(4);
        assert_eq!(seen.admit(&cmd("a", 1_000), 500), Verdict::Run);
        assert_eq!(seen.admit(&cmd("a", 1_000), 600), Verdict::Duplicate);
        assert_eq!(seen.admit(&cmd("b", 1_000), 1_000), Verdict::Expired);
        assert_eq!(
            seen.admit(&cmd("b", 2_000), 1_000),
            Verdict::Run,
            "not remembered when refused"
        );
    }

    #[test]
    fn memory_of_ids_is_bounded() {
        let mut seen = Seen::new(2);
        for id in ["a", "b", "c"] {
            assert_eq!(seen.admit(&cmd(id, 10), 0), Verdict::Run);
        }
        assert_eq!(seen.ids.len(), 2);
        assert_eq!(
            seen.admit(&cmd("a", 10), 0),
            Verdict::Run,
            "forgotten, the oldest"
        );
        assert_eq!(seen.admit(&cmd("c", 10), 0), Verdict::Duplicate);
    }

    #[test]
    fn only_a_newer_desired_version_applies() {
        assert!(fresh_version(None, 1));
        assert!(fresh_version(Some(3), 4));
        assert!(!fresh_version(Some(3), 3));
        assert!(!fresh_version(Some(3), 2));
    }
}
