//! The agent's files in `<data_dir>/ota/`: the job (written whole and renamed, then the
//! folder synced, so a power cut leaves the old job or the new one, never half of either)
//! and the one bundle being installed.

use std::io::Write;
use std::path::{Path, PathBuf};

use fourcast_ota::job::Job;
use sha2::{Digest, Sha256};

pub(crate) fn job_file(dir: &Path) -> PathBuf {
    dir.join("job.json")
}

/// The bundle of the current job.
pub(crate) fn bundle_file(dir: &Path) -> PathBuf {
    dir.join("bundle.raucb")
}

/// Where an upload or a download is written until it is whole.
pub(crate) fn partial_file(dir: &Path) -> PathBuf {
    dir.join("bundle.part")
}

/// Writes `job` so that a power cut at any moment leaves a whole job on disk.
pub(crate) fn save_job(dir: &Path, job: &Job) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("job.json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(job).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, job_file(dir))?;
    std::fs::File::open(dir)?.sync_all()
}

/// The job kept, if any. A file that does not read as a job is named in the error (and
/// left for a person to look at), never taken for "no job".
pub(crate) fn load_job(dir: &Path) -> Result<Option<Job>, String> {
    let file = job_file(dir);
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: not a job ({e})", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

/// SHA-256 of a file, lower-case hex.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex(&h.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SHA-256 as a job pins it: 64 hex digits.
pub(crate) fn check_sha256(text: &str) -> Result<String, String> {
    let t = text.trim().to_ascii_lowercase();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t)
    } else {
        Err("sha256: give the bundle's SHA-256 as 64 hex digits".into())
    }
}
