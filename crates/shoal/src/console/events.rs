//! `GET /console/events`: server-sent events that tell open pages to refresh.
//!
//! - `change`: something was committed (`Service::subscribe()` moved). Commits come in
//!   bursts (a group launching instances commits several times), so they are coalesced
//!   for `COALESCE` before one event goes out.
//! - `metrics`: a CPU sampling interval passed, so charts may have a new point.
//! - a comment line every `KEEPALIVE` so proxies and the browser keep the stream.
//!
//! The stream ends when the daemon shuts down (so graceful shutdown never waits on an
//! open page) or when the page goes away (the send fails).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::Frame;
use tokio::sync::{mpsc, watch};

use crate::service::Service;

const COALESCE: Duration = Duration::from_millis(100);
const KEEPALIVE: Duration = Duration::from_secs(15);

/// A response body fed by a channel: each message is one or more SSE lines.
struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// Starts a stream for one page.
pub fn stream(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let mut changed = svc.subscribe();
    let metrics_every = svc.config.cpu_sample_interval.max(Duration::from_millis(500));
    tokio::spawn(async move {
        // The browser reconnects after `retry` ms if the stream drops.
        let hello =
            format!("retry: 1000\nevent: hello\ndata: {}\n\n", *changed.borrow_and_update());
        if tx.send(Bytes::from(hello)).await.is_err() {
            return;
        }
        let mut metrics = tokio::time::interval(metrics_every);
        metrics.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        metrics.tick().await;
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        loop {
            let msg = tokio::select! {
                r = changed.changed() => {
                    if r.is_err() {
                        return;
                    }
                    tokio::time::sleep(COALESCE).await;
                    let v = *changed.borrow_and_update();
                    format!("event: change\ndata: {v}\n\n")
                }
                _ = metrics.tick() => "event: metrics\ndata: \n\n".to_string(),
                _ = keepalive.tick() => ": keepalive\n\n".to_string(),
                _ = shutdown.changed() => return,
            };
            if *shutdown.borrow() {
                return;
            }
            if tx.send(Bytes::from(msg)).await.is_err() {
                return;
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::new(EventBody { rx }),
    )
        .into_response()
}
