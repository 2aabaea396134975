//! Which model types are stored, under which kind.

use shoal_model::ec2::{
    Image, Instance, KeyPair, LaunchTemplate, LaunchTemplateVersion, SecurityGroup, Subnet, Vpc,
};

use shoal_model::cloudwatch::MetricAlarm;

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
record!(Instance, "ec2.instance", |r| id = &r.id);
record!(LaunchTemplate, "ec2.launch-template", |r| id = &r.id, name = &r.name);
record!(
    LaunchTemplateVersion,
    "ec2.launch-template-version",
    |r| id = &r.key,
    parent = &r.template_id
);
record!(MetricAlarm, "cloudwatch.alarm", |r| id = &r.alarm_name, name = &r.alarm_name);
