//! Topics: `fourcast/v1/{tenant}/{device}/…`, at most 8 levels.

use serde::{Deserialize, Serialize};

/// Longest tenant or device id.
pub const MAX_ID: usize = 64;

/// Why a tenant or device id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {id:?}: use 1–64 lowercase letters, digits, '-' or '_'")]
pub struct BadId {
    pub what: &'static str,
    pub id: String,
}

/// A checked id: safe as one topic level (no `/`, `+`, `#`, no empty level).
pub fn check_id(what: &'static str, id: &str) -> Result<String, BadId> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(id.to_string())
    } else {
        Err(BadId {
            what,
            id: id.to_string(),
        })
    }
}

/// The topics of one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    device: String,
}

/// What arrives on a box's own topics (the ones it subscribes to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Incoming {
    /// `config/desired`
    Desired,
    /// `cmd/{name}`
    Command(String),
}

impl Topics {
    pub fn new(tenant: &str, device: &str) -> Result<Topics, BadId> {
        let tenant = check_id("tenant", tenant)?;
        let device = check_id("device", device)?;
        Ok(Topics {
            prefix: format!("fourcast/{}/{tenant}/{device}", crate::VERSION),
            device,
        })
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    fn at(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    /// Retained: online, offline, updating, degraded, or the Will's `lost`.
    pub fn state(&self) -> String {
        self.at("state")
    }

    pub fn birth(&self) -> String {
        self.at("birth")
    }

    pub fn telemetry(&self) -> String {
        self.at("telemetry")
    }

    pub fn events(&self) -> String {
        self.at("events")
    }

    pub fn desired(&self) -> String {
        self.at("config/desired")
    }

    /// Retained: the config as applied (redacted), or why a desired one was refused.
    pub fn reported(&self) -> String {
        self.at("config/reported")
    }

    pub fn command(&self, name: &str) -> String {
        self.at(&format!("cmd/{name}"))
    }

    /// What the box subscribes to: its desired config and every command.
    pub fn subscriptions(&self) -> [String; 2] {
        [self.desired(), self.at("cmd/+")]
    }

    /// Where the fleet tool asks for a command's result to go (its own client's topic).
    pub fn response(tenant: &str, client: &str) -> Result<String, BadId> {
        Ok(format!(
            "fourcast/{}/{}/_fleet/{}/responses",
            crate::VERSION,
            check_id("tenant", tenant)?,
            check_id("client", client)?
        ))
    }

    /// What a message on `topic` is for this box, if it is one of its own inbound topics.
    pub fn incoming(&self, topic: &str) -> Option<Incoming> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        match rest.split_once('/') {
            Some(("config", "desired")) => Some(Incoming::Desired),
            Some(("cmd", name)) if check_id("command", name).is_ok() => {
                Some(Incoming::Command(name.to_string()))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_stay_within_eight_levels_and_ids_are_single_levels() {
        let t = Topics::new("acme", "box-0042").unwrap();
        assert_eq!(t.state(), "fourcast/v1/acme/box-0042/state");
        assert_eq!(t.command("take"), "fourcast/v1/acme/box-0042/cmd/take");
        for topic in [
            t.state(),
            t.reported(),
            t.command("snapshot"),
            t.subscriptions()[1].clone(),
        ] {
            assert!(topic.split('/').count() <= 8, "{topic}");
        }
        for bad in ["", "a/b", "+", "#", "Acme", "a b", &"x".repeat(65)] {
            assert!(Topics::new(bad, "box").is_err(), "tenant {bad:?}");
            assert!(Topics::new("acme", bad).is_err(), "device {bad:?}");
        }
    }

    #[test]
    fn only_the_boxs_own_inbound_topics_are_taken() {
        let t = Topics::new("acme", "box-1").unwrap();
        assert_eq!(
            t.incoming("fourcast/v1/acme/box-1/config/desired"),
            Some(Incoming::Desired)
        );
        assert_eq!(
            t.incoming("fourcast/v1/acme/box-1/cmd/reboot"),
            Some(Incoming::Command("reboot".into()))
        );
        for other in [
            "fourcast/v1/acme/box-2/cmd/reboot",
            "fourcast/v1/acme/box-10/cmd/reboot",
            "fourcast/v1/acme/box-1/cmd/",
            "fourcast/v1/acme/box-1/cmd/a/b",
            "fourcast/v1/acme/box-1/state",
            "fourcast/v1/acme/box-1",
        ] {
            assert_eq!(t.incoming(other), None, "{other}");
        }
    }
}
