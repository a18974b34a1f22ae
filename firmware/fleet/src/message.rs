//! Payloads: JSON objects, strict (unknown fields refused), each at most
//! [`crate::MAX_PAYLOAD`] bytes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What the `state` topic says (retained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    Online,
    Offline,
    Updating,
    Degraded,
    /// Published by the broker as the Last Will: the box vanished without a goodbye.
    Lost,
}

/// The retained `state` message. `session` grows with every connection the box makes
/// (kept in its store), so a reader keeps the newest and a late Will of an older
/// session can be told apart from the current birth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub state: Presence,
    pub firmware: String,
    /// Random per boot: a new one means the box restarted.
    pub boot_id: String,
    pub session: u64,
    pub at_ms: u64,
    /// The box's tags, so a fleet tool can select boxes from their states alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl State {
    /// True if `self` should replace `current` (the newest session wins, then the newest
    /// time within a session).
    pub fn supersedes(&self, current: &State) -> bool {
        (self.session, self.at_ms) > (current.session, current.at_ms)
    }
}

/// One event from the box's event stream, numbered for order and de-duplication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Grows by one per event, across restarts (kept in the store).
    pub seq: u64,
    pub at_ms: u64,
    /// The event's type, as the box's own event stream names it (`uplink_failed`, …).
    pub kind: String,
    pub body: serde_json::Value,
}

/// A desired config from the fleet (`config/desired`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desired {
    /// Must be greater than the version the box last applied or refused.
    pub version: u64,
    /// The whole config document, as the box's API takes it.
    pub config: serde_json::Value,
}

/// One problem with a desired config, by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

/// The box's answer to a desired config (`config/reported`, retained): the version it
/// applied (and the config, secrets as `***`), or the version it refused and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reported {
    pub version: u64,
    pub applied: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The running config, redacted.
    pub config: serde_json::Value,
}

/// A command (`cmd/{name}`): MQTT 5 Response Topic and Correlation Data say where the
/// result goes; Message Expiry lets a stale one die in the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Unique per command: a redelivered command runs once.
    pub id: String,
    /// After this the box refuses to run it (a command stuck in a queue).
    pub expires_ms: u64,
    #[serde(default)]
    pub args: serde_json::Value,
}

/// A command's result: an HTTP-like status, and a message naming the bad field if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandResult {
    pub id: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub body: serde_json::Value,
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPayload {
    #[error("{0} bytes: payloads are at most {max} bytes", max = crate::MAX_PAYLOAD)]
    TooBig(usize),
    #[error("{0}")]
    Json(String),
}

/// Reads a payload strictly: size first, then JSON into `T` (unknown fields refused; the
/// message names the field or position).
pub fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, BadPayload> {
    if payload.len() > crate::MAX_PAYLOAD {
        return Err(BadPayload::TooBig(payload.len()));
    }
    serde_json::from_slice(payload).map_err(|e| BadPayload::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_session_supersedes_and_a_late_will_does_not() {
        let birth = State {
            state: Presence::Online,
            firmware: "0.1.0".into(),
            boot_id: "b2".into(),
            session: 8,
            at_ms: 2_000,
            tags: Vec::new(),
        };
        let late_will = State {
            state: Presence::Lost,
            session: 7,
            at_ms: 3_000,
            ..birth.clone()
        };
        assert!(!late_will.supersedes(&birth));
        assert!(birth.supersedes(&late_will));
    }

    #[test]
    fn payloads_are_read_strictly_and_bounded() {
        let c: Command = parse(br#"{"id":"c1","expires_ms":5,"args":{"scene":"wide"}}"#).unwrap();
        assert_eq!(c.args["scene"], "wide");
        let e = parse::<Command>(br#"{"id":"c1","expires_ms":5,"sudo":true}"#).unwrap_err();
        assert!(e.to_string().contains("sudo"), "{e}");
        let e = parse::<Command>(br#"{"id":5,"expires_ms":5}"#).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let big = vec![b' '; crate::MAX_PAYLOAD + 1];
        assert_eq!(
            parse::<Command>(&big).unwrap_err(),
            BadPayload::TooBig(crate::MAX_PAYLOAD + 1)
        );
        assert!(parse::<Desired>(b"{").is_err());
    }
}
