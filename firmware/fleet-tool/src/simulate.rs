//! `simulate`: N boxes' protocol cores (the same `Agent` the daemon runs, no media plane)
//! on one broker, to measure how it holds a fleet. Each applies every desired config and
//! answers every command at once, so what is measured is the broker and the protocol.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use fourcast_fleet::agent::{Action, Agent, Setup};
use fourcast_fleet::message::CommandResult;
use fourcast_fleet::mqtt;
use fourcast_fleet::topic::Topics;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, LastWill, Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::ops::now_ms;
use crate::session::BrokerArgs;

/// How simulated boxes take an update job (`cmd/ota`): its phases as events over
/// `seconds`, ending `succeeded`, or `rolled_back` for `fail_pct` % of the boxes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OtaScript {
    pub fail_pct: u32,
    pub seconds: f64,
}

const OTA_PHASES: [&str; 5] = [
    "downloading",
    "verifying",
    "installing",
    "rebooting",
    "checking_health",
];

pub(crate) async fn run(
    b: &BrokerArgs,
    n: usize,
    prefix: &str,
    tag: &str,
    telemetry_s: u64,
    ota: OtaScript,
) -> anyhow::Result<bool> {
    raise_descriptor_limit(n);
    let connected = Arc::new(AtomicUsize::new(0));
    for i in 0..n {
        let id = format!("{prefix}-{i:04}");
        let topics = Topics::new(&b.tenant, &id).map_err(|e| anyhow!(e))?;
        let setup = Setup {
            topics,
            firmware: "sim".into(),
            boot_id: format!("{i:x}"),
            session: 1,
            telemetry_every_ms: telemetry_s * 1000,
            tags: vec![tag.to_string()],
            queue_events: 100,
            queue_bytes: 64 << 10,
        };
        // Spread evenly: exactly fail_pct of every 100 consecutive boxes fail.
        let fails = (i * 37 + 11) % 100 < ota.fail_pct as usize;
        tokio::spawn(one(b.clone(), id, setup, connected.clone(), (ota, fails)));
        // Spread the connects a little, as a fleet's boot does.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        println!(
            "{:>6.0} s: {} of {n} simulated boxes connected; simulator RSS {:.1} MB",
            started.elapsed().as_secs_f64(),
            connected.load(Ordering::Relaxed),
            rss_mb()
        );
    }
}

async fn one(
    b: BrokerArgs,
    id: String,
    setup: Setup,
    connected: Arc<AtomicUsize>,
    ota: (OtaScript, bool),
) {
    let mut agent = Agent::new(setup, 1, Vec::new(), None);
    let (events_tx, mut events) = mpsc::channel::<(String, Value)>(16);
    let script = Script {
        ota: ota.0,
        fails: ota.1,
        events: events_tx,
    };
    loop {
        let broker = match fourcast_fleet::broker::parse(&b.broker, b.lab_plain_mqtt) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{id}: {e}");
                return;
            }
        };
        let tls = match (&b.ca, &b.cert, &b.key) {
            (Some(ca), Some(cert), Some(key)) if broker.tls => Some(mqtt::Tls { ca, cert, key }),
            _ => None,
        };
        let mut options = match mqtt::options(&mqtt::Link {
            client_id: &id,
            host: &broker.host,
            port: broker.port,
            tls,
            keep_alive: Duration::from_secs(60),
        }) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{id}: {e}");
                return;
            }
        };
        let (topic, payload) = agent.will(now_ms());
        options.set_last_will(LastWill::new(topic, payload, QoS::AtLeastOnce, true, None));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut up = false;
        let after_ms = loop {
            tokio::select! {
                polled = eventloop.poll() => match polled {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        up = true;
                        connected.fetch_add(1, Ordering::Relaxed);
                        let birth = json!({"board": "simulated", "tags": [], "capabilities": fourcast_fleet::agent::COMMANDS});
                        let actions = agent.connected(now_ms(), birth);
                        act(&client, &mut agent, actions, &script);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let topic = String::from_utf8_lossy(&p.topic).to_string();
                        let props = p.properties.unwrap_or_default();
                        let actions = agent.message(now_ms(), &topic, &p.payload,
                            props.response_topic.as_deref(), props.correlation_data.map(|c| c.to_vec()));
                        act(&client, &mut agent, actions, &script);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        if up {
                            connected.fetch_sub(1, Ordering::Relaxed);
                        }
                        match agent.disconnected(0.5) {
                            Action::Reconnect { after_ms } => break after_ms,
                            _ => break 1_000,
                        }
                    }
                },
                _ = tick.tick() => {
                    let actions = agent.tick(now_ms(), || json!({"engine": {"destinations": []}}));
                    act(&client, &mut agent, actions, &script);
                }
                Some((kind, body)) = events.recv() => {
                    let actions = agent.event(now_ms(), &kind, body);
                    act(&client, &mut agent, actions, &script);
                }
            }
        };
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
    }
}

/// A simulated box's update behaviour, and where its scripted events go.
struct Script {
    ota: OtaScript,
    fails: bool,
    events: mpsc::Sender<(String, Value)>,
}

impl Script {
    /// Plays an update job: each phase as an event, then its end.
    fn play(&self, job: String) {
        let (events, step, fails) = (
            self.events.clone(),
            self.ota.seconds / (OTA_PHASES.len() + 1) as f64,
            self.fails,
        );
        tokio::spawn(async move {
            for phase in OTA_PHASES {
                tokio::time::sleep(Duration::from_secs_f64(step)).await;
                let _ = events
                    .send(("ota".into(), json!({"job": job, "phase": phase})))
                    .await;
            }
            tokio::time::sleep(Duration::from_secs_f64(step)).await;
            let end = if fails {
                json!({"job": job, "phase": "rolled_back", "reason": "simulated: the program makes no frames"})
            } else {
                json!({"job": job, "phase": "succeeded"})
            };
            let _ = events.send(("ota".into(), end)).await;
        });
    }
}

/// Does what the simulated box's agent asks: desired configs apply, commands succeed, an
/// update job plays its script.
fn act(client: &AsyncClient, agent: &mut Agent, actions: Vec<Action>, script: &Script) {
    let mut queue = actions;
    while let Some(a) = (!queue.is_empty()).then(|| queue.remove(0)) {
        match a {
            Action::Subscribe(t) => {
                let _ = client
                    .try_subscribe_many(t.into_iter().map(|t| Filter::new(t, QoS::AtLeastOnce)));
            }
            Action::Publish {
                topic,
                payload,
                qos,
                retain,
                expiry_s,
                correlation,
                event_seq,
            } => {
                // A simulated box takes the client's queue for the broker's acknowledgement.
                if let Some(seq) = event_seq {
                    queue.extend(agent.event_acked(seq));
                }
                let props = PublishProperties {
                    message_expiry_interval: expiry_s,
                    correlation_data: correlation.map(Into::into),
                    ..PublishProperties::default()
                };
                let _ = client.try_publish_with_properties(
                    topic,
                    mqtt::qos(qos),
                    retain,
                    payload,
                    props,
                );
            }
            Action::Apply(d) => {
                queue.push(agent.desired_done(d.version, Vec::new(), json!({"simulated": true})));
            }
            Action::Run {
                name,
                command,
                response_topic,
                correlation,
            } => {
                let mut status = 200;
                if name == "ota" {
                    let job = command.args["id"]
                        .as_str()
                        .unwrap_or(&command.id)
                        .to_string();
                    script.play(job);
                    status = 202;
                }
                let result = CommandResult {
                    id: command.id,
                    status,
                    message: String::new(),
                    field: None,
                    body: json!({"simulated": true}),
                };
                queue.push(agent.command_done(&response_topic, correlation, &result));
            }
            Action::Keep(_) | Action::Forget(_) | Action::Reconnect { .. } => {}
        }
    }
}

fn raise_descriptor_limit(n: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = hard.min((n as u64) * 2 + 256).max(soft);
        let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
    }
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
