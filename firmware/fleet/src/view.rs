//! The fleet manager's view: what the tool knows of each box from the messages it read
//! (state, birth, telemetry), with the protocol's rule that the newest session wins, so a
//! late Will never hides a box that came back.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::message::{Presence, State};

/// One box as last heard of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Device {
    pub id: String,
    pub state: Option<State>,
    pub tags: Vec<String>,
    pub firmware: String,
    pub uptime_s: Option<f64>,
    /// Uplinks live / configured, from the last telemetry.
    pub uplinks: Option<(usize, usize)>,
    pub last_seen_ms: u64,
    pub telemetry: Option<Value>,
}

impl Device {
    pub fn presence(&self) -> Option<Presence> {
        self.state.as_ref().map(|s| s.state)
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Every box heard of, by id.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub devices: BTreeMap<String, Device>,
}

/// `fourcast/v1/{tenant}/{device}/{rest}` → (device, rest).
pub fn split_topic<'a>(tenant: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = topic
        .strip_prefix("fourcast/")?
        .strip_prefix(crate::VERSION)?;
    let rest = rest
        .strip_prefix('/')?
        .strip_prefix(tenant)?
        .strip_prefix('/')?;
    let (device, what) = rest.split_once('/')?;
    (!device.starts_with('_')).then_some((device, what))
}

impl View {
    /// Takes in one message; `now_ms` is when it arrived. Returns false if it was not a
    /// box's state, birth or telemetry (or did not parse).
    pub fn take(&mut self, tenant: &str, topic: &str, payload: &[u8], now_ms: u64) -> bool {
        let Some((id, what)) = split_topic(tenant, topic) else {
            return false;
        };
        let Ok(v) = crate::message::parse::<Value>(payload) else {
            return false;
        };
        let d = self
            .devices
            .entry(id.to_string())
            .or_insert_with(|| Device {
                id: id.to_string(),
                ..Device::default()
            });
        match what {
            "state" => {
                let Ok(s) = serde_json::from_value::<State>(v) else {
                    return false;
                };
                if d.state.as_ref().is_none_or(|cur| s.supersedes(cur)) {
                    d.firmware.clone_from(&s.firmware);
                    if !s.tags.is_empty() {
                        d.tags.clone_from(&s.tags);
                    }
                    d.state = Some(s);
                }
            }
            "birth" => {
                d.tags = strings(&v["tags"]);
                if let Some(f) = v["firmware"].as_str() {
                    d.firmware = f.to_string();
                }
            }
            "telemetry" => {
                if v["tags"].is_array() {
                    d.tags = strings(&v["tags"]);
                }
                d.uptime_s = v["uptime_s"].as_f64();
                if let Some(ups) = v["engine"]["destinations"].as_array() {
                    let live = ups.iter().filter(|u| u["state"] == "live").count();
                    d.uplinks = Some((live, ups.len()));
                }
                d.telemetry = Some(v);
            }
            _ => return false,
        }
        d.last_seen_ms = now_ms;
        true
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_session_wins_and_tags_come_from_birth_or_telemetry() {
        let mut v = View::default();
        let t = |d: &str, w: &str| format!("fourcast/v1/acme/{d}/{w}");
        let birth = br#"{"tags":["stage"],"firmware":"0.1.0"}"#;
        assert!(v.take("acme", &t("box-1", "birth"), birth, 1));
        let online =
            br#"{"state":"online","firmware":"0.1.0","boot_id":"b","session":8,"at_ms":10}"#;
        let late_will =
            br#"{"state":"lost","firmware":"0.1.0","boot_id":"a","session":7,"at_ms":20}"#;
        assert!(v.take("acme", &t("box-1", "state"), online, 2));
        assert!(v.take("acme", &t("box-1", "state"), late_will, 3));
        let d = &v.devices["box-1"];
        assert_eq!(d.presence(), Some(Presence::Online));
        assert!(d.has_tag("stage") && d.last_seen_ms == 3);
        let telemetry = br#"{"tags":["foyer"],"uptime_s":5.0,"engine":{"destinations":[{"state":"live"},{"state":"retrying"}]}}"#;
        assert!(v.take("acme", &t("box-2", "telemetry"), telemetry, 4));
        let d = &v.devices["box-2"];
        assert_eq!((d.uplinks, d.has_tag("foyer")), (Some((1, 2)), true));
        assert!(!v.take("acme", &t("box-1", "events"), b"{}", 5));
        assert!(!v.take("acme", "fourcast/v1/acme/_fleet/tool/responses", b"{}", 5));
        assert!(!v.take("other", &t("box-1", "state"), online, 5));
        assert!(!v.take("acme", &t("box-1", "state"), b"{not json", 5));
    }
}
