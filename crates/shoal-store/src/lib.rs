//! # shoal-store
//!
//! Durable state in SQLite (WAL, synchronous commits), with schema migrations.
