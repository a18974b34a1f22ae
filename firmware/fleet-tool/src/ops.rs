//! What the fleet manager asks of the tool, one function per subcommand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use fourcast_fleet::message::{Command, CommandResult, Desired, Reported};
use fourcast_fleet::topic::Topics;
use fourcast_fleet::view::{Device, View};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Target;
use crate::session::{BrokerArgs, Session};

pub(crate) fn at(b: &BrokerArgs, device: &str, rest: &str) -> String {
    format!(
        "fourcast/{}/{}/{device}/{rest}",
        fourcast_fleet::VERSION,
        b.tenant
    )
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn after(seconds: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(seconds.max(0.0))
}

/// Listens to every box's state and telemetry for `wait` s.
pub(crate) async fn listen(b: &BrokerArgs, s: &mut Session, wait: f64) -> anyhow::Result<View> {
    s.subscribe(&[
        at(b, "+", "state"),
        at(b, "+", "birth"),
        at(b, "+", "telemetry"),
    ])
    .await?;
    let mut view = View::default();
    let deadline = after(wait);
    while let Some(m) = s.next(deadline).await? {
        view.take(&b.tenant, &m.topic, &m.payload, now_ms());
    }
    Ok(view)
}

fn ago(ms: u64) -> String {
    let s = now_ms().saturating_sub(ms) / 1000;
    if s < 120 {
        format!("{s} s ago")
    } else {
        format!("{} min ago", s / 60)
    }
}

fn row(d: &Device) -> Value {
    json!({
        "id": d.id,
        "tags": d.tags,
        "state": d.presence().map(|p| serde_json::to_value(p).unwrap_or_default()),
        "session": d.state.as_ref().map(|s| s.session),
        "firmware": d.firmware,
        "uptime_s": d.uptime_s,
        "uplinks_live": d.uplinks.map(|u| u.0),
        "uplinks": d.uplinks.map(|u| u.1),
        "last_seen_ms": d.last_seen_ms,
    })
}

pub(crate) async fn devices(b: &BrokerArgs, wait: f64, as_json: bool) -> anyhow::Result<bool> {
    let mut s = Session::connect(b, &b.client_id).await?;
    let view = listen(b, &mut s, wait).await?;
    if as_json {
        let rows: Vec<Value> = view.devices.values().map(row).collect();
        println!("{}", json!({ "devices": rows }));
        return Ok(true);
    }
    println!(
        "{:<24} {:<20} {:<9} {:<9} {:>9} {:>8}  last seen",
        "device", "tags", "state", "firmware", "uptime", "uplinks"
    );
    for d in view.devices.values() {
        let state = d
            .presence()
            .and_then(|p| serde_json::to_value(p).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        println!(
            "{:<24} {:<20} {:<9} {:<9} {:>9} {:>8}  {}",
            d.id,
            d.tags.join(","),
            state,
            d.firmware,
            d.uptime_s.map_or("-".into(), |u| format!("{:.0} s", u)),
            d.uplinks.map_or("-".into(), |(l, n)| format!("{l}/{n}")),
            ago(d.last_seen_ms)
        );
    }
    println!("{} boxes", view.devices.len());
    Ok(true)
}

pub(crate) async fn show(
    b: &BrokerArgs,
    device: &str,
    follow: bool,
    wait: f64,
) -> anyhow::Result<bool> {
    let mut s = Session::connect(b, &b.client_id).await?;
    s.subscribe(&[
        at(b, device, "state"),
        at(b, device, "birth"),
        at(b, device, "telemetry"),
        at(b, device, "config/reported"),
    ])
    .await?;
    let deadline = if follow { after(1e9) } else { after(wait) };
    let mut seen_telemetry = false;
    while let Some(m) = s.next(deadline).await? {
        let what = m
            .topic
            .rsplit_once(&format!("{device}/"))
            .map_or("", |x| x.1);
        let v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        match what {
            "telemetry" => {
                seen_telemetry = true;
                let e = &v["engine"];
                println!(
                    "telemetry: cpu {}% rss {} MB program {} fps dropped {} | rungs {} | uplinks {} | queued {} dropped {}",
                    v["cpu_pct"]
                        .as_f64()
                        .map_or("-".into(), |c| format!("{c:.1}")),
                    v["rss_mb"]
                        .as_f64()
                        .map_or("-".into(), |c| format!("{c:.0}")),
                    e["program"]["fps"]
                        .as_f64()
                        .map_or("-".into(), |c| format!("{c:.1}")),
                    e["program"]["dropped_frames"],
                    list(&e["rungs"], "name", "fps"),
                    list(&e["destinations"], "name", "state"),
                    v["fleet"]["queued"],
                    v["fleet"]["dropped"],
                );
                if !follow {
                    break;
                }
            }
            other => println!("{other}: {v}"),
        }
    }
    Ok(seen_telemetry || follow)
}

fn list(v: &Value, name: &str, field: &str) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| format!("{} {}", x[name].as_str().unwrap_or("?"), x[field]))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The ids a target names (for a tag: the boxes heard from with it, within `discover` s),
/// with their view.
pub(crate) async fn targets(
    b: &BrokerArgs,
    s: &mut Session,
    t: &Target,
    discover: f64,
) -> anyhow::Result<BTreeMap<String, Device>> {
    if let Some(id) = &t.device {
        fourcast_fleet::topic::check_id("device", id).map_err(|e| anyhow!(e))?;
        let view = {
            s.subscribe(&[at(b, id, "state")]).await?;
            let mut v = View::default();
            let deadline = after(0.5);
            while let Some(m) = s.next(deadline).await? {
                v.take(&b.tenant, &m.topic, &m.payload, now_ms());
            }
            v
        };
        let d = view.devices.get(id).cloned().unwrap_or(Device {
            id: id.clone(),
            ..Device::default()
        });
        return Ok(BTreeMap::from([(id.clone(), d)]));
    }
    let tag = t.tag.as_deref().unwrap_or_default();
    let view = listen(b, s, discover).await?;
    let out: BTreeMap<String, Device> = view
        .devices
        .into_iter()
        .filter(|(_, d)| d.has_tag(tag))
        .collect();
    if out.is_empty() {
        bail!("no box with tag {tag:?} was heard from in {discover} s");
    }
    Ok(out)
}

/// A config file as the JSON document the box takes: `.json` as is, anything else TOML.
fn read_config(file: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    if file.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text).with_context(|| format!("{}", file.display()));
    }
    toml::from_str::<Value>(&text).with_context(|| format!("{}", file.display()))
}

pub(crate) async fn config_push(
    b: &BrokerArgs,
    t: &Target,
    file: &Path,
    timeout: f64,
    discover: f64,
    as_json: bool,
) -> anyhow::Result<bool> {
    let config = read_config(file)?;
    let mut s = Session::connect(b, &b.client_id).await?;
    let devices = targets(b, &mut s, t, discover).await?;
    // Versions only grow: the time of the push is one.
    let version = now_ms();
    let payload = serde_json::to_vec(&Desired { version, config })?;
    if payload.len() > fourcast_fleet::MAX_PAYLOAD {
        bail!(
            "{}: {} bytes, more than a message holds ({})",
            file.display(),
            payload.len(),
            fourcast_fleet::MAX_PAYLOAD
        );
    }
    s.subscribe(&[at(b, "+", "config/reported")]).await?;
    let started = Instant::now();
    for id in devices.keys() {
        s.publish(
            at(b, id, "config/desired"),
            payload.clone(),
            PublishProperties::default(),
        )
        .await?;
    }
    let mut answers: BTreeMap<String, (Reported, f64)> = BTreeMap::new();
    let deadline = after(timeout);
    while answers.len() < devices.len() {
        let Some(m) = s.next(deadline).await? else {
            break;
        };
        let Some((id, _)) = fourcast_fleet::view::split_topic(&b.tenant, &m.topic) else {
            continue;
        };
        if !devices.contains_key(id) {
            continue;
        }
        if let Ok(r) = fourcast_fleet::message::parse::<Reported>(&m.payload)
            && r.version == version
        {
            answers.insert(id.to_string(), (r, started.elapsed().as_secs_f64()));
        }
    }
    let converged = answers.values().map(|(_, t)| *t).fold(0.0, f64::max);
    let mut applied = Vec::new();
    let mut refused = Vec::new();
    let mut offline = Vec::new();
    for (id, d) in &devices {
        match answers.get(id) {
            Some((r, _)) if r.applied => applied.push(id.clone()),
            Some((r, _)) => refused.push(json!({ "device": id, "errors": r.errors })),
            None => offline.push(json!({
                "device": id,
                "state": d.presence().map(|p| serde_json::to_value(p).unwrap_or_default()),
            })),
        }
    }
    let all = applied.len() == devices.len();
    if as_json {
        println!(
            "{}",
            json!({
                "version": version, "boxes": devices.len(), "applied": applied,
                "refused": refused, "offline": offline, "converged_s": converged,
            })
        );
        return Ok(all);
    }
    println!("config version {version} to {} boxes", devices.len());
    for id in &applied {
        println!("  {id:<24} applied");
    }
    for r in &refused {
        for e in r["errors"].as_array().into_iter().flatten() {
            println!(
                "  {:<24} refused   {}: {}",
                r["device"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            );
        }
    }
    for o in &offline {
        println!(
            "  {:<24} offline   no report in {timeout} s (last state: {})",
            o["device"].as_str().unwrap_or(""),
            o["state"].as_str().unwrap_or("unknown")
        );
    }
    println!(
        "{} applied, {} refused, {} offline; the last report came {:.2} s after the push",
        applied.len(),
        refused.len(),
        offline.len(),
        converged
    );
    Ok(all)
}

pub(crate) struct CmdArgs {
    pub name: String,
    pub args: String,
    pub timeout: f64,
    pub expires: u64,
    pub id: Option<String>,
    pub out: Option<PathBuf>,
}

pub(crate) async fn cmd(
    b: &BrokerArgs,
    t: &Target,
    c: &CmdArgs,
    as_json: bool,
) -> anyhow::Result<bool> {
    let args: Value =
        serde_json::from_str(&c.args).with_context(|| format!("arguments {:?}", c.args))?;
    let mut s = Session::connect(b, &b.client_id).await?;
    let devices = targets(b, &mut s, t, 3.0).await?;
    let responses = Topics::response(&b.tenant, &b.client_id).map_err(|e| anyhow!(e))?;
    s.subscribe(std::slice::from_ref(&responses)).await?;
    let stamp = now_ms();
    let mut sent: BTreeMap<String, (String, Instant)> = BTreeMap::new();
    for id in devices.keys() {
        let cmd_id = c.id.clone().unwrap_or_else(|| format!("{id}-{stamp}"));
        let payload = serde_json::to_vec(&Command {
            id: cmd_id.clone(),
            expires_ms: now_ms() + c.expires * 1000,
            args: args.clone(),
        })?;
        let props = PublishProperties {
            response_topic: Some(responses.clone()),
            correlation_data: Some(id.clone().into_bytes().into()),
            message_expiry_interval: Some(u32::try_from(c.expires).unwrap_or(u32::MAX)),
            ..PublishProperties::default()
        };
        sent.insert(id.clone(), (cmd_id, Instant::now()));
        s.publish(at(b, id, &format!("cmd/{}", c.name)), payload, props)
            .await?;
    }
    let mut results: BTreeMap<String, (CommandResult, f64)> = BTreeMap::new();
    let deadline = after(c.timeout);
    while results.len() < sent.len() {
        let Some(m) = s.next(deadline).await? else {
            break;
        };
        let Some(device) = m.correlation.and_then(|c| String::from_utf8(c).ok()) else {
            continue;
        };
        let Some((_, at)) = sent.get(&device) else {
            continue;
        };
        if let Ok(r) = fourcast_fleet::message::parse::<CommandResult>(&m.payload) {
            results.insert(device, (r, at.elapsed().as_secs_f64() * 1000.0));
        }
    }
    if let (Some(out), Some((r, _))) = (&c.out, results.values().next())
        && let Some(b64) = r.body["jpeg_base64"].as_str()
    {
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .context("the snapshot's base64")?;
        std::fs::write(out, jpeg).with_context(|| format!("{}", out.display()))?;
    }
    let ok = results.len() == sent.len() && results.values().all(|(r, _)| r.status < 300);
    print_results(&sent, &results, c.timeout, as_json);
    Ok(ok)
}

fn print_results(
    sent: &BTreeMap<String, (String, Instant)>,
    results: &BTreeMap<String, (CommandResult, f64)>,
    timeout: f64,
    as_json: bool,
) {
    let mut rtts: Vec<f64> = results.values().map(|(_, ms)| *ms).collect();
    rtts.sort_by(f64::total_cmp);
    let pct = |p: f64| -> Option<f64> {
        (!rtts.is_empty()).then(|| rtts[((rtts.len() - 1) as f64 * p).round() as usize])
    };
    if as_json {
        let rows: Vec<Value> = sent
            .keys()
            .map(|id| match results.get(id) {
                Some((r, ms)) => {
                    let mut body = r.body.clone();
                    if let Some(o) = body.as_object_mut() {
                        o.remove("jpeg_base64");
                    }
                    json!({ "device": id, "status": r.status, "message": r.message,
                            "field": r.field, "body": body, "rtt_ms": ms })
                }
                None => json!({ "device": id, "status": null, "message": "no answer" }),
            })
            .collect();
        println!(
            "{}",
            json!({ "results": rows, "rtt_p50_ms": pct(0.5), "rtt_p99_ms": pct(0.99) })
        );
        return;
    }
    for id in sent.keys() {
        match results.get(id) {
            Some((r, ms)) => println!(
                "  {id:<24} {} {}{} ({ms:.0} ms)",
                r.status,
                r.field
                    .as_deref()
                    .map_or(String::new(), |f| format!("{f}: ")),
                if r.message.is_empty() {
                    "ok"
                } else {
                    &r.message
                }
            ),
            None => println!("  {id:<24} no answer in {timeout} s"),
        }
    }
    if let (Some(p50), Some(p99)) = (pct(0.5), pct(0.99)) {
        println!(
            "{} of {} answered; round trip p50 {p50:.1} ms, p99 {p99:.1} ms",
            results.len(),
            sent.len()
        );
    }
}

pub(crate) async fn events(
    b: &BrokerArgs,
    device: Option<&str>,
    follow: bool,
    wait: f64,
) -> anyhow::Result<bool> {
    let mut s = Session::connect(b, &b.client_id).await?;
    s.subscribe(&[at(b, device.unwrap_or("+"), "events")])
        .await?;
    let deadline = if follow { after(1e9) } else { after(wait) };
    while let Some(m) = s.next(deadline).await? {
        let id = fourcast_fleet::view::split_topic(&b.tenant, &m.topic).map_or("?", |x| x.0);
        let v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        println!("{}", json!({ "device": id, "event": v }));
    }
    Ok(true)
}
