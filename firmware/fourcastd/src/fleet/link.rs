//! One fleet link: connect, feed the agent, do what it answers, reconnect after a backoff;
//! until the `[fleet]` table changes or the box stops.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use fourcast_config::Fleet;
use fourcast_fleet::agent::{Action, Agent, Setup};
use fourcast_fleet::message::{CommandResult, Event as FleetEvent, FieldError};
use fourcast_fleet::mqtt;
use fourcast_fleet::topic::Topics;
use fourcast_store::FleetStore;
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    Filter, LastWill, LastWillProperties, Packet, PubAckReason, PublishProperties,
    SubscribeReasonCode,
};
use rumqttc::v5::{AsyncClient, Event as MqttEvent, EventLoop};
use tokio::sync::{broadcast, mpsc, watch};

use super::the_box::{self, now_ms};
use super::update;
use crate::controller::{Event, Running};
use crate::http::device::Device;

/// Work finished off the loop (it must never block on the controller or the engine).
enum Done {
    Born(serde_json::Value),
    Telemetry(serde_json::Value),
    Applied {
        version: u64,
        errors: Vec<FieldError>,
    },
    Ran {
        response_topic: String,
        correlation: Option<Vec<u8>>,
        result: CommandResult,
    },
}

/// How the link ended.
enum Ended {
    /// The box stops, or `[fleet]` changed: the caller decides what next.
    Stop,
    /// Lost or refused: connect again after this long.
    Retry(u64),
}

struct Io {
    device: Device,
    fleet: Fleet,
    store: Arc<FleetStore>,
    client: Option<AsyncClient>,
    /// Each publish handed to the client, in order: its event number, if an event.
    order: VecDeque<Option<u64>>,
    /// Packet ids of events in flight.
    pkids: HashMap<u16, u64>,
    done_tx: mpsc::Sender<Done>,
    cpu: Arc<std::sync::Mutex<the_box::CpuClock>>,
}

pub(super) async fn run(
    device: &Device,
    fleet: &Fleet,
    store: Arc<FleetStore>,
    mut running: watch::Receiver<Arc<Running>>,
    mut stop: watch::Receiver<bool>,
) {
    let setup = match setup(fleet, &store) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("fleet: {e}");
            update(|s| s.last_error = Some(e));
            wait_for_change(fleet, &mut running, &mut stop).await;
            return;
        }
    };
    let kept = kept_events(&store);
    let next_seq = store.number("next_seq").ok().flatten().unwrap_or(1);
    let last_desired = store.number("last_desired").ok().flatten();
    let mut agent = Agent::new(setup, next_seq, kept, last_desired);
    let (done_tx, mut done_rx) = mpsc::channel(64);
    let mut io = Io {
        device: device.clone(),
        fleet: fleet.clone(),
        store,
        client: None,
        order: VecDeque::new(),
        pkids: HashMap::new(),
        done_tx,
        cpu: Arc::default(),
    };
    let mut box_events = device.controller.subscribe();
    io.show(&agent);
    loop {
        let ended = io
            .connected_session(
                &mut agent,
                &mut box_events,
                &mut done_rx,
                &mut running,
                &mut stop,
            )
            .await;
        let after_ms = match ended {
            Ended::Stop => return,
            Ended::Retry(ms) => ms,
        };
        io.client = None;
        update(|s| s.state = "waiting");
        // While waiting, the box's events still go into the (durable) queue.
        let wake = tokio::time::sleep(Duration::from_millis(after_ms));
        tokio::pin!(wake);
        loop {
            tokio::select! {
                _ = &mut wake => break,
                _ = stop.changed() => return,
                _ = running.changed() => if changed(fleet, &running) { return },
                e = box_events.recv() => if !io.box_event(&mut agent, e) { return },
                Some(done) = done_rx.recv() => io.done(&mut agent, done),
            }
        }
    }
}

fn setup(fleet: &Fleet, store: &FleetStore) -> Result<Setup, String> {
    let device_id = the_box::device_id(fleet, store)?;
    update(|s| s.device_id = device_id.clone());
    let topics = Topics::new(&fleet.tenant, &device_id).map_err(|e| e.to_string())?;
    Ok(Setup {
        topics,
        firmware: super::the_box::firmware(),
        boot_id: the_box::random_hex(4),
        session: 0,
        telemetry_every_ms: u64::from(fleet.telemetry_s) * 1000,
        tags: fleet.tags.clone(),
        queue_events: fleet.queue_events as usize,
        queue_bytes: fleet.queue_kib as usize * 1024,
    })
}

/// The events a previous run left in the store (any that do not decode are forgotten).
fn kept_events(store: &FleetStore) -> Vec<FleetEvent> {
    let rows = store.events().unwrap_or_default();
    let mut out = Vec::new();
    for (seq, json) in rows {
        match serde_json::from_str(&json) {
            Ok(e) => out.push(e),
            Err(e) => {
                tracing::warn!("fleet: kept event {seq} is unreadable ({e}); forgotten");
                let _ = store.forget(&[seq]);
            }
        }
    }
    out
}

fn changed(fleet: &Fleet, running: &watch::Receiver<Arc<Running>>) -> bool {
    running.borrow().config.fleet != *fleet
}

async fn wait_for_change(
    fleet: &Fleet,
    running: &mut watch::Receiver<Arc<Running>>,
    stop: &mut watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = running.changed() => if r.is_err() || changed(fleet, running) { return },
            _ = stop.changed() => return,
        }
    }
}

impl Io {
    /// One connection, from connecting to its loss (or the box's stop).
    async fn connected_session(
        &mut self,
        agent: &mut Agent,
        box_events: &mut broadcast::Receiver<Event>,
        done_rx: &mut mpsc::Receiver<Done>,
        running: &mut watch::Receiver<Arc<Running>>,
        stop: &mut watch::Receiver<bool>,
    ) -> Ended {
        let session = match self.store.bump("session") {
            Ok(s) => s,
            Err(e) => {
                update(|s| s.last_error = Some(format!("fleet.redb: {e}")));
                return Ended::Retry(60_000);
            }
        };
        agent.set_session(session);
        let mut eventloop = match self.connect(agent) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("fleet: {e}");
                update(|s| {
                    s.state = "waiting";
                    s.last_error = Some(e);
                });
                return Ended::Retry(60_000);
            }
        };
        update(|s| {
            s.state = "connecting";
            s.connects += 1;
        });
        let mut telemetry = tokio::time::interval(Duration::from_secs(u64::from(
            self.fleet.telemetry_s.max(1),
        )));
        telemetry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    self.goodbye(agent, &mut eventloop).await;
                    return Ended::Stop;
                }
                r = running.changed() => if r.is_err() || changed(&self.fleet, running) {
                    self.goodbye(agent, &mut eventloop).await;
                    return Ended::Stop;
                },
                polled = eventloop.poll() => match polled {
                    Ok(event) => self.mqtt(agent, event),
                    Err(e) => {
                        let why = mqtt::describe(&e);
                        let was = agent.is_connected();
                        tracing::warn!("fleet: {why}");
                        let after = match agent.disconnected(jitter()) {
                            Action::Reconnect { after_ms } => after_ms,
                            _ => 1_000,
                        };
                        update(|s| {
                            s.last_error = Some(why);
                            if was {
                                s.reconnects += 1;
                            }
                        });
                        return Ended::Retry(after);
                    }
                },
                e = box_events.recv() => if !self.box_event(agent, e) {
                    return Ended::Stop;
                },
                Some(done) = done_rx.recv() => self.done(agent, done),
                _ = telemetry.tick() => if agent.is_connected() {
                    let c = self.device.controller.clone();
                    let cpu = self.cpu.clone();
                    let tx = self.done_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut cpu = cpu.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let _ = tx.try_send(Done::Telemetry(the_box::telemetry(&c, &mut cpu)));
                    });
                },
            }
        }
    }

    fn connect(&mut self, agent: &Agent) -> Result<EventLoop, String> {
        let f = &self.fleet;
        let broker = f.broker()?;
        let tls = match (broker.tls, &f.ca, &f.cert, &f.key) {
            (false, ..) => None,
            (true, Some(ca), Some(cert), Some(key)) => Some(mqtt::Tls { ca, cert, key }),
            (true, ..) => return Err("mqtts needs fleet.ca, fleet.cert and fleet.key".into()),
        };
        let client_id = agent.client_id();
        let mut options = mqtt::options(&mqtt::Link {
            client_id: &client_id,
            host: &broker.host,
            port: broker.port,
            tls,
            keep_alive: Duration::from_secs(30),
        })?;
        let (topic, payload) = agent.will(now_ms());
        options.set_last_will(LastWill::new(
            topic,
            payload,
            QoS::AtLeastOnce,
            true,
            Some(LastWillProperties {
                delay_interval: Some(f.will_delay_s),
                payload_format_indicator: None,
                message_expiry_interval: None,
                content_type: Some("application/json".into()),
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            }),
        ));
        // The session must outlive the Will Delay, or the broker sends the Will at once.
        options.set_session_expiry_interval(Some(f.will_delay_s));
        let (client, eventloop) = AsyncClient::new(options, 256);
        self.client = Some(client);
        self.order.clear();
        self.pkids.clear();
        Ok(eventloop)
    }

    /// A clean goodbye: `offline` (retained), then DISCONNECT (so the broker drops the
    /// Will); at most a second.
    async fn goodbye(&mut self, agent: &Agent, eventloop: &mut EventLoop) {
        if !agent.is_connected() {
            return;
        }
        self.act(vec![agent.goodbye(now_ms())]);
        let Some(client) = self.client.clone() else {
            return;
        };
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match eventloop.poll().await {
                    Ok(MqttEvent::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        update(|s| s.state = "off");
    }

    fn mqtt(&mut self, agent: &mut Agent, event: MqttEvent) {
        match event {
            MqttEvent::Incoming(Packet::ConnAck(_)) => {
                update(|s| {
                    s.state = "connected";
                    s.last_connected_ms = Some(now_ms());
                    s.last_error = None;
                    s.denied.clear();
                });
                tracing::info!("fleet: connected to {}", self.fleet.broker);
                let c = self.device.controller.clone();
                let fleet = self.fleet.clone();
                let tx = self.done_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.try_send(Done::Born(the_box::birth(&c, &fleet)));
                });
            }
            MqttEvent::Incoming(Packet::Publish(p)) => {
                let topic = String::from_utf8_lossy(&p.topic).to_string();
                let props = p.properties.unwrap_or_default();
                let actions = agent.message(
                    now_ms(),
                    &topic,
                    &p.payload,
                    props.response_topic.as_deref(),
                    props.correlation_data.map(|b| b.to_vec()),
                );
                self.act(actions);
            }
            MqttEvent::Incoming(Packet::PubAck(ack)) => {
                let seq = self.pkids.remove(&ack.pkid);
                match ack.reason {
                    PubAckReason::Success | PubAckReason::NoMatchingSubscribers => {
                        if let Some(seq) = seq {
                            let actions = agent.event_acked(seq);
                            self.act(actions);
                        }
                    }
                    refused => self.denied(format!("publish (packet {}): {refused:?}", ack.pkid)),
                }
            }
            MqttEvent::Incoming(Packet::SubAck(ack)) => {
                for code in &ack.return_codes {
                    if !matches!(code, SubscribeReasonCode::Success(_)) {
                        self.denied(format!("subscribe: {code:?}"));
                    }
                }
            }
            MqttEvent::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(Some(seq)) = self.order.pop_front() {
                    self.pkids.insert(pkid, seq);
                }
            }
            _ => {}
        }
    }

    fn denied(&self, what: String) {
        tracing::error!("fleet: the broker refused {what}: check its ACL for this device");
        update(|s| {
            if s.denied.len() < 16 {
                s.denied.push(what.clone());
            }
            s.last_error = Some(format!("the broker refused {what}"));
        });
    }

    /// A box event into the agent; false when the box is going away.
    fn box_event(
        &mut self,
        agent: &mut Agent,
        e: Result<Event, broadcast::error::RecvError>,
    ) -> bool {
        let (kind, body) = match e {
            Ok(e) => match the_box::event(&e) {
                Some(x) => x,
                None => return true,
            },
            Err(broadcast::error::RecvError::Lagged(n)) => {
                ("events_lost".to_string(), serde_json::json!({ "count": n }))
            }
            Err(broadcast::error::RecvError::Closed) => return false,
        };
        let body = self.scrubbed(&body);
        let actions = agent.event(now_ms(), &kind, body);
        self.act(actions);
        self.show(agent);
        true
    }

    fn scrubbed(&self, v: &serde_json::Value) -> serde_json::Value {
        let text = serde_json::to_string(v).unwrap_or_default();
        serde_json::from_str(&the_box::scrub(&self.device.controller, &text))
            .unwrap_or(serde_json::Value::Null)
    }

    fn done(&mut self, agent: &mut Agent, done: Done) {
        let actions = match done {
            Done::Born(birth) => agent.connected(now_ms(), birth),
            Done::Telemetry(t) => agent.tick(now_ms(), || t),
            Done::Applied { version, errors } => {
                let errors = errors
                    .into_iter()
                    .map(|e| FieldError {
                        path: e.path,
                        message: the_box::scrub(&self.device.controller, &e.message),
                    })
                    .collect();
                vec![agent.desired_done(
                    version,
                    errors,
                    the_box::reported_config(&self.device.controller),
                )]
            }
            Done::Ran {
                response_topic,
                correlation,
                mut result,
            } => {
                result.message = the_box::scrub(&self.device.controller, &result.message);
                vec![agent.command_done(&response_topic, correlation, &result)]
            }
        };
        self.act(actions);
        self.show(agent);
    }

    /// Does what the agent asked.
    fn act(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Subscribe(topics) => {
                    if let Some(c) = &self.client {
                        let filters = topics.into_iter().map(|t| Filter::new(t, QoS::AtLeastOnce));
                        if let Err(e) = c.try_subscribe_many(filters) {
                            tracing::warn!("fleet: subscribe: {e}");
                        }
                    }
                }
                Action::Publish {
                    topic,
                    payload,
                    qos,
                    retain,
                    expiry_s,
                    correlation,
                    event_seq,
                } => self.publish(
                    topic,
                    payload,
                    qos,
                    retain,
                    expiry_s,
                    correlation,
                    event_seq,
                ),
                Action::Keep(e) => {
                    let json = serde_json::to_string(&e).unwrap_or_default();
                    let store = self.store.clone();
                    let r = tokio::task::block_in_place(|| store.keep(e.seq, &json));
                    if let Err(e) = r {
                        tracing::warn!("fleet: cannot keep an event: {e}");
                    }
                }
                Action::Forget(seqs) => {
                    let store = self.store.clone();
                    let _ = tokio::task::block_in_place(|| store.forget(&seqs));
                }
                Action::Apply(d) => {
                    let _ = self.store.set_number("last_desired", d.version);
                    let c = self.device.controller.clone();
                    let tx = self.done_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let errors = the_box::apply(&c, d.config);
                        let _ = tx.blocking_send(Done::Applied {
                            version: d.version,
                            errors,
                        });
                    });
                }
                Action::Run {
                    name,
                    command,
                    response_topic,
                    correlation,
                } => {
                    let device = self.device.clone();
                    let tx = self.done_tx.clone();
                    tokio::spawn(async move {
                        let result = super::commands::run(&device, &name, &command).await;
                        let _ = tx
                            .send(Done::Ran {
                                response_topic,
                                correlation,
                                result,
                            })
                            .await;
                    });
                }
                Action::Reconnect { .. } => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // one MQTT 5 publish, field by field
    fn publish(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        qos: fourcast_fleet::agent::Qos,
        retain: bool,
        expiry_s: Option<u32>,
        correlation: Option<Vec<u8>>,
        event_seq: Option<u64>,
    ) {
        let Some(c) = &self.client else {
            return;
        };
        let props = PublishProperties {
            message_expiry_interval: expiry_s,
            correlation_data: correlation.map(Into::into),
            content_type: Some("application/json".into()),
            ..PublishProperties::default()
        };
        match c.try_publish_with_properties(topic, mqtt::qos(qos), retain, payload, props) {
            Ok(()) => {
                self.order.push_back(event_seq);
                update(|s| s.published += 1);
            }
            Err(e) => tracing::warn!("fleet: publish: {e}"),
        }
    }

    fn show(&self, agent: &Agent) {
        let (queued, dropped) = agent.queue();
        update(|s| {
            s.queued = queued as u64;
            s.dropped = dropped;
        });
    }
}

/// 0..1, to spread a fleet's reconnects after a broker restart.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}
