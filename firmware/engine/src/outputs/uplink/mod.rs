//! One uplink destination (SRT or RTMP): its spec from config, its pipeline, and the
//! thread that keeps it connected.
//!
//! ```text
//! tap ─▶ appsrc(H.264) ─ h264parse ─┐                     (rung feed: encode once)
//!  or    appsrc(raw) ─ scale ─ enc ─┤                     (adaptive SRT: own encoder)
//! tap ─▶ appsrc(AAC) ─ aacparse ────┴─ mpegtsmux ─ srtsink   |   flvmux ─ rtmp2sink
//! ```
//! Each destination is its own pipeline, so a refused, dropped or slow link only ever
//! stalls itself; the tap drops its frames and the program, HLS and other destinations go
//! on. A supervisor thread runs the [`Connection`] state machine: build, watch the bus,
//! tear down on error, back off, build again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fourcast_config::SrtEnd;
use gst::prelude::*;
use serde::Serialize;

use crate::adaptive::{Adaptive, LinkSample};
use crate::ladder::encoder;
use crate::link::{self, Counters, STALL_MS};
use crate::outputs::tap::{Feed, Outlet, TapHub};
use crate::retry::{Connection, State};
use crate::{EngineError, EngineEvent, EventSink, make};

mod rtmp;
mod spec;
mod srt;

pub use spec::{Link, Spec, specs};
use srt::{SrtCounters, read_srt_stats};

/// What status shows of a destination.
#[derive(Debug, Clone, Serialize)]
pub struct UplinkStatus {
    pub name: String,
    pub kind: &'static str,
    pub target: String,
    pub rung: String,
    pub state: State,
    pub adaptive: bool,
    /// Bytes handed to the network since the box started.
    pub bytes_sent: u64,
    /// Measured over the last second, kbit/s.
    pub bitrate_kbps: f64,
    /// The adaptive controller's current target (adaptive SRT only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_kbps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srt: Option<SrtStats>,
    pub reconnects: u64,
    /// Video frames dropped because the link could not keep up.
    pub dropped_frames: u64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SrtStats {
    pub rtt_ms: f64,
    pub packets_sent: u64,
    pub packets_lost: u64,
    pub packets_retransmitted: u64,
    pub packets_dropped: u64,
    /// Media waiting in front of the socket, ms.
    pub send_buffer_ms: f64,
    pub bandwidth_mbps: f64,
}

/// A running destination: its supervisor thread and what it shares with status.
pub struct Uplink {
    pub spec: Spec,
    shared: Arc<Live>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the supervisor publishes.
struct Live {
    status: Mutex<UplinkStatus>,
}

impl Uplink {
    pub fn start(spec: Spec, venc: &str, taps: Arc<TapHub>, events: EventSink) -> Uplink {
        let status = UplinkStatus {
            name: spec.name.clone(),
            kind: spec.kind(),
            target: spec.target(),
            rung: spec.rung.clone(),
            state: if spec.enabled {
                State::Idle
            } else {
                State::Disabled
            },
            adaptive: spec.adaptive.is_some(),
            bytes_sent: 0,
            bitrate_kbps: 0.0,
            target_kbps: spec.adaptive.map(|(_, max)| max),
            srt: None,
            reconnects: 0,
            dropped_frames: 0,
            last_error: None,
        };
        let shared = Arc::new(Live {
            status: Mutex::new(status),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = spec.enabled.then(|| {
            let sup = Supervisor {
                spec: spec.clone(),
                venc: venc.to_string(),
                taps,
                events,
                shared: shared.clone(),
                stop: stop.clone(),
            };
            std::thread::Builder::new()
                .name(format!("dest-{}", spec.name))
                .spawn(move || sup.run())
                .expect("spawning a thread only fails when the process is out of resources")
        });
        Uplink {
            spec,
            shared,
            stop,
            thread,
        }
    }

    pub fn status(&self) -> UplinkStatus {
        crate::lock(&self.shared.status).clone()
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A built pipeline for one connection attempt.
struct Attempt {
    pipeline: gst::Pipeline,
    outlet: Arc<Outlet>,
    sink: gst::Element,
    encoder: Option<gst::Element>,
    /// A listener's connected callers (`None` for a caller or RTMP).
    callers: Option<Arc<AtomicU64>>,
    /// Buffers and bytes that entered the network sink.
    buffers_in: Arc<AtomicU64>,
    bytes_in: Arc<AtomicU64>,
}

const TICK: Duration = Duration::from_millis(250);

struct Supervisor {
    spec: Spec,
    venc: String,
    taps: Arc<TapHub>,
    events: EventSink,
    shared: Arc<Live>,
    stop: Arc<AtomicBool>,
}

impl Supervisor {
    #[allow(clippy::too_many_lines)] // the supervisor loop; its rules are in media-core link/retry/adaptive, the rest is I/O to split
    fn run(self) {
        let epoch = Instant::now();
        let now_ms = || epoch.elapsed().as_millis() as u64;
        let seed = self
            .spec
            .name
            .bytes()
            .fold(std::process::id() as u64, |h, b| {
                h.wrapping_mul(31) ^ u64::from(b)
            });
        let mut conn = Connection::new(seed);
        let mut adaptive = self.spec.adaptive.map(|(min, max)| Adaptive::new(min, max));
        let mut attempt: Option<Attempt> = None;
        let secrets = self.spec.secrets();
        let mut total_bytes = 0u64;
        let mut link = link::Link::new(now_ms());
        let mut last_srt = SrtCounters::default();

        while !self.stop.load(Ordering::Relaxed) {
            let now = now_ms();
            if attempt.is_none() && conn.should_connect(now) {
                self.publish(|s| s.state = State::Connecting);
                match self.build() {
                    Ok(a) => {
                        if let Some(ad) = &adaptive
                            && let Some(enc) = &a.encoder
                        {
                            encoder::set_bitrate(enc, ad.target_kbps());
                        }
                        link = link::Link::new(now_ms());
                        last_srt = SrtCounters::default();
                        attempt = Some(a);
                    }
                    Err(e) => self.fail(&mut conn, now, &scrub(&e.to_string(), &secrets)),
                }
            }

            let Some(a) = attempt.as_ref() else {
                std::thread::sleep(TICK);
                self.publish(|s| {
                    s.state = conn.state();
                    s.bitrate_kbps = 0.0;
                });
                continue;
            };

            // Errors end the attempt.
            let mut error = None;
            if let Some(bus) = a.pipeline.bus() {
                let deadline = gst::ClockTime::from_mseconds(TICK.as_millis() as u64);
                if let Some(msg) = bus
                    .timed_pop_filtered(deadline, &[gst::MessageType::Error, gst::MessageType::Eos])
                {
                    error = Some(match msg.view() {
                        gst::MessageView::Error(e) => e.error().to_string(),
                        _ => "the stream ended".to_string(),
                    });
                }
            } else {
                std::thread::sleep(TICK);
            }

            let bytes = a.bytes_in.load(Ordering::Relaxed);
            let verdict = link.tick(
                conn.state(),
                Counters {
                    now_ms: now_ms(),
                    buffers: a.buffers_in.load(Ordering::Relaxed),
                    bytes,
                    no_callers: a
                        .callers
                        .as_ref()
                        .is_some_and(|c| c.load(Ordering::Relaxed) == 0),
                },
            );
            if verdict.waiting {
                conn.waiting();
            }
            if verdict.connected {
                conn.connected(now_ms());
                let target = self.spec.target();
                tracing::info!(destination = %self.spec.name, %target, "uplink live");
            }
            if error.is_none() && verdict.stalled {
                error = Some(format!(
                    "no data accepted by the link for {} s",
                    STALL_MS / 1000
                ));
            }
            let srt = read_srt_stats(&a.sink);
            let queued_ms = a.outlet.queued_ms();
            if let (Some(ad), Some(enc), Some(c)) = (adaptive.as_mut(), &a.encoder, &srt)
                && conn.state() == State::Live
            {
                let before = ad.target_kbps();
                let after = ad.update(LinkSample {
                    now_ms: now_ms(),
                    rtt_ms: c.rtt_ms,
                    send_buffer_ms: queued_ms,
                    packets_sent: c.packets_sent.saturating_sub(last_srt.packets_sent),
                    packets_lost: c.packets_lost.saturating_sub(last_srt.packets_lost),
                });
                if after != before {
                    encoder::set_bitrate(enc, after);
                    tracing::info!(destination = %self.spec.name, kbps = after, rtt_ms = c.rtt_ms, "uplink bitrate");
                    (self.events)(EngineEvent::UplinkBitrate {
                        destination: self.spec.name.clone(),
                        kbps: after,
                        rtt_ms: c.rtt_ms,
                    });
                }
            }
            if let Some(c) = &srt {
                last_srt = c.clone();
            }
            let dropped = a.outlet.dropped.load(Ordering::Relaxed);
            self.publish(|s| {
                s.state = conn.state();
                s.bytes_sent = total_bytes + bytes;
                if let Some(k) = verdict.rate_kbps {
                    s.bitrate_kbps = (k * 10.0).round() / 10.0;
                }
                s.target_kbps = adaptive.as_ref().map(Adaptive::target_kbps);
                s.srt = srt.as_ref().map(|c| SrtStats {
                    rtt_ms: c.rtt_ms,
                    packets_sent: c.packets_sent,
                    packets_lost: c.packets_lost,
                    packets_retransmitted: c.packets_retransmitted,
                    packets_dropped: c.packets_dropped,
                    send_buffer_ms: (queued_ms * 10.0).round() / 10.0,
                    bandwidth_mbps: c.bandwidth_mbps,
                });
                s.dropped_frames += dropped;
                s.reconnects = conn.reconnects;
            });
            a.outlet.dropped.fetch_sub(dropped, Ordering::Relaxed);

            if let Some(message) = error {
                total_bytes += bytes;
                if let Some(a) = attempt.take() {
                    self.teardown(a);
                }
                self.fail(&mut conn, now_ms(), &scrub(&message, &secrets));
            }
        }
        if let Some(a) = attempt.take() {
            self.teardown(a);
        }
        self.publish(|s| {
            s.state = State::Disabled;
            s.bitrate_kbps = 0.0;
        });
    }

    fn fail(&self, conn: &mut Connection, now: u64, message: &str) {
        let delay = conn.failed(now, message);
        tracing::warn!(destination = %self.spec.name, retry_in_ms = delay, "uplink failed: {message}");
        (self.events)(EngineEvent::UplinkFailed {
            destination: self.spec.name.clone(),
            message: message.to_string(),
            retry_in_ms: delay,
        });
        self.publish(|s| {
            s.state = conn.state();
            s.last_error = Some(message.to_string());
            s.reconnects = conn.reconnects;
            s.bitrate_kbps = 0.0;
        });
    }

    fn publish(&self, f: impl FnOnce(&mut UplinkStatus)) {
        f(&mut crate::lock(&self.shared.status));
    }

    fn teardown(&self, a: Attempt) {
        self.taps.remove(&a.outlet.name);
        let _ = a.pipeline.set_state(gst::State::Null);
    }

    #[allow(clippy::too_many_lines)] // builds the whole uplink pipeline inline; to split into SRT and RTMP sinks
    fn build(&self) -> Result<Attempt, EngineError> {
        let spec = &self.spec;
        let n = &spec.name;
        let pipeline = gst::Pipeline::with_name(&format!("dest-{n}"));
        let appsrc = |name: &str, caps: Option<&gst::Caps>| {
            let mut b = gst_app::AppSrc::builder()
                .name(name)
                .is_live(false)
                .format(gst::Format::Time)
                .block(false)
                .max_bytes(64 << 20);
            if let Some(c) = caps {
                b = b.caps(c);
            }
            b.build()
        };
        let own_encoder = spec.adaptive.is_some();
        let video_src = appsrc("video-in", own_encoder.then_some(&spec.raw_caps));
        let audio_src = appsrc("audio-in", None);
        pipeline.add_many([
            video_src.upcast_ref::<gst::Element>(),
            audio_src.upcast_ref(),
        ])?;

        let mut video_chain: Vec<gst::Element> = Vec::new();
        let mut enc = None;
        if own_encoder {
            let e = make(&self.venc, "encoder")?;
            let (_, max) = spec.adaptive.unwrap_or_default();
            encoder::configure_video(&e, max, spec.fps * 4, &spec.x264_preset);
            video_chain.extend(crate::scaler("", spec.width, spec.height)?);
            video_chain.push(e.clone());
            enc = Some(e);
        }
        let vparse = make("h264parse", "video-parse")?;
        vparse.set_property("config-interval", -1i32);
        video_chain.push(vparse);
        let aparse = make("aacparse", "audio-parse")?;

        let (mux, sink) = match &spec.link {
            Link::Srt {
                end,
                latency_ms,
                passphrase,
                key_length,
                streamid,
            } => srt::sink(
                end,
                *latency_ms,
                passphrase.as_ref(),
                *key_length,
                streamid.as_deref(),
            )?,
            Link::Rtmp { url, key } => rtmp::sink(url, key)?,
        };
        sink.set_property("sync", false);
        sink.set_property("async", false);
        pipeline.add_many(&video_chain)?;
        pipeline.add_many([&aparse, &mux, &sink])?;
        let mut chain = vec![video_src.clone().upcast::<gst::Element>()];
        chain.extend(video_chain);
        gst::Element::link_many(&chain)?;
        let last = chain.last().ok_or(EngineError::Link("video chain"))?;
        link_request(last, &mux, "video")?;
        audio_src.link(&aparse)?;
        link_request(&aparse, &mux, "audio")?;
        mux.link(&sink)?;

        let buffers_in = Arc::new(AtomicU64::new(0));
        let bytes_in = Arc::new(AtomicU64::new(0));
        if let Some(pad) = sink.static_pad("sink") {
            let (b, n) = (buffers_in.clone(), bytes_in.clone());
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    let size = match &info.data {
                        Some(gst::PadProbeData::Buffer(buf)) => buf.size() as u64,
                        Some(gst::PadProbeData::BufferList(l)) => {
                            l.iter().map(|b| b.size() as u64).sum()
                        }
                        _ => 0,
                    };
                    b.fetch_add(1, Ordering::Relaxed);
                    n.fetch_add(size, Ordering::Relaxed);
                    gst::PadProbeReturn::Ok
                },
            );
        }

        let feed = if own_encoder {
            Feed::Program
        } else {
            Feed::Rung(spec.rung.clone())
        };
        let outlet = Arc::new(Outlet::new(n, feed, video_src, audio_src));
        // A listener takes media only while someone is connected, and each new caller
        // starts at a keyframe; anything else takes it from now on.
        let callers = matches!(
            spec.link,
            Link::Srt {
                end: SrtEnd::Listener { .. },
                ..
            }
        )
        .then(|| {
            let count = Arc::new(AtomicU64::new(0));
            let (hub, o, c) = (self.taps.clone(), outlet.clone(), count.clone());
            sink.connect("caller-added", false, move |_| {
                c.fetch_add(1, Ordering::Relaxed);
                o.resume();
                hub.add(o.clone());
                None
            });
            let (hub, name, c) = (self.taps.clone(), n.clone(), count.clone());
            sink.connect("caller-removed", false, move |_| {
                let left = c.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
                if left == 0 {
                    hub.remove(&name);
                }
                None
            });
            count
        });
        if pipeline.set_state(gst::State::Playing).is_err() {
            // The error message on the bus says why; take it for the status.
            let why = pipeline
                .bus()
                .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
                .and_then(|m| match m.view() {
                    gst::MessageView::Error(e) => Some(e.error().to_string()),
                    _ => None,
                });
            let _ = pipeline.set_state(gst::State::Null);
            return Err(EngineError::Uplink(
                why.unwrap_or_else(|| "the link did not open".into()),
            ));
        }
        if callers.is_none() {
            self.taps.add(outlet.clone());
        }
        Ok(Attempt {
            pipeline,
            outlet,
            sink,
            encoder: enc,
            callers,
            buffers_in,
            bytes_in,
        })
    }
}

fn link_request(
    from: &gst::Element,
    mux: &gst::Element,
    kind: &'static str,
) -> Result<(), EngineError> {
    let src = from.static_pad("src").ok_or(EngineError::Link(kind))?;
    let sink = mux
        .compatible_pad(&src, None)
        .ok_or(EngineError::Link(kind))?;
    src.link(&sink)
        .map(|_| ())
        .map_err(|_| EngineError::Link(kind))
}

/// Replaces every secret value in `text` with `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| {
            t.replace(s.as_str(), fourcast_config::REDACTED)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_every_secret() {
        let s = scrub(
            "could not publish rtmp://h/live/abc123 (abc123)",
            &["abc123".to_string(), String::new()],
        );
        assert_eq!(s, "could not publish rtmp://h/live/*** (***)");
    }
}
