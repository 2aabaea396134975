//! `shoal down` and `shoal reset`: the daemon's admin routes (`/_shoal/shutdown`,
//! `/_shoal/reset`) as commands.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use serde_json::{json, Value};

use super::client::Client;

/// The daemon's `/_shoal/health`, or a clear error when none answers at `endpoint`.
async fn running_daemon(client: &Client, endpoint: &str) -> anyhow::Result<Value> {
    client.get("/_shoal/health").await.map_err(|_| {
        anyhow::anyhow!(
            "no Shoal daemon is running at {endpoint} (start one with `shoal server` or `shoal up`, \
             or name another with --endpoint / SHOAL_ENDPOINT)"
        )
    })
}

/// `host:port` of an `http://host:port[/]` endpoint.
fn authority(endpoint: &str) -> anyhow::Result<String> {
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("the endpoint must be http://HOST:PORT, not {endpoint}"))?;
    let auth = rest.split('/').next().unwrap_or_default();
    if auth.is_empty() {
        anyhow::bail!("the endpoint must be http://HOST:PORT, not {endpoint}");
    }
    Ok(if auth.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        auth.to_string()
    } else {
        format!("{auth}:80")
    })
}

/// Whether the process `pid` is gone (or a zombie its parent has not reaped yet).
fn process_gone(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        }
        Err(_) => true,
    }
}

/// `shoal down [--stop-instances]`: asks the daemon to stop and waits, up to `timeout`,
/// until its port refuses connections and its process has exited.
pub async fn down(
    client: &Client,
    endpoint: &str,
    stop_instances: bool,
    timeout: Duration,
) -> anyhow::Result<i32> {
    let addr = authority(endpoint)?;
    let health = running_daemon(client, endpoint).await?;
    let pid = health["pid"].as_u64();
    if stop_instances {
        println!("Stopping every instance (StopInstances), then Shoal...");
    }
    let answer =
        client.post("/_shoal/shutdown", json!({ "stop_instances": stop_instances })).await?;
    let ids = |k: &str| -> Vec<String> {
        answer[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut closed = false;
    while tokio::time::Instant::now() < deadline {
        let port_closed =
            tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(&addr))
                .await
                .is_ok_and(|r| r.is_err());
        if port_closed && pid.is_none_or(process_gone) {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !closed {
        anyhow::bail!(
            "Shoal at {endpoint} (pid {}) was asked to stop but is still running after {}s",
            pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
            timeout.as_secs()
        );
    }
    let pid_text = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    println!("Shoal{pid_text} at {endpoint} has stopped.");
    let plural = |n: usize| if n == 1 { "instance" } else { "instances" };
    if stop_instances {
        let stopped = ids("stopped");
        let still = ids("still_stopping");
        let done = stopped.len() - still.len().min(stopped.len());
        println!(
            "Stopped {done} {}{}; they show `stopped` and start again with `aws ec2 start-instances`.",
            plural(done),
            if done > 0 { format!(" ({})", stopped.iter().filter(|i| !still.contains(i)).cloned().collect::<Vec<_>>().join(", ")) } else { String::new() }
        );
        if !still.is_empty() {
            println!(
                "Still stopping when Shoal stopped: {}; their stop finishes at the next start.",
                still.join(", ")
            );
        }
        let grouped = ids("stopped_in_groups");
        if !grouped.is_empty() {
            println!(
                "{} of them belong to Auto Scaling groups, whose health checks replace stopped \
                 instances at the next start, as in AWS (suspend ReplaceUnhealthy to keep them).",
                grouped.len()
            );
        }
    }
    let running = ids("running");
    if !running.is_empty() {
        println!(
            "{} {} keep running, as VMs do across a control-plane restart; the next \
             `shoal server` or `shoal up` with the same data dir re-adopts them.",
            running.len(),
            plural(running.len())
        );
    }
    Ok(0)
}

/// `shoal reset [--yes]`: terminates every instance, wipes every record and recreates
/// the defaults, after confirmation; prints how many of each kind it removed.
pub async fn reset(client: &Client, endpoint: &str, yes: bool) -> anyhow::Result<i32> {
    running_daemon(client, endpoint).await?;
    if !yes {
        let instances = client.get("/_shoal/api/instances").await?;
        let n = instances["instances"].as_array().map_or(0, Vec::len);
        print!(
            "This terminates every instance ({n}) and deletes every resource of Shoal at {endpoint}, \
             then recreates the defaults. Type 'yes' to continue: "
        );
        std::io::stdout().flush()?;
        let mut line = String::new();
        let stdin = std::io::stdin();
        let interactive = stdin.is_terminal();
        stdin.lock().read_line(&mut line)?;
        if line.trim() != "yes" {
            if !interactive && line.is_empty() {
                println!();
                eprintln!("shoal: not reset: no confirmation on standard input (pass --yes to reset without asking)");
            } else {
                eprintln!("shoal: not reset");
            }
            return Ok(1);
        }
    }
    let answer = client.post("/_shoal/reset", json!({})).await?;
    let removed: Vec<String> = answer["removed"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(kind, n)| {
            let n = n.as_u64()?;
            (n > 0).then(|| format!("{n} {}", kind.replace('_', " ")))
        })
        .collect();
    if removed.is_empty() {
        println!("Shoal at {endpoint} is reset; there was nothing to remove.");
    } else {
        println!("Shoal at {endpoint} is reset. Removed: {}.", removed.join(", "));
    }
    println!(
        "The defaults (default VPC and subnets, default security group, base image) are in place."
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn endpoint_authority() {
        assert_eq!(authority("http://127.0.0.1:4566").unwrap(), "127.0.0.1:4566");
        assert_eq!(authority("http://localhost:4566/").unwrap(), "localhost:4566");
        assert_eq!(authority("http://localhost").unwrap(), "localhost:80");
        assert!(authority("https://127.0.0.1:4566").is_err());
        assert!(authority("http://").is_err());
    }
}
