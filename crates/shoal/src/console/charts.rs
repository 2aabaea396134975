//! CPU charts as inline SVG, from the metric store's `AWS/EC2 CPUUtilization` series.
//!
//! Series are read per instance over a window and averaged into fixed buckets, so a
//! chart costs the same whatever the sample interval; a group's chart averages its
//! instances bucket by bucket (as the group's `Average` statistic would).

use std::fmt::Write;

use crate::control::metrics::cpu_key;
use crate::service::Service;

/// A bucketed series over `[from_ms, to_ms)`: one optional average per bucket.
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
}

/// The window a chart shows, ending now.
pub fn window(svc: &Service, minutes: i64) -> (i64, i64) {
    let now = svc.clock.now().timestamp_millis() + 1;
    (now - minutes * 60_000, now)
}

/// At most `minutes`, but no earlier than `since` (a young instance or group fills the
/// chart instead of a sliver at its right edge); at least one minute.
pub fn window_since(
    svc: &Service,
    minutes: i64,
    since: chrono::DateTime<chrono::Utc>,
) -> (i64, i64) {
    let (from, now) = window(svc, minutes);
    let start = since.timestamp_millis().min(now - 60_000);
    (from.max(start), now)
}

/// How many buckets a window gets: at most `max`, each at least two sample intervals
/// wide so a steady series draws as a line, not dots.
pub fn buckets_for(svc: &Service, win: (i64, i64), max: usize) -> usize {
    let interval = (svc.config.cpu_sample_interval.as_millis() as i64).max(1);
    (((win.1 - win.0) / (2 * interval)) as usize).clamp(10, max.max(10))
}

/// Raw samples of one instance's CPU.
fn samples(svc: &Service, instance_id: &str, from_ms: i64, to_ms: i64) -> Vec<(i64, f64)> {
    svc.with_store(|s| s.metric_data(&cpu_key(instance_id), from_ms, to_ms))
        .map(|v| v.into_iter().map(|d| (d.ts_ms, d.value)).collect())
        .unwrap_or_default()
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

/// One instance's CPU over the window, in `n` buckets.
pub fn instance_cpu(svc: &Service, instance_id: &str, win: (i64, i64), n: usize) -> Series {
    bucket(&samples(svc, instance_id, win.0, win.1), win.0, win.1, n)
}

/// The average CPU of several instances (a group), bucket by bucket.
pub fn average_cpu(svc: &Service, instance_ids: &[String], win: (i64, i64), n: usize) -> Series {
    let mut sums = vec![(0.0, 0u32); n];
    for id in instance_ids {
        let s = instance_cpu(svc, id, win, n);
        for (slot, b) in sums.iter_mut().zip(s.buckets) {
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

/// The polyline segments of a 0–100 series in a `w`×`h` box (gaps where no data).
fn paths(s: &Series, w: f64, h: f64, top: f64) -> String {
    let n = s.buckets.len().max(2);
    let mut out = String::new();
    // Points in the current run; a lone point gets a dot-sized stroke to be visible.
    let mut run = 0;
    for (i, b) in s.buckets.iter().enumerate() {
        match b {
            Some(v) => {
                let x = i as f64 * w / (n - 1) as f64;
                let y = top + h - v.clamp(0.0, 100.0) / 100.0 * h;
                let _ = write!(out, "{}{x:.1},{y:.1}", if run > 0 { " L" } else { " M" });
                run += 1;
            }
            None => {
                if run == 1 {
                    out.push_str(" h0.5");
                }
                run = 0;
            }
        }
    }
    if run == 1 {
        out.push_str(" h-0.5");
    }
    out
}

/// A small sparkline for table rows, with the latest value beside it.
pub fn sparkline(s: &Series) -> String {
    let (w, h) = (96.0, 22.0);
    let d = paths(s, w, h - 2.0, 1.0);
    let latest = match s.latest() {
        Some(v) => format!("{v:.0}%"),
        None => "–".into(),
    };
    let path =
        if d.is_empty() { String::new() } else { format!("<path d=\"{d}\" class=\"line\"/>") };
    format!(
        "<span class=\"spark\"><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" \
aria-label=\"CPU utilization, latest {latest}\"><rect class=\"bg\" width=\"{w}\" height=\"{h}\"/>{path}</svg>\
<span class=\"num\">{latest}</span></span>"
    )
}

/// A full-width chart with a 0/50/100 % grid, time labels and an optional target line.
pub fn chart(title: &str, s: &Series, target: Option<f64>) -> String {
    let (w, h, left, top, bottom) = (960.0, 170.0, 36.0, 8.0, 20.0);
    let (pw, ph) = (w - left - 8.0, h - top - bottom);
    let mut out = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption>\
<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        super::html::esc(title),
        super::html::esc(title)
    );
    for pct in [0.0, 50.0, 100.0] {
        let y = top + ph - pct / 100.0 * ph;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{pct}%</text>",
            left + pw,
            left - 4.0,
            y + 4.0
        );
    }
    if let Some(t) = target {
        let y = top + ph - t.clamp(0.0, 100.0) / 100.0 * ph;
        let _ = write!(
            out,
            "<line class=\"target\" x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
<text class=\"axis target-label\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">target {t}%</text>",
            left + pw,
            left + pw,
            y - 3.0
        );
    }
    let secs = (s.to_ms - s.from_ms) / 1000;
    let span = if secs < 120 { format!("{secs} s") } else { format!("{} min", secs / 60) };
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{left}\" y=\"{}\">−{span}</text>\
<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">now</text>",
        h - 4.0,
        left + pw,
        h - 4.0
    );
    let d = paths(s, pw, ph, top);
    if !d.is_empty() {
        let _ = write!(
            out,
            "<g transform=\"translate({left},0)\"><path d=\"{d}\" class=\"line\"/></g>"
        );
    } else {
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data yet</text>",
            left + pw / 2.0,
            top + ph / 2.0
        );
    }
    let latest = s.latest().map(|v| format!("{v:.1}%")).unwrap_or_else(|| "–".into());
    let _ = write!(out, "</svg><div class=\"latest\">latest: <b>{latest}</b></div></figure>");
    out
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
    fn a_lone_point_is_still_drawn() {
        let s = bucket(&[(9, 40.0)], 0, 10, 10);
        assert_eq!(paths(&s, 90.0, 100.0, 0.0), " M90.0,60.0 h-0.5");
    }

    #[test]
    fn sparkline_shows_latest_value() {
        let s = bucket(&[(0, 12.0), (9, 97.4)], 0, 10, 10);
        let svg = sparkline(&s);
        assert!(svg.contains(">97%<"), "{svg}");
        assert!(svg.contains("<path"), "{svg}");
    }
}
