//! The RTMP(S) end of an uplink: FLV to a platform's ingest server.

use fourcast_config::{RtmpUrl, Secret};
use gst::prelude::*;

use crate::{EngineError, make};

/// The muxer and sink that publish to `url` with the stream `key` (`rtmp2sink`, which
/// speaks RTMPS itself).
pub(super) fn sink(
    url: &RtmpUrl,
    key: &Secret,
) -> Result<(gst::Element, gst::Element), EngineError> {
    let mux = make("flvmux", "mux")?;
    mux.set_property("streamable", true);
    let sink = make("rtmp2sink", "sink")?;
    sink.set_property_from_str("scheme", if url.secure { "rtmps" } else { "rtmp" });
    sink.set_property("host", &url.host);
    sink.set_property("port", i32::from(url.port));
    sink.set_property("application", &url.application);
    sink.set_property("stream", key.expose());
    Ok((mux, sink))
}
