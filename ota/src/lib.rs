//! Over-the-air updates with RAUC, as pure rules with time passed in (`now_ms`, Unix
//! milliseconds): the job's life (`job`), when it may install without cutting a live show
//! (`when`), when the new firmware counts as healthy (`health`), which bundles are refused
//! as downgrades (`version`), and how fast a download may go beside a live uplink
//! (`download`). The agent that drives RAUC over D-Bus does the I/O around these.

pub mod download;
pub mod health;
pub mod job;
pub mod manifest;
#[cfg(feature = "rauc")]
pub mod rauc;
pub mod version;
pub mod when;
