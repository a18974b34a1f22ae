//! What goes out of the box, each fed from the ladder's taps (encoded once): the HLS origin
//! on disk (segments cut by `ts_segmenter`) and its low-latency form in memory
//! (`low_latency`), uplinks (SRT and RTMP, `uplink`), the recorder, and the multiview
//! thumbnails.

pub(crate) mod hls_origin;
pub mod low_latency;
pub mod recorder;
pub(crate) mod tap;
pub mod thumbs;
pub(crate) mod ts_segmenter;
pub mod uplink;
