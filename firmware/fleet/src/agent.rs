//! The box's side of the protocol as a state machine: it is told what happened (connected,
//! lost, a message, an acknowledgement, the time) and answers with what to do (publish,
//! subscribe, apply a config, run a command, reconnect later). The daemon's MQTT task does
//! the doing; nothing here blocks, sleeps or reads a clock.

use serde_json::{Value, json};

use crate::commands::{Seen, Verdict, fresh_version};
use crate::message::{self, Command, CommandResult, Desired, Event, Presence, Reported, State};
use crate::queue::Queue;
use crate::topic::{Incoming, Topics};

/// How a message is to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

/// What the agent asks its I/O task to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Subscribe(Vec<String>),
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: Qos,
        retain: bool,
        /// MQTT 5 Message Expiry Interval, s.
        expiry_s: Option<u32>,
        /// MQTT 5 Correlation Data of the request this answers.
        correlation: Option<Vec<u8>>,
        /// An event's number, to match the broker's acknowledgement.
        event_seq: Option<u64>,
    },
    /// Apply this desired config through the controller, then call
    /// [`Agent::desired_done`].
    Apply(Desired),
    /// Run this command, then call [`Agent::command_done`] with its result.
    Run {
        name: String,
        command: Command,
        response_topic: String,
        correlation: Option<Vec<u8>>,
    },
    /// Keep this event in the store (it survives a restart until acknowledged).
    Keep(Event),
    /// Forget these events in the store: acknowledged, or dropped to stay within bounds.
    Forget(Vec<u64>),
    /// Connect again after this long.
    Reconnect {
        after_ms: u64,
    },
}

/// Fixed facts the agent needs.
#[derive(Debug, Clone)]
pub struct Setup {
    pub topics: Topics,
    pub firmware: String,
    pub boot_id: String,
    /// The number of this connection series (stored by the daemon, one more each start).
    pub session: u64,
    pub telemetry_every_ms: u64,
    pub tags: Vec<String>,
    pub queue_events: usize,
    pub queue_bytes: usize,
}

/// Telemetry expires in the broker after this long: stale counters help nobody.
const TELEMETRY_EXPIRY_S: u32 = 60;
/// Reconnect backoff: 1 s doubling to 60 s, each wait jittered by up to a half.
const FIRST_BACKOFF_MS: u64 = 1_000;
const MAX_BACKOFF_MS: u64 = 60_000;
/// Commands remembered for de-duplication.
const SEEN_COMMANDS: usize = 256;

pub struct Agent {
    setup: Setup,
    connected: bool,
    next_telemetry_ms: u64,
    queue: Queue,
    /// The event published and not yet acknowledged (one at a time keeps the order).
    in_flight: Option<u64>,
    next_seq: u64,
    seen: Seen,
    last_desired: Option<u64>,
    failures: u32,
}

impl Agent {
    /// `kept` are the events the store still holds from before (oldest first); the next
    /// event is numbered after the newest of them and `next_seq` (stored by the daemon, so
    /// numbers keep growing across restarts). `last_desired` is the desired-config version
    /// last applied or refused.
    pub fn new(setup: Setup, next_seq: u64, kept: Vec<Event>, last_desired: Option<u64>) -> Agent {
        let mut queue = Queue::new(setup.queue_events, setup.queue_bytes);
        let next_seq = kept.iter().map(|e| e.seq + 1).fold(next_seq, u64::max);
        for e in kept {
            let size = encoded_len(&e);
            queue.push(e, size);
        }
        Agent {
            setup,
            connected: false,
            next_telemetry_ms: 0,
            queue,
            in_flight: None,
            next_seq,
            seen: Seen::new(SEEN_COMMANDS),
            last_desired,
            failures: 0,
        }
    }

    /// A new connection series: its number goes into every `state` and the Will, so a
    /// late Will of an older connection never overwrites a newer birth.
    pub fn set_session(&mut self, session: u64) {
        self.setup.session = session;
    }

    fn state(&self, presence: Presence, now_ms: u64) -> Vec<u8> {
        let s = State {
            state: presence,
            firmware: self.setup.firmware.clone(),
            boot_id: self.setup.boot_id.clone(),
            session: self.setup.session,
            at_ms: now_ms,
            tags: self.setup.tags.clone(),
        };
        serde_json::to_vec(&s).unwrap_or_default()
    }

    /// The MQTT client id: the device id.
    pub fn client_id(&self) -> String {
        self.setup.topics.device().to_string()
    }

    /// The Last Will to register when connecting: `lost`, retained, same session.
    pub fn will(&self, now_ms: u64) -> (String, Vec<u8>) {
        (
            self.setup.topics.state(),
            self.state(Presence::Lost, now_ms),
        )
    }

    /// The goodbye to publish before a clean disconnect.
    pub fn goodbye(&self, now_ms: u64) -> Action {
        publish(
            self.setup.topics.state(),
            self.state(Presence::Offline, now_ms),
            Qos::AtLeastOnce,
            true,
        )
    }

    /// Connected (again): subscribe, say so, say what the box is, resume the queue.
    pub fn connected(&mut self, now_ms: u64, birth: Value) -> Vec<Action> {
        self.connected = true;
        self.failures = 0;
        self.in_flight = None;
        self.next_telemetry_ms = now_ms;
        let t = &self.setup.topics;
        let mut out = vec![
            Action::Subscribe(t.subscriptions().to_vec()),
            publish(
                t.state(),
                self.state(Presence::Online, now_ms),
                Qos::AtLeastOnce,
                true,
            ),
            publish(
                t.birth(),
                serde_json::to_vec(&birth).unwrap_or_default(),
                Qos::AtLeastOnce,
                false,
            ),
        ];
        out.extend(self.next_event());
        out
    }

    /// The connection is gone; `jitter` in 0..1 spreads a fleet's reconnects.
    pub fn disconnected(&mut self, jitter: f64) -> Action {
        self.connected = false;
        self.in_flight = None;
        self.failures = self.failures.saturating_add(1);
        let base = FIRST_BACKOFF_MS
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(MAX_BACKOFF_MS);
        let extra = (base as f64 * 0.5 * jitter.clamp(0.0, 1.0)) as u64;
        Action::Reconnect {
            after_ms: base + extra,
        }
    }

    /// Something happened in the box: it goes out now, or waits in the queue.
    pub fn event(&mut self, now_ms: u64, kind: &str, body: Value) -> Vec<Action> {
        let e = Event {
            seq: self.next_seq,
            at_ms: now_ms,
            kind: kind.to_string(),
            body,
        };
        self.next_seq += 1;
        let size = encoded_len(&e);
        let mut out = vec![Action::Keep(e.clone())];
        let gone = self.queue.push(e, size);
        if !gone.is_empty() {
            out.push(Action::Forget(gone));
        }
        out.extend(self.next_event());
        out
    }

    /// The number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn next_event(&mut self) -> Vec<Action> {
        if !self.connected || self.in_flight.is_some() {
            return Vec::new();
        }
        let Some(e) = self.queue.front() else {
            return Vec::new();
        };
        self.in_flight = Some(e.seq);
        vec![Action::Publish {
            topic: self.setup.topics.events(),
            payload: serde_json::to_vec(e).unwrap_or_default(),
            qos: Qos::AtLeastOnce,
            retain: false,
            expiry_s: None,
            correlation: None,
            event_seq: Some(e.seq),
        }]
    }

    /// The broker acknowledged an event: the next one goes.
    pub fn event_acked(&mut self, seq: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.in_flight == Some(seq) {
            self.in_flight = None;
            self.queue.acked(seq);
            out.push(Action::Forget(vec![seq]));
        }
        out.extend(self.next_event());
        out
    }

    /// Time passes: telemetry when due (`telemetry` is asked only then).
    pub fn tick(&mut self, now_ms: u64, telemetry: impl FnOnce() -> Value) -> Vec<Action> {
        if !self.connected || now_ms < self.next_telemetry_ms {
            return Vec::new();
        }
        self.next_telemetry_ms = now_ms + self.setup.telemetry_every_ms.max(1_000);
        let mut t = telemetry();
        if let Some(o) = t.as_object_mut() {
            o.insert("at_ms".into(), json!(now_ms));
            o.insert(
                "fleet".into(),
                json!({ "queued": self.queue.len(), "dropped": self.queue.dropped }),
            );
        }
        vec![Action::Publish {
            topic: self.setup.topics.telemetry(),
            payload: serde_json::to_vec(&t).unwrap_or_default(),
            qos: Qos::AtMostOnce,
            retain: false,
            expiry_s: Some(TELEMETRY_EXPIRY_S),
            correlation: None,
            event_seq: None,
        }]
    }

    /// A message on one of the box's topics.
    pub fn message(
        &mut self,
        now_ms: u64,
        topic: &str,
        payload: &[u8],
        response_topic: Option<&str>,
        correlation: Option<Vec<u8>>,
    ) -> Vec<Action> {
        match self.setup.topics.incoming(topic) {
            Some(Incoming::Desired) => self.desired(payload),
            Some(Incoming::Command(name)) => {
                self.command(now_ms, name, payload, response_topic, correlation)
            }
            None => Vec::new(),
        }
    }

    fn desired(&mut self, payload: &[u8]) -> Vec<Action> {
        let d: Desired = match message::parse(payload) {
            Ok(d) => d,
            Err(e) => return vec![self.reported_error(None, "", &e.to_string())],
        };
        if !fresh_version(self.last_desired, d.version) {
            let message = format!(
                "version {} is not newer than {}, the last one seen",
                d.version,
                self.last_desired.unwrap_or(0)
            );
            return vec![self.reported_error(Some(d.version), "version", &message)];
        }
        self.last_desired = Some(d.version);
        vec![Action::Apply(d)]
    }

    fn reported_error(&self, version: Option<u64>, path: &str, message: &str) -> Action {
        let r = Reported {
            version: version.unwrap_or(0),
            applied: false,
            errors: vec![message::FieldError {
                path: path.to_string(),
                message: message.to_string(),
            }],
            config: Value::Null,
        };
        publish(
            self.setup.topics.reported(),
            serde_json::to_vec(&r).unwrap_or_default(),
            Qos::AtLeastOnce,
            true,
        )
    }

    /// The controller applied (or refused) a desired config: report it (retained).
    /// `config` is the running config, redacted.
    pub fn desired_done(
        &self,
        version: u64,
        errors: Vec<message::FieldError>,
        config: Value,
    ) -> Action {
        let r = Reported {
            version,
            applied: errors.is_empty(),
            errors,
            config,
        };
        publish(
            self.setup.topics.reported(),
            serde_json::to_vec(&r).unwrap_or_default(),
            Qos::AtLeastOnce,
            true,
        )
    }

    fn command(
        &mut self,
        now_ms: u64,
        name: String,
        payload: &[u8],
        response_topic: Option<&str>,
        correlation: Option<Vec<u8>>,
    ) -> Vec<Action> {
        // Without a Response Topic there is nobody to answer: the command is not run.
        let Some(response_topic) = response_topic.map(str::to_string) else {
            return Vec::new();
        };
        let answer = |id: &str, status: u16, field: Option<&str>, message: String| {
            respond(
                &response_topic,
                correlation.clone(),
                &CommandResult {
                    id: id.to_string(),
                    status,
                    message,
                    field: field.map(str::to_string),
                    body: Value::Null,
                },
            )
        };
        let command: Command = match message::parse(payload) {
            Ok(c) => c,
            Err(e @ message::BadPayload::TooBig(_)) => {
                return vec![answer("", 413, None, e.to_string())];
            }
            Err(e) => return vec![answer("", 400, None, e.to_string())],
        };
        if !COMMANDS.contains(&name.as_str()) {
            return vec![answer(
                &command.id,
                404,
                Some("command"),
                format!("no command {name:?}: use one of {}", COMMANDS.join(", ")),
            )];
        }
        match self.seen.admit(&command, now_ms) {
            Verdict::Run => vec![Action::Run {
                name,
                command,
                response_topic,
                correlation,
            }],
            Verdict::Duplicate => vec![answer(
                &command.id,
                409,
                Some("id"),
                format!("command {} ran already", command.id),
            )],
            Verdict::Expired => vec![answer(
                &command.id,
                408,
                Some("expires_ms"),
                "the command expired before it arrived".into(),
            )],
        }
    }

    /// A command finished: its result to the asker.
    pub fn command_done(
        &self,
        response_topic: &str,
        correlation: Option<Vec<u8>>,
        result: &CommandResult,
    ) -> Action {
        respond(response_topic, correlation, result)
    }

    /// Events waiting, and dropped to stay within bounds.
    pub fn queue(&self) -> (usize, u64) {
        (self.queue.len(), self.queue.dropped)
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }
}

fn encoded_len(e: &Event) -> usize {
    serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0)
}

/// The commands a box runs.
pub const COMMANDS: &[&str] = &[
    "take",
    "uplink",
    "recording",
    "snapshot",
    "reboot",
    "ota",
    "ota_postpone",
    "ota_force",
];

fn publish(topic: String, payload: Vec<u8>, qos: Qos, retain: bool) -> Action {
    Action::Publish {
        topic,
        payload,
        qos,
        retain,
        expiry_s: None,
        correlation: None,
        event_seq: None,
    }
}

fn respond(topic: &str, correlation: Option<Vec<u8>>, result: &CommandResult) -> Action {
    Action::Publish {
        topic: topic.to_string(),
        payload: serde_json::to_vec(result).unwrap_or_default(),
        qos: Qos::AtLeastOnce,
        retain: false,
        expiry_s: Some(60),
        correlation,
        event_seq: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> Agent {
        Agent::new(
            Setup {
                topics: Topics::new("acme", "box-1").unwrap(),
                firmware: "0.1.0".into(),
                boot_id: "b1".into(),
                session: 5,
                telemetry_every_ms: 5_000,
                tags: vec!["stage".into()],
                queue_events: 100,
                queue_bytes: 1 << 20,
            },
            1,
            Vec::new(),
            None,
        )
    }

    fn sent_events(actions: &[Action]) -> Vec<u64> {
        actions
            .iter()
            .filter_map(|x| match x {
                Action::Publish { event_seq, .. } => *event_seq,
                _ => None,
            })
            .collect()
    }

    fn published(actions: &[Action]) -> Vec<(String, Value)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Publish { topic, payload, .. } => {
                    Some((topic.clone(), serde_json::from_slice(payload).unwrap()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn connecting_subscribes_says_online_and_births_and_the_will_says_lost() {
        let mut a = agent();
        let (topic, will) = a.will(10);
        assert_eq!(topic, "fourcast/v1/acme/box-1/state");
        let will: Value = serde_json::from_slice(&will).unwrap();
        assert_eq!(
            (will["state"].as_str(), will["session"].as_u64()),
            (Some("lost"), Some(5))
        );
        let out = a.connected(100, json!({"board": "virtual"}));
        assert!(matches!(&out[0], Action::Subscribe(t) if t.len() == 2));
        let p = published(&out);
        assert_eq!(p[0].1["state"], "online");
        assert_eq!(p[1].0, "fourcast/v1/acme/box-1/birth");
    }

    #[test]
    fn events_wait_while_offline_and_drain_in_order_one_at_a_time() {
        let mut a = agent();
        for n in 0..3 {
            let out = a.event(n, "input_lost", json!({ "n": n }));
            assert!(
                matches!(&out[..], [Action::Keep(e)] if e.seq == n + 1),
                "{out:?}"
            );
        }
        let out = a.connected(10, json!({}));
        assert_eq!(sent_events(&out), [1], "one in flight");
        assert!(
            sent_events(&a.event(11, "input_lost", json!({}))).is_empty(),
            "waits behind it"
        );
        let mut order = vec![1];
        let mut next = a.event_acked(1);
        while let [Action::Forget(f), rest @ ..] = &next[..] {
            let Some(&s) = sent_events(rest).first() else {
                break;
            };
            assert_eq!(f, &[s - 1], "the acknowledged one is forgotten");
            order.push(s);
            next = a.event_acked(s);
        }
        assert_eq!(order, [1, 2, 3, 4]);
        assert_eq!(a.queue(), (0, 0));
    }

    #[test]
    fn kept_events_survive_a_restart_and_drops_are_forgotten_and_counted() {
        let kept: Vec<Event> = (7..=9)
            .map(|seq| Event {
                seq,
                at_ms: seq,
                kind: "input_lost".into(),
                body: json!({}),
            })
            .collect();
        let setup = agent().setup;
        let mut a = Agent::new(
            Setup {
                queue_events: 3,
                ..setup
            },
            2,
            kept,
            Some(4),
        );
        assert_eq!((a.next_seq(), a.queue()), (10, (3, 0)));
        let out = a.event(20, "uplink_failed", json!({}));
        assert!(
            matches!(&out[1], Action::Forget(gone) if gone == &[7]),
            "{out:?}"
        );
        assert_eq!(a.queue(), (3, 1));
        assert_eq!(sent_events(&a.connected(30, json!({}))), [8]);
        let t = "fourcast/v1/acme/box-1/config/desired";
        let stale = a.message(0, t, br#"{"version": 4, "config": {}}"#, None, None);
        assert_eq!(published(&stale)[0].1["errors"][0]["path"], "version");
    }

    #[test]
    fn a_lost_connection_backs_off_doubling_with_jitter() {
        let mut a = agent();
        let waits: Vec<u64> = (0..8)
            .map(|_| match a.disconnected(0.0) {
                Action::Reconnect { after_ms } => after_ms,
                _ => 0,
            })
            .collect();
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(a.disconnected(1.0), Action::Reconnect { after_ms: 90_000 });
        a.connected(0, json!({}));
        assert_eq!(a.disconnected(0.0), Action::Reconnect { after_ms: 1_000 });
    }

    #[test]
    fn telemetry_when_due_only_while_connected() {
        let mut a = agent();
        assert!(a.tick(0, || json!({})).is_empty(), "offline");
        a.connected(1_000, json!({}));
        let out = a.tick(1_000, || json!({ "cpu_pct": 50 }));
        let p = published(&out);
        assert_eq!(p[0].1["cpu_pct"], 50);
        assert!(matches!(
            &out[0],
            Action::Publish {
                qos: Qos::AtMostOnce,
                expiry_s: Some(60),
                ..
            }
        ));
        assert!(a.tick(5_999, || json!({})).is_empty());
        assert_eq!(a.tick(6_000, || json!({})).len(), 1);
    }

    #[test]
    fn desired_configs_apply_in_version_order_and_bad_ones_are_reported() {
        let mut a = agent();
        let t = "fourcast/v1/acme/box-1/config/desired";
        let out = a.message(0, t, br#"{"version": 3, "config": {}}"#, None, None);
        assert!(matches!(&out[0], Action::Apply(d) if d.version == 3));
        let out = a.message(0, t, br#"{"version": 3, "config": {}}"#, None, None);
        let p = published(&out);
        assert_eq!(p[0].0, "fourcast/v1/acme/box-1/config/reported");
        assert_eq!(p[0].1["errors"][0]["path"], "version");
        let out = a.message(
            0,
            t,
            br#"{"version": 4, "config": {}, "force": true}"#,
            None,
            None,
        );
        let p = published(&out);
        assert!(
            p[0].1["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("force")
        );
        let done = a.desired_done(4, vec![], json!({"key": "***"}));
        assert!(matches!(done, Action::Publish { retain: true, .. }));
    }

    #[test]
    fn commands_run_once_fresh_and_known_and_every_refusal_is_answered() {
        let mut a = agent();
        let t = "fourcast/v1/acme/box-1/cmd/take";
        let reply = Some("fourcast/v1/acme/_fleet/tool/responses");
        let run = a.message(
            0,
            t,
            br#"{"id": "c1", "expires_ms": 100}"#,
            reply,
            Some(vec![7]),
        );
        assert!(
            matches!(&run[0], Action::Run { name, correlation: Some(c), .. } if name == "take" && c == &vec![7])
        );
        let status = |out: &[Action]| published(out)[0].1["status"].as_u64().unwrap();
        let again = a.message(1, t, br#"{"id": "c1", "expires_ms": 100}"#, reply, None);
        assert_eq!(status(&again), 409);
        let late = a.message(200, t, br#"{"id": "c2", "expires_ms": 100}"#, reply, None);
        assert_eq!(status(&late), 408);
        let unknown = a.message(
            0,
            "fourcast/v1/acme/box-1/cmd/selfdestruct",
            br#"{"id": "c3", "expires_ms": 100}"#,
            reply,
            None,
        );
        assert_eq!(status(&unknown), 404);
        let garbage = a.message(0, t, b"{not json", reply, None);
        assert_eq!(status(&garbage), 400);
        let big = vec![b' '; crate::MAX_PAYLOAD + 1];
        assert_eq!(status(&a.message(0, t, &big, reply, None)), 413);
        assert!(
            a.message(0, t, br#"{"id": "c4", "expires_ms": 100}"#, None, None)
                .is_empty(),
            "nobody to answer"
        );
        assert!(
            a.message(0, "fourcast/v1/acme/box-2/cmd/take", b"{}", reply, None)
                .is_empty(),
            "not ours"
        );
    }
}
