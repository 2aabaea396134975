//! Scheduled actions: PutScheduledUpdateGroupAction rules, the 5-field cron
//! `Recurrence` and when an action next runs.
//!
//! Cron: `minute hour day-of-month month day-of-week` with `*`, lists (`1,15`),
//! ranges (`1-5`), steps (`*/15`, `10-50/10`), month names `JAN`–`DEC` and day names
//! `SUN`–`SAT` (0 and 7 are Sunday). As in standard cron, when both day-of-month and
//! day-of-week are restricted a day matching either runs.
//!
//! `TimeZone`: as in AWS, the canonical names of the IANA time zone database
//! (`America/New_York`, `Europe/Paris`, `Etc/GMT+9`, `UTC`); the recurrence follows
//! the zone's daylight-saving rules. Where a change of clocks makes a local time
//! happen twice, the action runs at the first; where it skips a local time, a run
//! set for it is skipped (AWS documents neither case; this is Shoal's choice).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::activity::cause;
use super::group::{validate_name, validate_sizes, AutoScalingGroup};
use crate::{AwsError, AwsResult};

/// A parsed cron expression: the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    day_restricted: bool,
    weekday_restricted: bool,
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn invalid(expr: &str) -> AwsError {
    AwsError::validation(format!("Given recurrence string:{expr} is invalid"))
}

fn value(s: &str, names: &[&str], offset: u32) -> Option<u32> {
    if let Ok(v) = s.parse::<u32>() {
        return Some(v);
    }
    names.iter().position(|n| n.eq_ignore_ascii_case(s)).map(|i| i as u32 + offset)
}

fn field(spec: &str, lo: u32, hi: u32, names: &[&str], name_offset: u32) -> Option<Vec<bool>> {
    let mut allowed = vec![false; hi as usize + 1];
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, name_offset)?, value(b, names, name_offset)?)
        } else {
            let v = value(range, names, name_offset)?;
            // `5/15` means from 5 to the end by 15.
            (v, if part.contains('/') { hi } else { v })
        };
        if start < lo || end > hi || start > end {
            return None;
        }
        let mut v = start;
        while v <= end {
            allowed[v as usize] = true;
            v += step;
        }
    }
    Some(allowed)
}

impl Cron {
    /// Parses a 5-field expression; errors use AWS's `Given recurrence string:<expr> is
    /// invalid` wording.
    pub fn parse(expr: &str) -> AwsResult<Cron> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(invalid(expr));
        }
        let minutes = field(fields[0], 0, 59, &[], 0).ok_or_else(|| invalid(expr))?;
        let hours = field(fields[1], 0, 23, &[], 0).ok_or_else(|| invalid(expr))?;
        let days = field(fields[2], 1, 31, &[], 0).ok_or_else(|| invalid(expr))?;
        let months = field(fields[3], 1, 12, &MONTHS, 1).ok_or_else(|| invalid(expr))?;
        let mut weekdays = field(fields[4], 0, 7, &DAYS, 0).ok_or_else(|| invalid(expr))?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            day_restricted: fields[2] != "*" && fields[2] != "?",
            weekday_restricted: fields[4] != "*" && fields[4] != "?",
        })
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if !self.months[d.month() as usize] {
            return false;
        }
        let dom = self.days[d.day() as usize];
        let dow = self.weekdays[d.weekday().num_days_from_sunday() as usize];
        match (self.day_restricted, self.weekday_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The first run strictly after `after`, evaluating the expression in the local
    /// time of `zone`. `None` if nothing matches within five years (e.g. `30 2 31 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&zone);
        let start_day = local.date_naive();
        for day_index in 0..(366 * 5) {
            let day = start_day + Duration::days(day_index);
            if !self.day_matches(day) {
                continue;
            }
            for h in 0..24u32 {
                if !self.hours[h as usize] {
                    continue;
                }
                for m in 0..60u32 {
                    if !self.minutes[m as usize] {
                        continue;
                    }
                    let candidate = match zone.from_local_datetime(&day.and_hms_opt(h, m, 0)?) {
                        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
                        LocalResult::None => continue,
                    };
                    let utc = candidate.with_timezone(&Utc);
                    if utc > after {
                        return Some(utc);
                    }
                }
            }
        }
        None
    }
}

/// Convenience: parse `expr` and find its next run after `after` in `zone`.
pub fn next_after(expr: &str, after: DateTime<Utc>, zone: Tz) -> AwsResult<Option<DateTime<Utc>>> {
    Ok(Cron::parse(expr)?.next_after(after, zone))
}

/// Resolves a `TimeZone` value: an IANA zone name, exactly as the database spells it
/// (AWS: "the canonical names of the IANA time zones, such as Etc/GMT+9 or
/// Pacific/Tahiti"). Offsets such as `+05:30` are refused, as AWS refuses them.
pub fn parse_time_zone(tz: &str) -> AwsResult<Tz> {
    tz.parse::<Tz>().map_err(|_| {
        AwsError::validation(format!(
            "Invalid value for TimeZone: {tz}. Use the name of an IANA time zone, such as Etc/GMT+9 or Pacific/Tahiti."
        ))
    })
}

/// `arn:aws:autoscaling:<region>:123456789012:scheduledUpdateGroupAction:<uuid>:autoScalingGroupName/<g>:scheduledActionName/<n>`.
pub fn scheduled_action_arn(region: &str, uuid: &str, group: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{}:scheduledUpdateGroupAction:{uuid}:autoScalingGroupName/{group}:scheduledActionName/{name}",
        crate::ACCOUNT_ID
    )
}

/// A stored scheduled action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledAction {
    pub name: String,
    pub arn: String,
    pub auto_scaling_group_name: String,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub recurrence: Option<String>,
    pub min_size: Option<u32>,
    pub max_size: Option<u32>,
    pub desired_capacity: Option<u32>,
    pub time_zone: Option<String>,
}

/// PutScheduledUpdateGroupAction: at least one size, a valid recurrence and time zone,
/// a start not in the past, and an end after the start.
#[allow(clippy::too_many_arguments)]
pub fn put_scheduled_action(
    name: &str,
    group: &AutoScalingGroup,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
    recurrence: Option<&str>,
    sizes: (Option<i64>, Option<i64>, Option<i64>),
    time_zone: Option<&str>,
    region: &str,
    uuid: &str,
    now: DateTime<Utc>,
) -> AwsResult<ScheduledAction> {
    validate_name("scheduledActionName", name)?;
    let (min, max, desired) = sizes;
    if min.is_none() && max.is_none() && desired.is_none() {
        return Err(AwsError::validation(
            "At least one of MinSize, MaxSize or DesiredCapacity must be specified.",
        ));
    }
    let size = |v: Option<i64>| -> AwsResult<Option<u32>> {
        match v {
            Some(v) if v < 0 => Err(AwsError::validation(format!(
                "Size value {v} must be greater than or equal to 0."
            ))),
            Some(v) => Ok(Some(v as u32)),
            None => Ok(None),
        }
    };
    if let Some(r) = recurrence {
        Cron::parse(r)?;
    }
    if let Some(tz) = time_zone {
        parse_time_zone(tz)?;
    }
    if let Some(s) = start_time {
        if s < now && recurrence.is_none() {
            return Err(AwsError::validation("Given start time is in the past"));
        }
    }
    if let (Some(s), Some(e)) = (start_time, end_time) {
        if e <= s {
            return Err(AwsError::validation("Start time should be earlier than end time."));
        }
    }
    if start_time.is_none() && recurrence.is_none() {
        return Err(AwsError::validation("Either StartTime or Recurrence must be specified."));
    }
    Ok(ScheduledAction {
        name: name.to_string(),
        arn: scheduled_action_arn(region, uuid, &group.name, name),
        auto_scaling_group_name: group.name.clone(),
        start_time,
        end_time,
        recurrence: recurrence.map(str::to_string),
        min_size: size(min)?,
        max_size: size(max)?,
        desired_capacity: size(desired)?,
        time_zone: time_zone.map(str::to_string),
    })
}

impl ScheduledAction {
    /// When the action next runs after `after`: its StartTime for a one-off, else the
    /// recurrence's next time (not before StartTime), none after EndTime.
    pub fn next_run(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = match &self.recurrence {
            None => self.start_time.filter(|s| *s > after)?,
            Some(r) => {
                let zone = self
                    .time_zone
                    .as_deref()
                    .and_then(|tz| parse_time_zone(tz).ok())
                    .unwrap_or(Tz::UTC);
                let from = match self.start_time {
                    Some(s) if s > after => s - Duration::seconds(1),
                    _ => after,
                };
                Cron::parse(r).ok()?.next_after(from, zone)?
            }
        };
        match self.end_time {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }
}

/// Runs a scheduled action on its group (ignores cooldowns). Sizes not given keep
/// their value; desired follows new bounds as in UpdateAutoScalingGroup. An action
/// whose result would violate min ≤ desired ≤ max fails with the usual text. Sets the
/// group's `pending_cause` when desired changes (`a scheduled action update of
/// AutoScalingGroup constraints to … changing the desired capacity from A to B.`).
pub fn apply_scheduled_action(
    group: &mut AutoScalingGroup,
    action: &ScheduledAction,
    now: DateTime<Utc>,
) -> AwsResult<Option<String>> {
    if group.is_suspended("ScheduledActions") {
        return Ok(None);
    }
    let min = action.min_size.unwrap_or(group.min_size);
    let max = action.max_size.unwrap_or(group.max_size);
    let desired = match action.desired_capacity {
        Some(d) => d,
        None => group.desired_capacity.clamp(min, max.max(min)),
    };
    validate_sizes(min, max, desired)?;
    let from = group.desired_capacity;
    group.min_size = min;
    group.max_size = max;
    group.desired_capacity = desired;
    if from == desired {
        return Ok(None);
    }
    let sentence = cause::at(
        now,
        &cause::scheduled_action(
            action.min_size,
            action.max_size,
            action.desired_capacity,
            from,
            desired,
        ),
    );
    group.pending_cause = Some(sentence.clone());
    Ok(Some(sentence))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn cron_next_runs() {
        let utc = Tz::UTC;
        fn check(expr: &str, after: DateTime<Utc>, zone: Tz, want: Option<DateTime<Utc>>) {
            assert_eq!(next_after(expr, after, zone).unwrap(), want, "{expr}");
        }
        // 2026-11-25 is a Wednesday.
        check("*/15 * * * *", at(2026, 11, 25, 10, 0), utc, Some(at(2026, 11, 25, 10, 15)));
        check("0 9 * * *", at(2026, 11, 25, 10, 0), utc, Some(at(2026, 11, 26, 9, 0)));
        check("0 9 * * MON-FRI", at(2026, 11, 27, 10, 0), utc, Some(at(2026, 11, 30, 9, 0)));
        check("30 18 * * 0", at(2026, 11, 25, 10, 0), utc, Some(at(2026, 11, 29, 18, 30)));
        check("30 18 * * 7", at(2026, 11, 25, 10, 0), utc, Some(at(2026, 11, 29, 18, 30)));
        check("0 0 1 JAN,jul *", at(2026, 11, 25, 10, 0), utc, Some(at(2027, 1, 1, 0, 0)));
        check("0 12 1 * FRI", at(2026, 11, 25, 10, 0), utc, Some(at(2026, 11, 27, 12, 0))); // dom OR dow
        check("10-50/20 8 * * *", at(2026, 11, 25, 8, 10), utc, Some(at(2026, 11, 25, 8, 30)));
        check("0 0 29 2 *", at(2026, 3, 1, 0, 0), utc, Some(at(2028, 2, 29, 0, 0)));
        check("0 0 31 2 *", at(2026, 3, 1, 0, 0), utc, None);
        let zone = |tz| parse_time_zone(tz).unwrap();
        // 09:00 in Kolkata (+05:30, no daylight saving) is 03:30 UTC.
        check(
            "0 9 * * *",
            at(2026, 11, 25, 10, 0),
            zone("Asia/Kolkata"),
            Some(at(2026, 11, 26, 3, 30)),
        );
        // POSIX sign: Etc/GMT+5 is five hours behind UTC.
        check(
            "0 9 * * *",
            at(2026, 11, 25, 10, 0),
            zone("Etc/GMT+5"),
            Some(at(2026, 11, 25, 14, 0)),
        );
        // New York follows daylight saving: 09:00 is 13:00 UTC in summer, 14:00 in winter.
        let ny = zone("America/New_York");
        check("0 9 * * *", at(2026, 7, 1, 0, 0), ny, Some(at(2026, 7, 1, 13, 0)));
        check("0 9 * * *", at(2026, 12, 1, 0, 0), ny, Some(at(2026, 12, 1, 14, 0)));
        // 2026-03-08: New York skips 02:00–03:00; a run set for 02:30 is skipped that day.
        check("30 2 * * *", at(2026, 3, 7, 12, 0), ny, Some(at(2026, 3, 9, 6, 30)));
        // 2026-11-01: 01:30 happens twice in New York; the action runs once, at the first.
        check("30 1 * * *", at(2026, 11, 1, 0, 0), ny, Some(at(2026, 11, 1, 5, 30)));
        check("30 1 * * *", at(2026, 11, 1, 5, 30), ny, Some(at(2026, 11, 2, 6, 30)));
        // Southern hemisphere: Sydney is +11 in December (summer), +10 in July.
        let sydney = zone("Australia/Sydney");
        check("0 19 * * MON-FRI", at(2026, 12, 1, 0, 0), sydney, Some(at(2026, 12, 1, 8, 0)));
        check("0 19 * * MON-FRI", at(2026, 7, 1, 0, 0), sydney, Some(at(2026, 7, 1, 9, 0)));
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "*/0 * * * *",
            "5-1 * * * *",
            "* * * FOO *",
        ] {
            assert_eq!(
                Cron::parse(bad).unwrap_err().message,
                format!("Given recurrence string:{bad} is invalid")
            );
        }
    }

    #[test]
    fn time_zones() {
        for good in
            ["UTC", "Etc/UTC", "Etc/GMT-2", "Etc/GMT+9", "Pacific/Tahiti", "America/New_York"]
        {
            assert_eq!(parse_time_zone(good).unwrap().name(), good);
        }
        for bad in ["+05:30", "UTC+2", "-0800", "Mars/Olympus_Mons", "", "america/new_york"] {
            assert_eq!(
                parse_time_zone(bad).unwrap_err().message,
                format!("Invalid value for TimeZone: {bad}. Use the name of an IANA time zone, such as Etc/GMT+9 or Pacific/Tahiti.")
            );
        }
    }

    #[test]
    fn scheduled_actions_apply() {
        let g0 = {
            use crate::autoscaling::group::*;
            create_group(
                &CreateGroupRequest {
                    name: "EXERCISE-GROUP".into(),
                    launch_configuration_name: Some("lc".into()),
                    min_size: Some(1),
                    max_size: Some(2),
                    zones: vec![ZoneSubnet {
                        subnet_id: "s".into(),
                        availability_zone: "us-east-1a".into(),
                    }],
                    ..Default::default()
                },
                false,
                "us-east-1",
                "g",
                at(2026, 11, 25, 9, 0),
            )
            .unwrap()
        };
        let now = at(2026, 11, 25, 10, 0);
        let e = put_scheduled_action(
            "past",
            &g0,
            Some(at(2026, 11, 25, 9, 0)),
            None,
            None,
            (None, None, Some(2)),
            None,
            "us-east-1",
            "u",
            now,
        )
        .unwrap_err();
        assert_eq!(e.message, "Given start time is in the past");
        let e = put_scheduled_action(
            "none",
            &g0,
            Some(at(2026, 11, 26, 9, 0)),
            None,
            None,
            (None, None, None),
            None,
            "us-east-1",
            "u",
            now,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "At least one of MinSize, MaxSize or DesiredCapacity must be specified."
        );
        let a = put_scheduled_action(
            "business-hours",
            &g0,
            None,
            Some(at(2026, 11, 28, 0, 0)),
            Some("0 9 * * *"),
            (Some(2), Some(4), Some(3)),
            Some("UTC"),
            "us-east-1",
            "u",
            now,
        )
        .unwrap();
        assert_eq!(a.arn, "arn:aws:autoscaling:us-east-1:123456789012:scheduledUpdateGroupAction:u:autoScalingGroupName/EXERCISE-GROUP:scheduledActionName/business-hours");
        assert_eq!(a.next_run(now), Some(at(2026, 11, 26, 9, 0)));
        assert_eq!(a.next_run(at(2026, 11, 27, 9, 0)), None, "past EndTime");
        let mut g = g0.clone();
        let c = apply_scheduled_action(&mut g, &a, at(2026, 11, 26, 9, 0)).unwrap();
        assert_eq!((g.min_size, g.max_size, g.desired_capacity), (2, 4, 3));
        assert_eq!(c.as_deref(), Some("At 2026-11-26T09:00:00Z a scheduled action update of AutoScalingGroup constraints to min: 2, max: 4, desired: 3 changing the desired capacity from 1 to 3."));
    }
}
