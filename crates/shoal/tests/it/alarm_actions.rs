//! The lab's Part 1 on the fake runtime and a virtual clock: one busy CPU scales the
//! group (1..2, CPU 80% target tracking) out, and when the load stops the group removes
//! one again — whether AlarmLow entered ALARM before the load stopped (it then stays in
//! ALARM and its action repeats every period with the current value) or after.

use std::collections::HashMap;
use std::time::Duration;

use shoal::control::metrics::{measure, CpuSampler};
use shoal_model::autoscaling::policy::PredefinedMetricType;
use shoal_model::cloudwatch::AlarmState;

use crate::world::World;

const GROUP: &str = "EXERCISE-GROUP";

struct Lab {
    w: World,
    sampler: CpuSampler,
    burned: HashMap<String, f64>,
    minute: u32,
}

impl Lab {
    async fn new() -> Lab {
        let w = World::new();
        w.create_group(GROUP, 1, 2, Some(10));
        w.target_tracking(GROUP, "cpu80", PredefinedMetricType::AsgAverageCpuUtilization, 80.0);
        w.settle("1 running", |w| w.running().len() == 1).await;
        Lab { w, sampler: CpuSampler::default(), burned: HashMap::new(), minute: 0 }
    }

    /// One CloudWatch minute: `busy` (the group's first instance, as `stress` on the
    /// lab's instance) burns one full CPU, then metrics, alarms and controllers run.
    async fn minute(&mut self, busy: Option<&str>) {
        if let Some(id) = busy {
            *self.burned.entry(id.to_string()).or_default() += 60.0;
            self.w.driver.set_cpu_seconds(id, self.burned[id]);
        }
        self.w.clock.advance(Duration::from_secs(60));
        self.minute += 1;
        let measured = measure(&self.w.svc);
        self.sampler.record(&self.w.svc, measured, f64::from(self.minute) * 60.0);
        shoal::control::alarms::evaluate_once(&self.w.svc);
        self.w.tick().await;
    }

    fn desired(&self) -> u32 {
        self.w.svc.read(|s| s.groups[GROUP].desired_capacity)
    }

    fn alarm_low(&self) -> AlarmState {
        self.w.svc.read(|s| {
            s.alarms.values().find(|a| a.alarm_name.contains("-AlarmLow-")).unwrap().state_value
        })
    }

    /// Minutes (bounded) until `done`.
    async fn until(&mut self, what: &str, busy: Option<&str>, done: impl Fn(&Lab) -> bool) {
        for _ in 0..40 {
            if done(self) {
                return;
            }
            self.minute(busy).await;
        }
        panic!("after {} minutes: not {what}", self.minute);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn scale_in_after_the_load_when_alarm_low_was_already_in_alarm() {
    let mut lab = Lab::new().await;
    let loaded = lab.w.running()[0].clone();
    lab.until("scaled out", Some(&loaded), |l| l.desired() == 2).await;
    // Two instances, one busy: about 50% average, under AlarmLow's 56% — AlarmLow goes
    // to ALARM with the load still on, and its policy run rightly keeps 2.
    lab.until("AlarmLow in ALARM", Some(&loaded), |l| l.alarm_low() == AlarmState::Alarm).await;
    assert_eq!(lab.desired(), 2, "at ~50% the policy keeps two");
    lab.minute(Some(&loaded)).await;
    assert_eq!(lab.desired(), 2, "a repeat at the same value keeps two");
    // The load stops: AlarmLow stays in ALARM; its action repeats with 0%.
    lab.until("scaled in", None, |l| l.desired() == 1).await;
    assert_eq!(lab.alarm_low(), AlarmState::Alarm);
    lab.w.settle("one running", |w| w.running().len() == 1).await;
}

#[tokio::test(flavor = "current_thread")]
async fn scale_in_after_the_load_when_alarm_low_enters_alarm_later() {
    let mut lab = Lab::new().await;
    let loaded = lab.w.running()[0].clone();
    lab.until("scaled out", Some(&loaded), |l| l.desired() == 2).await;
    lab.minute(Some(&loaded)).await;
    assert_eq!(lab.alarm_low(), AlarmState::Ok, "the load stops before AlarmLow fires");
    lab.until("scaled in", None, |l| l.desired() == 1).await;
    lab.w.settle("one running", |w| w.running().len() == 1).await;
}
