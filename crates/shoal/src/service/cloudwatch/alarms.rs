//! CloudWatch metric alarms: Put/Describe/Delete/SetAlarmState, Enable/DisableAlarmActions,
//! their tags and history, the alarm windows the alarm controller (`control::alarms`)
//! evaluates every period, and what runs an alarm's actions.

use chrono::{DateTime, Utc};
use shoal_model::cloudwatch::alarm::{
    self, action_item, alarm_arn, configuration_update_item, due_actions, evaluation_window,
    validate_metric_alarm, MetricDataQuery,
};
use shoal_model::cloudwatch::{AlarmHistoryItem, AlarmState, HistoryItemType, MetricAlarm};
use shoal_model::tags::{self, Tag};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::*;
use crate::service::policy_runs::ActionFailed;

/// An alarm whose actions are due after an evaluation (or a SetAlarmState).
#[derive(Debug, Clone)]
pub struct AlarmDue {
    pub alarm: MetricAlarm,
    pub actions: Vec<String>,
    /// Whether the alarm just changed state (otherwise: a repeat while in ALARM).
    pub transitioned: bool,
    /// The newest value the evaluation saw, what an Auto Scaling action acts on.
    pub value: Option<f64>,
}

/// DescribeAlarms' filters.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    pub names: Vec<String>,
    pub name_prefix: Option<String>,
    pub state: Option<AlarmState>,
    pub action_prefix: Option<String>,
    /// `AlarmTypes`; empty means metric alarms only.
    pub types: Vec<String>,
    pub max_records: Option<u32>,
    pub next_token: Option<String>,
}

/// DescribeAlarmsForMetric's filters.
#[derive(Debug, Clone, Default)]
pub struct AlarmsForMetric {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub period: Option<u32>,
    pub unit: Option<String>,
}

/// DescribeAlarmHistory's filters.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub alarm_name: Option<String>,
    pub types: Vec<String>,
    pub item_type: Option<HistoryItemType>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub oldest_first: bool,
    pub max_records: Option<u32>,
    pub next_token: Option<String>,
}

/// `Alarm <name> not found` (`ResourceNotFound`, 404).
pub fn alarm_not_found(name: &str) -> AwsError {
    AwsError::new(ErrorCode::ResourceNotFound, format!("Alarm {name} not found")).with_status(404)
}

impl Service {
    // ------------------------------------------------------------------ alarms

    /// PutMetricAlarm, and the way other services create alarms: validates, keeps the
    /// state (and tags) of an alarm of the same name, stamps the configuration time,
    /// records a `ConfigurationUpdate` history item. Returns the stored alarm.
    pub fn put_alarm(&self, alarm: MetricAlarm) -> AwsResult<MetricAlarm> {
        let now = self.clock.now();
        self.mutate(|state, changes| self.stage_put_alarm(state, changes, alarm, now))
    }

    /// [`Service::put_alarm`] inside another operation's `mutate` (Auto Scaling creates
    /// a target-tracking policy and its alarms in one commit): validates against
    /// `state` and records the alarm and its history item in `changes`.
    pub fn stage_put_alarm(
        &self,
        state: &State,
        changes: &mut crate::service::Changes,
        mut alarm: MetricAlarm,
        now: DateTime<Utc>,
    ) -> AwsResult<MetricAlarm> {
        validate_metric_alarm(&alarm, self.short_period())?;
        for q in &alarm.metrics {
            if let Some(ms) = &q.metric_stat {
                validate_namespace(&ms.namespace)?;
                parse_stat(&ms.stat, "Metrics")?;
            }
        }
        tags::validate_user_tags(&alarm.tags)?;
        alarm.alarm_arn = alarm_arn(self.region(), &alarm.alarm_name);
        alarm.alarm_configuration_updated_timestamp = now;
        let existing = state.alarms.get(&alarm.alarm_name);
        match existing {
            Some(old) => {
                alarm.keep_state_of(old);
                alarm.tags.clone_from(&old.tags);
            }
            None => {
                shoal_model::quotas::check_alarms(state.alarms.len(), self.config.quotas.alarms)?;
                alarm.state_value = AlarmState::InsufficientData;
                alarm.state_reason = alarm::INITIAL_REASON.into();
                alarm.state_reason_data = None;
                alarm.state_updated_timestamp = now;
                alarm.state_transitioned_timestamp = now;
            }
        }
        let item = configuration_update_item(&alarm, existing.is_none(), now);
        changes.put(alarm.clone());
        changes.store_only(move |w| w.put_alarm_history(&item));
        Ok(alarm)
    }

    /// Deletes one alarm and its history inside another operation's `mutate` (an alarm
    /// that is not there is not an error: the caller owns the name).
    pub fn stage_delete_alarm(changes: &mut crate::service::Changes, name: &str) {
        changes.delete::<MetricAlarm>(name);
        let name = name.to_string();
        changes.store_only(move |w| w.delete_alarm_history(&name));
    }

    /// DeleteAlarms: all named alarms or none (`ResourceNotFound` names the missing).
    pub fn delete_alarms(&self, names: &[String]) -> AwsResult<()> {
        if names.len() > 100 {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100",
            ));
        }
        self.mutate(|state, changes| {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !state.alarms.contains_key(*n))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(AwsError::new(
                    ErrorCode::ResourceNotFound,
                    format!("Alarms not found: [{}]", missing.join(", ")),
                )
                .with_status(404));
            }
            for name in names {
                Self::stage_delete_alarm(changes, name);
            }
            Ok(())
        })
    }

    /// One alarm by name.
    pub fn alarm(&self, name: &str) -> AwsResult<MetricAlarm> {
        self.read(|s| s.alarms.get(name).cloned()).ok_or_else(|| alarm_not_found(name))
    }

    /// DescribeAlarms: metric alarms matching every given filter, by name.
    pub fn describe_alarms(&self, f: &AlarmFilter) -> AwsResult<Page<MetricAlarm>> {
        if !f.names.is_empty() && f.name_prefix.is_some() {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterCombination,
                "AlarmNamePrefix and AlarmNames cannot both be specified.",
            ));
        }
        for t in &f.types {
            if t != "MetricAlarm" && t != "CompositeAlarm" {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '[{t}]' at 'alarmTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [CompositeAlarm, MetricAlarm]]"
                )));
            }
        }
        let want_metric = f.types.is_empty() || f.types.iter().any(|t| t == "MetricAlarm");
        let alarms: Vec<MetricAlarm> = if want_metric {
            self.read(|s| {
                s.alarms
                    .values()
                    .filter(|a| f.names.is_empty() || f.names.contains(&a.alarm_name))
                    .filter(|a| f.name_prefix.as_ref().is_none_or(|p| a.alarm_name.starts_with(p)))
                    .filter(|a| f.state.is_none_or(|st| a.state_value == st))
                    .filter(|a| {
                        f.action_prefix.as_ref().is_none_or(|p| {
                            a.alarm_actions
                                .iter()
                                .chain(&a.ok_actions)
                                .chain(&a.insufficient_data_actions)
                                .any(|x| x.starts_with(p))
                        })
                    })
                    .cloned()
                    .collect()
            })
        } else {
            vec![]
        };
        Paging::max_records(100, 50).page(alarms, f.max_records, f.next_token.as_deref())
    }

    /// DescribeAlarmsForMetric: alarms on exactly this metric (and the given
    /// statistic, period and unit when set).
    pub fn describe_alarms_for_metric(&self, q: &AlarmsForMetric) -> AwsResult<Vec<MetricAlarm>> {
        let mut dims = q.dimensions.clone();
        dims.sort();
        Ok(self.read(|s| {
            s.alarms
                .values()
                .filter(|a| a.namespace.as_deref() == Some(q.namespace.as_str()))
                .filter(|a| a.metric_name.as_deref() == Some(q.metric_name.as_str()))
                .filter(|a| {
                    let mut d = a.dimensions.clone();
                    d.sort();
                    d == dims
                })
                .filter(|a| q.statistic.is_none() || a.statistic == q.statistic)
                .filter(|a| {
                    q.extended_statistic.is_none() || a.extended_statistic == q.extended_statistic
                })
                .filter(|a| q.period.is_none() || a.period == q.period)
                .filter(|a| q.unit.is_none() || a.unit == q.unit)
                .cloned()
                .collect()
        }))
    }

    /// SetAlarmState: forces a state; when it changed, the new state's actions run.
    pub fn set_alarm_state(
        &self,
        name: &str,
        state_value: AlarmState,
        reason: &str,
        reason_data: Option<&str>,
    ) -> AwsResult<()> {
        if reason.chars().count() > 1023 {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'stateReason' failed to satisfy constraint: Member must have length less than or equal to 1023",
            ));
        }
        let now = self.clock.now();
        let (alarm, changed) = self.mutate(|state, changes| {
            let mut alarm = state.alarms.get(name).cloned().ok_or_else(|| alarm_not_found(name))?;
            let item = alarm::set_alarm_state(&mut alarm, state_value, reason, reason_data, now)?;
            let changed = item.is_some();
            if let Some(item) = item {
                changes.store_only(move |w| w.put_alarm_history(&item));
            }
            changes.put(alarm.clone());
            Ok((alarm, changed))
        })?;
        if changed {
            let actions = due_actions(&alarm, true);
            let value = alarm.latest_value();
            self.run_alarm_actions(&AlarmDue { alarm, actions, transitioned: true, value });
        }
        Ok(())
    }

    /// Enable/DisableAlarmActions. Names that are not alarms are ignored, as in AWS.
    pub fn set_alarm_actions_enabled(&self, names: &[String], enabled: bool) -> AwsResult<()> {
        self.mutate(|state, changes| {
            for name in names {
                if let Some(a) = state.alarms.get(name) {
                    if a.actions_enabled != enabled {
                        let mut a = a.clone();
                        a.actions_enabled = enabled;
                        changes.put(a);
                    }
                }
            }
            Ok(())
        })
    }

    /// DescribeAlarmHistory (metric alarms only; newest first unless `oldest_first`).
    pub fn describe_alarm_history(&self, f: &HistoryFilter) -> AwsResult<Page<AlarmHistoryItem>> {
        if !f.types.is_empty() && !f.types.iter().any(|t| t == "MetricAlarm") {
            return Ok(Page { items: vec![], next_token: None });
        }
        let q = HistoryQuery {
            alarm_name: f.alarm_name.as_deref(),
            item_type: f.item_type,
            start_ms: f.start.map(|t| t.timestamp_millis()),
            end_ms: f.end.map(|t| t.timestamp_millis()),
            oldest_first: f.oldest_first,
        };
        let items = self.with_store(|s| s.alarm_history(&q)).map_err(store_error)?;
        Paging::max_records(100, 100).page(items, f.max_records, f.next_token.as_deref())
    }

    fn alarm_by_arn<'a>(state: &'a State, arn: &str) -> AwsResult<&'a MetricAlarm> {
        state.alarms.values().find(|a| a.alarm_arn == arn).ok_or_else(|| {
            AwsError::new(ErrorCode::ResourceNotFoundException, format!("Unknown resource {arn}"))
                .with_status(404)
        })
    }

    /// TagResource on an alarm ARN.
    pub fn tag_alarm(&self, arn: &str, new_tags: &[Tag]) -> AwsResult<()> {
        tags::validate_user_tags(new_tags)?;
        self.mutate(|state, changes| {
            let mut a = Self::alarm_by_arn(state, arn)?.clone();
            tags::upsert(&mut a.tags, new_tags);
            if a.tags.len() > 50 {
                return Err(AwsError::invalid_parameter_value(
                    "The number of tags on the resource must not be greater than 50.",
                ));
            }
            changes.put(a);
            Ok(())
        })
    }

    /// UntagResource on an alarm ARN.
    pub fn untag_alarm(&self, arn: &str, keys: &[String]) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut a = Self::alarm_by_arn(state, arn)?.clone();
            for k in keys {
                tags::remove(&mut a.tags, k, None);
            }
            changes.put(a);
            Ok(())
        })
    }

    /// ListTagsForResource on an alarm ARN.
    pub fn alarm_tags(&self, arn: &str) -> AwsResult<Vec<Tag>> {
        self.read(|s| Self::alarm_by_arn(s, arn).map(|a| a.tags.clone()))
    }

    // ------------------------------------------------------------------ evaluation

    /// The window an alarm is evaluated over at `now`: its last `EvaluationPeriods`
    /// complete (scaled) periods, oldest first.
    pub fn alarm_window(&self, a: &MetricAlarm, now: DateTime<Utc>) -> AwsResult<Vec<PeriodValue>> {
        let n = a.evaluation_periods.max(1);
        if a.metrics.is_empty() {
            let (Some(ns), Some(name), Some(stat)) =
                (&a.namespace, &a.metric_name, a.evaluated_statistic())
            else {
                return Ok(vec![]);
            };
            let period = self.effective_period(a.period.unwrap_or(60));
            let metric = MetricId::new(ns.clone(), name.clone(), a.dimensions.clone());
            let span = Duration::seconds(i64::from(period) * (i64::from(n) + 1));
            let periods =
                self.metric_periods(&metric, now - span, now, period, a.unit.as_deref())?;
            return Ok(evaluation_window(&periods, stat, period, n, now));
        }
        // Metric math: every query on the returning query's period grid.
        let period = self.effective_period(a.evaluation_period());
        let last = period_start(now, period) - Duration::seconds(i64::from(period));
        let start = last - Duration::seconds(i64::from(period) * i64::from(n - 1));
        let queries = alarm_queries(&a.metrics, period);
        let results = self.get_metric_data(
            &queries,
            start,
            last + Duration::seconds(i64::from(period)),
            true,
        )?;
        let series: BTreeMap<DateTime<Utc>, f64> = results
            .into_iter()
            .next()
            .map(|r| r.timestamps.into_iter().zip(r.values).collect())
            .unwrap_or_default();
        Ok((0..n)
            .rev()
            .map(|k| {
                let start = last - Duration::seconds(i64::from(period) * i64::from(k));
                let value = series.get(&start).copied();
                PeriodValue { start, value, sample_count: value.map(|_| 1.0) }
            })
            .collect())
    }

    /// How often an alarm is evaluated, in wall seconds: CloudWatch evaluates standard
    /// alarms once a minute (`metric_period` here) and high-resolution alarms (a 10 or
    /// 30 s period) once per period, so a 10 s alarm acts within seconds.
    pub fn evaluation_interval(&self, a: &MetricAlarm) -> u32 {
        let minute = u32::try_from(self.config.metric_period.as_secs()).unwrap_or(60).max(1);
        self.effective_period(a.evaluation_period()).min(minute)
    }

    /// Runs an alarm's due actions. An `Action` history item is recorded for each
    /// action run on a transition (and for a failed repeat), as CloudWatch shows them.
    pub fn run_alarm_actions(&self, due: &AlarmDue) {
        let AlarmDue { alarm, actions, transitioned, value } = due;
        let transitioned = *transitioned;
        let now = self.clock.now();
        let mut items = Vec::new();
        for arn in actions {
            let outcome = self.alarm_action(arn, alarm, *value).map_err(|e| e.to_string());
            if let Err(e) = &outcome {
                tracing::info!(alarm = %alarm.alarm_name, action = %arn, error = %e, "alarm action failed");
            }
            if transitioned || outcome.is_err() {
                items.push(action_item(alarm, arn, outcome.err().as_deref(), now));
            }
        }
        if items.is_empty() {
            return;
        }
        let recorded = self.mutate(|_, changes| {
            changes.store_only(move |w| {
                for item in &items {
                    w.put_alarm_history(item)?;
                }
                Ok(())
            });
            Ok(())
        });
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record alarm action history");
        }
    }

    /// Runs one alarm action. `arn:aws:autoscaling:` ARNs go to Auto Scaling's hook
    /// ([`Service::autoscaling_alarm_action`]); Shoal has no SNS or other targets, so
    /// every other ARN fails the way an unreachable target does in CloudWatch.
    /// `Err`'s text is the `Action` history item's.
    /// `value` is the newest value of the evaluation that made the action due.
    pub fn alarm_action(
        &self,
        action_arn: &str,
        alarm: &MetricAlarm,
        value: Option<f64>,
    ) -> Result<(), ActionFailed> {
        if action_arn.starts_with("arn:aws:autoscaling:") {
            return self.autoscaling_alarm_action(action_arn, alarm, value);
        }
        Err(ActionFailed::Unreachable(action_arn.to_string()))
    }

    /// Drops datapoints and history past CloudWatch's retention.
    pub fn prune_cloudwatch(&self) {
        let now = self.clock.now();
        let metrics_before = (now - Duration::days(METRIC_RETENTION_DAYS)).timestamp_millis();
        let history_before = (now - Duration::days(HISTORY_RETENTION_DAYS)).timestamp_millis();
        let r = self.with_store(|s| {
            s.write(|w| {
                w.prune_datapoints(metrics_before)?;
                w.prune_alarm_history(history_before)
            })
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not prune CloudWatch data");
        }
    }
}

/// A metric-math alarm's `Metrics` as GetMetricData queries on one period grid.
pub(super) fn alarm_queries(metrics: &[MetricDataQuery], period: u32) -> Vec<DataQuery> {
    metrics
        .iter()
        .map(|q| DataQuery {
            id: q.id.clone(),
            metric_stat: q.metric_stat.as_ref().map(|m| MetricStat {
                metric: MetricId::new(
                    m.namespace.clone(),
                    m.metric_name.clone(),
                    m.dimensions.clone(),
                ),
                period: i64::from(period),
                stat: m.stat.clone(),
                unit: m.unit.clone(),
            }),
            expression: q.expression.clone(),
            label: q.label.clone(),
            return_data: q.return_data.unwrap_or(true),
            period: Some(i64::from(period)),
        })
        .collect()
}
