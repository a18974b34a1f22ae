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
use serde_json::json;

use crate::ops::now_ms;
use crate::session::BrokerArgs;

pub(crate) async fn run(
    b: &BrokerArgs,
    n: usize,
    prefix: &str,
    tag: &str,
    telemetry_s: u64,
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
        tokio::spawn(one(b.clone(), id, setup, connected.clone()));
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

async fn one(b: BrokerArgs, id: String, setup: Setup, connected: Arc<AtomicUsize>) {
    let mut agent = Agent::new(setup, 1, Vec::new(), None);
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
                        act(&client, &mut agent, actions);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let topic = String::from_utf8_lossy(&p.topic).to_string();
                        let props = p.properties.unwrap_or_default();
                        let actions = agent.message(now_ms(), &topic, &p.payload,
                            props.response_topic.as_deref(), props.correlation_data.map(|c| c.to_vec()));
                        act(&client, &mut agent, actions);
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
                    act(&client, &mut agent, actions);
                }
            }
        };
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
    }
}

/// Does what the simulated box's agent asks: desired configs apply, commands succeed.
fn act(client: &AsyncClient, agent: &mut Agent, actions: Vec<Action>) {
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
                ..
            } => {
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
                command,
                response_topic,
                correlation,
                ..
            } => {
                let result = CommandResult {
                    id: command.id,
                    status: 200,
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
