//! The instance-refresh step the group controller runs in each group's pass: moves the
//! group's active refresh on (checkpoints, replacing instances in batches within the
//! healthy percentage, rollback on failure). The operations that start, cancel, roll
//! back and describe refreshes are the service's (`service::refresh`).

use shoal_model::autoscaling::activity::{cause, ActivityStatus};
use shoal_model::autoscaling::group::{AutoScalingGroup, HealthStatus, LifecycleState};
use shoal_model::autoscaling::lifecycle::{self, RefreshStatus};
use shoal_model::AwsResult;

use crate::service::autoscaling::begin_termination;
use crate::service::refresh::{active_refresh, start_rollback};
use crate::service::{Changes, Service, State};

/// One controller pass over the group's active refresh, if any.
pub fn step(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    group_name: &str,
) -> AwsResult<()> {
    let now = svc.clock.now();
    let Some(r) = active_refresh(state, group_name) else { return Ok(()) };
    // A group being deleted replaces nothing more; its refresh goes with it.
    let Some(g) = state.groups.get(group_name).filter(|g| g.status.is_none()) else {
        return Ok(());
    };
    let mut r = r.clone();
    let mut g = g.clone();
    match r.status {
        RefreshStatus::Pending => {
            r.status = RefreshStatus::InProgress;
            changes.put(r);
            return Ok(());
        }
        RefreshStatus::Cancelling => {
            r.status = RefreshStatus::Cancelled;
            r.end_time = Some(now);
            changes.put(r);
            return Ok(());
        }
        _ => {}
    }
    let live = |id: &String| {
        g.instances
            .iter()
            .any(|i| &i.instance_id == id && i.lifecycle_state.counts_toward_capacity())
    };
    r.pending_instances.retain(live);
    let total = r.instances_to_update.max(1);
    r.percentage_complete = (total - r.pending_instances.len() as u32) * 100 / total;

    // AutoRollback: a launch that failed during the refresh sends the group back.
    let failed = state.activities.values().any(|a| {
        a.auto_scaling_group_name == group_name
            && a.start_time >= r.start_time
            && a.status_code == ActivityStatus::Failed
    });
    if failed && r.status == RefreshStatus::InProgress {
        if r.preferences.auto_rollback && r.target_launch_template.is_some() {
            start_rollback(
                state,
                changes,
                r,
                g,
                "A replacement instance failed to launch; rolling back.",
            )?;
        } else {
            r.status = RefreshStatus::Failed;
            r.status_reason = Some("A replacement instance failed to launch.".into());
            r.end_time = Some(now);
            changes.put(r);
        }
        return Ok(());
    }
    if r.checkpoint_until.is_some_and(|t| t > now) {
        changes.put(r);
        return Ok(());
    }
    let warmup = lifecycle::refresh_warmup(&g, &r.preferences);
    let counted: Vec<_> =
        g.instances.iter().filter(|i| i.lifecycle_state.counts_toward_capacity()).collect();
    let settling = counted.iter().filter(|i| AutoScalingGroup::is_warming(i, warmup, now)).count();
    let ready = counted
        .iter()
        .filter(|i| {
            i.lifecycle_state == LifecycleState::InService
                && i.health_status == HealthStatus::Healthy
                && !AutoScalingGroup::is_warming(i, warmup, now)
        })
        .count() as u32;
    let desired = g.desired_capacity;
    if r.pending_instances.is_empty() && settling == 0 && counted.len() as u32 == desired {
        r.status = if r.status == RefreshStatus::RollbackInProgress {
            RefreshStatus::RollbackSuccessful
        } else {
            RefreshStatus::Successful
        };
        r.percentage_complete = 100;
        r.end_time = Some(now);
        changes.put(r);
        return Ok(());
    }
    // The next batch starts once the last one is in service and warm.
    if settling > 0 || (counted.len() as u32) < desired {
        changes.put(r);
        return Ok(());
    }
    let min_healthy =
        (u64::from(desired) * u64::from(r.preferences.min_healthy_percentage)).div_ceil(100) as u32;
    let (_, batch) = lifecycle::refresh_batch(desired, &r.preferences);
    let allowed = ready
        .saturating_sub(min_healthy)
        .min(batch)
        .max(u32::from(ready == desired && min_healthy >= desired));
    let chosen: Vec<String> = r.pending_instances.iter().take(allowed as usize).cloned().collect();
    for id in &chosen {
        begin_termination(
            svc,
            state,
            changes,
            &mut g,
            id,
            cause::at(now, &cause::refresh_terminate()),
        )?;
    }
    r.pending_instances.retain(|id| !chosen.contains(id));
    let done = (total - r.pending_instances.len() as u32) * 100 / total;
    // Checkpoints pause a forward refresh between batches (not a rollback, not the end).
    let forward = r.status == RefreshStatus::InProgress;
    if let Some(cp) = r
        .preferences
        .checkpoint_percentages
        .iter()
        .find(|cp| forward && **cp < 100 && r.percentage_complete < **cp && done >= **cp)
    {
        r.status_reason = Some(format!("Waiting at checkpoint {cp}%"));
        r.checkpoint_until =
            Some(now + chrono::Duration::seconds(i64::from(r.preferences.checkpoint_delay)));
    }
    r.percentage_complete = done.min(99);
    if !chosen.is_empty() {
        g.pending_cause = Some(cause::at(now, &cause::refresh_launch()));
        changes.put(g);
    }
    changes.put(r);
    Ok(())
}
