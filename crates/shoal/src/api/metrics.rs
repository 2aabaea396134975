//! `GET /metrics`: Prometheus' text exposition format (0.0.4) with the daemon's own
//! health and the figures users watch, and the middleware that counts AWS API
//! requests by service, action and error code.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shoal_model::elbv2::health::TargetHealthState;

use crate::regions::Regions;
use crate::service::Service;
use crate::telemetry::COMMIT_BUCKETS;

pub fn routes() -> Router<Arc<Regions>> {
    Router::new().route("/metrics", get(metrics))
}

/// Counts each AWS API request (`POST /`, `GET /?Action=…`, rpc-v2-cbor) by service and
/// action, and its error code when refused. Other routes pass untouched.
pub async fn count_requests(State(svc): State<Arc<Service>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path != "/" && !path.starts_with("/service/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The fronts buffer the whole body anyway; reading it here first costs a copy of
    // the handle, not of the bytes.
    // Read as the fronts read it (bounded, within the body deadline), and refused in
    // AWS's shape when it is not whole.
    let bytes = match super::edge::read_body(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(e) => return super::error::refusal(&parts.uri, &parts.headers, &e),
    };
    let (service, action) = classify(&parts.uri, &parts.headers, &bytes);
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    // `error_response` leaves a refused request's code on the response.
    let code = response.extensions().get::<shoal_model::ErrorCode>().map(|c| c.as_str());
    svc.telemetry.api_request(&service, &action, code);
    response
}

/// (service, action) of an AWS request, as the SigV4 scope / target / path / Action name them.
fn classify(uri: &axum::http::Uri, headers: &HeaderMap, body: &Bytes) -> (String, String) {
    if let Some(rest) = uri.path().strip_prefix("/service/") {
        let mut parts = rest.split('/');
        let _service = parts.next();
        let op = parts.nth(1).unwrap_or("unknown");
        return ("monitoring".into(), op.into());
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(target) = header("x-amz-target") {
        let (prefix, op) = target.split_once('.').unwrap_or((target, "unknown"));
        let service = if prefix.starts_with("AmazonSSM") { "ssm" } else { "monitoring" };
        return (service.into(), op.into());
    }
    let form = match uri.query() {
        Some(q) if q.contains("Action=") => q.as_bytes(),
        _ => body.as_ref(),
    };
    let scope = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .and_then(|c| c.split('/').nth(3));
    let service = scope.unwrap_or(match form_value(form, "Version") {
        Some("2016-11-15") => "ec2",
        Some("2011-01-01") => "autoscaling",
        Some("2015-12-01") => "elasticloadbalancing",
        Some("2010-08-01") => "monitoring",
        _ => "unknown",
    });
    (service.into(), form_value(form, "Action").unwrap_or("unknown").into())
}

/// One plain value (`Action`, `Version`: never percent-encoded) of a form body, found
/// without decoding the rest of it.
fn form_value<'a>(form: &'a [u8], key: &str) -> Option<&'a str> {
    form.split(|b| *b == b'&').find_map(|pair| {
        let value = pair.strip_prefix(key.as_bytes())?.strip_prefix(b"=")?;
        std::str::from_utf8(value)
            .ok()
            .filter(|v| v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    })
}

async fn metrics(State(regions): State<Arc<Regions>>) -> Response {
    let services = regions.opened();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&services))
        .into_response()
}

/// A label value escaped as the text format requires.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The exposition of every opened region: the daemon's health summed over them (API
/// requests are counted once, by the default region's service, for all), and each
/// region's resources under a `region` label.
pub fn render(services: &[Arc<Service>]) -> String {
    let snapshots: Vec<_> = services.iter().map(|svc| (svc, svc.telemetry.snapshot())).collect();
    let mut out = String::new();
    let home = snapshots.iter().find(|(svc, _)| svc.config.region == shoal_model::DEFAULT_REGION);

    head(
        &mut out,
        "shoal_api_requests_total",
        "counter",
        "AWS API requests by service and action.",
    );
    for ((service, action), n) in home.map(|(_, s)| s.api_requests.as_slice()).unwrap_or_default() {
        let _ = writeln!(
            out,
            "shoal_api_requests_total{{service=\"{}\",action=\"{}\"}} {n}",
            label(service),
            label(action)
        );
    }
    head(
        &mut out,
        "shoal_api_errors_total",
        "counter",
        "AWS API requests refused, by service, action and error code.",
    );
    for ((service, action, code), n) in
        home.map(|(_, s)| s.api_errors.as_slice()).unwrap_or_default()
    {
        let _ = writeln!(
            out,
            "shoal_api_errors_total{{service=\"{}\",action=\"{}\",code=\"{}\"}} {n}",
            label(service),
            label(action),
            label(code)
        );
    }
    let mut passes = std::collections::BTreeMap::<&str, u64>::new();
    for (_, s) in &snapshots {
        for (controller, n) in &s.reconcile_passes {
            *passes.entry(controller).or_default() += n;
        }
    }
    head(&mut out, "shoal_reconcile_passes_total", "counter", "Passes of each reconcile loop.");
    for (controller, n) in &passes {
        let _ = writeln!(out, "shoal_reconcile_passes_total{{controller=\"{controller}\"}} {n}");
    }
    head(
        &mut out,
        "shoal_store_commit_seconds",
        "histogram",
        "Time to commit a change to the store (SQLite transaction).",
    );
    let mut buckets = vec![0u64; COMMIT_BUCKETS.len()];
    let (mut count, mut sum) = (0u64, 0f64);
    for (_, s) in &snapshots {
        buckets.iter_mut().zip(&s.commit_buckets).for_each(|(b, n)| *b += n);
        count += s.commit_count;
        sum += s.commit_seconds;
    }
    for (bound, n) in COMMIT_BUCKETS.iter().zip(&buckets) {
        let _ = writeln!(out, "shoal_store_commit_seconds_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "shoal_store_commit_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "shoal_store_commit_seconds_sum {sum}");
    let _ = writeln!(out, "shoal_store_commit_seconds_count {count}");

    head(&mut out, "shoal_instances", "gauge", "Instances by region and state.");
    for (svc, _) in &snapshots {
        let region = label(&svc.config.region);
        for (state, n) in &svc.instance_counts_by_state() {
            let _ = writeln!(out, "shoal_instances{{region=\"{region}\",state=\"{state}\"}} {n}");
        }
    }
    head(
        &mut out,
        "shoal_instance_cpu_utilization_percent",
        "gauge",
        "Latest CPUUtilization sample of each running instance.",
    );
    for (svc, s) in &snapshots {
        let region = label(&svc.config.region);
        for (id, v) in &s.instance_cpu {
            let _ = writeln!(
                out,
                "shoal_instance_cpu_utilization_percent{{region=\"{region}\",instance_id=\"{}\"}} {v}",
                label(id)
            );
        }
    }
    head(
        &mut out,
        "shoal_target_group_targets",
        "gauge",
        "Registered targets of each target group by health state.",
    );
    for (svc, _) in &snapshots {
        let region = label(&svc.config.region);
        for (arn, name) in &svc.all_target_group_names() {
            let Ok(targets) = svc.elb().describe_target_health(arn, &[]) else { continue };
            for state in TargetHealthState::ALL {
                let n = targets.iter().filter(|t| t.health.state == state).count();
                let _ = writeln!(
                    out,
                    "shoal_target_group_targets{{region=\"{region}\",target_group=\"{}\",state=\"{}\"}} {n}",
                    label(name),
                    state.as_str()
                );
            }
        }
    }
    // Each load balancer's series carry its region with its `app/<name>/<id>` dimension.
    let load_balancers: Vec<_> = snapshots
        .iter()
        .flat_map(|(svc, s)| {
            let region = label(&svc.config.region);
            s.load_balancers.iter().map(move |(lb, t)| {
                (format!("region=\"{region}\",load_balancer=\"{}\"", label(lb)), t)
            })
        })
        .collect();
    head(
        &mut out,
        "shoal_load_balancer_requests_total",
        "counter",
        "Requests a load balancer routed to a target (RequestCount), counted each metric period.",
    );
    for (lb, t) in &load_balancers {
        let _ = writeln!(out, "shoal_load_balancer_requests_total{{{lb}}} {}", t.requests);
    }
    head(
        &mut out,
        "shoal_load_balancer_responses_total",
        "counter",
        "Responses by origin (target or the load balancer itself) and status class.",
    );
    for (lb, t) in &load_balancers {
        for (class, n) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(t.target_responses) {
            let _ = writeln!(
                out,
                "shoal_load_balancer_responses_total{{{lb},origin=\"target\",code=\"{class}\"}} {n}"
            );
        }
        for (class, n) in ["3xx", "4xx", "5xx"].iter().zip(t.elb_responses) {
            let _ = writeln!(
                out,
                "shoal_load_balancer_responses_total{{{lb},origin=\"elb\",code=\"{class}\"}} {n}"
            );
        }
    }
    head(
        &mut out,
        "shoal_load_balancer_target_response_time_seconds",
        "summary",
        "Targets' time to response headers (TargetResponseTime).",
    );
    for (lb, t) in &load_balancers {
        let _ = writeln!(
            out,
            "shoal_load_balancer_target_response_time_seconds_sum{{{lb}}} {}\nshoal_load_balancer_target_response_time_seconds_count{{{lb}}} {}",
            t.target_response_time_seconds,
            t.target_responses_timed
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_protocol() {
        let uri = |u: &str| u.parse::<axum::http::Uri>().unwrap();
        let mut scoped = HeaderMap::new();
        scoped.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host"
                .parse()
                .unwrap(),
        );
        let body =
            Bytes::from_static(b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=x%20y");
        assert_eq!(classify(&uri("/"), &scoped, &body), ("ec2".into(), "DescribeVpcs".into()));
        let unsigned = Bytes::from_static(b"Version=2011-01-01&Action=DescribeAutoScalingGroups");
        assert_eq!(
            classify(&uri("/"), &HeaderMap::new(), &unsigned),
            ("autoscaling".into(), "DescribeAutoScalingGroups".into())
        );
        let mut ssm = HeaderMap::new();
        ssm.insert("x-amz-target", "AmazonSSM.GetParametersByPath".parse().unwrap());
        assert_eq!(
            classify(&uri("/"), &ssm, &Bytes::new()),
            ("ssm".into(), "GetParametersByPath".into())
        );
        assert_eq!(
            classify(
                &uri("/service/GraniteServiceVersion20100801/operation/PutMetricData"),
                &HeaderMap::new(),
                &Bytes::new()
            ),
            ("monitoring".into(), "PutMetricData".into())
        );
        assert_eq!(
            classify(
                &uri("/?Action=DescribeRegions&Version=2016-11-15"),
                &HeaderMap::new(),
                &Bytes::new()
            ),
            ("ec2".into(), "DescribeRegions".into())
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
