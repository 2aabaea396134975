//! A day of synthetic CPU load driving target tracking end to end through the pure
//! model: CloudWatch alarm evaluation → policy execution → planning → a toy fleet
//! where every in-service instance takes an equal share of the load.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::group::{
    create_group, AutoScalingGroup, CreateGroupRequest, GroupInstance, LifecycleState, ZoneSubnet,
};
use super::plan::{plan, Action};
use super::policy::{
    execute_policy, put_scaling_policy, target_tracking_alarms, AlarmTrigger, PolicyConfig,
    PutPolicyRequest,
};
use crate::cloudwatch::alarm::{apply_evaluation, due_actions, evaluate, AlarmState, PeriodValue};
use crate::ec2::launch_template::LaunchTemplateSpec;

const TARGET: f64 = 60.0;
const WARMUP_MIN: i64 = 3;
const BOOT_MIN: i64 = 1;

/// Total demand in "percent of one instance": a slow daily sine from 60 to 12,060
/// with two bursts (×3 for 30 minutes, ×2 for 20 minutes).
fn demand(minute: i64) -> f64 {
    let phase = 2.0 * std::f64::consts::PI * minute as f64 / 1440.0;
    let base = 60.0 + 6000.0 * (1.0 - phase.cos());
    match minute {
        300..=329 => base * 3.0,
        900..=919 => base * 2.0,
        _ => base,
    }
}

fn in_burst(minute: i64) -> bool {
    (290..=360).contains(&minute) || (890..=950).contains(&minute)
}

#[test]
fn a_day_of_target_tracking() {
    let t0: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    let at = |m: i64| t0 + Duration::minutes(m);
    let mut group: AutoScalingGroup = create_group(
        &CreateGroupRequest {
            name: "EXERCISE-GROUP".into(),
            launch_template: Some(LaunchTemplateSpec {
                id: None,
                name: Some("exercise-launch-template".into()),
                version: None,
            }),
            min_size: Some(1),
            max_size: Some(1000),
            desired_capacity: Some(1),
            default_instance_warmup: Some(WARMUP_MIN * 60),
            zones: vec![
                ZoneSubnet { subnet_id: "subnet-a".into(), availability_zone: "us-east-1a".into() },
                ZoneSubnet { subnet_id: "subnet-b".into(), availability_zone: "us-east-1b".into() },
            ],
            ..Default::default()
        },
        false,
        "us-east-1",
        "g",
        t0,
    )
    .unwrap();
    let policy = put_scaling_policy(
        &PutPolicyRequest::cpu_target_tracking("cpu60", TARGET),
        &group,
        "us-east-1",
        "p",
        None,
    )
    .unwrap();
    assert!(matches!(policy.config, PolicyConfig::TargetTracking(_)));
    let mut alarms = target_tracking_alarms(&policy, "us-east-1", "hi", "lo", 60, t0);
    let warmup = group.warmup_seconds(policy.estimated_instance_warmup);

    let mut next_id = 0u32;
    let mut history: Vec<PeriodValue> = Vec::new();
    let mut metrics_outside_bursts: Vec<f64> = Vec::new();
    let mut scale_outs = 0;
    let mut scale_ins = 0;
    let mut max_desired = 0;

    for minute in 0..1440i64 {
        let now = at(minute);
        // Instances boot for a minute, then serve.
        for inst in &mut group.instances {
            if inst.lifecycle_state == LifecycleState::Pending
                && now >= inst.launched_at + Duration::minutes(BOOT_MIN)
            {
                inst.lifecycle_state = LifecycleState::InService;
                inst.in_service_at = Some(now);
            }
        }
        // This minute's load, shared by every in-service instance; the group metric
        // averages the instances past their warmup (AWS leaves warming ones out).
        let serving: Vec<&GroupInstance> = group
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == LifecycleState::InService)
            .collect();
        let cpu = if serving.is_empty() {
            None
        } else {
            Some((demand(minute) / serving.len() as f64).min(100.0))
        };
        let contributing =
            serving.iter().filter(|i| !AutoScalingGroup::is_warming(i, warmup, now)).count() as u32;
        let warming =
            group.instances.iter().filter(|i| AutoScalingGroup::is_warming(i, warmup, now)).count()
                as u32;
        let metric = if contributing > 0 { cpu } else { None };
        history.push(PeriodValue {
            start: now,
            value: metric,
            sample_count: metric.map(|_| contributing as f64),
        });
        if let Some(m) = metric {
            if minute > 60 && !in_burst(minute) {
                metrics_outside_bursts.push(m);
            }
        }

        // The period just ended is evaluated at the start of the next minute.
        let eval_at = at(minute + 1);
        let before = group.desired_capacity;
        for alarm in &mut alarms {
            let n = alarm.evaluation_periods as usize;
            let window = &history[history.len().saturating_sub(n)..];
            let mut padded: Vec<PeriodValue> = (0..n.saturating_sub(window.len()))
                .map(|k| PeriodValue {
                    start: at(minute - n as i64 + 1 + k as i64),
                    value: None,
                    sample_count: None,
                })
                .collect();
            padded.extend_from_slice(window);
            let e = evaluate(alarm, &padded, eval_at);
            let transitioned = apply_evaluation(alarm, &e, eval_at).is_some();
            if due_actions(alarm, transitioned).contains(&policy.policy_arn) {
                let trigger = AlarmTrigger {
                    alarm_name: alarm.alarm_name.clone(),
                    metric_value: metric.unwrap_or(0.0),
                    threshold: alarm.threshold.unwrap_or(0.0),
                };
                let counts = (contributing, warming);
                let _ = execute_policy(&mut group, &policy, &trigger, counts, &[], eval_at);
            }
        }
        let after = group.desired_capacity;

        // Properties.
        assert!(
            (group.min_size..=group.max_size).contains(&after),
            "desired {after} out of bounds"
        );
        if after < before {
            scale_ins += 1;
            assert_eq!(
                warming, 0,
                "minute {minute}: scaled in from {before} to {after} during warmup"
            );
        }
        if after > before {
            scale_outs += 1;
        }
        let last3: Vec<Option<f64>> = history.iter().rev().take(3).map(|p| p.value).collect();
        if last3.len() == 3
            && last3.iter().all(|v| v.is_some_and(|v| v > TARGET))
            && after < group.max_size
        {
            // Three breaching periods: AlarmHigh is in ALARM and the group has grown past
            // the instances that produced the metric.
            assert_eq!(alarms[0].state_value, AlarmState::Alarm, "minute {minute}");
            assert!(
                after > contributing,
                "minute {minute}: 3 breaches but desired {after} <= {contributing}"
            );
        }
        max_desired = max_desired.max(after);

        // Reconcile: launch or terminate toward desired.
        let p = plan(&group, eval_at, minute as u64);
        for step in p.steps {
            match step.action {
                Action::Launch { zone } => {
                    next_id += 1;
                    let inst = GroupInstance::launched(
                        format!("i-{next_id:08x}"),
                        &zone,
                        &group,
                        None,
                        "t2.micro",
                        eval_at,
                    );
                    group.instances.push(inst);
                }
                Action::Terminate { instance_id } => {
                    group.instances.retain(|i| i.instance_id != instance_id)
                }
            }
        }
        if p.consumed_pending_cause {
            group.pending_cause = None;
        }
        assert_eq!(group.capacity(), group.desired_capacity, "minute {minute}: reconciled");
    }

    // It followed the load up and back down, well inside max 1000.
    assert!(scale_outs > 10 && scale_ins >= 5, "outs {scale_outs} ins {scale_ins}");
    assert!((150..1000).contains(&max_desired), "peak {max_desired}");
    assert!(group.desired_capacity < 10, "back down at night: {}", group.desired_capacity);
    // Tracking: outside bursts the metric stays near the target band [0.7 t, t].
    let mean = metrics_outside_bursts.iter().sum::<f64>() / metrics_outside_bursts.len() as f64;
    assert!((0.6 * TARGET..=1.1 * TARGET).contains(&mean), "mean cpu {mean}");
    let near = metrics_outside_bursts
        .iter()
        .filter(|m| (0.5 * TARGET..=1.25 * TARGET).contains(*m))
        .count();
    let share = near as f64 / metrics_outside_bursts.len() as f64;
    eprintln!("outs {scale_outs} ins {scale_ins} peak {max_desired} end {} mean {mean:.1} share {share:.2}", group.desired_capacity);
    assert!(share > 0.85, "only {share:.2} of minutes near target");
}
