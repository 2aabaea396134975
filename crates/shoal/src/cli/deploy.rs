//! `shoal deploy`: blue/green deployments from the command line — a thin client of
//! `/_shoal/api/deployments` that sends [`StartDeployment`] and follows the
//! deployment's events as they happen.

use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::Client;
use crate::service::deploy::StartDeployment;

/// `shoal deploy …`
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeployCli {
    #[command(subcommand)]
    pub command: Option<DeployCommand>,
    #[command(flatten)]
    pub start: DeployArgs,
}

#[derive(Subcommand)]
pub enum DeployCommand {
    /// A deployment's state, steps and history.
    Status {
        id: String,
        /// Follow it until it ends.
        #[arg(short, long)]
        watch: bool,
    },
    /// Every deployment, newest first.
    List,
    /// Move traffic back to blue and remove green.
    Rollback {
        id: String,
        /// Follow the rollback until it ends.
        #[arg(short, long)]
        wait: bool,
    },
}

/// Starts a deployment: green gets the new version, traffic moves step by step.
#[derive(Args, Default)]
pub struct DeployArgs {
    /// The listener whose traffic moves.
    #[arg(long)]
    pub listener: Option<String>,
    /// Or a load balancer (name or ARN)…
    #[arg(long = "load-balancer", visible_alias = "lb")]
    pub load_balancer: Option<String>,
    /// …and its listener's port (default: its only listener, else 80).
    #[arg(long)]
    pub port: Option<u16>,
    /// The current (blue) group (default: the group attached to the listener's target group).
    #[arg(long)]
    pub group: Option<String>,
    /// The new image: green runs a new version of blue's template with only the image changed.
    #[arg(long)]
    pub image: Option<String>,
    /// Or the launch template (name or id) green runs…
    #[arg(long = "launch-template")]
    pub launch_template: Option<String>,
    /// …at this version (default `$Default`).
    #[arg(long)]
    pub version: Option<String>,
    /// all-at-once, canary, linear, weights or swap.
    #[arg(long, default_value = "all-at-once")]
    pub strategy: String,
    /// The canary's share, or the linear step, in percent.
    #[arg(long)]
    pub percent: Option<u32>,
    /// The weights strategy's steps: green percentages, e.g. 10,50,100.
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<u32>,
    /// How long each step is held and watched (seconds; `30` or `30s`).
    #[arg(long, value_parser = parse_seconds)]
    pub interval: Option<u64>,
    /// How long green may take to become healthy.
    #[arg(long = "health-timeout", value_parser = parse_seconds)]
    pub health_timeout: Option<u64>,
    /// How long blue drains after the last step (default: its deregistration delay).
    #[arg(long, value_parser = parse_seconds)]
    pub drain: Option<u64>,
    /// Gate: most 5xx answers from green, in percent of its requests (default 5).
    #[arg(long = "max-error-rate")]
    pub max_error_rate: Option<f64>,
    /// Gate: green requests seen before the error rate is judged (default 1).
    #[arg(long = "min-requests")]
    pub min_requests: Option<u64>,
    /// Gate: most green targets unhealthy at once (default 0).
    #[arg(long = "max-unhealthy")]
    pub max_unhealthy: Option<u32>,
    /// Gate: highest average response time of green, in ms (default 2000; 0 turns it off).
    #[arg(long = "max-response-time")]
    pub max_response_time: Option<u64>,
    /// Keep blue (weight 0) after success, for a fast `shoal deploy rollback`.
    #[arg(long = "keep-blue", conflicts_with = "delete_blue")]
    pub keep_blue: bool,
    /// Delete blue after success instead of scaling it to 0.
    #[arg(long = "delete-blue")]
    pub delete_blue: bool,
    /// Green's group name (default: blue's with BLUE → GREEN).
    #[arg(long = "green-group")]
    pub green_group: Option<String>,
    /// Print the deployment id and return; the daemon carries on.
    #[arg(long)]
    pub detach: bool,
}

fn parse_seconds(s: &str) -> Result<u64, String> {
    let t = s.trim_end_matches('s');
    if let Some(m) = t.strip_suffix('m') {
        return m.parse::<u64>().map(|m| m * 60).map_err(|_| format!("not a duration: {s}"));
    }
    t.parse::<u64>().map_err(|_| format!("not a number of seconds: {s}"))
}

impl DeployArgs {
    /// The API request these flags describe.
    pub fn request(&self) -> StartDeployment {
        StartDeployment {
            listener_arn: self.listener.clone(),
            load_balancer: self.load_balancer.clone(),
            port: self.port,
            group: self.group.clone(),
            image_id: self.image.clone(),
            launch_template: self.launch_template.clone(),
            launch_template_version: self.version.clone(),
            strategy: Some(self.strategy.clone()),
            percent: self.percent,
            weights: self.weights.clone(),
            step_seconds: self.interval,
            health_timeout_seconds: self.health_timeout,
            drain_seconds: self.drain,
            max_error_rate_percent: self.max_error_rate,
            min_requests: self.min_requests,
            max_unhealthy_targets: self.max_unhealthy,
            max_response_time_ms: self.max_response_time,
            keep_blue: self.keep_blue,
            delete_blue: self.delete_blue,
            green_group: self.green_group.clone(),
        }
    }
}

/// Runs `shoal deploy …`; the exit code is 0 when the deployment succeeded (or the
/// command only reads), 1 when it rolled back or failed.
pub async fn run(client: &Client, cli: DeployCli) -> anyhow::Result<i32> {
    match cli.command {
        Some(DeployCommand::List) => list(client).await.map(|_| 0),
        Some(DeployCommand::Status { id, watch }) => {
            let d = client.get(&format!("/_shoal/api/deployments/{id}")).await?;
            if watch {
                follow(client, &id, 0).await
            } else {
                print_report(&d, true);
                Ok(0)
            }
        }
        Some(DeployCommand::Rollback { id, wait }) => {
            let d =
                client.post(&format!("/_shoal/api/deployments/{id}/rollback"), Value::Null).await?;
            println!("{id}: rollback requested (traffic returns to {})", s(&d["blue"]["group"]));
            if wait {
                let shown = d["events"].as_array().map_or(0, Vec::len);
                return follow(client, &id, shown).await;
            }
            Ok(0)
        }
        None => {
            let body = serde_json::to_value(cli.start.request())?;
            let d = client.post("/_shoal/api/deployments", body).await?;
            let id = s(&d["id"]).to_string();
            if cli.start.detach {
                println!("{id}");
                return Ok(0);
            }
            println!(
                "Deployment {id}: {} → {} on {}:{} ({})",
                s(&d["blue"]["group"]),
                s(&d["green"]["group"]),
                s(&d["load_balancer"]),
                d["port"],
                s(&d["strategy"])
            );
            follow(client, &id, 0).await
        }
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// Prints each new event as a live line until the deployment ends, then the report.
async fn follow(client: &Client, id: &str, mut shown: usize) -> anyhow::Result<i32> {
    loop {
        let d = client.get(&format!("/_shoal/api/deployments/{id}")).await?;
        let events = d["events"].as_array().cloned().unwrap_or_default();
        for e in events.iter().skip(shown) {
            let at = s(&e["at"]);
            println!(
                "{}  {:<12} green {:>3}%  {}",
                at.get(11..19).unwrap_or(at),
                s(&e["status"]),
                e["green_percent"].as_u64().unwrap_or(0),
                s(&e["message"])
            );
        }
        shown = events.len();
        let status = s(&d["status"]).to_string();
        let done = matches!(status.as_str(), "Succeeded" | "RolledBack" | "Failed")
            && !d["rollback_requested"].as_bool().unwrap_or(false);
        if done {
            println!();
            print_report(&d, false);
            return Ok(if status == "Succeeded" { 0 } else { 1 });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
            _ = tokio::signal::ctrl_c() => {
                println!("\n{id} carries on in the daemon; `shoal deploy status {id}` shows it.");
                return Ok(0);
            }
        }
    }
}

fn print_report(d: &Value, with_events: bool) {
    let took = match (d["created"].as_str(), d["ended"].as_str()) {
        (Some(a), Some(b)) => {
            match (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b))
            {
                (Ok(a), Ok(b)) => format!(" in {}s", (b - a).num_seconds()),
                _ => String::new(),
            }
        }
        _ => String::new(),
    };
    println!("Deployment {} {}{took}", s(&d["id"]), s(&d["status"]));
    println!("  listener    {}:{}", s(&d["load_balancer"]), d["port"]);
    println!(
        "  strategy    {} {:?}% held {}s",
        s(&d["strategy"]),
        d["schedule"],
        d["step_seconds"]
    );
    println!("  blue        {} (after success: {})", s(&d["blue"]["group"]), s(&d["blue_after"]));
    println!(
        "  green       {} from {} version {}",
        s(&d["green"]["group"]),
        s(&d["green"]["launch_template_name"]),
        d["green"]["launch_template_version"]
    );
    let trail: Vec<String> = d["weights"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| format!("{}%", w["green_percent"]))
        .collect();
    if !trail.is_empty() {
        println!("  traffic     green {}", trail.join(" → "));
    }
    println!("  now         green {}%", d["green_percent"]);
    if let Some(r) = d["reason"].as_str() {
        println!("  reason      {r}");
    }
    if with_events {
        println!();
        for e in d["events"].as_array().into_iter().flatten() {
            let at = s(&e["at"]);
            println!(
                "  {}  {:<12} green {:>3}%  {}",
                at.get(11..19).unwrap_or(at),
                s(&e["status"]),
                e["green_percent"].as_u64().unwrap_or(0),
                s(&e["message"])
            );
        }
    }
}

/// `shoal deploy list`.
async fn list(client: &Client) -> anyhow::Result<()> {
    let v = client.get("/_shoal/api/deployments").await?;
    let all = v["deployments"].as_array().cloned().unwrap_or_default();
    if all.is_empty() {
        println!("no deployments");
        return Ok(());
    }
    println!(
        "{:<12} {:<12} {:<13} {:>6}  {:<24} {:<24} CREATED",
        "ID", "STATUS", "STRATEGY", "GREEN", "BLUE", "GREEN GROUP"
    );
    for d in all {
        println!(
            "{:<12} {:<12} {:<13} {:>5}%  {:<24} {:<24} {}",
            s(&d["id"]),
            s(&d["status"]),
            s(&d["strategy"]),
            d["green_percent"],
            s(&d["blue"]["group"]),
            s(&d["green"]["group"]),
            s(&d["created"])
        );
    }
    Ok(())
}
