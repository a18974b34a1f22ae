//! What comes into the box: inputs decoded in supervised pipelines of their own (file, SRT
//! listener, RTMP publish, a V4L2 capture device) and the RTMP ingest hub that hands a publisher to its input. Test
//! pattern inputs (the virtual board's cameras) are built in the program itself
//! ([`crate::program`]); slates are in [`crate::program::graphics`].

pub(crate) mod capture;
pub(crate) mod decoded;
pub mod devices;
pub mod rtmp_hub;
mod v4l2;
