//! Small helpers every pipeline uses: making an element (a missing one is reported with its
//! Debian package, see [`crate::packages`]), the engine's own mixer and scaler elements, the
//! two kinds of queue, tee branches, an appsink for stream writers, bus watching, and a
//! poison-tolerant lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use gst::prelude::*;

use crate::{EngineError, EngineEvent, EventSink};

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

/// An appsink that hands every buffer to `writer` as it comes (not synced to the clock), and
/// calls `finish` on the writer at the end of the stream: the muxed-stream writers (HLS
/// segmenter, recorder) sit behind it.
pub(crate) fn writer_sink<W: Send + 'static>(
    name: &str,
    writer: Arc<Mutex<W>>,
    write: fn(&mut W, &gst::BufferRef),
    finish: fn(&mut W),
) -> gst_app::AppSink {
    let at_eos = writer.clone();
    gst_app::AppSink::builder()
        .name(name)
        .sync(false)
        .async_(false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    if let Ok(sample) = sink.pull_sample()
                        && let Some(buffer) = sample.buffer()
                    {
                        write(&mut lock(&writer), buffer);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .eos(move |_| finish(&mut lock(&at_eos)))
                .build(),
        )
        .build()
}

/// Locks a mutex, recovering it from a panicked holder (its data stays consistent: every
/// holder writes whole values).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The engine's program mixer (`fourcastmix`, see `compose`): request pad `sink_N` is input N.
pub(crate) fn mixer(name: &str) -> Result<crate::program::mixer::FourcastMix, EngineError> {
    crate::program::mixer::register()
        .map_err(|_| EngineError::MissingElement(crate::program::mixer::NAME.into()))?;
    make(crate::program::mixer::NAME, name)?
        .downcast()
        .map_err(|_| EngineError::MissingElement(crate::program::mixer::NAME.into()))
}

/// The engine scaler (`fourcastscale`, see `scale`) and a capsfilter: I420 in, `width`×`height`
/// with square pixels out.
pub(crate) fn scaler(
    prefix: &str,
    width: u32,
    height: u32,
) -> Result<[gst::Element; 2], EngineError> {
    crate::ladder::scaler::register()
        .map_err(|_| EngineError::MissingElement(crate::ladder::scaler::NAME.into()))?;
    let scale = make(crate::ladder::scaler::NAME, &format!("{prefix}scale"))?;
    let size = make("capsfilter", &format!("{prefix}size"))?;
    size.set_property(
        "caps",
        gst_video::VideoCapsBuilder::new()
            .width(width as i32)
            .height(height as i32)
            .pixel_aspect_ratio(gst::Fraction::new(1, 1))
            .build(),
    );
    Ok([scale, size])
}

/// A thread that reads a pipeline's bus: errors and warnings become events and logs, and
/// `extra` sees every message.
pub(crate) struct BusWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

pub(crate) fn watch_bus(
    pipeline: &gst::Pipeline,
    source: &str,
    events: EventSink,
) -> Result<BusWatch, EngineError> {
    watch_bus_with(pipeline, source, events, |_| {})
}

pub(crate) fn watch_bus_with(
    pipeline: &gst::Pipeline,
    source: &str,
    events: EventSink,
    extra: impl Fn(&gst::Message) + Send + 'static,
) -> Result<BusWatch, EngineError> {
    let bus = pipeline.bus().ok_or(EngineError::Link("pipeline bus"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let source = source.to_string();
    let thread = std::thread::Builder::new()
        .name(format!("bus-{source}"))
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else {
                    continue;
                };
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        let message = format!(
                            "{}: {}",
                            msg.src()
                                .map(|s| s.path_string().to_string())
                                .unwrap_or_default(),
                            e.error()
                        );
                        tracing::error!(%source, debug = ?e.debug(), "{message}");
                        events(EngineEvent::Error {
                            source: source.clone(),
                            message,
                        });
                    }
                    gst::MessageView::Warning(w) => {
                        let message = w.error().to_string();
                        tracing::warn!(%source, debug = ?w.debug(), "{message}");
                        events(EngineEvent::Warning {
                            source: source.clone(),
                            message,
                        });
                    }
                    _ => {}
                }
                extra(&msg);
            }
        })
        .map_err(|_| EngineError::Link("bus thread"))?;
    Ok(BusWatch { stop, thread })
}

pub(crate) fn stop_bus_watch(watch: Option<BusWatch>) {
    if let Some(w) = watch {
        w.stop.store(true, Ordering::Relaxed);
        let _ = w.thread.join();
    }
}
