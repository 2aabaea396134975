//! Capacity planning: what the group's reconciler must launch or terminate, and why.
//!
//! `plan(group, now, seed)` compares the desired capacity with the instances and
//! returns steps with their activity Causes ready to record. The rules are AWS's:
//! - **health replacement** first: instances marked `Unhealthy` are terminated and
//!   replaced (ignores scale-in protection and cooldowns);
//! - **maximum instance lifetime**: once the group is at its desired capacity, instances
//!   in service longer than MaxInstanceLifetime are terminated and replaced (terminate,
//!   then launch while the old one terminates), usually one at a time, at most 10 % of
//!   the capacity at once counting replacements still pending; protected instances stay;
//!   needs both `Launch` and `Terminate`;
//! - **launch** into the enabled AZ with the fewest instances, ties broken by the
//!   order the user listed the subnets;
//! - **scale in**: first instances in AZs no longer enabled, then the AZ with the most
//!   instances among those with at least one unprotected instance; within it the
//!   termination policies decide (`Default` by default); unhealthy instances go first
//!   and skip the policies; protection applies from `InService` on;
//! - **AZRebalance** when capacity equals desired and zones are unbalanced by more
//!   than one instance: launch one in the emptiest zone first (the group may exceed
//!   MaxSize by 10 %, at least one), the next pass then scales in from the fullest;
//! - suspended processes (`Launch`, `Terminate`, `ReplaceUnhealthy`, `AZRebalance`,
//!   `HealthCheck`) switch the matching part off.
//!
//! Remaining randomness (the last tie-break of a termination policy) comes from the
//! caller's `seed`, so plans are reproducible.

use crate::elbv2::health::TargetHealthState;
use chrono::{DateTime, Utc};

use super::activity::cause;
use super::group::{
    AttachmentState, AutoScalingGroup, GroupInstance, HealthCheckType, HealthStatus,
    LifecycleState, TerminationPolicy, UnhealthyReason, ZoneSubnet,
};

/// What the reconciler should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Launch one instance into this subnet/AZ.
    Launch { zone: ZoneSubnet },
    /// Terminate (deregister from target groups, run hooks, then terminate) one instance.
    Terminate { instance_id: String },
}

/// One step with the activity Cause to record for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub cause: String,
}

/// The outcome of one planning pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// True when the group's `pending_cause` was used in a Cause; the caller clears it.
    pub consumed_pending_cause: bool,
}

/// What the runtime and the target groups report about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceObservation {
    pub instance_id: String,
    /// EC2 state name: `pending`, `running`, `stopping`, `stopped`, `shutting-down`,
    /// `terminated`.
    pub ec2_state: String,
    /// `(target group ARN, target health state)` for each target group of the group
    /// where the instance is registered.
    pub target_states: Vec<(String, TargetHealthState)>,
}

/// The periodic health check: which counted, still-healthy instances become
/// `Unhealthy`, and why.
/// - EC2 (always on): any EC2 state but `pending`/`running` → unhealthy at once, grace
///   period or not.
/// - ELB (when HealthCheckType is `ELB`): a target group reports `unhealthy`, the
///   instance is `InService` for at least the grace period, and that attachment is
///   `InService`.
///
/// Nothing when the `HealthCheck` process is suspended.
pub fn health_findings(
    group: &AutoScalingGroup,
    observations: &[InstanceObservation],
    now: DateTime<Utc>,
) -> Vec<(String, UnhealthyReason)> {
    if group.is_suspended("HealthCheck") {
        return vec![];
    }
    let grace = chrono::Duration::seconds(i64::from(group.health_check_grace_period));
    let observed: std::collections::HashMap<&str, &InstanceObservation> =
        observations.iter().map(|o| (o.instance_id.as_str(), o)).collect();
    let mut out = Vec::new();
    for inst in &group.instances {
        if !inst.lifecycle_state.counts_toward_capacity()
            || inst.health_status == HealthStatus::Unhealthy
        {
            continue;
        }
        let Some(obs) = observed.get(inst.instance_id.as_str()) else {
            continue;
        };
        if !matches!(obs.ec2_state.as_str(), "pending" | "running") {
            out.push((inst.instance_id.clone(), UnhealthyReason::Ec2));
            continue;
        }
        if group.health_check_type != HealthCheckType::Elb
            || inst.lifecycle_state != LifecycleState::InService
        {
            continue;
        }
        let since = inst.in_service_at.unwrap_or(inst.launched_at);
        if now < since + grace {
            continue;
        }
        let elb_unhealthy = obs.target_states.iter().any(|(tg, state)| {
            *state == TargetHealthState::Unhealthy
                && group
                    .target_groups
                    .iter()
                    .any(|a| a.target_group_arn == *tg && a.state == AttachmentState::InService)
        });
        if elb_unhealthy {
            out.push((inst.instance_id.clone(), UnhealthyReason::Elb));
        }
    }
    out
}

/// Marks the findings of [`health_findings`] on the group's instances.
pub fn apply_health_findings(group: &mut AutoScalingGroup, findings: &[(String, UnhealthyReason)]) {
    for (id, reason) in findings {
        if let Some(inst) = group.instances.iter_mut().find(|i| i.instance_id == *id) {
            inst.health_status = HealthStatus::Unhealthy;
            inst.unhealthy_reason = Some(*reason);
        }
    }
}

fn unhealthy_cause(reason: Option<UnhealthyReason>) -> String {
    match reason {
        Some(UnhealthyReason::Elb) => cause::elb_unhealthy(),
        Some(UnhealthyReason::User) => cause::user_health_check(),
        Some(UnhealthyReason::Ec2) | None => cause::ec2_unhealthy(),
    }
}

/// Zone counts over the group's enabled zones (in user order) for `instances`.
fn zone_counts(group: &AutoScalingGroup, instances: &[&GroupInstance]) -> Vec<(ZoneSubnet, u32)> {
    let mut seen: Vec<(ZoneSubnet, u32)> = Vec::new();
    for z in &group.zones {
        if !seen.iter().any(|(s, _)| s.availability_zone == z.availability_zone) {
            seen.push((z.clone(), 0));
        }
    }
    for inst in instances {
        if let Some((_, c)) =
            seen.iter_mut().find(|(z, _)| z.availability_zone == inst.availability_zone)
        {
            *c += 1;
        }
    }
    seen
}

/// The zone for the next launch: fewest instances, first in user order on ties.
pub fn launch_zone(counts: &[(ZoneSubnet, u32)]) -> Option<ZoneSubnet> {
    let min = counts.iter().map(|(_, c)| *c).min()?;
    counts.iter().find(|(_, c)| *c == min).map(|(z, _)| z.clone())
}

/// Scale-in protection counts from `InService` on.
fn protected(inst: &GroupInstance) -> bool {
    inst.protected_from_scale_in && inst.lifecycle_state == LifecycleState::InService
}

fn template_differs(group: &AutoScalingGroup, inst: &GroupInstance) -> bool {
    match (group.launch_template_spec(), &inst.launch_template) {
        (Some(spec), Some(r)) => {
            spec.id.as_ref().is_some_and(|id| *id != r.launch_template_id)
                || spec.name.as_ref().is_some_and(|n| *n != r.launch_template_name)
        }
        _ => false,
    }
}

/// Launched from a launch configuration other than the group's current one (every
/// launch configuration, for a group that launches from a template).
fn outdated_configuration(group: &AutoScalingGroup, inst: &GroupInstance) -> bool {
    inst.launch_configuration_name.is_some()
        && inst.launch_configuration_name != group.launch_configuration_name
}

/// Oldest launch configuration first (by its creation time; unknown times count as
/// oldest, instances without one as newest).
fn configuration_age(inst: &GroupInstance) -> (bool, Option<DateTime<Utc>>) {
    (inst.launch_configuration_name.is_none(), inst.launch_configuration_created)
}

fn version_of(inst: &GroupInstance) -> u64 {
    inst.launch_template.as_ref().and_then(|r| r.version.parse().ok()).unwrap_or(0)
}

fn keep_min_by<K: Ord>(
    pool: Vec<&GroupInstance>,
    key: impl Fn(&GroupInstance) -> K,
) -> Vec<&GroupInstance> {
    let Some(min) = pool.iter().map(|i| key(i)).min() else { return pool };
    pool.into_iter().filter(|i| key(i) == min).collect()
}

fn keep_if_any(
    pool: Vec<&GroupInstance>,
    pred: impl Fn(&GroupInstance) -> bool,
) -> Vec<&GroupInstance> {
    if pool.iter().any(|i| pred(i)) {
        pool.into_iter().filter(|i| pred(i)).collect()
    } else {
        pool
    }
}

fn seconds_to_next_hour(inst: &GroupInstance, now: DateTime<Utc>) -> i64 {
    let up = (now - inst.launched_at).num_seconds().max(0);
    3600 - up % 3600
}

/// Narrows `pool` by one termination policy.
fn narrow<'a>(
    policy: &TerminationPolicy,
    pool: Vec<&'a GroupInstance>,
    group: &AutoScalingGroup,
    now: DateTime<Utc>,
) -> Vec<&'a GroupInstance> {
    match policy {
        TerminationPolicy::OldestInstance => keep_min_by(pool, |i| i.launched_at),
        TerminationPolicy::NewestInstance => {
            keep_min_by(pool, |i| std::cmp::Reverse(i.launched_at))
        }
        TerminationPolicy::OldestLaunchConfiguration => {
            let pool = keep_if_any(pool, |i| outdated_configuration(group, i));
            keep_min_by(pool, configuration_age)
        }
        TerminationPolicy::OldestLaunchTemplate => {
            let pool = keep_if_any(pool, |i| template_differs(group, i));
            keep_min_by(pool, version_of)
        }
        TerminationPolicy::ClosestToNextInstanceHour => {
            keep_min_by(pool, |i| seconds_to_next_hour(i, now))
        }
        // Shoal has no Spot/On-Demand allocation and does not call Lambda policies.
        TerminationPolicy::AllocationStrategy | TerminationPolicy::Lambda(_) => pool,
        TerminationPolicy::Default => {
            // A group on a launch template (or mixed instances policy): instances from a
            // launch configuration, then from a different launch template, then the
            // oldest version of the current one. A group on a launch configuration: the
            // oldest launch configuration. Then closest to the next billing hour.
            let pool = if group.launch_configuration_name.is_some() {
                let pool = keep_if_any(pool, |i| outdated_configuration(group, i));
                keep_min_by(pool, configuration_age)
            } else {
                let pool = keep_if_any(pool, |i| i.launch_configuration_name.is_some());
                let pool = keep_min_by(pool, configuration_age);
                let pool = keep_if_any(pool, |i| template_differs(group, i));
                keep_min_by(pool, version_of)
            };
            keep_min_by(pool, |i| seconds_to_next_hour(i, now))
        }
    }
}

/// Picks one instance of `pool` (non-empty) by the group's termination policies in
/// order, then by `seed` for a final tie.
pub fn pick_by_policies<'a>(
    group: &AutoScalingGroup,
    pool: Vec<&'a GroupInstance>,
    now: DateTime<Utc>,
    seed: u64,
) -> Option<&'a GroupInstance> {
    let mut pool = pool;
    if pool.is_empty() {
        return None;
    }
    for p in &group.termination_policies {
        if pool.len() <= 1 {
            break;
        }
        pool = narrow(p, pool, group, now);
    }
    pool.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let k = (seed % pool.len() as u64) as usize;
    Some(pool[k])
}

/// Chooses `n` instances of `candidates` to terminate for a scale-in, in order.
pub fn select_for_scale_in(
    group: &AutoScalingGroup,
    candidates: &[&GroupInstance],
    n: usize,
    now: DateTime<Utc>,
    seed: u64,
) -> Vec<String> {
    let mut remaining: Vec<&GroupInstance> = candidates.to_vec();
    let mut chosen = Vec::new();
    let enabled: Vec<String> = group.availability_zones();
    for k in 0..n {
        let eligible: Vec<&GroupInstance> =
            remaining.iter().copied().filter(|i| !protected(i)).collect();
        if eligible.is_empty() {
            break;
        }
        let pick =
            if let Some(u) = eligible.iter().find(|i| i.health_status == HealthStatus::Unhealthy) {
                Some(*u)
            } else {
                let stray: Vec<&GroupInstance> = eligible
                    .iter()
                    .copied()
                    .filter(|i| !enabled.contains(&i.availability_zone))
                    .collect();
                let pool = if !stray.is_empty() {
                    stray
                } else {
                    // The AZ with the most instances among AZs with an unprotected one; ties go
                    // to the later zone in the user's order (launches prefer the earlier).
                    let mut best: Option<(&str, usize)> = None;
                    for z in &enabled {
                        if !eligible.iter().any(|i| i.availability_zone == *z) {
                            continue;
                        }
                        let count = remaining.iter().filter(|i| i.availability_zone == *z).count();
                        if best.is_none_or(|(_, c)| count >= c) {
                            best = Some((z, count));
                        }
                    }
                    let Some((zone, _)) = best else { break };
                    eligible.iter().copied().filter(|i| i.availability_zone == zone).collect()
                };
                pick_by_policies(group, pool, now, seed.wrapping_add(k as u64))
            };
        let Some(pick) = pick else { break };
        chosen.push(pick.instance_id.clone());
        remaining.retain(|i| i.instance_id != pick.instance_id);
    }
    chosen
}

/// One planning pass; see the module doc for the rules.
pub fn plan(group: &AutoScalingGroup, now: DateTime<Utc>, seed: u64) -> Plan {
    let mut out = Plan::default();
    let live: Vec<&GroupInstance> =
        group.instances.iter().filter(|i| i.lifecycle_state.counts_toward_capacity()).collect();
    let can_launch = !group.is_suspended("Launch");
    let can_terminate = !group.is_suspended("Terminate");
    let desired = group.desired_capacity as usize;

    // 1. Health replacement (before any scaling; no protection, no cooldown).
    let replace = can_terminate && !group.is_suspended("ReplaceUnhealthy");
    // The Cause of each replacement's launch, in order.
    let mut replacements: Vec<String> = Vec::new();
    let mut healthy: Vec<&GroupInstance> = Vec::new();
    for inst in &live {
        if replace && inst.health_status == HealthStatus::Unhealthy {
            out.steps.push(Step {
                action: Action::Terminate { instance_id: inst.instance_id.clone() },
                cause: cause::at(now, &unhealthy_cause(inst.unhealthy_reason)),
            });
            replacements.push(cause::at(now, &cause::replacement_launch()));
        } else {
            healthy.push(inst);
        }
    }

    // 1b. Maximum instance lifetime, only while the group holds its desired capacity.
    if replacements.is_empty() && can_terminate && can_launch && healthy.len() == desired {
        let pending = healthy.iter().filter(|i| i.lifecycle_state.is_pending()).count();
        let budget = (healthy.len() / 10).max(1).saturating_sub(pending);
        for id in expired_instances(group, now).into_iter().take(budget) {
            out.steps.push(Step {
                action: Action::Terminate { instance_id: id.clone() },
                cause: cause::chain([
                    cause::at(now, &cause::lifetime_terminate()),
                    cause::at(now, &cause::selected_for_termination(&id)),
                ]),
            });
            replacements.push(cause::at(now, &cause::lifetime_launch()));
            healthy.retain(|i| i.instance_id != id);
        }
    }
    let replaced = replacements.len();

    let pending = group.pending_cause.clone();
    let with_pending = |out: &mut Plan, sentences: Vec<String>| -> String {
        let mut parts = Vec::new();
        if let Some(p) = &pending {
            parts.push(p.clone());
            out.consumed_pending_cause = true;
        }
        parts.extend(sentences);
        cause::chain(parts)
    };

    // 2. Capacity.
    if healthy.len() < desired {
        if !can_launch {
            return out;
        }
        let mut counts = zone_counts(group, &healthy);
        let n = desired - healthy.len();
        let from = (healthy.len() + replaced.min(n)) as u32;
        for k in 0..n {
            let Some(zone) = launch_zone(&counts) else { break };
            if let Some((_, c)) =
                counts.iter_mut().find(|(z, _)| z.availability_zone == zone.availability_zone)
            {
                *c += 1;
            }
            let cause = if let Some(c) = replacements.get(k) {
                c.clone()
            } else {
                with_pending(
                    &mut out,
                    vec![cause::at(now, &cause::capacity_launch(from, desired as u32))],
                )
            };
            out.steps.push(Step { action: Action::Launch { zone }, cause });
        }
        return out;
    }

    if healthy.len() > desired {
        if !can_terminate {
            return out;
        }
        let chosen = select_for_scale_in(group, &healthy, healthy.len() - desired, now, seed);
        if chosen.is_empty() {
            return out;
        }
        let mut sentences =
            vec![cause::at(now, &cause::capacity_terminate(healthy.len() as u32, desired as u32))];
        sentences
            .extend(chosen.iter().map(|id| cause::at(now, &cause::selected_for_termination(id))));
        let text = with_pending(&mut out, sentences);
        for id in chosen {
            out.steps
                .push(Step { action: Action::Terminate { instance_id: id }, cause: text.clone() });
        }
        return out;
    }

    // 3. Balanced capacity: maybe rebalance (only when the group is settled).
    if pending.is_some() {
        out.consumed_pending_cause = true;
    }
    if replaced > 0 || !can_launch || group.is_suspended("AZRebalance") || desired == 0 {
        return out;
    }
    if group.instances.iter().any(|i| {
        i.lifecycle_state != LifecycleState::InService
            && i.lifecycle_state != LifecycleState::Terminated
            && i.lifecycle_state != LifecycleState::Standby
            && i.lifecycle_state != LifecycleState::Detached
    }) {
        return out;
    }
    let counts = zone_counts(group, &healthy);
    let enabled = group.availability_zones();
    let stray = healthy.iter().filter(|i| !enabled.contains(&i.availability_zone)).count() as u32;
    let (Some(min), Some(max)) =
        (counts.iter().map(|(_, c)| *c).min(), counts.iter().map(|(_, c)| *c).max())
    else {
        return out;
    };
    let unbalanced = max.saturating_sub(min) > 1 || stray > 0;
    let fullest_has_unprotected = stray > 0
        || counts.iter().filter(|(_, c)| *c == max).any(|(z, _)| {
            healthy.iter().any(|i| i.availability_zone == z.availability_zone && !protected(i))
        });
    let ceiling = group.max_size + (group.max_size / 10).max(1);
    if unbalanced && fullest_has_unprotected && (healthy.len() as u32) < ceiling {
        if let Some(zone) = launch_zone(&counts) {
            let listed: Vec<(String, u32)> =
                counts.iter().map(|(z, c)| (z.availability_zone.clone(), *c)).collect();
            out.steps.push(Step {
                action: Action::Launch { zone },
                cause: cause::at(now, &cause::rebalance_launch(&listed)),
            });
        }
    }
    out
}

/// Instances in service for at least MaxInstanceLifetime, longest first: healthy,
/// `InService` and not protected from scale in (AWS: protection keeps an instance from
/// being replaced for its lifetime). [`plan`] paces their replacement.
pub fn expired_instances(group: &AutoScalingGroup, now: DateTime<Utc>) -> Vec<String> {
    let Some(lifetime) = group.max_instance_lifetime else { return vec![] };
    let since = |i: &GroupInstance| i.in_service_at.unwrap_or(i.launched_at);
    let mut out: Vec<&GroupInstance> = group
        .instances
        .iter()
        .filter(|i| {
            i.lifecycle_state == LifecycleState::InService
                && i.health_status == HealthStatus::Healthy
                && !i.protected_from_scale_in
        })
        .filter(|i| now >= since(i) + chrono::Duration::seconds(i64::from(lifetime)))
        .collect();
    out.sort_by(|a, b| since(a).cmp(&since(b)).then(a.instance_id.cmp(&b.instance_id)));
    out.into_iter().map(|i| i.instance_id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{create_group, CreateGroupRequest, LaunchTemplateRef};
    use crate::ec2::launch_template::LaunchTemplateSpec;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    fn group(zones: &[&str], min: i64, max: i64, desired: i64) -> AutoScalingGroup {
        let req = CreateGroupRequest {
            name: "EXERCISE-GROUP".into(),
            launch_template: Some(LaunchTemplateSpec {
                id: Some("lt-1".into()),
                name: None,
                version: None,
            }),
            min_size: Some(min),
            max_size: Some(max),
            desired_capacity: Some(desired),
            zones: zones
                .iter()
                .map(|z| ZoneSubnet {
                    subnet_id: format!("subnet-{z}"),
                    availability_zone: format!("us-east-1{z}"),
                })
                .collect(),
            ..Default::default()
        };
        let mut g = create_group(&req, false, "us-east-1", "u", t(0)).unwrap();
        g.pending_cause = None;
        g
    }

    /// Adds an in-service instance: `spec` = "<id>@<zone letter>[:v<version>][:p][:u][:+<minutes launched>]".
    fn add(g: &mut AutoScalingGroup, spec: &str) {
        let mut parts = spec.split(':');
        let (id, z) = parts.next().unwrap().split_once('@').unwrap();
        let mut inst = GroupInstance {
            instance_id: id.into(),
            availability_zone: format!("us-east-1{z}"),
            subnet_id: Some(format!("subnet-{z}")),
            lifecycle_state: LifecycleState::InService,
            health_status: HealthStatus::Healthy,
            unhealthy_reason: None,
            protected_from_scale_in: false,
            launch_template: Some(LaunchTemplateRef {
                launch_template_id: "lt-1".into(),
                launch_template_name: "exercise-launch-template".into(),
                version: "1".into(),
            }),
            launch_configuration_name: None,
            launch_configuration_created: None,
            instance_type: "t2.micro".into(),
            launched_at: t(0),
            in_service_at: Some(t(1)),
            activity_id: None,
        };
        for p in parts {
            match p {
                "p" => inst.protected_from_scale_in = true,
                "u" => {
                    inst.health_status = HealthStatus::Unhealthy;
                    inst.unhealthy_reason = Some(UnhealthyReason::Elb)
                }
                "pending" => inst.lifecycle_state = LifecycleState::Pending,
                "lt2" => inst.launch_template.as_mut().unwrap().launch_template_id = "lt-2".into(),
                lc if lc.starts_with("lc=") => {
                    // `lc=<name>@<minute created>`: launched from a launch configuration.
                    let (name, at) = lc[3..].split_once('@').unwrap();
                    inst.launch_template = None;
                    inst.launch_configuration_name = Some(name.into());
                    inst.launch_configuration_created = Some(t(at.parse().unwrap()));
                }
                v if v.starts_with('v') => {
                    inst.launch_template.as_mut().unwrap().version = v[1..].into()
                }
                m if m.starts_with('+') => {
                    inst.launched_at = t(m[1..].parse().unwrap());
                    inst.in_service_at = Some(inst.launched_at + chrono::Duration::minutes(1));
                }
                other => panic!("bad spec {other}"),
            }
        }
        g.instances.push(inst);
    }

    fn summary(p: &Plan) -> Vec<String> {
        p.steps
            .iter()
            .map(|s| match &s.action {
                Action::Launch { zone } => format!("launch {}", zone.availability_zone),
                Action::Terminate { instance_id } => format!("terminate {instance_id}"),
            })
            .collect()
    }

    fn check(
        zones: &[&str],
        sizes: (i64, i64, i64),
        instances: &[&str],
        edit: impl Fn(&mut AutoScalingGroup),
        want: &[&str],
    ) {
        let mut g = group(zones, sizes.0, sizes.1, sizes.2);
        for s in instances {
            add(&mut g, s);
        }
        edit(&mut g);
        let p = plan(&g, t(30), 0);
        assert_eq!(summary(&p), want, "instances {instances:?}");
    }

    #[test]
    fn launches_balance_zones_in_user_order() {
        check(&["a", "b"], (1, 2, 1), &[], |_| {}, &["launch us-east-1a"]);
        check(&["b", "a"], (1, 2, 1), &[], |_| {}, &["launch us-east-1b"]);
        check(&["a", "b"], (1, 2, 2), &["i-1@a"], |_| {}, &["launch us-east-1b"]);
        check(
            &["a", "b", "c"],
            (0, 9, 5),
            &["i-1@a"],
            |_| {},
            &["launch us-east-1b", "launch us-east-1c", "launch us-east-1a", "launch us-east-1b"],
        );
        check(
            &["a", "b"],
            (0, 9, 3),
            &["i-1@a"],
            |g| {
                g.suspended_processes.push(super::super::group::SuspendedProcess {
                    process_name: "Launch".into(),
                    suspension_reason: String::new(),
                })
            },
            &[],
        );
    }

    #[test]
    fn scale_in_picks_zone_then_policy() {
        // Fullest zone first.
        check(&["a", "b"], (0, 9, 2), &["i-1@a", "i-2@a", "i-3@b"], |_| {}, &["terminate i-1"]);
        // Protected instances are skipped; their zone still counts for "most instances"
        // but only if it has an unprotected one.
        check(&["a", "b"], (0, 9, 2), &["i-1@a:p", "i-2@a:p", "i-3@b"], |_| {}, &["terminate i-3"]);
        check(&["a", "b"], (0, 9, 0), &["i-1@a:p", "i-2@b"], |_| {}, &["terminate i-2"]);
        // Protection starts at InService: a pending protected instance can go.
        check(&["a"], (0, 9, 0), &["i-1@a:p:pending"], |_| {}, &["terminate i-1"]);
        // Default policy: a different template first, then the oldest version.
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:v3", "i-2@a:lt2", "i-3@a:v2"],
            |_| {},
            &["terminate i-2"],
        );
        check(&["a"], (0, 9, 2), &["i-1@a:v3", "i-2@a:v1", "i-3@a:v2"], |_| {}, &["terminate i-2"]);
        // OldestInstance / NewestInstance.
        let policy = |p: TerminationPolicy| {
            move |g: &mut AutoScalingGroup| g.termination_policies = vec![p.clone()]
        };
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:+5", "i-2@a:+1", "i-3@a:+9"],
            policy(TerminationPolicy::OldestInstance),
            &["terminate i-2"],
        );
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:+5", "i-2@a:+1", "i-3@a:+9"],
            policy(TerminationPolicy::NewestInstance),
            &["terminate i-3"],
        );
        // Stray zone (no longer enabled) first.
        check(&["a"], (0, 9, 1), &["i-1@a", "i-2@z"], |_| {}, &["terminate i-2"]);
        // Scale to zero alternates zones from the fullest.
        check(
            &["a", "b"],
            (0, 9, 0),
            &["i-1@a", "i-2@b", "i-3@a"],
            |_| {},
            &["terminate i-1", "terminate i-2", "terminate i-3"],
        );
    }

    #[test]
    fn launch_configurations_go_first() {
        let on_lc = |name: &'static str| {
            move |g: &mut AutoScalingGroup| {
                g.launch_template = None;
                g.launch_configuration_name = Some(name.into());
            }
        };
        let policy = |p: TerminationPolicy| {
            move |g: &mut AutoScalingGroup| g.termination_policies = vec![p.clone()]
        };
        // A group on a template: any launch-configuration instance before a template's,
        // even one of an older template version.
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:v1", "i-2@a:lc=old@0", "i-3@a:lt2"],
            |_| {},
            &["terminate i-2"],
        );
        // Several: the oldest launch configuration first.
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:lc=b@5", "i-2@a:lc=a@2", "i-3@a:v1"],
            |_| {},
            &["terminate i-2"],
        );
        // A group on a launch configuration: instances of another (older) one first,
        // the oldest of them, whatever their launch order.
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:lc=new@9:+1", "i-2@a:lc=mid@5:+9", "i-3@a:lc=old@1:+5"],
            on_lc("new"),
            &["terminate i-3"],
        );
        check(
            &["a"],
            (0, 9, 1),
            &["i-1@a:lc=new@9", "i-2@a:lc=new@9:+3"],
            on_lc("new"),
            &["terminate i-1"],
        );
        // OldestLaunchConfiguration alone, then Default's tie-breaks do not apply.
        check(
            &["a"],
            (0, 9, 2),
            &["i-1@a:lc=new@9", "i-2@a:lc=old@1", "i-3@a:lc=mid@5"],
            |g| {
                on_lc("new")(g);
                policy(TerminationPolicy::OldestLaunchConfiguration)(g)
            },
            &["terminate i-2"],
        );
        // A group on a mixed instances policy counts as a template group.
        check(
            &["a"],
            (0, 9, 1),
            &["i-1@a:v1", "i-2@a:lc=old@0"],
            |g| {
                let lt = g.launch_template.take().unwrap();
                g.mixed_instances_policy = Some(super::super::mixed::MixedInstancesPolicy {
                    launch_template: lt,
                    overrides: vec![],
                    instances_distribution: Default::default(),
                });
            },
            &["terminate i-2"],
        );
    }

    #[test]
    fn health_replacement_ignores_protection() {
        check(
            &["a", "b"],
            (1, 2, 2),
            &["i-1@a:p:u", "i-2@b"],
            |_| {},
            &["terminate i-1", "launch us-east-1a"],
        );
        let mut g = group(&["a", "b"], 1, 2, 2);
        add(&mut g, "i-1@a:u");
        add(&mut g, "i-2@b");
        let p = plan(&g, t(30), 0);
        assert_eq!(p.steps[0].cause, "At 2026-11-25T10:30:00Z an instance was taken out of service in response to an ELB system health check failure.");
        assert_eq!(p.steps[1].cause, "At 2026-11-25T10:30:00Z an instance was launched in response to an unhealthy instance needing to be replaced.");
        // ReplaceUnhealthy suspended: nothing.
        check(
            &["a", "b"],
            (1, 2, 2),
            &["i-1@a:u", "i-2@b"],
            |g| {
                g.suspended_processes.push(super::super::group::SuspendedProcess {
                    process_name: "ReplaceUnhealthy".into(),
                    suspension_reason: String::new(),
                })
            },
            &[],
        );
    }

    #[test]
    fn causes_chain_the_desired_change() {
        let mut g = group(&["a", "b"], 1, 2, 2);
        add(&mut g, "i-1@a");
        g.pending_cause = Some(cause::at(
            t(29),
            &cause::alarm_policy("TargetTracking-EXERCISE-GROUP-AlarmHigh-u", "cpu80", 1, 2),
        ));
        let p = plan(&g, t(30), 0);
        assert!(p.consumed_pending_cause);
        assert_eq!(p.steps[0].cause, "At 2026-11-25T10:29:00Z a monitor alarm TargetTracking-EXERCISE-GROUP-AlarmHigh-u in state ALARM triggered policy cpu80 changing the desired capacity from 1 to 2.  At 2026-11-25T10:30:00Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.");
        let mut g = group(&["a", "b"], 0, 2, 0);
        add(&mut g, "i-1@a");
        add(&mut g, "i-2@b");
        g.pending_cause =
            Some(cause::at(t(29), &cause::update_constraints(Some(0), Some(0), Some(0), 2, 0)));
        let p = plan(&g, t(30), 0);
        assert_eq!(p.steps[0].cause, "At 2026-11-25T10:29:00Z a user request update of AutoScalingGroup constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 2 to 0.  At 2026-11-25T10:30:00Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 2 to 0.  At 2026-11-25T10:30:00Z instance i-2 was selected for termination.  At 2026-11-25T10:30:00Z instance i-1 was selected for termination.");
    }

    #[test]
    fn rebalance_launches_before_terminating() {
        // 3 in a, 0 in b after manual moves: launch in b first (may exceed max by 10%).
        check(&["a", "b"], (0, 3, 3), &["i-1@a", "i-2@a", "i-3@a"], |_| {}, &["launch us-east-1b"]);
        let mut g = group(&["a", "b"], 0, 3, 3);
        for s in ["i-1@a", "i-2@a", "i-3@a"] {
            add(&mut g, s);
        }
        assert_eq!(plan(&g, t(30), 0).steps[0].cause, "At 2026-11-25T10:30:00Z availability zones us-east-1a, us-east-1b had 3, 0 instances respectively. An instance was launched to aid in balancing the group's zones.");
        // Then over desired: terminate from the fullest zone.
        add(&mut g, "i-4@b");
        assert_eq!(summary(&plan(&g, t(30), 0)), vec!["terminate i-1"]);
        // Balanced within one: nothing; suspended: nothing.
        check(&["a", "b"], (0, 3, 3), &["i-1@a", "i-2@a", "i-3@b"], |_| {}, &[]);
        check(
            &["a", "b"],
            (0, 3, 3),
            &["i-1@a", "i-2@a", "i-3@a"],
            |g| {
                g.suspended_processes.push(super::super::group::SuspendedProcess {
                    process_name: "AZRebalance".into(),
                    suspension_reason: String::new(),
                })
            },
            &[],
        );
        // All instances of the fullest zone protected: no endless launch/terminate loop.
        check(&["a", "b"], (0, 3, 3), &["i-1@a:p", "i-2@a:p", "i-3@a:p"], |_| {}, &[]);
    }

    #[test]
    fn health_checks() {
        let mut g = group(&["a", "b"], 1, 2, 2);
        add(&mut g, "i-1@a");
        add(&mut g, "i-2@b");
        g.health_check_grace_period = 300;
        g.target_groups.push(super::super::group::TargetGroupAttachment {
            target_group_arn: "tg".into(),
            state: AttachmentState::InService,
        });
        let obs = |id: &str, ec2: &str, tg: &str| InstanceObservation {
            instance_id: id.into(),
            ec2_state: ec2.into(),
            target_states: vec![("tg".into(), TargetHealthState::parse(tg).unwrap())],
        };
        let observations = [obs("i-1", "stopped", "unused"), obs("i-2", "running", "unhealthy")];
        fn check(
            g: &AutoScalingGroup,
            obs: &[InstanceObservation],
            now: DateTime<Utc>,
            want: &[(&str, UnhealthyReason)],
        ) {
            let got = health_findings(g, obs, now);
            let want: Vec<(String, UnhealthyReason)> =
                want.iter().map(|(i, r)| (i.to_string(), *r)).collect();
            assert_eq!(got, want);
        }
        // EC2-type group: the stopped one only, at once.
        check(&g, &observations, t(2), &[("i-1", UnhealthyReason::Ec2)]);
        g.health_check_type = HealthCheckType::Elb;
        // ELB: inside the grace period (in service at minute 1, grace 5 min) not yet.
        check(&g, &observations, t(3), &[("i-1", UnhealthyReason::Ec2)]);
        check(
            &g,
            &observations,
            t(6),
            &[("i-1", UnhealthyReason::Ec2), ("i-2", UnhealthyReason::Elb)],
        );
        // Attachment not yet InService: ELB verdict ignored.
        g.target_groups[0].state = AttachmentState::Added;
        check(&g, &observations, t(6), &[("i-1", UnhealthyReason::Ec2)]);
        apply_health_findings(&mut g, &[("i-1".into(), UnhealthyReason::Ec2)]);
        assert_eq!(g.instances[0].health_status, HealthStatus::Unhealthy);
    }

    #[test]
    fn lifetime_expiry() {
        let mut g = group(&["a"], 0, 3, 2);
        add(&mut g, "i-1@a:+0");
        add(&mut g, "i-2@a:+100");
        g.max_instance_lifetime = Some(86_400);
        assert!(expired_instances(&g, t(60)).is_empty());
        // In service at minute 1: a day later it is due, the other not yet.
        assert!(expired_instances(&g, t(24 * 60)).is_empty());
        assert_eq!(expired_instances(&g, t(24 * 60 + 1)), vec!["i-1"]);
        assert_eq!(expired_instances(&g, t(26 * 60)), vec!["i-1", "i-2"]);
    }

    #[test]
    fn lifetime_replacement_is_paced_and_spares_protected_instances() {
        let day = 24 * 60;
        let lifetime = |g: &mut AutoScalingGroup| g.max_instance_lifetime = Some(86_400);
        let plan_at = |instances: &[&str], edit: &dyn Fn(&mut AutoScalingGroup), min: i64| {
            let mut g = group(&["a", "b"], 0, 20, instances.len() as i64);
            for s in instances {
                add(&mut g, s);
            }
            lifetime(&mut g);
            edit(&mut g);
            summary(&plan(&g, t(min), 0))
        };
        let none = |_: &mut AutoScalingGroup| {};
        // One at a time: the oldest goes, a replacement launches in its zone.
        assert_eq!(
            plan_at(&["i-1@a:+0", "i-2@b:+5", "i-3@a:+9"], &none, day + 60),
            vec!["terminate i-1", "launch us-east-1a"]
        );
        // Not yet a day in service: nothing.
        assert!(plan_at(&["i-1@a:+0", "i-2@b:+5"], &none, day).is_empty());
        // A replacement still pending holds the next one back.
        assert!(plan_at(&["i-1@a:+0", "i-2@b:+5", "i-3@a:pending"], &none, day + 60).is_empty());
        // Protected instances are not replaced; the next one is.
        assert_eq!(
            plan_at(&["i-1@a:+0:p", "i-2@b:+5"], &none, day + 60),
            vec!["terminate i-2", "launch us-east-1b"]
        );
        // At most 10 % of the capacity at once: 2 of 20.
        let twenty: Vec<String> =
            (0..20).map(|k| format!("i-{k:02}@{}:+{k}", ["a", "b"][k % 2])).collect();
        let twenty: Vec<&str> = twenty.iter().map(String::as_str).collect();
        let steps = plan_at(&twenty, &none, 2 * day);
        assert_eq!(
            steps,
            vec!["terminate i-00", "terminate i-01", "launch us-east-1a", "launch us-east-1b"]
        );
        // Launch or Terminate suspended, lifetime cleared, a scale-in due: no replacement.
        for process in ["Launch", "Terminate"] {
            let suspend = |g: &mut AutoScalingGroup| {
                g.suspended_processes.push(super::super::group::SuspendedProcess {
                    process_name: process.into(),
                    suspension_reason: String::new(),
                })
            };
            assert!(plan_at(&["i-1@a:+0"], &suspend, day + 60).is_empty(), "{process}");
        }
        let cleared = |g: &mut AutoScalingGroup| g.max_instance_lifetime = None;
        assert!(plan_at(&["i-1@a:+0"], &cleared, day + 60).is_empty());
        let shrink = |g: &mut AutoScalingGroup| g.desired_capacity = 1;
        assert_eq!(plan_at(&["i-1@a:+0", "i-2@b:+5"], &shrink, day + 60).len(), 1);
        // The causes (Shoal's wording).
        let mut g = group(&["a"], 0, 2, 1);
        add(&mut g, "i-1@a:+0");
        lifetime(&mut g);
        let p = plan(&g, t(day + 60), 0);
        assert_eq!(p.steps[0].cause, "At 2026-11-26T11:00:00Z an instance was taken out of service in response to a maximum instance lifetime being reached.  At 2026-11-26T11:00:00Z instance i-1 was selected for termination.");
        assert_eq!(p.steps[1].cause, "At 2026-11-26T11:00:00Z an instance was launched in response to a maximum instance lifetime being reached.");
    }
}
