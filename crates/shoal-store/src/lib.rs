//! # shoal-store
//!
//! Durable state in SQLite: WAL journal, `synchronous=FULL`, so a write is on disk
//! before the API answers. Architecture invariant: the store knows model types and SQL,
//! nothing about HTTP or processes.
//!
//! # Layout
//! - [`Store`]: opens the database and runs its migrations; [`Store::write`] runs a
//!   closure in one transaction, so a request's changes land together or not at all.
//! - Resources are JSON documents in one `resources` table keyed by `(kind, id)`, with
//!   `name` and `parent` columns for the lookups that need an index. This keeps the
//!   schema to portable SQL (`TEXT` documents become `JSONB` on PostgreSQL) while the
//!   model evolves; [`Record`] says which kind each model type is.
//! - Metric datapoints live in `metric_data`, append-only and pruned by age; alarm
//!   history in `alarm_history` (the `cloudwatch` module).

mod cloudwatch;
mod metrics;
mod migrations;
mod records;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use cloudwatch::HistoryQuery;
pub use shoal_model::cloudwatch::MetricId;

/// Store failures: SQLite errors or a document that no longer parses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt {kind} document {id}: {source}")]
    Corrupt { kind: &'static str, id: String, source: serde_json::Error },
    #[error("cannot encode {kind} document: {0}", kind = .1)]
    Encode(serde_json::Error, &'static str),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A model type stored as a document: its kind names the rows, its id keys them.
pub trait Record: Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn id(&self) -> &str;
    /// The user-visible name, for kinds looked up by name (templates, groups, …).
    fn name(&self) -> Option<&str> {
        None
    }
    /// The owning resource (a version's template, an activity's group), if any.
    fn parent(&self) -> Option<&str> {
        None
    }
}

/// The database.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests and simulations.
    pub fn in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store { conn };
        migrations::run(&mut store.conn)?;
        Ok(store)
    }

    /// Every document of a kind, in id order.
    pub fn load_all<R: Record>(&self) -> Result<Vec<R>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, doc FROM resources WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![R::KIND], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row?;
            out.push(decode::<R>(&id, &doc)?);
        }
        Ok(out)
    }

    /// One document by id.
    pub fn get<R: Record>(&self, id: &str) -> Result<Option<R>> {
        let doc: Option<String> = self
            .conn
            .query_row(
                "SELECT doc FROM resources WHERE kind = ?1 AND id = ?2",
                params![R::KIND, id],
                |row| row.get(0),
            )
            .optional()?;
        doc.map(|d| decode::<R>(id, &d)).transpose()
    }

    /// Runs `f` in one transaction and commits it (durably) when `f` succeeds.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Writer<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.conn.transaction().map_err(StoreError::from)?;
        let mut writer = Writer { tx };
        let value = f(&mut writer)?;
        writer.tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Every metric with data since `since_ms` (ListMetrics shows recent ones).
    pub fn metric_keys(&self, since_ms: i64) -> Result<Vec<MetricId>> {
        metrics::keys(&self.conn, since_ms)
    }
}

/// An open write transaction.
pub struct Writer<'a> {
    tx: Transaction<'a>,
}

impl Writer<'_> {
    /// Inserts or replaces a document.
    pub fn put<R: Record>(&mut self, record: &R) -> Result<()> {
        let doc = serde_json::to_string(record).map_err(|e| StoreError::Encode(e, R::KIND))?;
        self.tx
            .prepare_cached(
                "INSERT INTO resources (kind, id, name, parent, doc) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name,
                   parent = excluded.parent, doc = excluded.doc",
            )?
            .execute(params![R::KIND, record.id(), record.name(), record.parent(), doc])?;
        Ok(())
    }

    /// Deletes a document; deleting one that is not there is not an error.
    pub fn delete<R: Record>(&mut self, id: &str) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM resources WHERE kind = ?1 AND id = ?2")?
            .execute(params![R::KIND, id])?;
        Ok(())
    }

    /// Deletes every document of a kind whose parent is `parent`.
    pub fn delete_children<R: Record>(&mut self, parent: &str) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM resources WHERE kind = ?1 AND parent = ?2")?
            .execute(params![R::KIND, parent])?;
        Ok(())
    }

    /// Removes every resource and datapoint (the admin reset).
    pub fn wipe(&mut self) -> Result<()> {
        self.tx.execute_batch(
            "DELETE FROM resources; DELETE FROM metric_data; DELETE FROM alarm_history;",
        )?;
        Ok(())
    }

    /// Drops datapoints older than `before_ms` (CloudWatch keeps 1-minute data 15 days).
    pub fn prune_datapoints(&mut self, before_ms: i64) -> Result<()> {
        self.tx.execute("DELETE FROM metric_data WHERE ts_ms < ?1", params![before_ms])?;
        Ok(())
    }
}

fn decode<R: Record>(id: &str, doc: &str) -> Result<R> {
    serde_json::from_str(doc).map_err(|source| StoreError::Corrupt {
        kind: R::KIND,
        id: id.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        id: String,
        name: String,
        size: u32,
    }

    impl Record for Thing {
        const KIND: &'static str = "thing";
        fn id(&self) -> &str {
            &self.id
        }
        fn name(&self) -> Option<&str> {
            Some(&self.name)
        }
    }

    fn thing(id: &str, size: u32) -> Thing {
        Thing { id: id.into(), name: format!("n-{id}"), size }
    }

    #[test]
    fn put_get_delete() {
        let mut store = Store::in_memory().unwrap();
        store
            .write(|w| {
                w.put(&thing("a", 1))?;
                w.put(&thing("b", 2))?;
                w.put(&thing("a", 3))
            })
            .unwrap();
        assert_eq!(store.load_all::<Thing>().unwrap(), vec![thing("a", 3), thing("b", 2)]);
        store.write(|w| w.delete::<Thing>("a")).unwrap();
        assert_eq!(store.get::<Thing>("a").unwrap(), None);
        assert_eq!(store.get::<Thing>("b").unwrap(), Some(thing("b", 2)));
    }

    #[test]
    fn failed_write_changes_nothing() {
        let mut store = Store::in_memory().unwrap();
        let result: std::result::Result<(), StoreError> = store.write(|w| {
            w.put(&thing("a", 1))?;
            Err(StoreError::Sqlite(rusqlite::Error::InvalidQuery))
        });
        assert!(result.is_err());
        assert!(store.load_all::<Thing>().unwrap().is_empty());
    }

    #[test]
    fn survives_reopen() {
        let dir = std::env::temp_dir().join(format!("shoal-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        {
            let mut store = Store::open(&path).unwrap();
            store.write(|w| w.put(&thing("a", 7))).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.get::<Thing>("a").unwrap(), Some(thing("a", 7)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
