//! Active health checks: one task per (target group, target).
//!
//! Each check is `GET <path>` with `Host: <ip>:<port>` and
//! `User-Agent: ELB-HealthChecker/2.0` on a fresh connection that is closed after;
//! it passes when the status matches the group's matcher within the timeout. Checks
//! start every interval regardless of how long the last one took. Outcomes go
//! through the model's state machine ([`HealthCounter::observe`]).

use std::net::SocketAddr;

use crate::dial::Dial;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use shoal_model::elbv2::health::CheckOutcome;
use shoal_model::elbv2::Matcher;

use crate::state::{Env, TargetGroupRt, TargetRt};

/// Runs the checks of one target until aborted.
pub(crate) async fn run(env: Arc<Env>, tg: Arc<TargetGroupRt>, target: Arc<TargetRt>) {
    loop {
        let settings = tg.settings.load_full();
        let started = tokio::time::Instant::now();
        let hc = &settings.health_check;
        // AWS does not check draining, stopped or unused targets: their state comes
        // from the control plane, and a target group that starts being used starts
        // over from `initial`.
        if !hc.enabled || !target.in_service() || !tg.in_use.load(Relaxed) {
            if !tg.in_use.load(Relaxed) {
                target.set_counter(Default::default(), env.now_ms());
            }
        } else {
            let port = hc.port.resolve(target.addr.port());
            let addr = SocketAddr::new(target.addr.ip(), port);
            let outcome = match tokio::time::timeout(
                settings.timeout,
                check(addr, &target.dial.load_full(), &hc.path, &hc.matcher),
            )
            .await
            {
                Ok(o) => o,
                Err(_) => CheckOutcome::Timeout,
            };
            let before = *target.counter.lock().unwrap();
            let next = before.observe(outcome, hc.healthy_threshold, hc.unhealthy_threshold);
            if next.verdict != before.verdict {
                tracing::info!(
                    target_group = %tg.arn, target = %target.addr, ?outcome,
                    "target health {:?} -> {:?}", before.verdict, next.verdict
                );
            }
            target.set_counter(next, env.now_ms());
        }
        tokio::time::sleep_until(started + settings.interval).await;
    }
}

/// One health check.
async fn check(addr: SocketAddr, how: &Dial, path: &str, matcher: &Matcher) -> CheckOutcome {
    let Ok(stream) = crate::dial::connect(addr, how).await else { return CheckOutcome::Failed };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) =
        http1::Builder::new().handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
    else {
        return CheckOutcome::Failed;
    };
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = HeaderValue::from_str(&addr.to_string()).expect("socket address is a valid header");
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, host)
        .header(header::USER_AGENT, "ELB-HealthChecker/2.0")
        .header(header::CONNECTION, "close")
        .body(Empty::new());
    let outcome = match req {
        Err(_) => CheckOutcome::Failed,
        Ok(req) => match sender.send_request(req).await {
            Err(_) => CheckOutcome::Failed,
            Ok(res) => {
                let status = res.status().as_u16();
                // Read (a bounded amount of) the body so the target sees a clean close.
                let mut body = res.into_body();
                let mut read = 0usize;
                let mut ok = true;
                while read < 64 * 1024 {
                    match body.frame().await {
                        Some(Ok(f)) => read += f.data_ref().map_or(0, |d| d.len()),
                        Some(Err(_)) => {
                            ok = false;
                            break;
                        }
                        None => break,
                    }
                }
                if !ok {
                    CheckOutcome::Failed
                } else if matcher.matches(status) {
                    CheckOutcome::Pass
                } else {
                    CheckOutcome::CodeMismatch(status)
                }
            }
        },
    };
    drop(sender);
    conn.abort();
    outcome
}
