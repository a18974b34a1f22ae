//! The SRT end of an uplink: MPEG-TS to the cloud origin, as caller or listener, and the
//! socket's statistics.

use fourcast_config::{Secret, SrtEnd};
use gst::prelude::*;

use crate::ladder::encoder;
use crate::{EngineError, make};

/// The muxer and sink for one SRT end. The sink never reconnects by itself: the uplink's
/// supervisor decides when to try again.
pub(super) fn sink(
    end: &SrtEnd,
    latency_ms: u32,
    passphrase: Option<&Secret>,
    key_length: u32,
    streamid: Option<&str>,
) -> Result<(gst::Element, gst::Element), EngineError> {
    let mux = make("mpegtsmux", "mux")?;
    mux.set_property("alignment", 7i32);
    let sink = make("srtsink", "sink")?;
    match end {
        SrtEnd::Caller { host, port } => {
            sink.set_property("uri", format!("srt://{host}:{port}"));
            sink.set_property_from_str("mode", "caller");
        }
        SrtEnd::Listener { bind, port } => {
            sink.set_property("uri", format!("srt://{bind}:{port}?mode=listener"));
            sink.set_property_from_str("mode", "listener");
            sink.set_property("localaddress", bind);
            sink.set_property("localport", u32::from(*port));
        }
    }
    sink.set_property("latency", latency_ms as i32);
    if let Some(p) = passphrase {
        sink.set_property("passphrase", p.expose());
        sink.set_property_from_str("pbkeylen", &key_length.to_string());
    }
    if let Some(id) = streamid {
        sink.set_property("streamid", id);
    }
    sink.set_property("auto-reconnect", false);
    sink.set_property("wait-for-connection", true);
    Ok((mux, sink))
}

#[derive(Debug, Clone, Default)]
pub(super) struct SrtCounters {
    pub(super) rtt_ms: f64,
    pub(super) packets_sent: u64,
    pub(super) packets_lost: u64,
    pub(super) packets_retransmitted: u64,
    pub(super) packets_dropped: u64,
    pub(super) bandwidth_mbps: f64,
}

/// The SRT socket's statistics (`srtsink`'s `stats`; a listener reports per caller, the
/// first caller is taken).
pub(super) fn read_srt_stats(sink: &gst::Element) -> Option<SrtCounters> {
    if sink.find_property("stats").is_none() || encoder::factory_name(sink) != "srtsink" {
        return None;
    }
    let stats = sink.property::<Option<gst::Structure>>("stats")?;
    let caller;
    let s: &gst::StructureRef = if stats.has_field("callers") {
        let callers = stats.get::<glib::ValueArray>("callers").ok()?;
        caller = callers.iter().next()?.get::<gst::Structure>().ok()?;
        &caller
    } else {
        &stats
    };
    let num = |field: &str| -> f64 {
        s.value(field)
            .ok()
            .and_then(|v| v.transform::<f64>().ok())
            .and_then(|v| v.get::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some(SrtCounters {
        rtt_ms: num("rtt-ms"),
        packets_sent: num("packets-sent") as u64,
        packets_lost: num("packets-sent-lost") as u64,
        packets_retransmitted: num("packets-retransmitted") as u64,
        packets_dropped: num("packets-sent-dropped") as u64,
        bandwidth_mbps: num("bandwidth-mbps"),
    })
}
