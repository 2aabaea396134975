//! Access logs in AWS's field order (§3.9), one file per load balancer.
//!
//! The request path formats a line and hands it to a channel; one writer task per
//! file appends batches and flushes when the channel runs dry, so a request never
//! waits on the disk.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::mpsc;

/// Where one LB's log lines go.
#[derive(Clone)]
pub(crate) struct LogSink {
    tx: mpsc::UnboundedSender<String>,
}

impl LogSink {
    /// Opens (appending) `path` and starts its writer task.
    pub fn open(path: &Path) -> std::io::Result<LogSink> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut out = std::io::BufWriter::new(file);
            while let Some(line) = rx.recv().await {
                let _ = out.write_all(line.as_bytes());
                while let Ok(line) = rx.try_recv() {
                    let _ = out.write_all(line.as_bytes());
                }
                let _ = out.flush();
            }
        });
        Ok(LogSink { tx })
    }

    pub fn send(&self, line: String) {
        let _ = self.tx.send(line);
    }
}

/// The file for a load balancer whose CloudWatch dimension is `app/<name>/<id>`:
/// `<dir>/app.<name>.<id>.log` (AWS's S3 object names use the same dotted form).
pub(crate) fn log_path(dir: &Path, dimension: &str) -> PathBuf {
    dir.join(format!("{}.log", dimension.replace('/', ".")))
}

/// One access-log record; `None` fields print as AWS's `-` (or `-1` for times).
pub(crate) struct Record<'a> {
    pub time: SystemTime,
    pub elb: &'a str,
    pub client: std::net::SocketAddr,
    pub target: Option<&'a str>,
    pub request_processing: Option<Duration>,
    pub target_processing: Option<Duration>,
    pub response_processing: Option<Duration>,
    pub elb_status: u16,
    pub target_status: Option<u16>,
    pub received_bytes: u64,
    pub sent_bytes: u64,
    pub method: &'a str,
    pub url: &'a str,
    pub version: &'a str,
    pub user_agent: &'a str,
    pub target_group_arn: Option<&'a str>,
    pub trace_id: &'a str,
    pub matched_rule_priority: u32,
    pub request_creation_time: SystemTime,
    pub actions_executed: &'a str,
    pub redirect_url: Option<&'a str>,
    pub error_reason: Option<&'a str>,
    /// Every target tried (a connect retry lists two).
    pub targets_tried: &'a [&'a str],
    pub target_status_list: Option<u16>,
}

fn ts(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-1".to_string(), |d| format!("{:.3}", d.as_secs_f64()))
}

/// Escapes a quoted field as AWS does: `"` and `\` with a backslash, controls as `\xNN`.
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    if s.is_empty() {
        out.push('-');
    }
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Record<'_> {
    /// The log line, newline-terminated, fields in AWS's order.
    pub fn line(&self) -> String {
        let mut s = String::with_capacity(512);
        let _ = write!(
            s,
            "http {} {} {} {} {} {} {} {} {} {} {} ",
            ts(self.time),
            self.elb,
            self.client,
            self.target.unwrap_or("-"),
            secs(self.request_processing),
            secs(self.target_processing),
            secs(self.response_processing),
            self.elb_status,
            self.target_status.map_or_else(|| "-".to_string(), |c| c.to_string()),
            self.received_bytes,
            self.sent_bytes,
        );
        quoted(&mut s, &format!("{} {} {}", self.method, self.url, self.version));
        s.push(' ');
        quoted(&mut s, self.user_agent);
        let _ = write!(s, " - - {} ", self.target_group_arn.unwrap_or("-"));
        quoted(&mut s, self.trace_id);
        s.push_str(" \"-\" \"-\" ");
        let _ = write!(s, "{} {} ", self.matched_rule_priority, ts(self.request_creation_time));
        quoted(&mut s, self.actions_executed);
        s.push(' ');
        quoted(&mut s, self.redirect_url.unwrap_or("-"));
        s.push(' ');
        quoted(&mut s, self.error_reason.unwrap_or("-"));
        s.push(' ');
        quoted(&mut s, &self.targets_tried.join(" "));
        s.push(' ');
        quoted(&mut s, &self.target_status_list.map_or_else(|| "-".to_string(), |c| c.to_string()));
        s.push_str(" \"-\" \"-\"\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_aws_fields_in_order() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_530_570_180_186_641);
        let r = Record {
            time: t,
            elb: "app/exercise-lb/50dc6c495c0c9188",
            client: "127.0.0.1:2817".parse().unwrap(),
            target: Some("127.0.0.2:3000"),
            request_processing: Some(Duration::ZERO),
            target_processing: Some(Duration::from_millis(1)),
            response_processing: Some(Duration::ZERO),
            elb_status: 200,
            target_status: Some(200),
            received_bytes: 34,
            sent_bytes: 366,
            method: "GET",
            url: "http://www.example.com:80/",
            version: "HTTP/1.1",
            user_agent: "curl/7.46.0",
            target_group_arn: Some("arn:tg"),
            trace_id: "Root=1-58337262-36d228ad5d99923122bbe354",
            matched_rule_priority: 0,
            request_creation_time: t,
            actions_executed: "forward",
            redirect_url: None,
            error_reason: None,
            targets_tried: &["127.0.0.2:3000"],
            target_status_list: Some(200),
        };
        assert_eq!(
            r.line(),
            "http 2018-07-02T22:23:00.186641Z app/exercise-lb/50dc6c495c0c9188 127.0.0.1:2817 127.0.0.2:3000 \
             0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - \
             arn:tg \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 2018-07-02T22:23:00.186641Z \
             \"forward\" \"-\" \"-\" \"127.0.0.2:3000\" \"200\" \"-\" \"-\"\n"
        );
    }
}
