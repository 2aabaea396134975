//! Schema migrations, applied in order and recorded in `schema_migrations`.
//!
//! Each step is plain SQL that PostgreSQL also accepts, so a later `shoal-store`
//! backend can run the same list.

use rusqlite::{params, Connection};

/// (version, SQL). Append only: never edit a step that has shipped.
const STEPS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE resources (
            kind   TEXT NOT NULL,
            id     TEXT NOT NULL,
            name   TEXT,
            parent TEXT,
            doc    TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE INDEX resources_by_name ON resources (kind, name);
        CREATE INDEX resources_by_parent ON resources (kind, parent);
        CREATE TABLE metric_data (
            namespace  TEXT NOT NULL,
            metric     TEXT NOT NULL,
            dimensions TEXT NOT NULL,
            ts_ms      BIGINT NOT NULL,
            value      DOUBLE PRECISION NOT NULL,
            unit       TEXT NOT NULL
        );
        CREATE INDEX metric_data_by_series ON metric_data (namespace, metric, dimensions, ts_ms);",
    ),
    (
        2,
        // CloudWatch: PutMetricData's `Values`/`Counts` and `StatisticValues` need more
        // than one number per row (`samples`, JSON; NULL for a plain value), and alarm
        // history is an append-only log queried by alarm and time.
        "ALTER TABLE metric_data ADD COLUMN samples TEXT;
        CREATE TABLE alarm_history (
            alarm_name TEXT NOT NULL,
            ts_ms      BIGINT NOT NULL,
            item_type  TEXT NOT NULL,
            doc        TEXT NOT NULL
        );
        CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_name, ts_ms);
        CREATE INDEX alarm_history_by_time ON alarm_history (ts_ms);",
    ),
];

pub(crate) fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)",
    )?;
    let applied: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    for (version, sql) in STEPS.iter().filter(|(v, _)| *v > applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES (?1)", params![version])?;
        tx.commit()?;
    }
    Ok(())
}
