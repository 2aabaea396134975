//! EC2 Auto Scaling: groups, capacity and AZ-balance planning, termination order,
//! scaling policies and target-tracking math, activities.
//!
//! - [`group`]: `AutoScalingGroup`, its instances, and the Create/Update/
//!   SetDesiredCapacity/Delete/TerminateInstance rules with AWS's texts.
//! - [`activity`]: scaling activities and the exact Description/Cause texts.
//! - [`plan`]: the pure planner a reconciler calls: health findings, launches (AZ
//!   balance), terminations (AZ, protection, termination policies), AZRebalance.
//! - [`policy`]: scaling policies, the target-tracking alarms and capacity math, step
//!   and simple adjustments, and the warmup/cooldown gates of executing a policy.
//! - [`schedule`]: scheduled actions, the 5-field cron parser and next-run times.
//! - [`lifecycle`]: lifecycle hooks and instance refreshes (preferences, batches).
//! - [`membership`]: AttachInstances and DetachInstances.
//! - [`metrics`]: the `AWS/AutoScaling` group metrics EnableMetricsCollection turns on.

pub mod activity;
pub mod group;
pub mod lifecycle;
pub mod membership;
pub mod metrics;
pub mod plan;
pub mod policy;
pub mod schedule;

#[cfg(test)]
mod sim_tests;
