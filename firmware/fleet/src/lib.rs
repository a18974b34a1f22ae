//! The fleet protocol: how a box and a fleet manager talk over MQTT 5, as pure types and
//! rules with time passed in (`now_ms`, Unix milliseconds). No sockets and no clock here:
//! the box's agent and the `fourcast-fleet` tool do the I/O around these.
//!
//! `PROTOCOL.md` beside this crate is the reference: topics, payloads, QoS, retention.
//! Portable across brokers by construction: QoS 0 and 1 only, payloads of at most
//! [`MAX_PAYLOAD`] bytes, at most 8 topic levels, no user properties, no retained messages
//! that must be delivered through wildcards.

pub mod agent;
pub mod broker;
pub mod commands;
pub mod message;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod queue;
pub mod rollout;
pub mod topic;
pub mod view;

/// The largest payload either side sends or accepts, bytes.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// The protocol's version, the second level of every topic.
pub const VERSION: &str = "v1";
