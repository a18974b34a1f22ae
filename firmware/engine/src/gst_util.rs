//! Small GStreamer helpers every plane uses: making an element (a missing one is reported
//! with its Debian package, see [`crate::packages`]), the two kinds of queue, and tee branches.

use gst::prelude::*;

use crate::EngineError;

/// Makes an element, naming the missing plugin if it is not installed.
pub(crate) fn make(factory: &str, name: &str) -> Result<gst::Element, EngineError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| EngineError::MissingElement(factory.to_string()))
}

/// A live queue: holds at most `buffers`, drops the oldest when full.
pub(crate) fn leaky_queue(name: &str, buffers: u32) -> Result<gst::Element, EngineError> {
    let q = make("queue", name)?;
    q.set_property("max-size-buffers", buffers);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", 0u64);
    q.set_property_from_str("leaky", "downstream");
    Ok(q)
}

/// A bounded queue that is not leaky: when full it holds its upstream back.
pub(crate) fn bounded_queue(name: &str) -> Result<gst::Element, EngineError> {
    let queue = make("queue", name)?;
    queue.set_property("max-size-buffers", 3u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    Ok(queue)
}

/// Links a new branch of `tee` to `next`.
pub(crate) fn tee_to(tee: &gst::Element, next: &gst::Element) -> Result<(), EngineError> {
    let src = tee
        .request_pad_simple("src_%u")
        .ok_or(EngineError::Link("tee"))?;
    let sink = next
        .static_pad("sink")
        .ok_or(EngineError::Link("branch sink"))?;
    src.link(&sink)
        .map(|_| ())
        .map_err(|_| EngineError::Link("tee to branch"))
}
