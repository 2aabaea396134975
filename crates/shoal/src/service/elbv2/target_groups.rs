//! Target groups: create, describe, modify, delete, attributes.

use super::*;
use shoal_model::ErrorCode;

impl Elb<'_> {
    pub fn create_target_group(&self, req: CreateTargetGroup) -> AwsResult<TargetGroup> {
        let target_type =
            req.target_type.as_deref().map(TargetType::parse).transpose()?.unwrap_or_default();
        let protocol = req
            .protocol
            .clone()
            .ok_or_else(|| AwsError::validation("A protocol must be specified"))?;
        validate_protocol(&protocol)?;
        let port = req.port.ok_or_else(|| AwsError::validation("A port must be specified"))?;
        validate_port(port)?;
        match req.protocol_version.as_deref() {
            None | Some("HTTP1") => {}
            Some(v) => {
                return Err(AwsError::validation(format!(
                    "Protocol version '{v}' is not supported by Shoal; use 'HTTP1'"
                )))
            }
        }
        if !matches!(req.ip_address_type.as_deref(), None | Some("ipv4")) {
            return Err(AwsError::validation("Shoal target groups use IP address type 'ipv4'"));
        }
        let mut health_check = HealthCheck::default();
        health_check.apply(&req.health_check)?;
        let vpc_id =
            req.vpc_id.clone().ok_or_else(|| AwsError::validation("A VPC ID must be specified"))?;
        self.svc.mutate(|state, changes| {
            if !state.vpcs.contains_key(&vpc_id) {
                return Err(AwsError::validation(format!("The VPC ID '{vpc_id}' is not found")));
            }
            if let Some(existing) = state.target_groups.values().find(|t| t.name == req.name) {
                if existing.protocol == protocol
                    && u32::from(existing.port) == port
                    && existing.vpc_id == vpc_id
                    && existing.target_type == target_type
                    && existing.health_check == health_check
                {
                    return Ok(existing.clone());
                }
            }
            check_new_target_group(
                state.target_groups.values().map(|t| t.name.as_str()),
                &req.name,
            )?;
            quotas::check_target_groups(
                state.target_groups.len(),
                self.svc.config.quotas.target_groups,
            )?;
            let mut t = ResourceTags { arn: String::new(), tags: Vec::new() };
            t.add(&req.tags)?;
            let tg = TargetGroup {
                arn: target_group_arn(self.svc.region(), &req.name, &ids::hex16()),
                name: req.name.clone(),
                protocol: protocol.clone(),
                port: port as u16,
                vpc_id: vpc_id.clone(),
                target_type,
                health_check: health_check.clone(),
                attributes: TargetGroupAttributes::default(),
                load_balancer_arns: Vec::new(),
            };
            if !t.tags.is_empty() {
                t.arn = tg.arn.clone();
                changes.put(t);
            }
            changes.put(tg.clone());
            Ok(tg)
        })
    }

    pub fn describe_target_groups(
        &self,
        lb_arn: Option<&str>,
        arns: &[String],
        names: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<TargetGroup>> {
        let given = usize::from(lb_arn.is_some())
            + usize::from(!arns.is_empty())
            + usize::from(!names.is_empty());
        if given > 1 {
            return Err(AwsError::validation(
                "Only one of load balancer ARN, target group ARNs or names can be specified",
            ));
        }
        let items = self.svc.read(|state| {
            if lb_arn.is_some_and(|l| !state.load_balancers.contains_key(l)) {
                return Err(lb_not_found());
            }
            if arns.iter().any(|a| !state.target_groups.contains_key(a)) {
                return Err(tg_not_found());
            }
            if let Some(n) =
                names.iter().find(|n| !state.target_groups.values().any(|t| &t.name == *n))
            {
                return Err(AwsError::new(
                    ErrorCode::TargetGroupNotFound,
                    format!("Target groups '[{n}]' not found"),
                ));
            }
            let mut items: Vec<TargetGroup> = state
                .target_groups
                .values()
                .filter(|t| arns.is_empty() || arns.contains(&t.arn))
                .filter(|t| names.is_empty() || names.contains(&t.name))
                .map(|t| {
                    let mut t = t.clone();
                    t.load_balancer_arns = target_group_load_balancers(state, &t.arn);
                    t
                })
                .filter(|t| lb_arn.is_none_or(|l| t.load_balancer_arns.iter().any(|a| a == l)))
                .collect();
            items.sort_by(|a, b| (&a.name, &a.arn).cmp(&(&b.name, &b.arn)));
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    pub fn modify_target_group(
        &self,
        arn: &str,
        update: &HealthCheckUpdate,
    ) -> AwsResult<TargetGroup> {
        self.svc.mutate(|state, changes| {
            let mut tg = state.target_groups.get(arn).cloned().ok_or_else(tg_not_found)?;
            tg.health_check.apply(update)?;
            changes.put(tg.clone());
            tg.load_balancer_arns = target_group_load_balancers(state, arn);
            Ok(tg)
        })
    }

    pub fn delete_target_group(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            // Like DeleteLoadBalancer, deleting what is already gone succeeds.
            if !state.target_groups.contains_key(arn) {
                return Ok(());
            }
            if !target_group_load_balancers(state, arn).is_empty() {
                return Err(AwsError::new(
                    ErrorCode::ResourceInUse,
                    format!("Target group '{arn}' is currently in use by a listener or a rule"),
                ));
            }
            for r in state.registered_targets.values().filter(|r| r.target_group_arn == arn) {
                changes.delete::<RegisteredTarget>(&r.key);
            }
            if state.elb_tags.contains_key(arn) {
                changes.delete::<ResourceTags>(arn);
            }
            changes.delete::<TargetGroup>(arn);
            Ok(())
        })
    }

    pub fn target_group_attributes(&self, arn: &str) -> AwsResult<Vec<(String, String)>> {
        self.svc
            .read(|s| s.target_groups.get(arn).map(|t| t.attributes.to_pairs()))
            .ok_or_else(tg_not_found)
    }

    pub fn modify_target_group_attributes(
        &self,
        arn: &str,
        pairs: &[(String, String)],
    ) -> AwsResult<Vec<(String, String)>> {
        self.svc.mutate(|state, changes| {
            let mut tg = state.target_groups.get(arn).cloned().ok_or_else(tg_not_found)?;
            tg.attributes.apply(pairs)?;
            let out = tg.attributes.to_pairs();
            changes.put(tg);
            Ok(out)
        })
    }
}
