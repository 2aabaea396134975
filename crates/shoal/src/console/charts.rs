//! Charts as inline SVG, from the metric store.
//!
//! - CPU (`AWS/EC2 CPUUtilization`): samples read per instance over a window and averaged
//!   into fixed buckets, so a chart costs the same whatever the sample interval; a
//!   group's chart averages its instances bucket by bucket (as the group's `Average`
//!   statistic would).
//! - Load balancing (`AWS/ApplicationELB`): one datapoint per metric period, standing for
//!   the period before it ([`held`]); requests are drawn per second, host counts as they
//!   are. The load balancer publishes request counts only while requests flow, so a
//!   period counts as reported when its host counts were published.
//!
//! A series younger than its window starts at its first datapoint (it fills the chart
//! instead of a sliver at the right edge); a bucket without data is a gap ("no data"),
//! never a zero.

use shoal_model::cloudwatch::AlarmState;
use std::collections::BTreeMap;
use std::fmt::Write;

use shoal_model::elbv2::load_balancer::load_balancer_dimension;
use shoal_model::elbv2::target_group::TargetGroup;

use super::html::esc;
use shoal_model::cloudwatch::{EC2_NAMESPACE, ELB_NAMESPACE as ELB};

use crate::service::Service;

/// A bucketed series over `[from_ms, to_ms)`: one optional value per bucket.
#[derive(Debug, Clone)]
pub struct Series {
    pub from_ms: i64,
    pub to_ms: i64,
    pub buckets: Vec<Option<f64>>,
}

impl Series {
    /// The newest bucket with data.
    pub fn latest(&self) -> Option<f64> {
        self.buckets.iter().rev().flatten().next().copied()
    }

    fn max(&self) -> f64 {
        self.buckets.iter().flatten().fold(0.0, |m, v| v.max(m))
    }
}

/// The window a chart shows, ending now.
pub fn window(svc: &Service, minutes: i64) -> (i64, i64) {
    let now = svc.clock.now().timestamp_millis() + 1;
    (now - minutes * 60_000, now)
}

/// `win`, starting at `first` (the first datapoint) when that is later, but at least
/// `min_span` long.
fn fit(win: (i64, i64), first: Option<i64>, min_span: i64) -> (i64, i64) {
    let from = first.map_or(win.0, |f| win.0.max(f));
    (from.min(win.1 - min_span), win.1)
}

/// How many buckets a window gets: at most `max`, each at least `width` ms wide, so a
/// steady series draws as a line, not dots.
fn buckets_for(win: (i64, i64), width: i64, max: usize) -> usize {
    (((win.1 - win.0) / width.max(1)) as usize).clamp(2, max.max(2))
}

/// Raw samples of one instance's CPU.
fn samples(svc: &Service, instance_id: &str, from_ms: i64, to_ms: i64) -> Vec<(i64, f64)> {
    svc.raw_samples(
        (EC2_NAMESPACE, "CPUUtilization"),
        &[("InstanceId", instance_id)],
        from_ms,
        to_ms,
    )
}

/// Averages `(ts, value)` samples into `n` buckets.
pub fn bucket(points: &[(i64, f64)], from_ms: i64, to_ms: i64, n: usize) -> Series {
    let mut sums = vec![(0.0, 0u32); n];
    let span = (to_ms - from_ms).max(1) as f64;
    for &(ts, v) in points {
        if ts < from_ms || ts >= to_ms {
            continue;
        }
        let i = (((ts - from_ms) as f64 / span) * n as f64) as usize;
        let slot = &mut sums[i.min(n - 1)];
        slot.0 += v;
        slot.1 += 1;
    }
    Series {
        from_ms,
        to_ms,
        buckets: sums.into_iter().map(|(s, c)| (c > 0).then(|| s / c as f64)).collect(),
    }
}

/// A step function (each value holds from its time until the next) sampled into `n`
/// buckets: a bucket shows the value in force at its end; none before the first point.
pub fn steps(points: &[(i64, f64)], from_ms: i64, to_ms: i64, n: usize) -> Series {
    let span = (to_ms - from_ms).max(1) as f64;
    let buckets = (0..n)
        .map(|i| {
            let end = from_ms + (span * (i + 1) as f64 / n as f64) as i64;
            points.iter().take_while(|(ts, _)| *ts < end).last().map(|(_, v)| *v)
        })
        .collect();
    Series { from_ms, to_ms, buckets }
}

/// Per-period datapoints, each standing for the `period_ms` before its timestamp, in
/// `n` buckets: a bucket's value is the time-weighted average of the periods that
/// overlap it; none where no period was reported.
pub fn held(points: &[(i64, f64)], period_ms: i64, from_ms: i64, to_ms: i64, n: usize) -> Series {
    let width = (to_ms - from_ms).max(1) as f64 / n as f64;
    let mut sums = vec![(0.0, 0.0); n];
    for &(ts, v) in points {
        let (start, end) = ((ts - period_ms).max(from_ms) as f64, ts.min(to_ms) as f64);
        if end <= start {
            continue;
        }
        let first = ((start - from_ms as f64) / width) as usize;
        for (i, slot) in sums.iter_mut().enumerate().skip(first) {
            let (b0, b1) =
                (from_ms as f64 + i as f64 * width, from_ms as f64 + (i + 1) as f64 * width);
            if b0 >= end {
                break;
            }
            let overlap = b1.min(end) - b0.max(start);
            if overlap > 0.0 {
                slot.0 += v * overlap;
                slot.1 += overlap;
            }
        }
    }
    Series {
        from_ms,
        to_ms,
        buckets: sums.into_iter().map(|(s, c)| (c > 0.0).then(|| s / c)).collect(),
    }
}

/// The average CPU of some instances (one, or a group's), bucket by bucket, over the
/// last `minutes` (from the first sample when younger), in at most `max` buckets.
pub fn cpu(svc: &Service, instance_ids: &[&str], minutes: i64, max: usize) -> Series {
    let win = window(svc, minutes);
    let series: Vec<Vec<(i64, f64)>> =
        instance_ids.iter().map(|id| samples(svc, id, win.0, win.1)).collect();
    let interval = (svc.config.cpu_sample_interval.as_millis() as i64).max(1);
    let first = series.iter().filter_map(|s| s.first().map(|p| p.0)).min();
    let win = fit(win, first, 4 * interval);
    let n = buckets_for(win, 2 * interval, max);
    let mut sums = vec![(0.0, 0u32); n];
    for points in &series {
        for (slot, b) in sums.iter_mut().zip(bucket(points, win.0, win.1, n).buckets) {
            if let Some(v) = b {
                slot.0 += v;
                slot.1 += 1;
            }
        }
    }
    Series {
        from_ms: win.0,
        to_ms: win.1,
        buckets: sums.into_iter().map(|(s, c)| (c > 0).then(|| s / c as f64)).collect(),
    }
}

/// One `AWS/ApplicationELB` metric's datapoints in the window, keyed by timestamp.
fn elb_points(
    svc: &Service,
    name: &str,
    dims: &[(&str, &str)],
    win: (i64, i64),
) -> BTreeMap<i64, f64> {
    svc.raw_samples((ELB, name), dims, win.0, win.1).into_iter().collect()
}

/// Load balancing series over the periods the load balancer reported: `rates` per
/// second (counts per period over its length), `levels` as published.
pub struct ElbSeries {
    pub rates: Vec<Series>,
    pub levels: Vec<Series>,
}

/// Builds [`ElbSeries`]: `reported` holds a datapoint (any) at the end of each period
/// the load balancer reported; counts missing from a reported period are zero.
fn elb_series(
    svc: &Service,
    minutes: i64,
    max: usize,
    reported: &BTreeMap<i64, f64>,
    rates: &[&BTreeMap<i64, f64>],
    levels: &[&BTreeMap<i64, f64>],
) -> ElbSeries {
    let period = (svc.config.metric_period.as_millis() as i64).max(1);
    let win = window(svc, minutes);
    // Young: from the start of the first reported period (periods are long: a minute).
    let win = fit(win, reported.keys().next().map(|ts| ts - period), period);
    let n = buckets_for(win, period, max);
    let per_second = |m: &BTreeMap<i64, f64>| -> Vec<(i64, f64)> {
        let scale = 1000.0 / period as f64;
        reported.keys().map(|ts| (*ts, m.get(ts).copied().unwrap_or(0.0) * scale)).collect()
    };
    let as_is = |m: &BTreeMap<i64, f64>| -> Vec<(i64, f64)> {
        m.iter().filter(|(ts, _)| reported.contains_key(ts)).map(|(t, v)| (*t, *v)).collect()
    };
    ElbSeries {
        rates: rates.iter().map(|m| held(&per_second(m), period, win.0, win.1, n)).collect(),
        levels: levels.iter().map(|m| held(&as_is(m), period, win.0, win.1, n)).collect(),
    }
}

/// A target group's requests per second (`RequestCount`, summed over the load
/// balancers that forward to it), then `HealthyHostCount` and `UnHealthyHostCount`.
pub fn target_group(svc: &Service, tg: &TargetGroup, minutes: i64, max: usize) -> ElbSeries {
    let win = window(svc, minutes);
    let (mut requests, mut healthy, mut unhealthy) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for arn in &tg.load_balancer_arns {
        let lb = load_balancer_dimension(arn).unwrap_or(arn);
        let dims = [("LoadBalancer", lb), ("TargetGroup", tg.dimension())];
        for (ts, v) in elb_points(svc, "RequestCount", &dims, win) {
            *requests.entry(ts).or_insert(0.0) += v;
        }
        // Host counts are the target group's, whichever load balancer publishes them.
        healthy.extend(elb_points(svc, "HealthyHostCount", &dims, win));
        unhealthy.extend(elb_points(svc, "UnHealthyHostCount", &dims, win));
    }
    elb_series(svc, minutes, max, &healthy, &[&requests], &[&healthy, &unhealthy])
}

/// A load balancer's requests (`RequestCount`) and its own 5XX answers
/// (`HTTPCode_ELB_5XX_Count`) per second. `target_groups`: the dimensions of the target
/// groups it forwards to (their host counts mark the periods it reported).
pub fn load_balancer(
    svc: &Service,
    lb_dimension: &str,
    target_groups: &[&str],
    minutes: i64,
    max: usize,
) -> ElbSeries {
    let win = window(svc, minutes);
    let mut reported = BTreeMap::new();
    for tg in target_groups {
        let dims = [("LoadBalancer", lb_dimension), ("TargetGroup", tg)];
        reported.extend(elb_points(svc, "HealthyHostCount", &dims, win));
    }
    let dims = [("LoadBalancer", lb_dimension)];
    let requests = elb_points(svc, "RequestCount", &dims, win);
    let errors = elb_points(svc, "HTTPCode_ELB_5XX_Count", &dims, win);
    elb_series(svc, minutes, max, &reported, &[&requests, &errors], &[])
}

// ---------------------------------------------------------------------- drawing

/// The polyline segments of a series in a `w`×`h` box scaled to `0..=top` (gaps where
/// no data). A lone point is drawn one bucket wide (towards the chart's inside), so a
/// young series' first sample is a short level, not a dot.
fn paths(s: &Series, w: f64, h: f64, y0: f64, top: f64) -> String {
    let n = s.buckets.len().max(2);
    let step = w / (n - 1) as f64;
    let mut out = String::new();
    let (mut run, mut last_x) = (0, 0.0);
    let lone = |out: &mut String, x: f64| {
        let dx = if x + step <= w { step } else { -step };
        let _ = write!(out, " h{dx:.1}");
    };
    for (i, b) in s.buckets.iter().enumerate() {
        match b {
            Some(v) => {
                let x = i as f64 * step;
                let y = y0 + h - v.clamp(0.0, top) / top * h;
                let _ = write!(out, "{}{x:.1},{y:.1}", if run > 0 { " L" } else { " M" });
                run += 1;
                last_x = x;
            }
            None => {
                if run == 1 {
                    lone(&mut out, last_x);
                }
                run = 0;
            }
        }
    }
    if run == 1 {
        lone(&mut out, last_x);
    }
    out
}

/// A small CPU sparkline for table rows, with the latest value beside it; "no data"
/// (no sample in the window) reads differently from 0 %.
pub fn sparkline(s: &Series) -> String {
    let (w, h, pad) = (96.0, 22.0, 3.0);
    let d = paths(s, w, h - 2.0 * pad, pad, 100.0);
    let Some(latest) = s.latest() else {
        return format!(
            "<span class=\"spark nodata\"><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
role=\"img\" aria-label=\"CPU utilization: no data\"><rect class=\"bg\" width=\"{w}\" height=\"{h}\"/>\
<text x=\"{}\" y=\"15\" text-anchor=\"middle\">no data</text></svg><span class=\"num\">–</span></span>",
            w / 2.0
        );
    };
    format!(
        "<span class=\"spark\"><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" \
aria-label=\"CPU utilization, latest {latest:.0}%\"><rect class=\"bg\" width=\"{w}\" height=\"{h}\"/>\
<line class=\"base\" x1=\"0\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><path d=\"{d}\" class=\"line\"/></svg>\
<span class=\"num\">{latest:.0}%</span></span>",
        y = h - pad
    )
}

/// How a chart's y axis is scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// 0–100 %.
    Percent,
    /// 0 to a round number above the largest value; `whole`: ticks are whole numbers.
    Count { whole: bool },
}

/// One line of a chart: its name (in the legend), series and CSS class (`line`, `line
/// alt`, `line bad`).
pub struct Line<'a> {
    pub name: &'a str,
    pub series: &'a Series,
    pub class: &'static str,
}

/// A threshold drawn across a chart: a target-tracking policy's target, labelled with
/// its alarm's state; the area beyond it is shaded while the alarm is in `ALARM`.
pub struct Threshold {
    pub value: f64,
    pub label: String,
    /// The alarm's state, when there is an alarm.
    pub state: Option<AlarmState>,
}

/// A chart: title, lines, y scale and unit (`%`, ` /s`, ``), an optional threshold;
/// `half`: drawn for half the page's width (two side by side).
pub struct Chart<'a> {
    pub title: &'a str,
    pub lines: Vec<Line<'a>>,
    pub scale: Scale,
    pub unit: &'a str,
    pub threshold: Option<Threshold>,
    pub half: bool,
}

/// A round axis top and tick step above `max` (1, 2 or 5 × 10ⁿ, about four ticks).
pub fn nice_axis(max: f64, whole: bool) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(mag * 10.0);
    if whole {
        step = step.max(1.0).round();
    }
    ((max / step).ceil() * step, step)
}

/// A number as an axis or legend shows it: as many decimals as `step` needs.
fn num(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{v:.decimals$}")
}

/// Draws a chart: grid and y ticks, time labels, lines, legend with latest values.
pub fn chart(c: &Chart) -> String {
    let w = if c.half { 480.0 } else { 960.0 };
    let (h, left, top, bottom) = (if c.half { 190.0 } else { 170.0 }, 40.0, 10.0, 20.0);
    let (pw, ph) = (w - left - 10.0, h - top - bottom);
    let (ymax, step) = match c.scale {
        Scale::Percent => (100.0, 50.0),
        Scale::Count { whole } => {
            let max = c.lines.iter().map(|l| l.series.max()).fold(0.0, f64::max);
            nice_axis(max, whole)
        }
    };
    let y_of = |v: f64| top + ph - v.clamp(0.0, ymax) / ymax * ph;
    let mut out = format!(
        "<figure class=\"chart{}\"><figcaption>{}</figcaption>\
<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        if c.half { " half" } else { "" },
        esc(c.title),
        esc(c.title)
    );
    let mut tick = 0.0;
    while tick <= ymax + step / 2.0 {
        let y = y_of(tick);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}{}</text>",
            left + pw,
            left - 4.0,
            y + 4.0,
            num(tick, step),
            if c.scale == Scale::Percent { "%" } else { "" }
        );
        tick += step;
    }
    if let Some(t) = &c.threshold {
        let y = y_of(t.value);
        let alarm = t.state == Some(AlarmState::Alarm);
        let _ = write!(
            out,
            "<g class=\"threshold{}\" data-value=\"{}\" data-state=\"{}\">",
            if alarm { " alarm" } else { "" },
            t.value,
            t.state.map_or("", |s| s.as_str())
        );
        if alarm {
            let _ = write!(
                out,
                "<rect class=\"alarm-zone\" x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{:.1}\"/>",
                y - top
            );
        }
        let _ = write!(
            out,
            "<line class=\"target\" x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text class=\"axis target-label\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></g>",
            left + pw,
            left + pw - 2.0,
            y - 4.0,
            esc(&t.label)
        );
    }
    let span_of = c.lines.first().map_or(0, |l| (l.series.to_ms - l.series.from_ms) / 1000);
    let span = if span_of < 120 { format!("{span_of} s") } else { format!("{} min", span_of / 60) };
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{left}\" y=\"{}\">−{span}</text>\
<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">now</text>",
        h - 4.0,
        left + pw,
        h - 4.0
    );
    let mut drawn = false;
    for l in &c.lines {
        let d = paths(l.series, pw, ph, top, ymax);
        if !d.is_empty() {
            drawn = true;
            let _ = write!(
                out,
                "<g transform=\"translate({left},0)\"><path d=\"{d}\" class=\"{}\"/></g>",
                l.class
            );
        }
    }
    if !drawn {
        let _ = write!(
            out,
            "<text class=\"axis nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data yet</text>",
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
    out.push_str("</svg><div class=\"latest\">latest:");
    let fine = match c.scale {
        Scale::Percent => 0.1,
        Scale::Count { whole: true } => 1.0,
        Scale::Count { whole: false } => (step / 5.0).min(0.1),
    };
    for (i, l) in c.lines.iter().enumerate() {
        let v = l.series.latest().map(|v| format!("{}{}", num(v, fine), c.unit));
        let v = v.unwrap_or_else(|| "–".into());
        if c.lines.len() == 1 {
            let _ = write!(out, " <b>{v}</b>");
        } else {
            let _ = write!(
                out,
                "{} <span class=\"key {}\"></span>{} <b>{v}</b>",
                if i > 0 { " ·" } else { "" },
                l.class,
                esc(l.name)
            );
        }
    }
    out.push_str("</div></figure>");
    out
}

/// A one-line percent chart (CPU, a deployment's share), full width.
pub fn percent_chart(title: &str, s: &Series, threshold: Option<Threshold>) -> String {
    chart(&Chart {
        title,
        lines: vec![Line { name: title, series: s, class: "line" }],
        scale: Scale::Percent,
        unit: "%",
        threshold,
        half: false,
    })
}

/// The two load balancing charts of a target group's page, side by side.
pub fn target_group_charts(s: &ElbSeries) -> String {
    let requests = chart(&Chart {
        title: "Requests per second (RequestCount)",
        lines: vec![Line { name: "Requests", series: &s.rates[0], class: "line" }],
        scale: Scale::Count { whole: false },
        unit: " /s",
        threshold: None,
        half: true,
    });
    let hosts = chart(&Chart {
        title: "Healthy and unhealthy hosts",
        lines: vec![
            Line { name: "Healthy", series: &s.levels[0], class: "line ok" },
            Line { name: "Unhealthy", series: &s.levels[1], class: "line bad" },
        ],
        scale: Scale::Count { whole: true },
        unit: "",
        threshold: None,
        half: true,
    });
    format!("<div class=\"charts\">{requests}{hosts}</div>")
}

/// A load balancer's request chart: requests and its own 5XX answers per second.
pub fn load_balancer_chart(s: &ElbSeries) -> String {
    chart(&Chart {
        title: "Requests per second (RequestCount, HTTPCode_ELB_5XX_Count)",
        lines: vec![
            Line { name: "Requests", series: &s.rates[0], class: "line" },
            Line { name: "ELB 5XX", series: &s.rates[1], class: "line bad" },
        ],
        scale: Scale::Count { whole: false },
        unit: " /s",
        threshold: None,
        half: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_average_samples_and_leave_gaps() {
        let s = bucket(&[(0, 10.0), (1, 30.0), (5, 50.0), (99, 0.0)], 0, 10, 5);
        assert_eq!(s.buckets, vec![Some(20.0), None, Some(50.0), None, None]);
        assert_eq!(s.latest(), Some(50.0));
    }

    #[test]
    fn steps_hold_each_value_until_the_next() {
        let s = steps(&[(2, 0.0), (5, 50.0), (8, 100.0)], 0, 10, 5);
        assert_eq!(s.buckets, vec![None, Some(0.0), Some(50.0), Some(50.0), Some(100.0)]);
    }

    #[test]
    fn held_points_cover_the_period_before_them() {
        // Periods of 4 ms ending at 4 and 8 (values 2 and 6); nothing after 8.
        let s = held(&[(4, 2.0), (8, 6.0)], 4, 0, 12, 6);
        assert_eq!(s.buckets, vec![Some(2.0), Some(2.0), Some(6.0), Some(6.0), None, None]);
        // A bucket straddling two periods gets their time-weighted average.
        let s = held(&[(4, 2.0), (8, 6.0)], 4, 2, 10, 2);
        assert_eq!(s.buckets, vec![Some(4.0), Some(6.0)]);
    }

    #[test]
    fn young_windows_start_at_the_first_datapoint() {
        assert_eq!(fit((0, 1000), Some(600), 100), (600, 1000));
        assert_eq!(fit((0, 1000), Some(950), 100), (900, 1000), "at least the minimum span");
        assert_eq!(fit((500, 1000), Some(100), 100), (500, 1000), "older: the whole window");
        assert_eq!(fit((0, 1000), None, 100), (0, 1000));
        assert_eq!(buckets_for((0, 1000), 100, 120), 10);
        assert_eq!(buckets_for((0, 150), 100, 120), 2, "two buckets at least: a line");
    }

    #[test]
    fn nice_axes_round_up() {
        assert_eq!(nice_axis(0.0, true), (1.0, 1.0));
        assert_eq!(nice_axis(2.0, true), (2.0, 1.0));
        assert_eq!(nice_axis(7.0, true), (8.0, 2.0));
        assert_eq!(nice_axis(37.0, false), (40.0, 10.0));
        let (top, step) = nice_axis(0.3, false);
        assert!((top - 0.3).abs() < 1e-9 && (step - 0.1).abs() < 1e-9, "{top} {step}");
        assert_eq!(nice_axis(130.0, false), (150.0, 50.0));
    }

    #[test]
    fn a_lone_point_is_still_drawn() {
        let s = bucket(&[(9, 40.0)], 0, 10, 10);
        assert_eq!(paths(&s, 90.0, 100.0, 0.0, 100.0), " M90.0,60.0 h-10.0");
        let s = bucket(&[(0, 40.0)], 0, 10, 10);
        assert_eq!(paths(&s, 90.0, 100.0, 0.0, 100.0), " M0.0,60.0 h10.0");
    }

    #[test]
    fn sparkline_shows_latest_value_and_tells_no_data_from_zero() {
        let s = bucket(&[(0, 12.0), (9, 97.4)], 0, 10, 10);
        let svg = sparkline(&s);
        assert!(svg.contains(">97%<"), "{svg}");
        assert!(svg.contains("<path"), "{svg}");
        let idle = sparkline(&bucket(&[(0, 0.0), (9, 0.0)], 0, 10, 2));
        assert!(idle.contains(">0%<") && idle.contains("<path"), "{idle}");
        let none = sparkline(&bucket(&[], 0, 10, 2));
        assert!(none.contains("no data") && !none.contains("<path"), "{none}");
    }

    #[test]
    fn charts_scale_counts_and_shade_an_alarm() {
        let s = bucket(&[(0, 1.0), (9, 7.0)], 0, 10, 2);
        let svg = chart(&Chart {
            title: "Hosts",
            lines: vec![Line { name: "Healthy", series: &s, class: "line ok" }],
            scale: Scale::Count { whole: true },
            unit: "",
            threshold: None,
            half: true,
        });
        for tick in [">0<", ">2<", ">4<", ">6<", ">8<"] {
            assert!(svg.contains(tick), "{tick} in {svg}");
        }
        let cpu = percent_chart(
            "CPU",
            &s,
            Some(Threshold {
                value: 80.0,
                label: "target 80% · AlarmHigh ALARM".into(),
                state: Some(AlarmState::Alarm),
            }),
        );
        assert!(
            cpu.contains("class=\"threshold alarm\" data-value=\"80\" data-state=\"ALARM\""),
            "{cpu}"
        );
        assert!(cpu.contains("alarm-zone") && cpu.contains("AlarmHigh ALARM"), "{cpu}");
        assert!(cpu.contains("latest: <b>7.0%</b>"), "{cpu}");
    }
}
