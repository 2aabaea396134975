//! `shoal`'s commands that talk to a daemon: thin clients of the JSON API.

pub mod admin;
pub mod client;
pub mod deploy;
pub mod ssh;

use serde_json::Value;

use client::Client;

/// `shoal instances`: a readable table.
pub async fn instances(client: &Client) -> anyhow::Result<()> {
    let v = client.get("/_shoal/api/instances").await?;
    let rows = v["instances"].as_array().cloned().unwrap_or_default();
    if let Some(why) = v["isolation_fallback"].as_str() {
        println!("WARNING: instances are host processes, not containers: {why}");
    }
    if let Some(why) = v["network_fallback"].as_str() {
        println!("WARNING: instances share the host's network, not VPC networks: {why}");
    }
    println!(
        "{:<21} {:<20} {:<13} {:<10} {:<11} {:<15} {:<15} {:>5}",
        "INSTANCE", "NAME", "STATE", "TYPE", "ZONE", "PRIVATE IP", "ADDRESS", "CPU%"
    );
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
        let cpu =
            r["cpu_utilization"].as_f64().map(|c| format!("{c:.0}")).unwrap_or_else(|| "-".into());
        println!(
            "{:<21} {:<20} {:<13} {:<10} {:<11} {:<15} {:<15} {:>5}",
            s("id"),
            s("name"),
            s("state"),
            s("type"),
            s("availability_zone"),
            s("private_ip"),
            s("address"),
            cpu
        );
    }
    Ok(())
}

/// `shoal logs ID [--follow]`: the instance's console output.
pub async fn logs(client: &Client, id: &str, follow: bool) -> anyhow::Result<()> {
    let mut shown = 0usize;
    loop {
        let text = client.get_text(&format!("/_shoal/api/instances/{id}/console")).await?;
        if text.len() > shown {
            print!("{}", &text[shown..]);
            shown = text.len();
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `shoal image import SOURCE --name NAME`: a directory, a tarball or an image archive.
pub async fn image_import(
    client: &Client,
    source: &std::path::Path,
    name: &str,
    description: Option<String>,
) -> anyhow::Result<()> {
    let source = std::fs::canonicalize(source)?;
    let v = client
        .post(
            "/_shoal/api/images/import",
            serde_json::json!({ "source": source, "name": name, "description": description }),
        )
        .await?;
    println!("{}", v["image_id"].as_str().unwrap_or_default());
    Ok(())
}

/// `shoal image usage`: like `docker system df -v`, per layer, image and instance.
pub async fn image_usage(client: &Client) -> anyhow::Result<()> {
    let v = client.get("/_shoal/api/images/usage").await?;
    let rows = |key: &str| v[key].as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let list = |v: &Value| {
        let items: Vec<String> = v.as_array().into_iter().flatten().map(s).collect();
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(",")
        }
    };
    let mut total = 0;
    println!("{:<24} {:>10}  {:>9}  IMAGES", "LAYER", "SIZE", "INSTANCES");
    for layer in rows("layers") {
        total += layer["bytes"].as_u64().unwrap_or(0);
        println!(
            "{:<24} {:>10}  {:>9}  {}",
            s(&layer["id"]),
            human_bytes(layer["bytes"].as_u64().unwrap_or(0)),
            layer["instances"].as_u64().unwrap_or(0),
            list(&layer["images"])
        );
    }
    println!("\n{:<24} {:>10}  LAYERS (topmost first)", "IMAGE", "UNIQUE");
    for image in rows("images") {
        println!(
            "{:<24} {:>10}  {}",
            s(&image["image_id"]),
            human_bytes(image["unique_bytes"].as_u64().unwrap_or(0)),
            list(&image["layers"])
        );
    }
    println!("\n{:<24} {:>10}  OVER", "INSTANCE", "CHANGES");
    for instance in rows("instances") {
        total += instance["bytes"].as_u64().unwrap_or(0);
        println!(
            "{:<24} {:>10}  {}",
            s(&instance["instance_id"]),
            human_bytes(instance["bytes"].as_u64().unwrap_or(0)),
            list(&instance["layers"])
        );
    }
    println!("\nTotal on disk: {}", human_bytes(total));
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Prints the lab's next steps after `shoal up` prepared it.
pub fn print_lab(endpoint: &str, report: &Value) {
    let img = &report["images"];
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let dns = s(&report["load_balancer"]["dns_name"]);
    let port = endpoint.rsplit(':').next().unwrap_or("4566");
    println!("\nThe lab is ready (parts 1 and 2 of docs/lab.md):");
    println!(
        "  key pair           exercise-key{}",
        report["key_file"]
            .as_str()
            .map(|f| format!(" (private key saved to {f})"))
            .unwrap_or_default()
    );
    println!(
        "  security groups    web {}  ssh {}",
        s(&report["security_groups"]["web"]),
        s(&report["security_groups"]["ssh"])
    );
    println!(
        "  images             exercise-image {}  exercise-image-beta {}",
        s(&img["exercise-image"]),
        s(&img["exercise-image-beta"])
    );
    println!("  launch template    {}", s(&report["launch_template"]));
    println!(
        "  load balancer      {} -> {} (HTTP :3000, GET /health every 5 s)",
        s(&report["load_balancer"]["name"]),
        s(&report["target_group"]).rsplit(':').next().unwrap_or("-")
    );
    println!(
        "  Auto Scaling group {} (min 1, max 2, target tracking: average CPU 80 %)",
        s(&report["group"])
    );
    println!(
        "  CloudWatch period  {} s (AWS: 60 s; `shoal server` uses AWS's)",
        report["metric_period_seconds"]
    );
    println!("\nTry:");
    println!("  curl http://{dns}:{port}/                  # through exercise-lb");
    println!("  shoal groups --watch");
    println!("  shoal ssh <INSTANCE> -- stress --cpu 1 --timeout 120   # watch the group scale out, then back in");
    println!("  shoal activities EXERCISE-GROUP");
    println!("  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1");
    println!("  aws autoscaling describe-auto-scaling-groups");
    println!("  open {endpoint}/console");
}

/// `shoal groups`: each group's capacity, its policies with their alarms' states, and
/// its instances with CPU and target health: what a user watching a scale-out wants.
pub async fn groups(client: &Client) -> anyhow::Result<()> {
    let v = client.get("/_shoal/api/groups").await?;
    let groups = v["groups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        println!("no Auto Scaling groups");
    }
    for g in groups {
        let n = |k: &str| g[k].as_u64().unwrap_or(0);
        println!(
            "{}  min {} / desired {} / max {}  zones {}  health {}  {}{}",
            g["name"].as_str().unwrap_or("-"),
            n("min"),
            n("desired"),
            n("max"),
            g["zones"]
                .as_array()
                .map(|z| z.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(","))
                .unwrap_or_default(),
            g["health_check_type"].as_str().unwrap_or("-"),
            g["launch"].as_str().unwrap_or("-"),
            g["status"].as_str().map(|s| format!("  ({s})")).unwrap_or_default(),
        );
        for p in g["policies"].as_array().cloned().unwrap_or_default() {
            // `TargetTracking-<group>-AlarmHigh-<uuid>` reads best as `AlarmHigh`.
            let alarms: Vec<String> = p["alarms"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let name = a["name"].as_str().unwrap_or("-");
                    let short = ["AlarmHigh", "AlarmLow"]
                        .into_iter()
                        .find(|k| name.contains(&format!("-{k}-")))
                        .unwrap_or(name);
                    format!("{short} {}", a["state"].as_str().unwrap_or("-"))
                })
                .collect();
            println!(
                "  policy {} ({}){}",
                p["name"].as_str().unwrap_or("-"),
                p["type"].as_str().unwrap_or("-"),
                if alarms.is_empty() { String::new() } else { format!("  {}", alarms.join(", ")) }
            );
        }
        for i in g["instances"].as_array().cloned().unwrap_or_default() {
            let cpu = i["cpu_utilization"]
                .as_f64()
                .map(|c| format!("{c:.0}%"))
                .unwrap_or_else(|| "-".into());
            let targets: Vec<String> = i["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    format!(
                        "{} {}",
                        t["target_group"].as_str().unwrap_or("-"),
                        t["state"].as_str().unwrap_or("-")
                    )
                })
                .collect();
            println!(
                "  {:<21} {:<11} {:<20} {:<10} cpu {:>4}{}",
                i["id"].as_str().unwrap_or("-"),
                i["zone"].as_str().unwrap_or("-"),
                i["lifecycle"].as_str().unwrap_or("-"),
                i["health"].as_str().unwrap_or("-"),
                cpu,
                if targets.is_empty() {
                    String::new()
                } else {
                    format!("  {}", targets.join(", "))
                }
            );
        }
    }
    Ok(())
}

/// `shoal activities GROUP`: the scaling history, newest first, with causes.
pub async fn activities(client: &Client, group: &str) -> anyhow::Result<()> {
    let v = client.get(&format!("/_shoal/api/groups/{group}/activities")).await?;
    for a in v["activities"].as_array().cloned().unwrap_or_default() {
        println!(
            "{}  {:<11} {}",
            a["start"].as_str().unwrap_or("-"),
            a["status"].as_str().unwrap_or("-"),
            a["description"].as_str().unwrap_or("-")
        );
        println!("    {}", a["cause"].as_str().unwrap_or(""));
    }
    Ok(())
}

/// Runs a view every `every`, clearing the terminal between runs, until interrupted.
pub async fn watch<F, Fut>(every: std::time::Duration, mut view: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    loop {
        print!("\x1b[2J\x1b[H");
        println!(
            "{}  (every {}s; Ctrl-C to stop)\n",
            chrono::Utc::now().format("%H:%M:%S"),
            every.as_secs_f64()
        );
        view().await?;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
