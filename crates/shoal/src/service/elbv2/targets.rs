//! Targets: registration, deregistration with draining, and health as the data plane sees it.

use super::*;
use shoal_model::ErrorCode;

impl Elb<'_> {
    /// RegisterTargets: instance targets must be instances of the group's VPC that are
    /// pending or running; ip targets private or loopback IPv4 addresses. Registering a
    /// registered target is a no-op; registering a draining one takes it back.
    pub fn register_targets(&self, tg_arn: &str, targets: &[TargetDescription]) -> AwsResult<()> {
        if targets.is_empty() {
            return Err(AwsError::validation("At least one target must be specified"));
        }
        self.svc.mutate(|state, changes| {
            let tg = state.target_groups.get(tg_arn).ok_or_else(tg_not_found)?;
            let registered: Vec<TargetDescription> = state
                .registered_targets
                .values()
                .filter(|r| r.target_group_arn == tg_arn && r.deregistered_at.is_none())
                .map(|r| r.target.clone())
                .collect();
            check_register_targets(tg.target_type, tg.port, &registered, targets)?;
            for t in targets {
                match tg.target_type {
                    TargetType::Instance => {
                        let inst = state
                            .instances
                            .get(&t.id)
                            .filter(|i| i.vpc_id == tg.vpc_id && i.state != InstanceState::Terminated)
                            .ok_or_else(|| {
                                AwsError::new(
                                    ErrorCode::InvalidTarget,
                                    format!("The following targets are not valid instances: '{}'", t.id),
                                )
                            })?;
                        if !matches!(inst.state, InstanceState::Pending | InstanceState::Running) {
                            return Err(AwsError::new(
                                ErrorCode::InvalidTarget,
                                format!(
                                    "The following targets are not in a running state and cannot be registered: '{}'",
                                    t.id
                                ),
                            ));
                        }
                    }
                    TargetType::Ip => {
                        check_ip_target(&t.id, state.vpcs.get(&tg.vpc_id).map(|v| v.cidr))?
                    }
                }
            }
            let now = self.svc.clock.now();
            let mut seen = BTreeSet::new();
            for t in targets {
                let port = t.effective_port(tg.port);
                let key = registration_key(tg_arn, &t.id, port);
                if !seen.insert(key.clone()) {
                    continue;
                }
                let active = state
                    .registered_targets
                    .get(&key)
                    .is_some_and(|r| r.deregistered_at.is_none());
                if active {
                    continue;
                }
                changes.put(RegisteredTarget {
                    key,
                    target_group_arn: tg_arn.to_string(),
                    target: TargetDescription {
                        id: t.id.clone(),
                        port: Some(port),
                        availability_zone: t.availability_zone.clone(),
                    },
                    registered_at: now,
                    deregistered_at: None,
                });
            }
            Ok(())
        })
    }

    /// DeregisterTargets: each target stops getting new requests at once and drains
    /// for the group's deregistration delay (recorded, so a restart keeps the clock).
    pub fn deregister_targets(&self, tg_arn: &str, targets: &[TargetDescription]) -> AwsResult<()> {
        if targets.is_empty() {
            return Err(AwsError::validation("At least one target must be specified"));
        }
        self.svc.mutate(|state, changes| {
            let tg = state.target_groups.get(tg_arn).ok_or_else(tg_not_found)?;
            let now = self.svc.clock.now();
            let mut marked: Vec<RegisteredTarget> = Vec::new();
            for t in targets {
                let matching: Vec<&RegisteredTarget> = state
                    .registered_targets
                    .values()
                    .filter(|r| r.target_group_arn == tg_arn && r.target.id == t.id)
                    .filter(|r| t.port.is_none_or(|p| r.target.effective_port(tg.port) == p))
                    .collect();
                if matching.is_empty() {
                    return Err(AwsError::new(
                        ErrorCode::InvalidTarget,
                        format!("The following targets are not registered with target group '{tg_arn}': '{}'", t.id),
                    ));
                }
                for r in matching {
                    if r.deregistered_at.is_some() || marked.iter().any(|m| m.key == r.key) {
                        continue;
                    }
                    let mut r = r.clone();
                    r.deregistered_at = Some(now);
                    marked.push(r);
                }
            }
            for r in marked {
                if tg.attributes.deregistration_delay_seconds == 0 {
                    changes.delete::<RegisteredTarget>(&r.key);
                } else {
                    changes.put(r);
                }
            }
            Ok(())
        })
    }

    /// DescribeTargetHealth: every registered (or draining) target, or the ones asked
    /// for; health as the data plane observes it.
    pub fn describe_target_health(
        &self,
        tg_arn: &str,
        targets: &[TargetDescription],
    ) -> AwsResult<Vec<TargetHealthDescription>> {
        let snapshot = self.svc.proxy.target_health();
        self.svc.read(|state| {
            let tg = state.target_groups.get(tg_arn).ok_or_else(tg_not_found)?;
            let regs: Vec<&RegisteredTarget> = state
                .registered_targets
                .values()
                .filter(|r| r.target_group_arn == tg_arn)
                .collect();
            let describe = |r: &RegisteredTarget| -> TargetHealthDescription {
                let port = r.target.effective_port(tg.port);
                let resolved = resolve_target(state, tg, r, self.default_zone());
                let observed = resolved.addr.and_then(|addr| {
                    snapshot
                        .group(tg_arn)?
                        .targets
                        .iter()
                        .find(|t| t.id == r.target.id && t.addr == addr)
                        .map(|t| t.health.clone())
                });
                let health = match observed {
                    Some(h) => h,
                    None if r.deregistered_at.is_some() => TargetHealth {
                        state: TargetHealthState::Draining,
                        reason: Some(TargetHealthReason::DeregistrationInProgress),
                        description: Some("Target deregistration is in progress".into()),
                    },
                    None if resolved.vpc_address_unheld => TargetHealth {
                        state: TargetHealthState::Unhealthy,
                        reason: Some(TargetHealthReason::Timeout),
                        description: Some("Request timed out".into()),
                    },
                    None if resolved.addr.is_none() => TargetHealth {
                        state: TargetHealthState::Unused,
                        reason: Some(TargetHealthReason::InvalidState),
                        description: Some("Target is in the terminated state".into()),
                    },
                    None => TargetHealth {
                        state: TargetHealthState::Initial,
                        reason: Some(TargetHealthReason::RegistrationInProgress),
                        description: Some("Target registration is in progress".into()),
                    },
                };
                TargetHealthDescription {
                    target: TargetDescription {
                        id: r.target.id.clone(),
                        port: Some(port),
                        availability_zone: r.target.availability_zone.clone(),
                    },
                    health_check_port: Some(tg.health_check.port.resolve(port).to_string()),
                    health,
                }
            };
            if targets.is_empty() {
                return Ok(regs.iter().map(|r| describe(r)).collect());
            }
            let mut out = Vec::new();
            for t in targets {
                let found: Vec<&&RegisteredTarget> = regs
                    .iter()
                    .filter(|r| r.target.id == t.id)
                    .filter(|r| t.port.is_none_or(|p| r.target.effective_port(tg.port) == p))
                    .collect();
                if found.is_empty() {
                    out.push(TargetHealthDescription {
                        target: TargetDescription {
                            id: t.id.clone(),
                            port: Some(t.effective_port(tg.port)),
                            availability_zone: t.availability_zone.clone(),
                        },
                        health_check_port: None,
                        health: TargetHealth::not_registered(),
                    });
                }
                out.extend(found.into_iter().map(|r| describe(r)));
            }
            Ok(out)
        })
    }

    /// Requests the data plane has sent to each target of a target group since it was
    /// registered, as (target id, port, count). Shoal's own figure (AWS publishes no
    /// per-target count); the console shows it beside DescribeTargetHealth.
    pub fn target_request_counts(&self, tg_arn: &str) -> Vec<(String, u16, u64)> {
        let snapshot = self.svc.proxy.target_health();
        snapshot
            .group(tg_arn)
            .map(|g| g.targets.iter().map(|t| (t.id.clone(), t.addr.port(), t.requests)).collect())
            .unwrap_or_default()
    }
}
