//! Which model types are stored, under which kind.

use shoal_model::autoscaling::activity::Activity;
use shoal_model::autoscaling::group::AutoScalingGroup;
use shoal_model::autoscaling::launch_config::LaunchConfiguration;
use shoal_model::autoscaling::lifecycle::{InstanceRefresh, LifecycleAction, LifecycleHook};
use shoal_model::autoscaling::policy::ScalingPolicy;
use shoal_model::autoscaling::schedule::ScheduledAction;
use shoal_model::ec2::{
    Image, Instance, KeyPair, LaunchTemplate, LaunchTemplateVersion, SecurityGroup, Snapshot,
    Subnet, Vpc,
};
use shoal_model::elbv2::{
    Listener, LoadBalancer, RegisteredTarget, ResourceTags, Rule, TargetGroup,
};

use shoal_model::cloudwatch::MetricAlarm;
use shoal_model::deploy::Deployment;

use crate::Record;

macro_rules! record {
    ($ty:ty, $kind:literal, |$r:ident| id = $id:expr $(, name = $name:expr)? $(, parent = $parent:expr)?) => {
        impl Record for $ty {
            const KIND: &'static str = $kind;
            fn id(&self) -> &str {
                let $r = self;
                $id
            }
            $(fn name(&self) -> Option<&str> {
                let $r = self;
                Some($name)
            })?
            $(fn parent(&self) -> Option<&str> {
                let $r = self;
                Some($parent)
            })?
        }
    };
}

record!(Vpc, "ec2.vpc", |r| id = &r.id);
record!(Subnet, "ec2.subnet", |r| id = &r.id, parent = &r.vpc_id);
record!(SecurityGroup, "ec2.security-group", |r| id = &r.id, name = &r.name, parent = &r.vpc_id);
record!(KeyPair, "ec2.key-pair", |r| id = &r.id, name = &r.name);
record!(Image, "ec2.image", |r| id = &r.id, name = &r.name);
record!(Snapshot, "ec2.snapshot", |r| id = &r.id, parent = &r.image_id);
record!(Instance, "ec2.instance", |r| id = &r.id);
record!(LaunchTemplate, "ec2.launch-template", |r| id = &r.id, name = &r.name);
record!(
    LaunchTemplateVersion,
    "ec2.launch-template-version",
    |r| id = &r.key,
    parent = &r.template_id
);
record!(AutoScalingGroup, "autoscaling.group", |r| id = &r.name, name = &r.name);
record!(LaunchConfiguration, "autoscaling.launch-configuration", |r| id = &r.name, name = &r.name);
record!(
    Activity,
    "autoscaling.activity",
    |r| id = &r.activity_id,
    parent = &r.auto_scaling_group_name
);
record!(
    ScalingPolicy,
    "autoscaling.policy",
    |r| id = &r.policy_arn,
    name = &r.policy_name,
    parent = &r.auto_scaling_group_name
);
record!(
    ScheduledAction,
    "autoscaling.scheduled-action",
    |r| id = &r.arn,
    name = &r.name,
    parent = &r.auto_scaling_group_name
);
record!(
    LifecycleHook,
    "autoscaling.lifecycle-hook",
    |r| id = &r.key,
    name = &r.name,
    parent = &r.auto_scaling_group_name
);
record!(
    LifecycleAction,
    "autoscaling.lifecycle-action",
    |r| id = r.store_key(),
    parent = &r.auto_scaling_group_name
);
record!(
    InstanceRefresh,
    "autoscaling.instance-refresh",
    |r| id = &r.instance_refresh_id,
    parent = &r.auto_scaling_group_name
);

// ELBv2: keyed by ARN (a registration by target group, id and port).
record!(LoadBalancer, "elbv2.load-balancer", |r| id = &r.arn, name = &r.name);
record!(Listener, "elbv2.listener", |r| id = &r.arn, parent = &r.load_balancer_arn);
record!(Rule, "elbv2.rule", |r| id = &r.arn);
record!(TargetGroup, "elbv2.target-group", |r| id = &r.arn, name = &r.name);
record!(RegisteredTarget, "elbv2.target", |r| id = &r.key, parent = &r.target_group_arn);
record!(ResourceTags, "elbv2.tags", |r| id = &r.arn);
record!(MetricAlarm, "cloudwatch.alarm", |r| id = &r.alarm_name, name = &r.alarm_name);
record!(Deployment, "deploy.deployment", |r| id = &r.id, parent = &r.listener_arn);
