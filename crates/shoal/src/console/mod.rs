//! The web console: server-rendered pages at `/console`, live through server-sent events.
//!
//! A thin client of the one service layer: pages read through the same `describe_*`
//! methods the AWS API calls, and every form runs the same service method as the AWS
//! action it is named after (`actions.rs`), so it is refused with AWS's own error code
//! and message. Nothing here holds state of its own.
//!
//! - `html.rs`: escaping, the page frame and navigation, tables, form pieces.
//! - `ec2.rs`, `autoscaling.rs`, `elbv2.rs`, `deployments.rs`: one render function per
//!   page.
//! - `charts.rs`: metric series (CPU, load balancer requests and host counts) from the
//!   metric store as inline SVG.
//! - `actions.rs`: `POST /console/actions/<Action>`.
//! - `events.rs`: `GET /console/events`, one `change` event per (coalesced) commit and
//!   a `metrics` event per CPU sample interval; `assets/console/console.js` re-fetches
//!   the page and swaps the `data-live` regions that changed.
//!
//! The console shows one region at a time: the top bar's selector sets a cookie
//! (`/console/region`), and pages, events and forms act in that region's service.
//!
//! The HTML, CSS and script are embedded in the binary; no build step, no install.
//! The console answers only when the daemon listens on a loopback address.

pub mod actions;
pub mod autoscaling;
pub mod charts;
pub mod deployments;
pub mod ec2;
pub mod elbv2;
pub mod events;
pub mod html;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use shoal_model::{AwsError, AwsResult};
use tokio::sync::watch;

use crate::regions::Regions;
use crate::service::Service;
use html::Flash;

const CSS: &str = include_str!("../../assets/console/console.css");
const JS: &str = include_str!("../../assets/console/console.js");

/// Router state: the regions and the daemon's shutdown signal (ends event streams).
#[derive(Clone)]
struct Console {
    regions: Arc<Regions>,
    shutdown: watch::Receiver<bool>,
}

/// The cookie that remembers the region the console shows.
const REGION_COOKIE: &str = "shoal_region";

impl Console {
    /// The default region's service: the console's own checks (listener, guard).
    fn home(&self) -> &Service {
        self.regions.home()
    }

    /// The service of the region the console shows: the one its cookie names (set by
    /// the top bar's selector), else the default region's.
    fn svc(&self, headers: &HeaderMap) -> Arc<Service> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(REGION_COOKIE)?.strip_prefix('='))
            .find_map(|r| self.regions.get(r).ok())
            .unwrap_or_else(|| self.regions.home().clone())
    }
}

/// The console's routes, to merge into the main router.
pub fn routes(regions: Arc<Regions>, shutdown: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/instances") }))
        .route("/console/", get(|| async { Redirect::to("/console/instances") }))
        .route("/console/instances", get(instances))
        .route("/console/instances/{id}", get(instance))
        .route("/console/images", get(images))
        .route("/console/launch-templates", get(launch_templates))
        .route("/console/launch-templates/{id}", get(launch_template))
        .route("/console/groups", get(groups))
        .route("/console/groups/{name}", get(group))
        .route("/console/load-balancers", get(load_balancers))
        .route("/console/load-balancers/{name}", get(load_balancer))
        .route("/console/target-groups", get(target_groups))
        .route("/console/target-groups/{name}", get(target_group))
        .route("/console/deployments", get(deployments))
        .route("/console/deployments/{id}", get(deployment))
        .route("/console/events", get(event_stream))
        .route("/console/region", get(switch_region))
        .route("/console/actions/{action}", post(action))
        .route("/console/assets/console.css", get(|| async { asset("text/css", CSS) }))
        .route("/console/assets/console.js", get(|| async { asset("text/javascript", JS) }))
        .with_state(Console { regions, shutdown })
}

#[derive(Deserialize)]
struct RegionQuery {
    name: String,
}

/// The top bar's region selector: remembers the region in a cookie (only a region AWS
/// has; the console's own path, same-site only) and shows its instances.
async fn switch_region(
    State(c): State<Console>,
    headers: HeaderMap,
    Query(q): Query<RegionQuery>,
) -> Response {
    if let Some(r) = guard(c.home(), &headers, false) {
        return r;
    }
    if shoal_model::region::find(&q.name).is_none() {
        return (StatusCode::BAD_REQUEST, format!("{} is not an AWS region.\n", q.name))
            .into_response();
    }
    let cookie = format!("{REGION_COOKIE}={}; Path=/console; SameSite=Strict", q.name);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console/instances")).into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=3600")], body)
        .into_response()
}

/// The console is for the person at this machine: it answers only on a loopback
/// listener, only to requests addressed to a loopback name (a page elsewhere cannot
/// reach it by rebinding its own DNS name to 127.0.0.1), and takes forms only from its
/// own pages (a cross-site POST carries a foreign `Origin`). Returns the refusal.
fn guard(svc: &Service, headers: &HeaderMap, posting: bool) -> Option<Response> {
    let refuse = |why: &str| Some((StatusCode::FORBIDDEN, format!("{why}\n")).into_response());
    if !svc.config.listen.ip().is_loopback() {
        return refuse(
            "The Shoal console is served only when the daemon listens on a loopback address.",
        );
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_loopback_host(host) {
        return refuse("The Shoal console answers only to a loopback address or localhost.");
    }
    if posting {
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            if origin != format!("http://{host}") {
                return refuse("The Shoal console takes forms only from its own pages.");
            }
        }
    }
    None
}

/// `127.x.y.z[:port]`, `localhost[:port]`, a name under `.localhost` (RFC 6761: loopback
/// by definition, which browsers resolve without DNS, so no rebinding page can own one;
/// regional endpoint names such as `ec2.eu-west-1.localhost`) or `[::1][:port]`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    let lower = name.to_ascii_lowercase();
    lower == "localhost"
        || lower.strip_suffix(".localhost").is_some_and(|sub| !sub.is_empty())
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Deserialize, Default)]
struct FlashQuery {
    ok: Option<String>,
    error: Option<String>,
}

/// Renders a page off the async workers (a page reads many metric series).
async fn render(
    c: &Console,
    headers: &HeaderMap,
    q: FlashQuery,
    f: impl FnOnce(&Service, &Flash) -> AwsResult<String> + Send + 'static,
) -> Response {
    if let Some(r) = guard(c.home(), headers, false) {
        return r;
    }
    let svc = c.svc(headers);
    let flash = Flash { ok: q.ok, error: q.error, region: svc.region().to_string() };
    let result = tokio::task::spawn_blocking(move || {
        let out = f(&svc, &flash);
        (out, flash)
    })
    .await;
    match result {
        Ok((Ok(html), _)) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Ok((Err(e), flash)) => error_page(&e, &flash),
        Err(e) => error_page(&AwsError::internal(e.to_string()), &Flash::default()),
    }
}

/// A page that could not be shown: AWS's error, in the console frame.
fn error_page(e: &AwsError, flash: &Flash) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let status = if e.code.as_str().contains("NotFound") || e.message.contains("not found") {
        StatusCode::NOT_FOUND
    } else {
        status
    };
    let body = format!(
        "<div class=\"flash error\" role=\"alert\" data-live=\"missing\"><b>{}</b>: {}</div>",
        html::esc(e.code.as_str()),
        html::esc(&e.message)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html::page("Not available", html::Nav::Instances, flash, &body),
    )
        .into_response()
}

async fn instances(
    State(c): State<Console>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, ec2::instances).await
}

async fn instance(
    State(c): State<Console>,
    Path(id): Path<String>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, move |s, f| ec2::instance(s, &id, f)).await
}

async fn images(State(c): State<Console>, h: HeaderMap, Query(q): Query<FlashQuery>) -> Response {
    render(&c, &h, q, ec2::images).await
}

async fn launch_templates(
    State(c): State<Console>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, ec2::launch_templates).await
}

async fn launch_template(
    State(c): State<Console>,
    Path(id): Path<String>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, move |s, f| ec2::launch_template(s, &id, f)).await
}

async fn groups(State(c): State<Console>, h: HeaderMap, Query(q): Query<FlashQuery>) -> Response {
    render(&c, &h, q, autoscaling::groups).await
}

async fn group(
    State(c): State<Console>,
    Path(name): Path<String>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, move |s, f| autoscaling::group(s, &name, f)).await
}

async fn load_balancers(
    State(c): State<Console>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, elbv2::load_balancers).await
}

async fn load_balancer(
    State(c): State<Console>,
    Path(name): Path<String>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, move |s, f| elbv2::load_balancer(s, &name, f)).await
}

async fn target_groups(
    State(c): State<Console>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, elbv2::target_groups).await
}

async fn target_group(
    State(c): State<Console>,
    Path(name): Path<String>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, move |s, f| elbv2::target_group(s, &name, f)).await
}

async fn deployments(
    State(c): State<Console>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, deployments::deployments).await
}

async fn deployment(
    State(c): State<Console>,
    Path(id): Path<String>,
    h: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> Response {
    render(&c, &h, q, move |s, f| deployments::deployment(s, &id, f)).await
}

async fn event_stream(State(c): State<Console>, h: HeaderMap) -> Response {
    if let Some(r) = guard(c.home(), &h, false) {
        return r;
    }
    events::stream(c.svc(&h), c.shutdown.clone())
}

/// `POST /console/actions/<Action>`: JSON for the script, a redirect without it.
async fn action(
    State(c): State<Console>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = guard(c.home(), &headers, true) {
        return r;
    }
    let form = actions::Form::parse(&body);
    let result = actions::run(&c.svc(&headers), &name, &form).await;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return match result {
            Ok(done) => {
                Json(json!({ "ok": true, "message": done.message, "redirect": done.redirect }))
                    .into_response()
            }
            Err(e) => {
                tracing::debug!(action = %name, code = %e.code, message = %e.message, "console action refused");
                let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
                (status, Json(json!({ "code": e.code, "message": e.message }))).into_response()
            }
        };
    }
    // Without script: back to the page the form was on, with the outcome.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("/console").map(|i| r[i..].split('?').next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| "/console".into());
    let (to, key, text) = match result {
        Ok(done) => (done.redirect.unwrap_or(back), "ok", done.message),
        Err(e) => (back, "error", format!("{}: {}", e.code, e.message)),
    };
    let query: String =
        form_urlencoded::Serializer::new(String::new()).append_pair(key, &text).finish();
    Redirect::to(&format!("{to}?{query}")).into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::{header, HeaderMap, HeaderValue, StatusCode};

    use super::{guard, is_loopback_host};
    use crate::clock::SystemClock;
    use crate::config::Config;
    use crate::runtime::fake::FakeDriver;
    use crate::service::Service;

    fn service(listen: &str) -> Service {
        let mut config = Config::new(std::env::temp_dir().join("shoal-console-unit"));
        config.listen = listen.parse().unwrap();
        let store = shoal_store::Store::in_memory().unwrap();
        Service::new(config, Arc::new(SystemClock), Arc::new(FakeDriver::default()), store).unwrap()
    }

    #[test]
    fn refused_unless_the_daemon_listens_on_loopback() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4566"));
        for listen in ["0.0.0.0:4566", "192.168.1.20:4566", "[::]:4566"] {
            let refused = guard(&service(listen), &headers, false).expect(listen);
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{listen}");
        }
        assert!(guard(&service("127.0.0.1:4566"), &headers, false).is_none());
        assert!(guard(&service("127.0.0.1:4566"), &headers, true).is_none(), "no Origin: a form");
    }

    #[test]
    fn only_loopback_hosts() {
        for ok in [
            "127.0.0.1:4566",
            "127.1.2.3",
            "localhost:4566",
            "LOCALHOST",
            "[::1]:4566",
            "ec2.eu-west-1.localhost:4566",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:4566",
            "10.0.0.1:4566",
            "",
            "[fe80::1]:80",
            "localhost.evil.example",
            ".localhost",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
