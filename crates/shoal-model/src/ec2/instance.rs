//! Instances and the EC2 instance state machine.

use crate::ErrorCode;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// EC2's instance states with their documented codes (`InstanceState.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceState {
    /// The numeric code AWS reports: 0 pending, 16 running, 32 shutting-down,
    /// 48 terminated, 64 stopping, 80 stopped.
    pub fn code(self) -> u16 {
        match self {
            InstanceState::Pending => 0,
            InstanceState::Running => 16,
            InstanceState::ShuttingDown => 32,
            InstanceState::Terminated => 48,
            InstanceState::Stopping => 64,
            InstanceState::Stopped => 80,
        }
    }

    /// The state's name as AWS spells it (`shutting-down`).
    pub fn name(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }

    /// Parses a state name as used in `instance-state-name` filters.
    pub fn parse(name: &str) -> Option<Self> {
        [
            InstanceState::Pending,
            InstanceState::Running,
            InstanceState::ShuttingDown,
            InstanceState::Terminated,
            InstanceState::Stopping,
            InstanceState::Stopped,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// An instance whose processes should exist (pending boots them, running keeps them).
    pub fn wants_processes(self) -> bool {
        matches!(self, InstanceState::Pending | InstanceState::Running)
    }
}

/// Why an instance is in its state (`StateReason`), e.g.
/// `Client.UserInitiatedShutdown` / "Client.UserInitiatedShutdown: User initiated shutdown".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReason {
    pub code: String,
    pub message: String,
}

impl StateReason {
    /// StopInstances / TerminateInstances by a user.
    pub fn user_initiated_shutdown() -> Self {
        Self::new(
            "Client.UserInitiatedShutdown",
            "Client.UserInitiatedShutdown: User initiated shutdown",
        )
    }

    /// The instance's processes were found dead (Shoal's daemon restarted and could
    /// not re-adopt them): AWS's wording for a host failure.
    pub fn internal_error() -> Self {
        Self::new("Server.InternalError", "Server.InternalError: Internal error on launch")
    }

    /// The instance shut itself down (its init exited on its own).
    pub fn instance_initiated_shutdown() -> Self {
        Self::new(
            "Client.InstanceInitiatedShutdown",
            "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
        )
    }

    fn new(code: &str, message: &str) -> Self {
        StateReason { code: code.into(), message: message.into() }
    }
}

/// The process that is an instance's "init" (the root of its process tree), recorded so
/// a restarted daemon can re-adopt it. `start_ticks` (field 22 of `/proc/PID/stat`)
/// guards against PID reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: u32,
    pub start_ticks: u64,
}

/// An EC2 instance. Its intent is `state`; the runtime makes the world match it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub reservation_id: String,
    pub image_id: String,
    pub instance_type: String,
    pub key_name: Option<String>,
    pub vpc_id: String,
    pub subnet_id: String,
    pub availability_zone: String,
    /// The address inside its subnet, as AWS assigns it (`PrivateIpAddress`).
    pub private_ip: Ipv4Addr,
    /// The real loopback address its processes bind and the load balancer connects to.
    pub loopback_ip: Ipv4Addr,
    pub security_group_ids: Vec<String>,
    pub state: InstanceState,
    /// `StateTransitionReason`, e.g. "User initiated (2026-11-25 10:00:00 GMT)".
    pub state_transition_reason: String,
    pub state_reason: Option<StateReason>,
    pub launch_time: DateTime<Utc>,
    pub ami_launch_index: u32,
    /// User data exactly as given (base64), returned by DescribeInstanceAttribute.
    pub user_data: Option<String>,
    pub launch_template: Option<LaunchTemplateRef>,
    pub client_token: Option<String>,
    pub tags: Vec<Tag>,
    /// How many times the instance has booted; user data runs on the first boot only.
    pub boot_count: u32,
    /// The running init process, when there is one.
    pub process: Option<ProcessRecord>,
    /// When the instance reached `terminated` (AWS keeps it visible for about an hour).
    pub terminated_at: Option<DateTime<Utc>>,
    /// Detailed (1-minute) CloudWatch monitoring, EC2's `Monitoring.State` `enabled`;
    /// otherwise basic monitoring (`disabled`). Set at launch by RunInstances'
    /// `Monitoring.Enabled`, a launch template's `Monitoring.Enabled` or an Auto Scaling
    /// launch configuration's `InstanceMonitoring.Enabled`, and changed by
    /// MonitorInstances/UnmonitorInstances. Records written before it existed read as
    /// basic monitoring, EC2's default.
    #[serde(default)]
    pub monitoring: bool,
    /// RunInstances' protections and shutdown behaviour (DescribeInstanceAttribute).
    /// Records written before them read as EC2's defaults.
    #[serde(default)]
    pub switches: InstanceSwitches,
    /// The instance's IMDS settings (`MetadataOptions`): from its launch, changed by
    /// ModifyInstanceMetadataOptions, as DescribeInstances shows them and the metadata
    /// service (VPC networks only) enforces them. Records from before them read as the
    /// defaults.
    #[serde(default)]
    pub metadata_options: InstanceMetadataOptions,
    /// The instance profile it was launched with (RunInstances' or its template's
    /// `IamInstanceProfile`), as DescribeInstances shows it. Shoal has no IAM: described,
    /// not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<InstanceProfileRef>,
    /// RebootInstances asked for a reboot the instance controller has not done yet
    /// (kept in the record, so a daemon restart still does it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reboot_requested: bool,
    /// It has a public IPv4 address (`PublicIpAddress`, its loopback address here), as
    /// AWS decides at launch (`network::public_ip_on_launch`). Without one it is
    /// reached at its private address only. Records from before the rule had one.
    #[serde(default = "has_public_ip_by_default", skip_serializing_if = "is_true")]
    pub has_public_ip: bool,
}

fn has_public_ip_by_default() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// What RunInstances sets about who may stop or terminate an instance, and what an
/// instance-initiated shutdown does.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InstanceSwitches {
    /// `InstanceInitiatedShutdownBehavior=terminate` (EC2's default: `stop`).
    pub shutdown_terminates: bool,
    /// `DisableApiTermination`: TerminateInstances is refused.
    pub disable_api_termination: bool,
    /// `DisableApiStop`: StopInstances is refused.
    pub disable_api_stop: bool,
    /// `CreditSpecification.CpuCredits` of a burstable type, as launched (`None`: the
    /// family's default). Shoal does not meter credits: instances never throttle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_credits: Option<String>,
}

impl InstanceSwitches {
    /// `stop` or `terminate`, as DescribeInstanceAttribute answers.
    pub fn shutdown_behavior(&self) -> &'static str {
        if self.shutdown_terminates {
            "terminate"
        } else {
            "stop"
        }
    }

    /// Parses `InstanceInitiatedShutdownBehavior`.
    pub fn parse_shutdown_behavior(value: &str) -> AwsResult<bool> {
        match value {
            "stop" => Ok(false),
            "terminate" => Ok(true),
            other => Err(AwsError::invalid_parameter_value(format!(
                "Value ({other}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are 'stop' and 'terminate'."
            ))),
        }
    }

    /// `standard` or `unlimited`, as given or EC2's default for the type's family
    /// (T2 `standard`, later T families `unlimited`); `None` for non-burstable types.
    pub fn cpu_credits(&self, instance_type: &str) -> Option<String> {
        let family = instance_type.split('.').next()?;
        let default = match family {
            "t2" => "standard",
            f if f.starts_with('t') && f.len() <= 4 => "unlimited",
            _ => return None,
        };
        Some(self.cpu_credits.clone().unwrap_or_else(|| default.to_string()))
    }

    /// Checks `CreditSpecification.CpuCredits`.
    pub fn parse_cpu_credits(value: &str) -> AwsResult<String> {
        match value {
            "standard" | "unlimited" => Ok(value.to_string()),
            other => Err(AwsError::invalid_parameter_value(format!(
                "Value ({other}) for parameter cpuCredits is invalid. Valid values are 'standard' and 'unlimited'."
            ))),
        }
    }

    /// Refuses a user's StopInstances/TerminateInstances on a protected instance, as EC2
    /// does (Auto Scaling's own terminations are not subject to it).
    pub fn check_user_transition(&self, id: &str, action: Transition) -> AwsResult<()> {
        let (refused, verb, attribute) = match action {
            Transition::Terminate => {
                (self.disable_api_termination, "terminated", "disableApiTermination")
            }
            Transition::Stop => (self.disable_api_stop, "stopped", "disableApiStop"),
            _ => (false, "", ""),
        };
        if refused {
            return Err(AwsError::new(
                ErrorCode::OperationNotPermitted,
                format!("The instance '{id}' may not be {verb}. Modify its '{attribute}' instance attribute and try again."),
            ));
        }
        Ok(())
    }
}

/// EC2's `IamInstanceProfile` of an instance: the profile's ARN and unique id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProfileRef {
    pub arn: String,
    pub id: String,
}

/// An instance's settled `MetadataOptions` as DescribeInstances shows them. The
/// defaults are EC2's for an image whose `ImdsSupport` is `v2.0` (Amazon Linux 2023,
/// Shoal's base image): tokens required, hop limit 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceMetadataOptions {
    pub http_tokens: String,
    pub http_put_response_hop_limit: i64,
    pub http_endpoint: String,
    pub http_protocol_ipv6: String,
    pub instance_metadata_tags: String,
}

impl Default for InstanceMetadataOptions {
    fn default() -> Self {
        InstanceMetadataOptions {
            http_tokens: "required".into(),
            http_put_response_hop_limit: 2,
            http_endpoint: "enabled".into(),
            http_protocol_ipv6: "disabled".into(),
            instance_metadata_tags: "disabled".into(),
        }
    }
}

impl InstanceMetadataOptions {
    /// These options with each one `change` gives replaced (a launch's
    /// `MetadataOptions`, or ModifyInstanceMetadataOptions).
    pub fn with(&self, change: &crate::ec2::launch_template::MetadataOptionsRequest) -> Self {
        let pick = |v: &Option<String>, old: &String| v.clone().unwrap_or_else(|| old.clone());
        InstanceMetadataOptions {
            http_tokens: pick(&change.http_tokens, &self.http_tokens),
            http_put_response_hop_limit: change
                .http_put_response_hop_limit
                .unwrap_or(self.http_put_response_hop_limit),
            http_endpoint: pick(&change.http_endpoint, &self.http_endpoint),
            http_protocol_ipv6: pick(&change.http_protocol_ipv6, &self.http_protocol_ipv6),
            instance_metadata_tags: pick(
                &change.instance_metadata_tags,
                &self.instance_metadata_tags,
            ),
        }
    }
}

impl Instance {
    /// `Monitoring.State` as DescribeInstances shows it: `enabled` or `disabled`.
    pub fn monitoring_state(&self) -> &'static str {
        monitoring_state(self.monitoring)
    }
}

/// EC2's settled `Monitoring.State` for detailed monitoring on (`enabled`) or off
/// (`disabled`).
pub fn monitoring_state(detailed: bool) -> &'static str {
    if detailed {
        "enabled"
    } else {
        "disabled"
    }
}

/// The `Monitoring.State` MonitorInstances (`pending`) and UnmonitorInstances
/// (`disabling`) answer with, as EC2 does while the change takes effect; a later
/// DescribeInstances shows the settled state (`enabled`/`disabled`). Shoal's change is
/// immediate, so an instance already in the asked state answers with that state.
pub fn monitoring_transition_state(was: bool, detailed: bool) -> &'static str {
    match (was, detailed) {
        (false, true) => "pending",
        (true, false) => "disabling",
        (_, d) => monitoring_state(d),
    }
}

/// The launch template an instance came from (`aws:ec2launchtemplate:*` tags in AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    pub id: String,
    pub version: u64,
}

/// The state changes StartInstances/StopInstances/TerminateInstances/RebootInstances
/// ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Start,
    Stop,
    Terminate,
    Reboot,
}

/// The result of asking for a transition: the state to record now (AWS answers with
/// previous and current state) — `None` when the request is a no-op.
pub fn transition(
    id: &str,
    from: InstanceState,
    action: Transition,
) -> AwsResult<Option<InstanceState>> {
    use InstanceState::*;
    let incorrect = |verb: &str| {
        AwsError::new(
            ErrorCode::IncorrectInstanceState,
            format!("The instance '{id}' is not in a state from which it can be {verb}."),
        )
    };
    Ok(match (action, from) {
        (Transition::Terminate, Terminated | ShuttingDown) => None,
        (Transition::Terminate, _) => Some(ShuttingDown),
        (Transition::Stop, Stopped | Stopping) => None,
        (Transition::Stop, Pending | Running) => Some(Stopping),
        (Transition::Stop, _) => return Err(incorrect("stopped")),
        (Transition::Start, Pending | Running) => None,
        (Transition::Start, Stopped) => Some(Pending),
        (Transition::Start, _) => return Err(incorrect("started")),
        (Transition::Reboot, Running | Pending) => None,
        (Transition::Reboot, _) => return Err(incorrect("rebooted")),
    })
}

/// `StateTransitionReason` as AWS writes it for a user action.
pub fn user_initiated_reason(now: DateTime<Utc>) -> String {
    format!("User initiated ({})", now.format("%Y-%m-%d %H:%M:%S GMT"))
}

impl Filterable for Instance {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_string()]);
        match name {
            "instance-id" => one(&self.id),
            "instance-state-name" => one(self.state.name()),
            "instance-state-code" => one(&self.state.code().to_string()),
            "instance-type" => one(&self.instance_type),
            "image-id" => one(&self.image_id),
            "availability-zone" | "placement.availability-zone" => one(&self.availability_zone),
            "subnet-id" => one(&self.subnet_id),
            "vpc-id" => one(&self.vpc_id),
            "key-name" => Some(self.key_name.iter().cloned().collect()),
            "private-ip-address" | "network-interface.addresses.private-ip-address" => {
                one(&self.private_ip.to_string())
            }
            "reservation-id" => one(&self.reservation_id),
            "instance.group-id" | "group-id" => Some(self.security_group_ids.clone()),
            "launch-time" => one(&crate::ec2::format_time(self.launch_time)),
            "ami-launch-index" => one(&self.ami_launch_index.to_string()),
            "client-token" => Some(self.client_token.iter().cloned().collect()),
            "architecture" => one("x86_64"),
            "root-device-type" => one("ebs"),
            "virtualization-type" => one("hvm"),
            "monitoring-state" => one(self.monitoring_state()),
            _ => None,
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::InstanceState::*;
    use super::*;

    #[test]
    fn monitoring_states() {
        assert_eq!(monitoring_state(true), "enabled");
        assert_eq!(monitoring_state(false), "disabled");
        assert_eq!(monitoring_transition_state(false, true), "pending");
        assert_eq!(monitoring_transition_state(true, false), "disabling");
        assert_eq!(monitoring_transition_state(true, true), "enabled");
        assert_eq!(monitoring_transition_state(false, false), "disabled");
    }

    #[test]
    fn state_codes() {
        let codes: Vec<_> = [Pending, Running, ShuttingDown, Terminated, Stopping, Stopped]
            .map(|s| s.code())
            .into();
        assert_eq!(codes, vec![0, 16, 32, 48, 64, 80]);
        assert_eq!(InstanceState::parse("shutting-down"), Some(ShuttingDown));
    }

    #[test]
    fn transitions() {
        let cases = [
            (Running, Transition::Stop, Ok(Some(Stopping))),
            (Stopped, Transition::Stop, Ok(None)),
            (Stopped, Transition::Start, Ok(Some(Pending))),
            (Running, Transition::Start, Ok(None)),
            (Running, Transition::Terminate, Ok(Some(ShuttingDown))),
            (Stopped, Transition::Terminate, Ok(Some(ShuttingDown))),
            (Terminated, Transition::Terminate, Ok(None)),
            (Terminated, Transition::Start, Err("IncorrectInstanceState")),
            (Terminated, Transition::Stop, Err("IncorrectInstanceState")),
            (Stopped, Transition::Reboot, Err("IncorrectInstanceState")),
            (Running, Transition::Reboot, Ok(None)),
        ];
        for (from, action, want) in cases {
            let got = transition("i-1", from, action).map_err(|e| e.code);
            assert_eq!(
                got.as_ref().map_err(|c| c.as_str()),
                want.as_ref().map_err(|c| *c),
                "{from:?} {action:?}"
            );
        }
    }
}
