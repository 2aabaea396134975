//! # shoal
//!
//! AWS EC2 Auto Scaling, Application Load Balancing and blue/green deployments, for
//! real, on one machine. See `ARCHITECTURE.md` for the map; in short:
//!
//! # Layout
//! - [`server`]: startup — config, regions, HTTP server.
//! - [`regions`]: one service (store, controllers) per AWS region, opened on first use.
//! - [`service`]: the one service layer every front calls; owns state and commits.
//! - [`api`]: the AWS Query/EC2/JSON protocol fronts and Shoal's JSON API.
//! - [`console`]: the web console at `/console` (server-rendered, live by server-sent events).
//! - [`control`]: reconcile loops (instances, CPU metrics) and the admin reset.
//! - [`runtime`]: instances as runc containers or host processes — image layers, disks,
//!   init, cgroups, CPU and network accounting, VPC networks.
//! - [`lab`]: the seed lab's app and `shoal up`'s preparation.
//! - [`cli`]: the `shoal` commands that talk to a daemon.
//! - [`telemetry`]: the counters `GET /metrics` renders for Prometheus.
//! - [`config`], [`clock`], [`ids`], [`keys`]: cross-cutting pieces.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod control;
pub mod credentials;
pub mod ids;
pub mod keys;
pub mod lab;
pub mod regions;
pub mod runtime;
pub mod server;
pub mod service;
pub mod telemetry;
