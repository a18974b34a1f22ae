//! What goes out of the box, each fed from the ladder's taps (encoded once): the HLS origin
//! on disk, uplinks (SRT and RTMP, `uplink`), the recorder, and the multiview thumbnails.

pub(crate) mod hls_origin;
pub mod recorder;
pub(crate) mod tap;
pub mod thumbs;
pub mod uplink;
