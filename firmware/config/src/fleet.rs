//! `[fleet]`: the box's link to its fleet manager over MQTT 5 (the protocol is
//! `firmware/fleet/PROTOCOL.md`). Off unless enabled; mutual TLS unless a lab says
//! otherwise.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use fourcast_fleet::broker::Broker;

use crate::error::FieldError;
use crate::validate::{err, in_range};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fleet {
    pub enabled: bool,
    /// `mqtts://host[:port]` (port 8883 unless given).
    pub broker: String,
    /// Lets `broker` be plain `mqtt://` (no TLS, no client certificate): for a lab broker
    /// only, never a venue's network.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lab_plain_mqtt: bool,
    /// The fleet's name: the third topic level.
    pub tenant: String,
    /// This box's id (the fourth topic level and the MQTT client id); when empty, the
    /// board's serial number, else one made on first start and kept in the data dir.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub device_id: String,
    /// The box's client certificate (PEM), its key (PEM, mode 0600) and the broker's CA
    /// (PEM; the only CA trusted for the broker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// Telemetry every this many seconds (1–3600).
    pub telemetry_s: u32,
    /// The broker publishes the Will (`lost`) only after the box has been gone this long,
    /// s (0–3600): a shorter blip does not flap the box's state.
    pub will_delay_s: u32,
    /// Free labels the fleet manager selects boxes by (`venue-a`, `stage`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Events kept while the broker is away: at most this many (10–100000) …
    pub queue_events: u32,
    /// … and this many KiB (16–65536); the oldest go first, counted.
    pub queue_kib: u32,
}

impl Default for Fleet {
    fn default() -> Self {
        Self {
            enabled: false,
            broker: String::new(),
            lab_plain_mqtt: false,
            tenant: String::new(),
            device_id: String::new(),
            cert: None,
            key: None,
            ca: None,
            telemetry_s: 10,
            will_delay_s: 30,
            tags: Vec::new(),
            queue_events: 1000,
            queue_kib: 1024,
        }
    }
}

/// The most tags a box carries.
const MAX_TAGS: usize = 16;

impl Fleet {
    /// Nothing set: left out of a written document.
    pub fn is_default(&self) -> bool {
        self == &Fleet::default()
    }

    /// The broker's address from `broker`, or what is wrong with it.
    pub fn broker(&self) -> Result<Broker, String> {
        fourcast_fleet::broker::parse(&self.broker, self.lab_plain_mqtt)
    }
}

pub(crate) fn check(f: &Fleet, errs: &mut Vec<FieldError>) {
    in_range(errs, "fleet.telemetry_s", f.telemetry_s, &(1..=3600), " s");
    in_range(
        errs,
        "fleet.will_delay_s",
        f.will_delay_s,
        &(0..=3600),
        " s",
    );
    in_range(
        errs,
        "fleet.queue_events",
        f.queue_events,
        &(10..=100_000),
        "",
    );
    in_range(errs, "fleet.queue_kib", f.queue_kib, &(16..=65_536), " KiB");
    if f.tags.len() > MAX_TAGS {
        err(errs, "fleet.tags", format!("at most {MAX_TAGS} tags"));
    }
    for (i, tag) in f.tags.iter().enumerate() {
        if let Err(e) = fourcast_fleet::topic::check_id("tag", tag) {
            err(errs, format!("fleet.tags[{i}]"), e.to_string());
        }
    }
    if !f.device_id.is_empty()
        && let Err(e) = fourcast_fleet::topic::check_id("device", &f.device_id)
    {
        err(errs, "fleet.device_id", e.to_string());
    }
    if !f.enabled {
        return;
    }
    if let Err(e) = fourcast_fleet::topic::check_id("tenant", &f.tenant) {
        err(errs, "fleet.tenant", e.to_string());
    }
    match f.broker() {
        Err(e) => err(errs, "fleet.broker", e),
        Ok(b) if b.tls => {
            for (field, path) in [("cert", &f.cert), ("key", &f.key), ("ca", &f.ca)] {
                match path {
                    None => err(
                        errs,
                        format!("fleet.{field}"),
                        "mqtts needs the box's certificate, its key and the broker's CA",
                    ),
                    Some(p) if !p.is_absolute() => err(
                        errs,
                        format!("fleet.{field}"),
                        format!("{}: must be an absolute path", p.display()),
                    ),
                    Some(_) => {}
                }
            }
        }
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(broker: &str) -> Fleet {
        Fleet {
            enabled: true,
            broker: broker.into(),
            tenant: "acme".into(),
            cert: Some("/etc/fourcast/fleet/box.crt".into()),
            key: Some("/etc/fourcast/fleet/box.key".into()),
            ca: Some("/etc/fourcast/fleet/ca.crt".into()),
            ..Fleet::default()
        }
    }

    fn errors(f: &Fleet) -> Vec<String> {
        let mut errs = Vec::new();
        check(f, &mut errs);
        errs.iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn brokers_are_mqtts_with_a_host_and_plain_only_in_a_lab() {
        let b = fleet("mqtts://broker.example").broker().unwrap();
        assert_eq!(
            (b.tls, b.host.as_str(), b.port),
            (true, "broker.example", 8883)
        );
        let b = fleet("mqtts://[::1]:9883").broker().unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 9883));
        assert!(errors(&fleet("mqtts://10.0.0.5:8883")).is_empty());
        let plain = errors(&fleet("mqtt://10.0.0.5"));
        assert!(
            plain[0].starts_with("fleet.broker:") && plain[0].contains("in the clear"),
            "{plain:?}"
        );
        let lab = Fleet {
            lab_plain_mqtt: true,
            ..fleet("mqtt://10.0.0.5")
        };
        assert_eq!(lab.broker().unwrap().port, 1883);
        for bad in [
            "",
            "http://x",
            "mqtts://",
            "mqtts://:8883",
            "mqtts://h:0",
            "mqtts://h:99999",
            "mqtts://u@h",
        ] {
            assert!(!errors(&fleet(bad)).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn tls_needs_its_three_files_and_ids_are_topic_safe() {
        let f = Fleet {
            key: None,
            ..fleet("mqtts://b")
        };
        assert_eq!(
            errors(&f),
            ["fleet.key: mqtts needs the box's certificate, its key and the broker's CA"]
        );
        let f = Fleet {
            tenant: "Acme/1".into(),
            device_id: "box+".into(),
            tags: vec!["ok".into(), "not ok".into()],
            ..fleet("mqtts://b")
        };
        let e = errors(&f);
        assert!(e.iter().any(|e| e.starts_with("fleet.tenant:")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("fleet.device_id:")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("fleet.tags[1]:")), "{e:?}");
        assert!(errors(&Fleet::default()).is_empty(), "off: nothing needed");
    }
}
