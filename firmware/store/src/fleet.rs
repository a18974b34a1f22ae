//! The fleet agent's own file (`fleet.redb`, beside the store): the events waiting for the
//! broker, the connection-series counter, the next event number, the last desired-config
//! version and the generated device id. A file of its own, so the agent never waits on the
//! controller's store (held during a ladder rebuild) and the controller never waits on it.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{StoreError, open_if_exists};

const EVENTS: TableDefinition<u64, &str> = TableDefinition::new("fleet_events");
const NUMBERS: TableDefinition<&str, u64> = TableDefinition::new("fleet_numbers");
const TEXTS: TableDefinition<&str, &str> = TableDefinition::new("fleet_texts");
const CACHE_BYTES: usize = 256 << 10;

pub struct FleetStore {
    db: Database,
}

impl FleetStore {
    pub fn open(path: &Path) -> Result<FleetStore, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        crate::make_private(path)?;
        Ok(FleetStore { db })
    }

    /// Every kept event (its JSON), oldest first.
    pub fn events(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(t) = open_if_exists(&tx, EVENTS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((k.value(), v.value().to_string()));
        }
        Ok(out)
    }

    /// Keeps an event and the number after it, in one transaction.
    pub fn keep(&self, seq: u64, json: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(EVENTS)?.insert(seq, json)?;
        tx.open_table(NUMBERS)?.insert("next_seq", seq + 1)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets events (acknowledged or dropped).
    pub fn forget(&self, seqs: &[u64]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(EVENTS)?;
            for s in seqs {
                t.remove(*s)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn number(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(t) = open_if_exists(&tx, NUMBERS)? else {
            return Ok(None);
        };
        Ok(t.get(name)?.map(|v| v.value()))
    }

    pub fn set_number(&self, name: &str, value: u64) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(NUMBERS)?.insert(name, value)?;
        tx.commit()?;
        Ok(())
    }

    /// The number stored under `name` plus one, stored (the connection series).
    pub fn bump(&self, name: &str) -> Result<u64, StoreError> {
        let next = self.number(name)?.unwrap_or(0) + 1;
        self.set_number(name, next)?;
        Ok(next)
    }

    /// The text under `name`, made by `make` and stored the first time.
    pub fn text_or(&self, name: &str, make: impl FnOnce() -> String) -> Result<String, StoreError> {
        {
            let tx = self.db.begin_read()?;
            if let Some(t) = open_if_exists(&tx, TEXTS)?
                && let Some(v) = t.get(name)?
            {
                return Ok(v.value().to_string());
            }
        }
        let value = make();
        let tx = self.db.begin_write()?;
        tx.open_table(TEXTS)?.insert(name, value.as_str())?;
        tx.commit()?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_numbers_and_ids_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("fleet-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fleet.redb");
        {
            let s = FleetStore::open(&path).unwrap();
            for seq in 1..=3 {
                s.keep(seq, &format!("{{\"seq\":{seq}}}")).unwrap();
            }
            s.forget(&[1]).unwrap();
            assert_eq!(s.bump("session").unwrap(), 1);
            assert_eq!(s.text_or("device_id", || "gen-1".into()).unwrap(), "gen-1");
        }
        let s = FleetStore::open(&path).unwrap();
        let kept: Vec<u64> = s.events().unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(kept, [2, 3]);
        assert_eq!(s.number("next_seq").unwrap(), Some(4));
        assert_eq!(s.bump("session").unwrap(), 2);
        assert_eq!(s.text_or("device_id", || "gen-2".into()).unwrap(), "gen-1");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
