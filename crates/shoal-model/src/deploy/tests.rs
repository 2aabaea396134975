//! The deployment state machine, step by step, with a fixed clock.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

const TG_BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/exercise-target-group/0000000000000001";
const TG_GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/exercise-target-group-green/0000000000000002";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

fn deployment(strategy: Strategy, blue_after: BlueAfter) -> Deployment {
    let schedule = strategy.schedule().unwrap();
    let swap = !strategy.weighted();
    new_deployment(
        Deployment {
            id: "d-TEST00001".into(),
            load_balancer_arn: "lb".into(),
            load_balancer_name: "exercise-lb".into(),
            listener_arn: "listener".into(),
            port: 80,
            blue_group: "EXERCISE-GROUP-BLUE".into(),
            green_group: "EXERCISE-GROUP-GREEN".into(),
            blue_target_group: TG_BLUE.into(),
            green_target_group: if swap { TG_BLUE.into() } else { TG_GREEN.into() },
            launch_template_id: "lt-1".into(),
            launch_template_name: "exercise-launch-template".into(),
            launch_template_version: 2,
            image_id: None,
            strategy,
            schedule,
            timing: Timing { step_seconds: 10, health_timeout_seconds: 60, drain_seconds: 5 },
            gates: Gates::default(),
            blue_after,
            status: Status::Provisioning,
            step: 0,
            green_percent: 0,
            phase_started_at: t0(),
            created_at: t0(),
            updated_at: t0(),
            ended_at: None,
            reason: None,
            rollback_requested: None,
            events: Vec::new(),
            weights: Vec::new(),
        },
        "created".into(),
    )
}

fn target(state: &str) -> TargetObservation {
    TargetObservation {
        id: "i-green".into(),
        state: crate::elbv2::health::TargetHealthState::parse(state).unwrap(),
        description: None,
    }
}

fn world(ready: u32, target_state: &str) -> Observed {
    Observed {
        listener_exists: true,
        blue_group_exists: true,
        green_group_exists: true,
        green_desired: 1,
        green_ready: ready,
        green_instances: 1,
        window: Window { targets: vec![target(target_state)], ..Default::default() },
    }
}

/// Runs `advance` and checks the status and effects.
fn step(
    d: &Deployment,
    obs: &Observed,
    secs: i64,
    status: Status,
    effects: &[Effect],
) -> Deployment {
    let (next, fx) = advance(d, obs, at(secs));
    assert_eq!(next.status, status, "at {secs}s: {:?}", next.events.last());
    assert_eq!(fx, effects, "at {secs}s");
    next
}

#[test]
fn canary_walks_to_success_and_scales_blue_to_zero() {
    let d = deployment(Strategy::Canary { percent: 20 }, BlueAfter::ScaleToZero);
    let d = step(&d, &world(0, "initial"), 1, Status::Provisioning, &[]);
    let d = step(&d, &world(1, "initial"), 2, Status::Provisioning, &[]);
    let d = step(
        &d,
        &world(1, "healthy"),
        3,
        Status::Shifting,
        &[Effect::Route { blue: 80, green: 20 }],
    );
    assert_eq!(d.green_percent, 20);
    let d = step(&d, &world(1, "healthy"), 12, Status::Shifting, &[]);
    let d = step(
        &d,
        &world(1, "healthy"),
        13,
        Status::Shifting,
        &[Effect::Route { blue: 0, green: 100 }],
    );
    let d = step(&d, &world(1, "healthy"), 23, Status::Draining, &[]);
    let d = step(&d, &world(1, "healthy"), 27, Status::Draining, &[]);
    let d = step(
        &d,
        &world(1, "healthy"),
        28,
        Status::Succeeded,
        &[Effect::ScaleToZero(Side::Blue), Effect::RouteOnly(Side::Green)],
    );
    assert_eq!(d.ended_at, Some(at(28)));
    let pcts: Vec<(i64, u32)> =
        d.weights.iter().map(|w| ((w.at - t0()).num_seconds(), w.green_percent)).collect();
    assert_eq!(pcts, vec![(0, 0), (3, 20), (13, 100)]);
    assert!(d.events.iter().any(|e| e.message.contains("step 1 of 2: 20% to green, 80% to blue")));
    // Nothing more happens to a finished deployment.
    step(&d, &world(1, "healthy"), 100, Status::Succeeded, &[]);
}

#[test]
fn a_failed_gate_rolls_back_then_green_is_removed() {
    let d = deployment(Strategy::Linear { percent: 50 }, BlueAfter::ScaleToZero);
    let d = step(
        &d,
        &world(1, "healthy"),
        1,
        Status::Shifting,
        &[Effect::Route { blue: 50, green: 50 }],
    );
    let mut bad = world(1, "healthy");
    bad.window.requests = 10;
    bad.window.errors = 10;
    let d = step(
        &d,
        &bad,
        2,
        Status::RollingBack,
        &[Effect::RouteOnly(Side::Blue), Effect::ScaleToZero(Side::Green)],
    );
    assert!(d
        .reason
        .as_deref()
        .unwrap()
        .starts_with("Gate failed at 50% to green: green answered 10 of 10"));
    assert_eq!(d.green_percent, 0);
    let d = step(&d, &world(0, "draining"), 3, Status::RollingBack, &[]);
    let mut gone = world(0, "draining");
    gone.green_instances = 0;
    let d = step(
        &d,
        &gone,
        4,
        Status::RolledBack,
        &[Effect::DeleteGroup(Side::Green), Effect::DeleteGreenTargetGroup],
    );
    assert!(d.reason.is_some() && d.ended_at == Some(at(4)));
}

#[test]
fn green_that_never_gets_healthy_times_out_or_fails_its_checks() {
    let d = deployment(Strategy::AllAtOnce, BlueAfter::ScaleToZero);
    step(&d, &world(1, "initial"), 60, Status::Provisioning, &[]);
    let late = step(
        &d,
        &world(1, "initial"),
        61,
        Status::RollingBack,
        &[Effect::RouteOnly(Side::Blue), Effect::ScaleToZero(Side::Green)],
    );
    assert!(late.reason.unwrap().contains("did not become healthy within 60s: 1 of 1 instance(s) InService, 0 target(s) healthy (i-green initial)"));
    let sick = step(
        &d,
        &world(1, "unhealthy"),
        5,
        Status::RollingBack,
        &[Effect::RouteOnly(Side::Blue), Effect::ScaleToZero(Side::Green)],
    );
    assert!(sick
        .reason
        .unwrap()
        .starts_with("Gate failed while green started: 1 green target(s) unhealthy"));
}

#[test]
fn swap_registers_green_beside_blue_then_detaches_blue() {
    let d = deployment(Strategy::Swap, BlueAfter::ScaleToZero);
    let d = step(&d, &world(1, "healthy"), 1, Status::Shifting, &[]);
    assert_eq!(d.green_percent, 50);
    let d = step(&d, &world(1, "healthy"), 11, Status::Draining, &[Effect::Detach(Side::Blue)]);
    // A rollback while blue drains takes blue back into the target group.
    let back = request_rollback(&d, at(12)).unwrap();
    step(
        &back,
        &world(1, "healthy"),
        12,
        Status::RollingBack,
        &[
            Effect::Attach(Side::Blue),
            Effect::Detach(Side::Green),
            Effect::ScaleToZero(Side::Green),
        ],
    );
    let d =
        step(&d, &world(1, "healthy"), 16, Status::Succeeded, &[Effect::ScaleToZero(Side::Blue)]);
    let mut gone = world(0, "unused");
    gone.green_instances = 0;
    // RolledBack in a swap keeps the shared target group.
    let rb = step(
        &back,
        &world(1, "healthy"),
        12,
        Status::RollingBack,
        &[
            Effect::Attach(Side::Blue),
            Effect::Detach(Side::Green),
            Effect::ScaleToZero(Side::Green),
        ],
    );
    step(&rb, &gone, 13, Status::RolledBack, &[Effect::DeleteGroup(Side::Green)]);
    assert!(request_rollback(&d, at(20)).unwrap_err().message.contains("scaled to 0"));
}

#[test]
fn rollback_by_hand_and_after_success_with_blue_kept() {
    let d = deployment(Strategy::AllAtOnce, BlueAfter::Keep);
    let d = step(
        &d,
        &world(1, "healthy"),
        1,
        Status::Shifting,
        &[Effect::Route { blue: 0, green: 100 }],
    );
    let d = step(&d, &world(1, "healthy"), 11, Status::Draining, &[]);
    let d = step(&d, &world(1, "healthy"), 16, Status::Succeeded, &[]);
    let asked = request_rollback(&d, at(30)).unwrap();
    let d = step(
        &asked,
        &world(1, "healthy"),
        31,
        Status::RollingBack,
        &[Effect::RouteOnly(Side::Blue), Effect::ScaleToZero(Side::Green)],
    );
    assert_eq!(d.reason.as_deref(), Some("Rollback requested by the user."));
    assert_eq!(d.ended_at, None);
    let err = request_rollback(&d, at(32)).unwrap_err();
    assert_eq!(err.code, "InvalidDeploymentStatus");
    assert!(err.message.contains("already rolling back"));
}

#[test]
fn a_vanished_listener_fails_the_deployment() {
    let d = deployment(Strategy::AllAtOnce, BlueAfter::ScaleToZero);
    let mut w = world(1, "healthy");
    w.listener_exists = false;
    let d = step(&d, &w, 1, Status::Failed, &[Effect::ScaleToZero(Side::Green)]);
    assert_eq!(d.reason.as_deref(), Some("The listener was deleted during the deployment."));
}

#[test]
fn green_names() {
    let none = |_: &str| false;
    assert_eq!(green_name("EXERCISE-GROUP-BLUE", 255, none), "EXERCISE-GROUP-GREEN");
    assert_eq!(green_name("web-green", 255, none), "web-blue");
    assert_eq!(green_name("EXERCISE-GROUP", 255, none), "EXERCISE-GROUP-green");
    assert_eq!(green_name("exercise-target-group", 32, none), "exercise-target-group-green");
    assert_eq!(
        green_name("exercise-target-group-long-one", 32, |n: &str| n
            == "exercise-target-group-long-one-g"),
        "exercise-target-group-long-one-2"
    );
    assert_eq!(green_name("a", 32, |n: &str| n == "a-green"), "a-green-2");
}
