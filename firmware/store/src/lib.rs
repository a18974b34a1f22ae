//! The box's store: config revisions (current + history) in one redb file.
//!
//! redb commits are atomic and durable (copy-on-write pages, checksummed roots, fsync at
//! commit), so a `kill -9` or a power cut during a write leaves the previous or the new
//! revision, never half of one. A revision and the "current" pointer are written in the same
//! transaction. The page cache is kept small: this runs on an appliance.

mod fleet;
mod vault;

use std::path::Path;

pub use fleet::FleetStore;
use std::time::{SystemTime, UNIX_EPOCH};
pub use vault::{Vault, VaultError};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const REVISIONS: TableDefinition<u64, &str> = TableDefinition::new("config_revisions");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RECORDINGS: TableDefinition<u64, &str> = TableDefinition::new("recordings");
/// Credentials: `admin` → the password's argon2 PHC string; `token:<name>` → an API
/// token's SHA-256 (hex). Never a secret in the clear.
const CREDENTIALS: TableDefinition<&str, &str> = TableDefinition::new("credentials");
const CURRENT: &str = "current_revision";
const CACHE_BYTES: usize = 1 << 20;

/// How many revisions are kept; older ones are dropped in the same transaction.
pub const HISTORY_LIMIT: u64 = 100;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created (held by another process, unreadable).
    #[error("cannot open store {path}: {source}")]
    Open {
        path: String,
        source: redb::DatabaseError,
    },
    /// The store file could not be made private to the box's user.
    #[error("cannot make store {path} private (0600): {source}")]
    Permissions {
        path: String,
        source: std::io::Error,
    },
    /// A read or write failed inside redb.
    #[error("store: {0}")]
    Redb(String),
    /// A stored record does not decode (written by an incompatible version).
    #[error("store: revision {id} is unreadable: {reason}")]
    Corrupt { id: u64, reason: String },
    /// Rollback to a revision that is not (or no longer) kept.
    #[error("revision {0} does not exist")]
    NoSuchRevision(u64),
}

macro_rules! redb_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Redb(e.to_string())
            }
        }
    )*};
}
redb_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// One stored config revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub id: u64,
    /// Milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Which control surface made it (`cli`, `reload`, `api`, `mqtt`, `default`, …).
    pub source: String,
    /// The config document, TOML.
    pub text: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    created_ms: u64,
    source: String,
    text: String,
}

pub struct Store {
    db: Database,
}

/// A table for reading, or `None` if nothing was ever written to it.
fn open_if_exists<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &redb::ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match tx.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Makes a store file readable and writable by the box's user only (0600).
fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        StoreError::Permissions {
            path: path.display().to_string(),
            source: e,
        }
    })
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        // It holds the password hash, tokens' hashes and the HLS signing key: the box's
        // user only.
        make_private(path)?;
        Ok(Store { db })
    }

    /// Stores a recording's index entry (JSON) under `id`, or under a new id if `None`.
    pub fn recording_put(&self, id: Option<u64>, json: &str) -> Result<u64, StoreError> {
        let tx = self.db.begin_write()?;
        let id = {
            let mut t = tx.open_table(RECORDINGS)?;
            let id = match id {
                Some(id) => id,
                None => t.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1),
            };
            t.insert(id, json)?;
            id
        };
        tx.commit()?;
        Ok(id)
    }

    /// Every recording's index entry, oldest first.
    pub fn recordings(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(t) = open_if_exists(&tx, RECORDINGS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((k.value(), v.value().to_string()));
        }
        Ok(out)
    }

    pub fn recording_delete(&self, id: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let removed = tx.open_table(RECORDINGS)?.remove(id)?.is_some();
        tx.commit()?;
        Ok(removed)
    }

    /// A credential (see `CREDENTIALS`), if set.
    pub fn credential(&self, key: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(t) = open_if_exists(&tx, CREDENTIALS)? else {
            return Ok(None);
        };
        Ok(t.get(key)?.map(|v| v.value().to_string()))
    }

    /// Sets a credential. With `only_if_absent`, returns false (and changes nothing) if it
    /// is already set: first-boot setup cannot overwrite a password.
    pub fn credential_put(
        &self,
        key: &str,
        value: &str,
        only_if_absent: bool,
    ) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let written = {
            let mut t = tx.open_table(CREDENTIALS)?;
            if only_if_absent && t.get(key)?.is_some() {
                false
            } else {
                t.insert(key, value)?;
                true
            }
        };
        tx.commit()?;
        Ok(written)
    }

    pub fn credential_delete(&self, key: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let removed = tx.open_table(CREDENTIALS)?.remove(key)?.is_some();
        tx.commit()?;
        Ok(removed)
    }

    /// Every credential whose key starts with `prefix`, as (key, value).
    pub fn credentials(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(t) = open_if_exists(&tx, CREDENTIALS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            if k.value().starts_with(prefix) {
                out.push((k.value().to_string(), v.value().to_string()));
            }
        }
        Ok(out)
    }

    /// Stores `text` as a new revision and makes it current, atomically.
    pub fn put(&self, text: &str, source: &str) -> Result<Revision, StoreError> {
        let created_ms = now_ms();
        let record = serde_json::to_string(&Record {
            created_ms,
            source: source.to_string(),
            text: text.to_string(),
        })
        .expect("a record of strings and integers always serialises");
        let tx = self.db.begin_write()?;
        let id = {
            let mut revisions = tx.open_table(REVISIONS)?;
            let id = revisions.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
            revisions.insert(id, record.as_str())?;
            if id > HISTORY_LIMIT {
                revisions.retain_in(..=id - HISTORY_LIMIT, |_, _| false)?;
            }
            tx.open_table(META)?.insert(CURRENT, id)?;
            id
        };
        tx.commit()?;
        Ok(Revision {
            id,
            created_ms,
            source: source.to_string(),
            text: text.to_string(),
        })
    }

    /// Makes an existing revision current again by storing a copy of it as a new revision.
    pub fn rollback(&self, id: u64, source: &str) -> Result<Revision, StoreError> {
        let old = self.revision(id)?.ok_or(StoreError::NoSuchRevision(id))?;
        self.put(&old.text, source)
    }

    /// The current revision, if any was ever stored.
    pub fn current(&self) -> Result<Option<Revision>, StoreError> {
        let tx = self.db.begin_read()?;
        let id = match open_if_exists(&tx, META)? {
            Some(meta) => meta.get(CURRENT)?.map(|v| v.value()),
            None => None,
        };
        match id {
            Some(id) => self.revision(id),
            None => Ok(None),
        }
    }

    /// One revision by id.
    pub fn revision(&self, id: u64) -> Result<Option<Revision>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(revisions) = open_if_exists(&tx, REVISIONS)? else {
            return Ok(None);
        };
        let Some(raw) = revisions.get(id)? else {
            return Ok(None);
        };
        decode(id, raw.value()).map(Some)
    }

    /// Every kept revision, oldest first.
    pub fn history(&self) -> Result<Vec<Revision>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(revisions) = open_if_exists(&tx, REVISIONS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in revisions.iter()? {
            let (k, v) = entry?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }
}

fn decode(id: u64, raw: &str) -> Result<Revision, StoreError> {
    let r: Record = serde_json::from_str(raw).map_err(|e| StoreError::Corrupt {
        id,
        reason: e.to_string(),
    })?;
    Ok(Revision {
        id,
        created_ms: r.created_ms,
        source: r.source,
        text: r.text,
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (std::path::PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!(
            "fourcast-store-{}-{}",
            std::process::id(),
            now_ms() ^ rand_bits()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("store.redb")).unwrap();
        (dir, store)
    }

    fn rand_bits() -> u64 {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(0u8)
    }

    #[test]
    fn an_empty_store_has_no_current_revision() {
        let (_dir, store) = temp_store();
        assert_eq!(store.current().unwrap(), None);
        assert!(store.history().unwrap().is_empty());
    }

    #[test]
    fn put_makes_the_new_revision_current_and_keeps_history() {
        let (_dir, store) = temp_store();
        let a = store.put("a = 1", "cli").unwrap();
        let b = store.put("a = 2", "api").unwrap();
        assert_eq!((a.id, b.id), (1, 2));
        assert_eq!(store.current().unwrap().unwrap().text, "a = 2");
        let texts: Vec<_> = store
            .history()
            .unwrap()
            .into_iter()
            .map(|r| r.text)
            .collect();
        assert_eq!(texts, ["a = 1", "a = 2"]);
    }

    #[test]
    fn rollback_stores_a_copy_as_a_new_revision() {
        let (_dir, store) = temp_store();
        store.put("a = 1", "cli").unwrap();
        store.put("a = 2", "cli").unwrap();
        let r = store.rollback(1, "api").unwrap();
        assert_eq!((r.id, r.text.as_str()), (3, "a = 1"));
        assert!(matches!(
            store.rollback(9, "api"),
            Err(StoreError::NoSuchRevision(9))
        ));
    }

    #[test]
    fn history_is_bounded() {
        let (_dir, store) = temp_store();
        for i in 0..HISTORY_LIMIT + 5 {
            store.put(&format!("n = {i}"), "test").unwrap();
        }
        let h = store.history().unwrap();
        assert_eq!(h.len() as u64, HISTORY_LIMIT);
        assert_eq!(h.last().unwrap().id, HISTORY_LIMIT + 5);
        assert_eq!(store.current().unwrap().unwrap().id, HISTORY_LIMIT + 5);
    }

    #[test]
    fn a_second_process_cannot_open_a_held_store() {
        let (dir, _store) = temp_store();
        let err = Store::open(&dir.join("store.redb"))
            .err()
            .expect("second open must fail");
        assert!(err.to_string().contains("cannot open store"), "{err}");
    }
}
