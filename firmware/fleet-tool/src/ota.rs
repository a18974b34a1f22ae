//! `ota rollout` and `ota status`: a firmware update across a tag in stages (the pure
//! `fourcast_fleet::rollout` decides who is next and when to stop), and where each box's
//! update stands. A box counts as updated only when it reports `succeeded`, which the box
//! says after its post-update health check, never at install.

use std::collections::BTreeMap;

use anyhow::anyhow;
use fourcast_fleet::message::{Command, CommandResult, Event};
use fourcast_fleet::rollout::{Outcome, Plan, Rollout};
use fourcast_fleet::topic::Topics;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{Value, json};

use crate::Target;
use crate::ops::{after, at, listen, now_ms, targets};
use crate::session::{BrokerArgs, Message, Session};

pub(crate) struct RolloutArgs {
    pub tag: String,
    pub url: String,
    pub sha256: String,
    pub plan: Plan,
    pub health_window_s: u32,
    pub install: Option<String>,
    pub allow_downgrade: bool,
    pub discover: f64,
}

/// The device id of a box topic `fourcast/v1/{tenant}/{device}/…`.
fn device_of(topic: &str) -> Option<&str> {
    topic.split('/').nth(3)
}

pub(crate) async fn rollout(
    b: &BrokerArgs,
    r: &RolloutArgs,
    as_json: bool,
) -> anyhow::Result<bool> {
    let mut s = Session::connect(b, &b.client_id).await?;
    let target = Target {
        device: None,
        tag: Some(r.tag.clone()),
    };
    let ids: Vec<String> = targets(b, &mut s, &target, r.discover)
        .await?
        .into_keys()
        .collect();
    let responses = Topics::response(&b.tenant, &b.client_id).map_err(|e| anyhow!(e))?;
    s.subscribe(&[responses.clone(), at(b, "+", "events")])
        .await?;
    let job_id = format!("rollout-{}", now_ms());
    let mut args = json!({
        "id": job_id, "url": r.url, "sha256": r.sha256,
        "health_window_s": r.health_window_s, "allow_downgrade": r.allow_downgrade,
    });
    if let Some(i) = &r.install {
        args["install"] = json!(i);
    }
    let total = ids.len();
    let mut rollout = Rollout::new(r.plan, ids);
    let started = std::time::Instant::now();
    let mut said = std::time::Instant::now();
    eprintln!("rollout {job_id}: {total} boxes with tag {:?}", r.tag);
    while !rollout.finished() {
        for id in rollout.due(now_ms()) {
            let payload = serde_json::to_vec(&Command {
                id: format!("{job_id}-{id}"),
                expires_ms: now_ms() + 60_000,
                args: args.clone(),
            })?;
            let props = PublishProperties {
                response_topic: Some(responses.clone()),
                correlation_data: Some(id.clone().into_bytes().into()),
                message_expiry_interval: Some(60),
                ..PublishProperties::default()
            };
            s.publish(at(b, &id, "cmd/ota"), payload, props).await?;
        }
        while let Some(m) = s.next(after(0.2)).await? {
            hear(&mut rollout, &m, &responses, &job_id);
        }
        rollout.tick(now_ms());
        if said.elapsed().as_secs() >= 5 {
            said = std::time::Instant::now();
            let c = rollout.counts();
            eprintln!(
                "{:>6.0} s: {} succeeded, {} failed, {} running, {} untouched",
                started.elapsed().as_secs_f64(),
                c.succeeded,
                c.failed,
                c.running,
                c.untouched
            );
        }
    }
    let c = rollout.counts();
    if as_json {
        let boxes: BTreeMap<&String, &Outcome> = rollout.boxes().collect();
        println!(
            "{}",
            json!({"job": job_id, "aborted": rollout.aborted, "counts": c, "seconds": started.elapsed().as_secs_f64(), "boxes": boxes})
        );
    } else {
        for (id, o) in rollout.boxes() {
            match o {
                Outcome::Failed { phase, reason } => println!("{id:<24} {phase:<12} {reason}"),
                Outcome::Succeeded => println!("{id:<24} succeeded"),
                _ => {}
            }
        }
        println!(
            "{}: {} succeeded, {} failed, {} untouched of {total} in {:.1} s",
            match &rollout.aborted {
                Some(why) => format!("aborted ({why})"),
                None => "done".to_string(),
            },
            c.succeeded,
            c.failed,
            c.untouched,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(rollout.aborted.is_none() && c.failed == 0)
}

/// A box's answer to the job (a refusal ends it) or one of its `ota` events for the job.
fn hear(rollout: &mut Rollout, m: &Message, responses: &str, job_id: &str) {
    if m.topic == responses {
        let (Some(id), Ok(res)) = (
            m.correlation
                .clone()
                .and_then(|c| String::from_utf8(c).ok()),
            fourcast_fleet::message::parse::<CommandResult>(&m.payload),
        ) else {
            return;
        };
        if res.status >= 300 {
            rollout.report(&id, "refused", Some(&res.message));
        }
    } else if let (Some(id), Ok(e)) = (
        device_of(&m.topic),
        fourcast_fleet::message::parse::<Event>(&m.payload),
    ) && e.kind == "ota"
        && e.body["job"] == job_id
    {
        let phase = e.body["phase"].as_str().unwrap_or("");
        rollout.report(id, phase, e.body["reason"].as_str());
    }
}

/// Each box's update, from its telemetry (`fleet.telemetry_s`: wait at least that long).
pub(crate) async fn status(
    b: &BrokerArgs,
    tag: Option<&str>,
    wait: f64,
    as_json: bool,
) -> anyhow::Result<bool> {
    let mut s = Session::connect(b, &b.client_id).await?;
    let view = listen(b, &mut s, wait).await?;
    let rows: Vec<Value> = view
        .devices
        .values()
        .filter(|d| tag.is_none_or(|t| d.has_tag(t)))
        .map(|d| {
            let ota = d.telemetry.as_ref().map(|t| t["ota"].clone()).unwrap_or(Value::Null);
            json!({"id": d.id, "firmware": d.firmware, "job": ota["job"], "phase": ota["phase"],
                "to_version": ota["to_version"], "reason": ota["reason"], "waiting": ota["waiting"]})
        })
        .collect();
    if as_json {
        println!("{}", Value::Array(rows));
        return Ok(true);
    }
    println!(
        "{:<24} {:<10} {:<16} {:<16} why",
        "box", "firmware", "job", "phase"
    );
    let text = |v: &Value| v.as_str().unwrap_or("–").to_string();
    for r in &rows {
        let why = [text(&r["reason"]), text(&r["waiting"])]
            .into_iter()
            .filter(|t| t != "–")
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "{:<24} {:<10} {:<16} {:<16} {why}",
            text(&r["id"]),
            text(&r["firmware"]),
            text(&r["job"]),
            text(&r["phase"])
        );
    }
    Ok(true)
}
