//! # shoal
//!
//! The daemon, its service layer, API fronts, control loops, instance runtime, console
//! and CLI.
