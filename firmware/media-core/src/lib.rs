//! The media plane's pure cores: what the engine decides and computes, apart from the
//! GStreamer wiring that carries it out. Nothing here touches GStreamer, starts a thread or
//! reads a clock: time comes in as an argument, so every rule is tested with synthetic time
//! and `cargo test -p fourcast-media-core` runs in seconds on a machine without GStreamer.
//!
//! - Pictures: [`layout`] (where each input goes), [`compose`] (painting tiles), [`scale`]
//!   (the scaler, with its AVX2 form), [`stamp`] (the latency stamp).
//! - Program: [`plan`] (the smallest change from one config to the next), [`audio_mix`]
//!   (gains, mute, solo, audio-follows-video, level meters).
//! - Uplinks: [`retry`] (connection life and backoff), [`link`] (connected, waiting,
//!   stalled, rate: what an attempt's counters say), [`adaptive`] (network-adaptive bitrate).
//! - Inputs: [`capture_format`] (which of a camera's formats to take), [`flv`] (FLV framing
//!   for the RTMP ingest), [`continuity`] (stamping bursty
//!   live audio end to end).
//! - Keyframes: [`keyframes`] (when the ladder forces one; the gate outlets resume at).
//! - Recording: [`recording`] (when a file splits, the TS tables each file opens with).
//! - Counting and reading: [`stats`] (frames, bytes and gaps), [`ts_scan`] (MPEG-TS packets),
//!   [`fmp4`] (fragmented MP4 cut into low-latency HLS parts and segments).

pub mod adaptive;
pub mod audio_mix;
pub mod capture_format;
pub mod compose;
pub mod continuity;
pub mod drift;
pub mod flv;
pub mod fmp4;
pub mod keyframes;
pub mod layout;
pub mod link;
pub mod plan;
pub mod recording;
pub mod retry;
pub mod scale;
pub mod signal;
pub mod stamp;
pub mod stats;
pub mod ts_scan;
