//! # shoal-model
//!
//! Shoal's resources and the AWS rules that govern them, as plain types and pure
//! functions. Architecture invariant: **no I/O here** — no files, sockets, clocks or
//! randomness. Callers pass in the current time and any generated ids, so every rule is
//! deterministic and unit-tested beside its code.
//!
//! # Layout
//! - [`error`]: [`AwsError`], the one error type every rule returns; it carries AWS's
//!   error code (an [`ErrorCode`] of the one catalog) and HTTP status so the API front
//!   can render it unchanged.
//! - [`tags`], [`filter`]: tags and the `Filter.N.Name/Value.M` matching shared by the
//!   Describe calls.
//! - [`ec2`]: instances and their state machine, instance types, images, launch
//!   templates, key pairs, security groups, VPCs and subnets (CIDR rules).
//! - [`elbv2`]: load balancers, listeners, rules, target groups and target health.
//! - [`autoscaling`]: groups, capacity and AZ-balance planning, termination order,
//!   scaling policies and target-tracking math, activities.
//! - [`cloudwatch`]: metrics, statistics and alarm evaluation.
//! - [`quotas`]: service quotas (vCPUs, instances, groups, load balancers, …) and the
//!   errors AWS answers past them; [`text`]: which characters a stored string may hold.
//! - [`region`]: AWS's commercial regions and their availability zones (names, ids).
//! - [`deploy`]: blue/green deployments: strategies, weight schedules, health gates and
//!   the deployment state machine.

pub mod autoscaling;
pub mod cloudwatch;
pub mod deploy;
pub mod ec2;
pub mod elbv2;
pub mod error;
pub mod filter;
pub mod quotas;
pub mod region;
pub mod tags;
pub mod text;

pub use error::{AwsError, AwsResult, ErrorCode};

/// The account every resource belongs to: Shoal serves one account, as LocalStack and
/// moto do, with AWS's documentation account id.
pub const ACCOUNT_ID: &str = "123456789012";

/// The region used when a request names none (no SigV4 scope, no configured region).
pub const DEFAULT_REGION: &str = "us-east-1";
