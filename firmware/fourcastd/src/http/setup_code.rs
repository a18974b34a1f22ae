//! The one-time setup code that first-boot setup asks for.
//!
//! Until the admin password is set, whoever reaches the box first could claim it, on a
//! venue network shared with the public, and again after every factory reset. So setup
//! also needs a code the box makes at start: printed on its console with the URLs, kept
//! in `<data_dir>/setup-code` (mode 0600) for a board's front panel or a technician with a
//! shell, and erased once setup is done. Eight characters from an alphabet without look-
//! alikes (40 bits); wrong codes count as failed logins, so guessing is throttled too.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::{OsRng, RngCore};

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The file the code is kept in.
pub(crate) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("setup-code")
}

/// A new code, `ABCD-EFGH`.
pub(crate) fn make() -> String {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Writes the code where the front panel and a technician's shell find it.
pub(crate) fn keep(data_dir: &Path, code: &str) -> std::io::Result<()> {
    let p = path(data_dir);
    let _ = std::fs::remove_file(&p);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)?;
    writeln!(f, "{code}")
}

pub(crate) fn forget(data_dir: &Path) {
    match std::fs::remove_file(path(data_dir)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot erase the setup code: {e}"),
    }
}

/// The code as typed: case, spaces and dashes do not matter.
pub(crate) fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_unambiguous_characters_and_differ() {
        let a = make();
        assert_eq!(a.len(), 9);
        assert!(normalise(&a).bytes().all(|b| ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, make());
    }

    #[test]
    fn typing_is_forgiving_about_case_spaces_and_dashes() {
        assert_eq!(normalise(" abcd-efgh "), "ABCDEFGH");
        assert_eq!(normalise("AbCd EfGh"), normalise("ABCD-EFGH"));
    }

    #[test]
    fn the_file_is_private_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fourcast-setup-code-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        keep(&dir, "ABCD-EFGH").unwrap();
        let meta = std::fs::metadata(path(&dir)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(path(&dir)).unwrap(), "ABCD-EFGH\n");
        forget(&dir);
        assert!(!path(&dir).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
