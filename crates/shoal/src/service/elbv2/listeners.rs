//! Listeners and their rules: create, describe, modify, delete, priorities, attributes.

use super::*;
use shoal_model::ErrorCode;

impl Elb<'_> {
    /// Actions must name existing target groups in the load balancer's VPC, each used
    /// by no other load balancer (ALB quota: one load balancer per target group).
    fn check_actions(&self, state: &State, lb: &LoadBalancer, actions: &[Action]) -> AwsResult<()> {
        validate_actions(actions)?;
        for arn in forward_groups(actions) {
            let tg = state.target_groups.get(arn).ok_or_else(tg_not_found)?;
            if tg.vpc_id != lb.vpc_id {
                return Err(AwsError::new(
                    ErrorCode::InvalidConfigurationRequest,
                    format!("Target group '{arn}' is not in the VPC of load balancer '{}'", lb.arn),
                ));
            }
            if target_group_load_balancers(state, arn).iter().any(|o| o != &lb.arn) {
                return Err(AwsError::new(
                    ErrorCode::TargetGroupAssociationLimit,
                    format!("The following target groups cannot be associated with more than one load balancer: {arn}"),
                ));
            }
        }
        Ok(())
    }

    pub fn create_listener(
        &self,
        lb_arn: &str,
        protocol: Option<&str>,
        port: Option<u32>,
        default_actions: Vec<Action>,
        tags: &[Tag],
    ) -> AwsResult<Listener> {
        self.svc.mutate(|state, changes| {
            let lb = state.load_balancers.get(lb_arn).ok_or_else(lb_not_found)?;
            let protocol = protocol.unwrap_or("HTTP");
            let port = port.ok_or_else(|| {
                AwsError::validation(
                    "A listener port must be specified for an Application Load Balancer",
                )
            })?;
            let siblings: Vec<&Listener> =
                state.listeners.values().filter(|l| l.load_balancer_arn == lb_arn).collect();
            // AWS: CreateListener is idempotent for identical settings.
            if let Some(same) = siblings.iter().find(|l| {
                u32::from(l.port) == port
                    && l.protocol == protocol
                    && l.default_actions == default_actions
            }) {
                return Ok((*same).clone());
            }
            check_new_listener(siblings.iter().map(|l| l.port), protocol, port, &default_actions)?;
            quotas::check_listeners(
                siblings.len(),
                self.svc.config.quotas.listeners_per_load_balancer,
            )?;
            self.check_actions(state, lb, &default_actions)?;
            let mut t = ResourceTags { arn: String::new(), tags: Vec::new() };
            t.add(tags)?;
            let arn = listener_arn(lb_arn, &ids::hex16());
            let listener = Listener {
                arn: arn.clone(),
                load_balancer_arn: lb_arn.to_string(),
                port: port as u16,
                protocol: protocol.to_string(),
                default_actions: default_actions.clone(),
                attributes: Default::default(),
            };
            changes.put(Rule {
                arn: rule_arn(&arn, &ids::hex16()),
                priority: RulePriority::Default,
                conditions: Vec::new(),
                actions: default_actions,
            });
            if !t.tags.is_empty() {
                t.arn = arn;
                changes.put(t);
            }
            changes.put(listener.clone());
            Ok(listener)
        })
    }

    pub fn describe_listeners(
        &self,
        lb_arn: Option<&str>,
        arns: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<Listener>> {
        let items = self.svc.read(|state| {
            if lb_arn.is_none() && arns.is_empty() {
                return Err(AwsError::validation(
                    "You must specify either listener ARNs or a load balancer ARN",
                ));
            }
            if let Some(lb) = lb_arn {
                if !state.load_balancers.contains_key(lb) {
                    return Err(lb_not_found());
                }
            }
            if arns.iter().any(|a| !state.listeners.contains_key(a)) {
                return Err(listener_not_found());
            }
            let mut items: Vec<Listener> = state
                .listeners
                .values()
                .filter(|l| lb_arn.is_none_or(|lb| l.load_balancer_arn == lb))
                .filter(|l| arns.is_empty() || arns.contains(&l.arn))
                .cloned()
                .collect();
            items.sort_by(|a, b| {
                (&a.load_balancer_arn, a.port).cmp(&(&b.load_balancer_arn, b.port))
            });
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    pub fn modify_listener(
        &self,
        arn: &str,
        port: Option<u32>,
        protocol: Option<&str>,
        default_actions: Option<Vec<Action>>,
    ) -> AwsResult<Listener> {
        self.svc.mutate(|state, changes| {
            let mut l = state.listeners.get(arn).cloned().ok_or_else(listener_not_found)?;
            let lb = state.load_balancers.get(&l.load_balancer_arn).ok_or_else(lb_not_found)?;
            let new_port = port.unwrap_or(u32::from(l.port));
            let new_protocol = protocol.unwrap_or(&l.protocol).to_string();
            let actions = default_actions.unwrap_or_else(|| l.default_actions.clone());
            let others = state
                .listeners
                .values()
                .filter(|o| o.load_balancer_arn == l.load_balancer_arn && o.arn != l.arn)
                .map(|o| o.port);
            check_new_listener(others, &new_protocol, new_port, &actions)?;
            self.check_actions(state, lb, &actions)?;
            l.port = new_port as u16;
            l.protocol = new_protocol;
            l.default_actions = actions.clone();
            if let Some(default) =
                listener_rules(state, arn).into_iter().find(|r| r.priority == RulePriority::Default)
            {
                let mut d = default.clone();
                d.actions = actions;
                changes.put(d);
            }
            changes.put(l.clone());
            Ok(l)
        })
    }

    pub fn delete_listener(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            if !state.listeners.contains_key(arn) {
                return Err(listener_not_found());
            }
            delete_listener_records(state, changes, arn);
            Ok(())
        })
    }

    pub fn create_rule(
        &self,
        listener_arn: &str,
        priority: Option<u32>,
        conditions: Vec<Condition>,
        actions: Vec<Action>,
        tags: &[Tag],
    ) -> AwsResult<Rule> {
        self.svc.mutate(|state, changes| {
            let l = state.listeners.get(listener_arn).ok_or_else(listener_not_found)?;
            let lb = state.load_balancers.get(&l.load_balancer_arn).ok_or_else(lb_not_found)?;
            let priority = priority.ok_or_else(|| {
                AwsError::validation(
                    "1 validation error detected: Value null at 'priority' failed to satisfy constraint: Member must not be null",
                )
            })?;
            let rules = listener_rules(state, listener_arn);
            let used = rules.iter().filter_map(|r| match r.priority {
                RulePriority::Number(n) => Some(n),
                RulePriority::Default => None,
            });
            check_new_rule(used, priority, &conditions, &actions)?;
            if rules.len() > MAX_RULES_PER_LISTENER {
                return Err(AwsError::new(
                    ErrorCode::TooManyRules,
                    format!("A listener can have at most {MAX_RULES_PER_LISTENER} rules"),
                ));
            }
            // AWS counts rules per load balancer, default rules not included.
            let lb_rules = state
                .listeners
                .values()
                .filter(|other| other.load_balancer_arn == l.load_balancer_arn)
                .flat_map(|other| listener_rules(state, &other.arn))
                .filter(|r| r.priority != RulePriority::Default)
                .count();
            quotas::check_rules(lb_rules, self.svc.config.quotas.rules_per_load_balancer)?;
            self.check_actions(state, lb, &actions)?;
            let mut t = ResourceTags { arn: String::new(), tags: Vec::new() };
            t.add(tags)?;
            let rule = Rule {
                arn: rule_arn(listener_arn, &ids::hex16()),
                priority: RulePriority::Number(priority),
                conditions,
                actions,
            };
            if !t.tags.is_empty() {
                t.arn = rule.arn.clone();
                changes.put(t);
            }
            changes.put(rule.clone());
            Ok(rule)
        })
    }

    pub fn describe_rules(
        &self,
        listener_arn: Option<&str>,
        arns: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<Rule>> {
        let items = self.svc.read(|state| {
            if listener_arn.is_none() && arns.is_empty() {
                return Err(AwsError::validation("You must specify either listener or rule ARNs"));
            }
            if listener_arn.is_some_and(|l| !state.listeners.contains_key(l)) {
                return Err(listener_not_found());
            }
            if arns.iter().any(|a| !state.rules.contains_key(a)) {
                return Err(rule_not_found());
            }
            let mut items: Vec<Rule> = state
                .rules
                .values()
                .filter(|r| listener_arn.is_none_or(|l| listener_of_rule(&r.arn) == l))
                .filter(|r| arns.is_empty() || arns.contains(&r.arn))
                .cloned()
                .collect();
            items.sort_by(|a, b| {
                (listener_of_rule(&a.arn), a.priority).cmp(&(listener_of_rule(&b.arn), b.priority))
            });
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    pub fn modify_rule(
        &self,
        arn: &str,
        conditions: Option<Vec<Condition>>,
        actions: Option<Vec<Action>>,
    ) -> AwsResult<Rule> {
        self.svc.mutate(|state, changes| {
            let mut rule = state.rules.get(arn).cloned().ok_or_else(rule_not_found)?;
            let listener = state
                .listeners
                .get(&listener_of_rule(arn))
                .cloned()
                .ok_or_else(listener_not_found)?;
            let lb =
                state.load_balancers.get(&listener.load_balancer_arn).ok_or_else(lb_not_found)?;
            if let Some(c) = conditions {
                if rule.priority == RulePriority::Default {
                    return Err(AwsError::new(
                        ErrorCode::OperationNotPermitted,
                        "The conditions of a default rule cannot be modified",
                    ));
                }
                validate_conditions(&c)?;
                rule.conditions = c;
            }
            if let Some(a) = actions {
                self.check_actions(state, lb, &a)?;
                rule.actions = a;
            }
            if rule.priority == RulePriority::Default {
                let mut l = listener;
                l.default_actions = rule.actions.clone();
                changes.put(l);
            }
            changes.put(rule.clone());
            Ok(rule)
        })
    }

    pub fn delete_rule(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            let rule = state.rules.get(arn).ok_or_else(rule_not_found)?;
            if rule.priority == RulePriority::Default {
                return Err(AwsError::new(
                    ErrorCode::OperationNotPermitted,
                    "A default rule cannot be deleted",
                ));
            }
            changes.delete::<Rule>(arn);
            if state.elb_tags.contains_key(arn) {
                changes.delete::<ResourceTags>(arn);
            }
            Ok(())
        })
    }

    /// SetRulePriorities: every rule exists and is not a default rule; afterwards no
    /// two rules of a listener share a priority. All or nothing.
    pub fn set_rule_priorities(&self, pairs: &[(String, u32)]) -> AwsResult<Vec<Rule>> {
        self.svc.mutate(|state, changes| {
            let mut updated: Vec<Rule> = Vec::new();
            for (arn, priority) in pairs {
                let mut rule = state.rules.get(arn).cloned().ok_or_else(rule_not_found)?;
                if rule.priority == RulePriority::Default {
                    return Err(AwsError::new(
                        ErrorCode::OperationNotPermitted,
                        "The priority of a default rule cannot be modified",
                    ));
                }
                check_rule_priority([], *priority)?;
                if updated.iter().any(|u| u.arn == *arn) {
                    return Err(AwsError::validation(format!(
                        "Rule '{arn}' is specified more than once"
                    )));
                }
                rule.priority = RulePriority::Number(*priority);
                updated.push(rule);
            }
            for u in &updated {
                let listener = listener_of_rule(&u.arn);
                let clash = listener_rules(state, &listener).into_iter().any(|r| {
                    let now =
                        updated.iter().find(|x| x.arn == r.arn).map_or(r.priority, |x| x.priority);
                    r.arn != u.arn && now == u.priority
                }) || updated.iter().any(|o| {
                    o.arn != u.arn
                        && listener_of_rule(&o.arn) == listener
                        && o.priority == u.priority
                });
                if clash {
                    return Err(AwsError::new(
                        ErrorCode::PriorityInUse,
                        format!("Priority '{}' is currently in use", u.priority.to_wire()),
                    ));
                }
            }
            for u in &updated {
                changes.put(u.clone());
            }
            Ok(updated)
        })
    }
}

pub(super) fn delete_listener_records(state: &State, changes: &mut Changes, listener_arn: &str) {
    for r in listener_rules(state, listener_arn) {
        changes.delete::<Rule>(&r.arn);
        if state.elb_tags.contains_key(&r.arn) {
            changes.delete::<ResourceTags>(&r.arn);
        }
    }
    if state.elb_tags.contains_key(listener_arn) {
        changes.delete::<ResourceTags>(listener_arn);
    }
    changes.delete::<Listener>(listener_arn);
}
