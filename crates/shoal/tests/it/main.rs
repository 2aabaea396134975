//! The one Rust integration-test binary: control loops driven directly against the fake
//! runtime on a manual clock (fast, deterministic), complementing `tests/aws`, which
//! drives a real daemon with the aws CLI and boto3.

mod world;

mod alarm_actions;
mod group_lifecycle;
mod groups;
mod netacct;
mod network;
mod simulation;
