//! Where the RTMP ingest server hands a publisher's media to the engine.
//!
//! The server (in the daemon, on `rml_rtmp`) checks the stream key against the hub and,
//! when the key belongs to an `rtmp` input, gets a [`Publish`] that takes the audio and
//! video messages. They are written as an FLV stream into the input's feed pipeline
//! (`appsrc ! decodebin`, see [`crate::inputs::decoded`]). Ports outlive program rebuilds, so a phone
//! that is publishing keeps going when the technician changes the layout; a feed pipeline
//! built anew mid-publish is sent the FLV header and the codec set-up again first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::flv;
use crate::lock;

/// Why a publish was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("input {0} is already being published to")]
    Busy(String),
}

#[derive(Default)]
pub struct IngestHub {
    ports: Mutex<HashMap<String, Arc<IngestPort>>>,
}

impl IngestHub {
    /// The port for `input` published with `key`: the one already there for that key (its
    /// publisher keeps publishing), or a new one.
    pub(crate) fn port(&self, input: &str, key: &str) -> Arc<IngestPort> {
        let mut ports = lock(&self.ports);
        match ports.get(key) {
            Some(p) if p.input == input => p.clone(),
            _ => {
                let p = Arc::new(IngestPort::new(input));
                if let Some(old) = ports.insert(key.to_string(), p.clone()) {
                    old.close();
                }
                p
            }
        }
    }

    /// Closes the ports whose key is not in `keys` (their publishers are disconnected).
    pub(crate) fn retain(&self, keys: &[&str]) {
        lock(&self.ports).retain(|k, p| {
            let keep = keys.contains(&k.as_str());
            if !keep {
                p.close();
            }
            keep
        });
    }

    /// Whether any `rtmp` input is configured.
    pub fn is_empty(&self) -> bool {
        lock(&self.ports).is_empty()
    }

    /// Starts a publish with `key`. Every configured key is compared, whatever matches, so
    /// the time taken says nothing about which keys exist.
    pub fn publish(&self, key: &str) -> Result<Publish, Refused> {
        let ports = lock(&self.ports);
        let mut found = None;
        for (k, p) in ports.iter() {
            if same(k.as_bytes(), key.as_bytes()) {
                found = Some(p.clone());
            }
        }
        let port = found.ok_or(Refused::UnknownKey)?;
        if port.publishing.swap(true, Ordering::AcqRel) {
            return Err(Refused::Busy(port.input.clone()));
        }
        Ok(Publish { port })
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One `rtmp` input's end of the hub.
pub struct IngestPort {
    input: String,
    src: Mutex<Option<Sink>>,
    publishing: AtomicBool,
    closed: AtomicBool,
    /// The codec set-up (AVC decoder configuration, AAC AudioSpecificConfig) as FLV tags,
    /// sent again to a pipeline that starts mid-publish.
    setup: Mutex<Setup>,
}

struct Sink {
    src: gst_app::AppSrc,
    /// The FLV header has not been written to this appsrc yet.
    fresh: bool,
}

#[derive(Default)]
struct Setup {
    video: Option<Vec<u8>>,
    audio: Option<Vec<u8>>,
}

impl IngestPort {
    fn new(input: &str) -> Self {
        IngestPort {
            input: input.to_string(),
            src: Mutex::new(None),
            publishing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            setup: Mutex::new(Setup::default()),
        }
    }

    /// The feed's pipeline for this run: media goes here from now on.
    pub(crate) fn attach(&self, src: gst_app::AppSrc) {
        *lock(&self.src) = Some(Sink { src, fresh: true });
    }

    pub(crate) fn detach(&self, src: &gst_app::AppSrc) {
        let mut slot = lock(&self.src);
        if slot.as_ref().is_some_and(|s| &s.src == src) {
            *slot = None;
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn push(&self, tag_type: u8, timestamp_ms: u32, data: &[u8]) {
        let setup = flv::is_setup(tag_type, data);
        if setup {
            let mut s = lock(&self.setup);
            let slot = if tag_type == flv::VIDEO {
                &mut s.video
            } else {
                &mut s.audio
            };
            *slot = Some(data.to_vec());
        }
        let mut slot = lock(&self.src);
        let Some(sink) = slot.as_mut() else { return };
        let mut bytes = Vec::with_capacity(data.len() + 64);
        if sink.fresh {
            sink.fresh = false;
            bytes.extend_from_slice(&flv::header());
            let s = lock(&self.setup);
            for (t, d) in [(flv::VIDEO, &s.video), (flv::AUDIO, &s.audio)] {
                if let Some(d) = d
                    && !(setup && t == tag_type)
                {
                    flv::tag(&mut bytes, t, timestamp_ms, d);
                }
            }
        }
        flv::tag(&mut bytes, tag_type, timestamp_ms, data);
        let _ = sink.src.push_buffer(gst::Buffer::from_mut_slice(bytes));
    }
}

/// A publisher sending to one `rtmp` input; dropping it ends the publish.
pub struct Publish {
    port: Arc<IngestPort>,
}

impl Publish {
    /// The input this publish feeds.
    pub fn input(&self) -> &str {
        &self.port.input
    }

    /// The input was removed or its key changed: the server should hang up.
    pub fn is_closed(&self) -> bool {
        self.port.closed.load(Ordering::Acquire)
    }

    /// An RTMP video message body (an FLV video tag's data).
    pub fn video(&self, timestamp_ms: u32, data: &[u8]) {
        self.port.push(flv::VIDEO, timestamp_ms, data);
    }

    /// An RTMP audio message body (an FLV audio tag's data).
    pub fn audio(&self, timestamp_ms: u32, data: &[u8]) {
        self.port.push(flv::AUDIO, timestamp_ms, data);
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        *lock(&self.port.setup) = Setup::default();
        // The feed sees the end of the stream and waits for the next publisher.
        if let Some(sink) = lock(&self.port.src).as_ref() {
            let _ = sink.src.end_of_stream();
        }
        self.port.publishing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_one_publisher_at_a_time() {
        let hub = IngestHub::default();
        hub.port("phone", "s3cret-key");
        assert_eq!(hub.publish("wrong").err(), Some(Refused::UnknownKey));
        assert_eq!(hub.publish("s3cret-ke").err(), Some(Refused::UnknownKey));
        let p = hub.publish("s3cret-key").expect("the key is known");
        assert_eq!(p.input(), "phone");
        assert_eq!(
            hub.publish("s3cret-key").err(),
            Some(Refused::Busy("phone".into()))
        );
        drop(p);
        assert!(hub.publish("s3cret-key").is_ok());
    }

    #[test]
    fn a_removed_key_closes_its_publish() {
        let hub = IngestHub::default();
        hub.port("phone", "key-one-1");
        let p = hub.publish("key-one-1").expect("known");
        hub.retain(&[]);
        assert!(p.is_closed());
        assert_eq!(hub.publish("key-one-1").err(), Some(Refused::UnknownKey));
    }
}
