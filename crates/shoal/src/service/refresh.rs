//! Instance refresh: replace a group's instances in batches, keeping at least
//! MinHealthyPercentage of desired capacity healthy, waiting each batch's warmup, pausing
//! at checkpoints, and rolling back (by hand or automatically) to the previous template.

use shoal_model::autoscaling::group::{AutoScalingGroup, GroupInstance};
use shoal_model::autoscaling::lifecycle::{
    self, InstanceRefresh, RefreshPreferences, RefreshStatus,
};
use shoal_model::ec2::launch_template::LaunchTemplateSpec;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::autoscaling::find_group;
use super::ec2::resolve_version_in;
use super::{Changes, Service, State};
use crate::ids;

pub(crate) fn active_refresh<'a>(state: &'a State, group: &str) -> Option<&'a InstanceRefresh> {
    state
        .instance_refreshes
        .values()
        .find(|r| r.auto_scaling_group_name == group && r.status.is_active())
}

fn no_active(group: &str) -> AwsError {
    AwsError::new(
        ErrorCode::ActiveInstanceRefreshNotFound,
        format!("No in progress or pending Instance Refresh found for Auto Scaling group {group}"),
    )
}

/// The concrete (template id, version) a group template spec names now.
fn resolved(state: &State, spec: &LaunchTemplateSpec) -> Option<(String, String)> {
    resolve_version_in(state, spec).ok().map(|(t, v)| (t.id.clone(), v.number.to_string()))
}

/// Instances of `g` that do not run `target` (for SkipMatching and rollbacks).
fn not_matching(state: &State, g: &AutoScalingGroup, target: &LaunchTemplateSpec) -> Vec<String> {
    let want = resolved(state, target);
    live_ids(g, |i| {
        i.launch_template.as_ref().map(|t| (t.launch_template_id.clone(), t.version.clone()))
            != want
    })
}

/// Instances of `g` counted in its capacity that `pick` selects.
fn live_ids(g: &AutoScalingGroup, pick: impl Fn(&GroupInstance) -> bool) -> Vec<String> {
    g.instances
        .iter()
        .filter(|i| i.lifecycle_state.counts_toward_capacity() && pick(i))
        .map(|i| i.instance_id.clone())
        .collect()
}

impl Service {
    /// StartInstanceRefresh. With a DesiredConfiguration the group moves to that template
    /// now (new instances launch from it); a rollback moves it back.
    pub fn start_instance_refresh(
        &self,
        group_name: &str,
        prefs: RefreshPreferences,
        target: Option<LaunchTemplateSpec>,
    ) -> AwsResult<String> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut g = find_group(state, group_name)?.clone();
            if let Some(t) = &target {
                if resolved(state, t).is_none() {
                    return Err(AwsError::validation(format!(
                        "The launch template {} version {} does not exist.",
                        t.id.as_deref().or(t.name.as_deref()).unwrap_or(""),
                        t.version_or_default()
                    )));
                }
            }
            let desired_configuration = target.as_ref().map(|t| {
                serde_json::json!({"LaunchTemplate": {"LaunchTemplateId": t.id, "LaunchTemplateName": t.name, "Version": t.version}})
            });
            let mut refresh = lifecycle::start_instance_refresh(&g, active_refresh(state, group_name), prefs, desired_configuration, &ids::uuid(), now)?;
            // SkipMatching compares with a template; a group on a launch configuration
            // has none to compare with, so every instance is replaced (AWS: skip matching
            // does not work with launch configurations).
            let goal = target.clone().or_else(|| g.launch_template_spec().cloned());
            refresh.pending_instances = match (&goal, refresh.preferences.skip_matching) {
                (Some(goal), true) => not_matching(state, &g, goal),
                _ => live_ids(&g, |_| true),
            };
            refresh.instances_to_update = refresh.pending_instances.len() as u32;
            refresh.target_launch_template = target.clone();
            if let Some(t) = target {
                // The group moves to the desired configuration now (from a template, a
                // mixed instances policy or a launch configuration alike).
                g.launch_template = Some(t);
                g.launch_configuration_name = None;
                g.mixed_instances_policy = None;
                changes.put(g);
            }
            let id = refresh.instance_refresh_id.clone();
            changes.put(refresh);
            Ok(id)
        })
    }

    pub fn cancel_instance_refresh(&self, group_name: &str) -> AwsResult<String> {
        self.mutate(|state, changes| {
            let mut r =
                active_refresh(state, group_name).cloned().ok_or_else(|| no_active(group_name))?;
            r.status = RefreshStatus::Cancelling;
            let id = r.instance_refresh_id.clone();
            changes.put(r);
            Ok(id)
        })
    }

    /// RollbackInstanceRefresh: back to the previous template, replacing what the refresh
    /// already replaced.
    pub fn rollback_instance_refresh(&self, group_name: &str) -> AwsResult<String> {
        self.mutate(|state, changes| {
            let r =
                active_refresh(state, group_name).cloned().ok_or_else(|| no_active(group_name))?;
            let g = find_group(state, group_name)?.clone();
            start_rollback(state, changes, r, g, "Rollback requested by the user.")
        })
    }

    pub fn describe_instance_refreshes(
        &self,
        group_name: &str,
        ids: &[String],
    ) -> Vec<InstanceRefresh> {
        let mut out: Vec<InstanceRefresh> = self.read(|s| {
            s.instance_refreshes
                .values()
                .filter(|r| {
                    r.auto_scaling_group_name == group_name
                        && (ids.is_empty() || ids.contains(&r.instance_refresh_id))
                })
                .cloned()
                .collect()
        });
        out.sort_by_key(|r| std::cmp::Reverse(r.start_time));
        out
    }
}

pub(crate) fn start_rollback(
    state: &State,
    changes: &mut Changes,
    mut r: InstanceRefresh,
    mut g: AutoScalingGroup,
    reason: &str,
) -> AwsResult<String> {
    if r.target_launch_template.is_none() {
        return Err(AwsError::validation(
            "Rollback is only possible for an instance refresh with a DesiredConfiguration.",
        ));
    }
    // Back to what the group launched from before: a template, a mixed instances policy
    // or a launch configuration.
    g.launch_template = r.previous_launch_template.clone();
    g.launch_configuration_name = r.previous_launch_configuration_name.clone();
    g.mixed_instances_policy = r.previous_mixed_instances_policy.clone();
    r.pending_instances = match (g.launch_template_spec(), &g.launch_configuration_name) {
        (Some(previous), _) => not_matching(state, &g, &previous.clone()),
        (None, Some(lc)) => live_ids(&g, |i| i.launch_configuration_name.as_ref() != Some(lc)),
        (None, None) => live_ids(&g, |_| true),
    };
    r.instances_to_update = r.pending_instances.len() as u32;
    r.status = RefreshStatus::RollbackInProgress;
    r.status_reason = Some(reason.to_string());
    r.checkpoint_until = None;
    let id = r.instance_refresh_id.clone();
    changes.put(r);
    changes.put(g);
    Ok(id)
}
