//! Live HLS playlists as plain values (RFC 8216), with no I/O and no clock of their own:
//! the caller passes `now` in and writes the rendered text wherever it serves from.
//!
//! - [`MediaPlaylist`]: one rung's sliding window. `EXT-X-MEDIA-SEQUENCE` grows by the number
//!   of segments removed; `EXT-X-TARGETDURATION` is measured (the largest rounded `EXTINF`
//!   seen, never below the configured duration) and never goes down; segments removed from
//!   the window are kept for the grace period §6.2.2 asks for before [`MediaPlaylist::expired`]
//!   hands them back for deletion.
//! - [`LowLatencyPlaylist`]: the same window in partial segments for low-latency HLS: parts,
//!   preload hint, rendition reports, delta updates and the blocking-reload decision.
//! - [`render_multivariant`]: the master playlist with measured `BANDWIDTH` (peak) and
//!   `AVERAGE-BANDWIDTH`, `CODECS` with profile and level, `RESOLUTION` and `FRAME-RATE`.

mod date;
mod low_latency;
mod media;
mod multivariant;

pub use date::iso8601_utc_ms;
pub use low_latency::{LowLatencyPlaylist, Part, PreloadHint, Reload, RenditionReport};
pub use media::{MediaPlaylist, Segment};
pub use multivariant::{Variant, avc1_codec, render_multivariant};
