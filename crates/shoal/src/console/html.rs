//! Small HTML helpers: escaping, the page frame (navigation), tables, badges, forms.
//!
//! Pages are plain strings built with `write!`; every value that comes from a record or
//! a request passes through [`esc`]. Regions the live script refreshes carry a
//! `data-live="…"` attribute (see `assets/console/console.js`).

use std::fmt::Write;

use chrono::{DateTime, Utc};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment (group names may hold spaces and more).
pub fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A wall time as the console shows it (UTC, said in the tooltip).
pub fn time(t: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\" title=\"UTC\">{}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        t.format("%Y-%m-%d %H:%M:%S")
    )
}

/// A wall time in a list's column: month, day, hours and minutes (the full time, UTC,
/// in the tooltip), so wide tables fit a laptop screen.
pub fn short_time(t: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{} UTC\">{}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        t.format("%Y-%m-%d %H:%M:%S"),
        t.format("%b %d %H:%M")
    )
}

/// A DNS name that may wrap after its dots.
pub fn dns_name(name: &str) -> String {
    format!("<code class=\"dns\">{}</code>", esc(name).replace('.', ".<wbr>"))
}

/// A state name as a coloured badge (`running`, `InService`, `Successful`, …).
pub fn badge(state: &str) -> String {
    let tone = match state {
        "running"
        | "available"
        | "InService"
        | "Successful"
        | "Healthy"
        | "healthy"
        | "active"
        | "InService (protected)"
        | "OK" => "ok",
        "pending"
        | "stopping"
        | "shutting-down"
        | "Pending"
        | "Pending:Wait"
        | "Pending:Proceed"
        | "InProgress"
        | "PreInService"
        | "WaitingForSpotInstanceId"
        | "WaitingForInstanceId"
        | "MidLifecycleAction"
        | "Terminating"
        | "Terminating:Wait"
        | "Terminating:Proceed"
        | "Detaching"
        | "EnteringStandby"
        | "initial"
        | "draining"
        | "provisioning"
        | "Delete in progress" => "busy",
        "Provisioning" | "Shifting" | "Draining" | "RollingBack" | "Adding" | "Added"
        | "Removing" => "busy",
        "Succeeded" => "ok",
        "stopped" | "Standby" | "Cancelled" | "unused" | "RolledBack" | "Removed" => "idle",
        "terminated" | "Terminated" | "Detached" => "gone",
        "Failed" | "failed" | "Unhealthy" | "unhealthy" | "ALARM" => "bad",
        _ => "idle",
    };
    format!("<span class=\"badge {tone}\">{}</span>", esc(state))
}

/// Which entry of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Instances,
    Images,
    LaunchTemplates,
    Groups,
    LoadBalancers,
    TargetGroups,
    Deployments,
}

/// The navigation: sections in the order of the lab. An entry whose API has not landed
/// yet is shown greyed (no page), so the layout does not move when it arrives.
/// (label, link, page) of one navigation entry; no page: not available yet.
type NavEntry = (&'static str, &'static str, Option<Nav>);

const NAV: &[(&str, &[NavEntry])] = &[
    (
        "EC2",
        &[
            ("Instances", "/console/instances", Some(Nav::Instances)),
            ("Images (AMIs)", "/console/images", Some(Nav::Images)),
            ("Launch templates", "/console/launch-templates", Some(Nav::LaunchTemplates)),
        ],
    ),
    ("Auto Scaling", &[("Auto Scaling groups", "/console/groups", Some(Nav::Groups))]),
    (
        "Load balancing",
        &[
            ("Load balancers", "/console/load-balancers", Some(Nav::LoadBalancers)),
            ("Target groups", "/console/target-groups", Some(Nav::TargetGroups)),
        ],
    ),
    ("Deployments", &[("Blue/green", "/console/deployments", Some(Nav::Deployments))]),
];

/// A whole page: head, navigation, flash message, then `body`.
pub fn page(title: &str, nav: Nav, flash: &Flash, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · Shoal</title><link rel=\"icon\" href=\"data:,\">\
<link rel=\"stylesheet\" href=\"/console/assets/console.css?v={v}\">\
<script src=\"/console/assets/console.js?v={v}\" defer></script></head>\
<body><header class=\"top\"><a class=\"brand\" href=\"/console\">Shoal</a>\
{region}\
<span id=\"live\" class=\"live\" title=\"Updates arrive as they happen\">connecting…</span></header>\
<div class=\"frame\"><nav class=\"side\" aria-label=\"Services\">",
        esc(title),
        v = env!("CARGO_PKG_VERSION"),
        region = region_selector(&flash.region),
    );
    for (section, entries) in NAV {
        let _ = write!(out, "<h2>{section}</h2><ul>");
        for (label, href, which) in entries.iter() {
            match which {
                Some(w) => {
                    let current = if *w == nav { " aria-current=\"page\"" } else { "" };
                    let _ = write!(out, "<li><a href=\"{href}\"{current}>{label}</a></li>");
                }
                None => {
                    let _ = write!(
                        out,
                        "<li><span class=\"soon\" title=\"Arrives with its API\">{label}</span></li>"
                    );
                }
            }
        }
        out.push_str("</ul>");
    }
    out.push_str("</nav><main>");
    out.push_str(&flash.render());
    out.push_str(body);
    out.push_str("</main></div></body></html>");
    out
}

/// What the frame shows around a page: the outcome of a form posted without script
/// (`?ok=` / `?error=` on the redirect) and the region the page is of.
#[derive(Debug, Default, Clone)]
pub struct Flash {
    pub ok: Option<String>,
    pub error: Option<String>,
    /// The region the console shows (its selector in the top bar); us-east-1 when empty.
    pub region: String,
}

/// The top bar's region selector: a plain GET form (no script needed) to
/// `/console/region`, which remembers the choice in a cookie.
fn region_selector(current: &str) -> String {
    let current = if current.is_empty() { shoal_model::DEFAULT_REGION } else { current };
    let mut out = String::from(
        "<form class=\"region\" method=\"get\" action=\"/console/region\">\
<select name=\"name\" aria-label=\"Region\">",
    );
    for r in shoal_model::region::REGIONS {
        let selected = if r.name == current { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{0}\"{selected}>{0}</option>", r.name);
    }
    out.push_str("</select> <button type=\"submit\">Switch</button> · this machine</form>");
    out
}

impl Flash {
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(m) = &self.ok {
            let _ = write!(out, "<div class=\"flash ok\" role=\"status\">{}</div>", esc(m));
        }
        if let Some(m) = &self.error {
            let _ = write!(out, "<div class=\"flash error\" role=\"alert\">{}</div>", esc(m));
        }
        out
    }
}

/// What an empty value shows.
pub const NONE: &str = "–";

/// A table: header cells, then rows of already-rendered cells; `empty` when no row.
/// An empty cell under a titled column shows [`NONE`].
pub fn table(class: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let mut out = String::with_capacity(rows.len() * 256 + 256);
    let _ = write!(out, "<div class=\"scroll\"><table class=\"{class}\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr class=\"empty\"><td colspan=\"{}\">{}</td></tr>",
            headers.len(),
            esc(empty)
        );
    }
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let titled = headers.get(i).is_some_and(|h| !h.is_empty());
            let cell = if cell.is_empty() && titled { NONE } else { cell.as_str() };
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A definition list of (label, rendered value) pairs; an empty value shows [`NONE`].
pub fn fields(pairs: &[(&str, String)]) -> String {
    let mut out = String::from("<dl class=\"fields\">");
    for (k, v) in pairs {
        let v = if v.is_empty() { NONE } else { v.as_str() };
        let _ = write!(out, "<div><dt>{k}</dt><dd>{v}</dd></div>");
    }
    out.push_str("</dl>");
    out
}

/// A form that posts to a console action. The script sends it with `fetch` and shows
/// AWS's error code and message in its `.form-error` box; without script the server
/// redirects back with a flash message.
pub fn form(action: &str, class: &str, inner: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/actions/{action}\" class=\"{class}\" data-action=\"{action}\">\
{inner}<div class=\"form-error\" role=\"alert\" hidden></div></form>"
    )
}

/// A one-button form (`class` on the button: `danger`, `small danger`, …) that asks
/// `confirm` first and posts `fields` as hidden inputs.
pub fn confirm_button(
    action: &str,
    fields: &[(&str, &str)],
    class: &str,
    confirm: &str,
    label: &str,
) -> String {
    let mut inner: String = fields.iter().map(|(k, v)| hidden(k, v)).collect();
    let _ = write!(
        inner,
        "<button class=\"{class}\" data-confirm=\"{}\">{}</button>",
        esc(confirm),
        esc(label)
    );
    form(action, "inline", &inner)
}

/// A hidden input.
pub fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(name), esc(value))
}

/// A labelled text input.
pub fn input(label: &str, name: &str, value: &str, extra: &str) -> String {
    format!(
        "<label><span>{label}</span><input name=\"{}\" value=\"{}\" {extra}></label>",
        esc(name),
        esc(value)
    )
}

/// A labelled select of (value, text) options.
pub fn select(label: &str, name: &str, options: &[(String, String)], selected: &str) -> String {
    let mut out = format!("<label><span>{label}</span><select name=\"{}\">", esc(name));
    for (v, t) in options {
        let sel = if v == selected { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{}\"{sel}>{}</option>", esc(v), esc(t));
    }
    out.push_str("</select></label>");
    out
}

/// Checkboxes that post `name` once per checked box: (value, label HTML, checked).
pub fn checks(legend: &str, name: &str, options: &[(String, String, bool)]) -> String {
    let mut out = format!("<fieldset class=\"checks\"><legend>{legend}</legend>");
    for (value, label, on) in options {
        let on = if *on { " checked" } else { "" };
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" name=\"{}\" value=\"{}\"{on}> {label}</label>",
            esc(name),
            esc(value)
        );
    }
    out.push_str("</fieldset>");
    out
}

/// A link to a console page of `kind` (`target-groups`, …) named `name`.
pub fn link(kind: &str, name: &str) -> String {
    format!("<a href=\"/console/{kind}/{}\">{}</a>", url_segment(name), esc(name))
}

/// A link to an instance's page.
pub fn instance_link(id: &str) -> String {
    format!("<a href=\"/console/instances/{0}\">{0}</a>", esc(id))
}

/// A link to a group's page.
pub fn group_link(name: &str) -> String {
    format!("<a href=\"/console/groups/{}\">{}</a>", url_segment(name), esc(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn empty_values_show_a_dash() {
        let f = fields(&[("Tags", String::new()), ("Name", "x".into())]);
        assert!(f.contains("<dt>Tags</dt><dd>–</dd>") && f.contains("<dd>x</dd>"), "{f}");
        let t = table("t", &["Group", ""], &[vec![String::new(), String::new()]], "none");
        assert!(t.contains("<td>–</td><td></td>"), "{t}");
    }

    #[test]
    fn url_segments_are_percent_encoded() {
        assert_eq!(url_segment("EXERCISE-GROUP"), "EXERCISE-GROUP");
        assert_eq!(url_segment("my group/1"), "my%20group%2F1");
    }
}
