//! Secrets at rest: stream keys and passphrases are sealed with a per-device key before
//! they reach the store, so a copied store file (or a config export) does not leak them.
//!
//! The key is 32 random bytes in a file of mode 0600, made on first start (or supplied by
//! the board, e.g. from a secure element, at the same path). Sealing is ChaCha20-Poly1305
//! with a random nonce: `sealed:v1:<base64(nonce ‖ ciphertext ‖ tag)>`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const PREFIX: &str = "sealed:v1:";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("device key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("not a sealed secret")]
    NotSealed,
    #[error("sealed by another device (or damaged): it cannot be read with this box's key")]
    Foreign,
}

/// The device key.
pub struct Vault {
    cipher: ChaCha20Poly1305,
}

impl Vault {
    /// Loads the key at `path`, creating it (mode 0600) if there is none.
    pub fn open_or_create(path: &Path) -> Result<Vault, VaultError> {
        let fail = |reason: String| VaultError::Key {
            path: path.display().to_string(),
            reason,
        };
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = ChaCha20Poly1305::generate_key(&mut OsRng);
                static STARTS: AtomicU64 = AtomicU64::new(0);
                let n = STARTS.fetch_add(1, Ordering::Relaxed);
                let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| fail(e.to_string()))?;
                f.write_all(&key)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| fail(e.to_string()))?;
                // Linking publishes the whole key at once and never replaces one another
                // starter made first; in that case use theirs.
                let linked = fs::hard_link(&tmp, path);
                let _ = fs::remove_file(&tmp);
                match linked {
                    Ok(()) => key.to_vec(),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        fs::read(path).map_err(|e| fail(e.to_string()))?
                    }
                    Err(e) => return Err(fail(e.to_string())),
                }
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        if bytes.len() != KEY_BYTES {
            return Err(fail(format!("{} bytes, expected {KEY_BYTES}", bytes.len())));
        }
        // A key readable by others is not a secret: tighten it rather than refuse to start.
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
        }
        Ok(Vault {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
        })
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("ChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn unseal(&self, sealed: &str) -> Result<String, VaultError> {
        let data = sealed.strip_prefix(PREFIX).ok_or(VaultError::NotSealed)?;
        let bytes = B64.decode(data).map_err(|_| VaultError::Foreign)?;
        if bytes.len() < NONCE_BYTES {
            return Err(VaultError::Foreign);
        }
        let (nonce, body) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| VaultError::Foreign)?;
        String::from_utf8(plain).map_err(|_| VaultError::Foreign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fourcast-vault-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("device.key")
    }

    #[test]
    fn a_sealed_secret_reads_back_only_with_the_same_key() {
        let path = temp("same");
        let v = Vault::open_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let s = v.seal("live_1234_secret");
        assert!(s.starts_with("sealed:v1:"));
        assert!(!s.contains("live_1234"));
        assert_ne!(s, v.seal("live_1234_secret"), "nonces are random");
        let again = Vault::open_or_create(&path).unwrap();
        assert_eq!(again.unseal(&s).unwrap(), "live_1234_secret");
        let other = Vault::open_or_create(&temp("other")).unwrap();
        assert!(matches!(other.unseal(&s), Err(VaultError::Foreign)));
        assert!(matches!(v.unseal("plain"), Err(VaultError::NotSealed)));
        assert!(matches!(v.unseal("sealed:v1:!!"), Err(VaultError::Foreign)));
        let mut tampered = s.clone();
        tampered.pop();
        tampered.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(v.unseal(&tampered).is_err());
    }

    #[test]
    fn a_short_key_file_is_refused() {
        let path = temp("short");
        fs::write(&path, b"short").unwrap();
        let e = Vault::open_or_create(&path).err().unwrap();
        assert!(e.to_string().contains("5 bytes"), "{e}");
    }
}
