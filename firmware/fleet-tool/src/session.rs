//! One MQTT connection of the tool: connect, subscribe (and know the broker took it),
//! publish, and read what arrives, each with a deadline.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use fourcast_fleet::mqtt;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PublishProperties, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Where the fleet's broker is and who the tool is to it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BrokerArgs {
    /// `mqtts://host[:port]` (or `mqtt://` with --lab-plain-mqtt).
    #[arg(long, env = "FOURCAST_FLEET_BROKER")]
    pub broker: String,
    /// The fleet's tenant (the third topic level).
    #[arg(long, env = "FOURCAST_FLEET_TENANT")]
    pub tenant: String,
    /// The broker's CA (PEM).
    #[arg(long, env = "FOURCAST_FLEET_CA")]
    pub ca: Option<PathBuf>,
    /// The tool's client certificate and key (PEM; the key mode 0600).
    #[arg(long, env = "FOURCAST_FLEET_CERT")]
    pub cert: Option<PathBuf>,
    #[arg(long, env = "FOURCAST_FLEET_KEY")]
    pub key: Option<PathBuf>,
    /// Allow a plain `mqtt://` broker (a lab only).
    #[arg(long)]
    pub lab_plain_mqtt: bool,
    /// The tool's MQTT client id (its responses topic is under it).
    #[arg(long, env = "FOURCAST_FLEET_CLIENT", default_value = "fleet-tool")]
    pub client_id: String,
}

/// What arrived.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub correlation: Option<Vec<u8>>,
}

enum Incoming {
    Message(Message),
    SubAck(Vec<SubscribeReasonCode>),
    Lost(String),
}

pub(crate) struct Session {
    pub client: AsyncClient,
    rx: mpsc::Receiver<Incoming>,
    backlog: VecDeque<Message>,
}

impl Session {
    /// Connects as `client_id` (the tool's, or a simulated box's).
    pub(crate) async fn connect(b: &BrokerArgs, client_id: &str) -> anyhow::Result<Session> {
        let broker =
            fourcast_fleet::broker::parse(&b.broker, b.lab_plain_mqtt).map_err(|e| anyhow!(e))?;
        let (host, port) = (broker.host, broker.port);
        let tls = if broker.tls {
            match (&b.ca, &b.cert, &b.key) {
                (Some(ca), Some(cert), Some(key)) => Some(mqtt::Tls { ca, cert, key }),
                _ => bail!("mqtts needs --ca, --cert and --key"),
            }
        } else {
            None
        };
        let options = mqtt::options(&mqtt::Link {
            client_id,
            host: &host,
            port,
            tls,
            keep_alive: Duration::from_secs(30),
        })
        .map_err(|e| anyhow!(e))?;
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let (tx, rx) = mpsc::channel(4096);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let m = Message {
                            topic: String::from_utf8_lossy(&p.topic).to_string(),
                            payload: p.payload.to_vec(),
                            correlation: p
                                .properties
                                .and_then(|pr| pr.correlation_data.map(|c| c.to_vec())),
                        };
                        if tx.send(Incoming::Message(m)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(s))) => {
                        let _ = tx.send(Incoming::SubAck(s.return_codes)).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let why = mqtt::describe(&e);
                        match ready.take() {
                            Some(r) => {
                                let _ = r.send(Err(why));
                            }
                            None => {
                                let _ = tx.send(Incoming::Lost(why)).await;
                            }
                        }
                        return;
                    }
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(15), ready_rx).await {
            Ok(Ok(Ok(()))) => Ok(Session {
                client,
                rx,
                backlog: VecDeque::new(),
            }),
            Ok(Ok(Err(why))) => bail!("cannot connect to {}: {why}", b.broker),
            _ => bail!("cannot connect to {}: no answer in 15 s", b.broker),
        }
    }

    /// Subscribes and waits until the broker has taken every filter.
    pub(crate) async fn subscribe(&mut self, filters: &[String]) -> anyhow::Result<()> {
        let f: Vec<Filter> = filters
            .iter()
            .map(|t| Filter::new(t.clone(), QoS::AtLeastOnce))
            .collect();
        self.client.subscribe_many(f).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Incoming::SubAck(codes))) => {
                    if let Some(bad) = codes
                        .iter()
                        .find(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                    {
                        bail!("the broker refused the subscription to {filters:?}: {bad:?}");
                    }
                    return Ok(());
                }
                Ok(Some(Incoming::Message(m))) => self.backlog.push_back(m),
                Ok(Some(Incoming::Lost(why))) => bail!("connection lost: {why}"),
                Ok(None) => bail!("connection closed"),
                Err(_) => bail!("no answer to the subscription in 10 s"),
            }
        }
    }

    /// The next message before `deadline` (None when it passes).
    pub(crate) async fn next(&mut self, deadline: Instant) -> anyhow::Result<Option<Message>> {
        if let Some(m) = self.backlog.pop_front() {
            return Ok(Some(m));
        }
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Incoming::Message(m))) => return Ok(Some(m)),
                Ok(Some(Incoming::SubAck(_))) => {}
                Ok(Some(Incoming::Lost(why))) => bail!("connection lost: {why}"),
                Ok(None) => bail!("connection closed"),
                Err(_) => return Ok(None),
            }
        }
    }

    pub(crate) async fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        props: PublishProperties,
    ) -> anyhow::Result<()> {
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload, props)
            .await?;
        Ok(())
    }
}
