//! Launch configurations (Auto Scaling's CreateLaunchConfiguration,
//! DescribeLaunchConfigurations, DeleteLaunchConfiguration). The model holds the rules
//! and texts; this layer resolves what EC2 owns (images, key pairs, security groups,
//! the instance a configuration is copied from) and stores the result.

use shoal_model::autoscaling::launch_config::{
    self, CreateLaunchConfigurationRequest, InstanceAttributes, LaunchConfiguration,
};
use shoal_model::ec2::InstanceState;
use shoal_model::{AwsError, AwsResult};

use super::page::{Page, Paging};
use super::{Changes, Service, State};
use crate::ids;

/// The launch configuration named `name`, or AWS's `ValidationError` for an unknown one.
pub(crate) fn find_launch_configuration<'a>(
    state: &'a State,
    name: &str,
) -> AwsResult<&'a LaunchConfiguration> {
    state.launch_configurations.get(name).ok_or_else(|| launch_config::not_found(name))
}

/// Security group ids (`sg-…`) and names of a launch configuration, split as RunInstances
/// takes them.
pub(crate) fn split_security_groups(groups: &[String]) -> (Vec<String>, Vec<String>) {
    groups.iter().cloned().partition(|g| g.starts_with("sg-"))
}

/// What EC2 must know for a configuration to launch: its image, key pair and security
/// groups. Auto Scaling reports EC2's findings as `ValidationError`s.
fn check_against_ec2(state: &State, lc: &LaunchConfiguration) -> AwsResult<()> {
    super::ec2::resolve_image(state, &lc.image_id)
        .map_err(|e| launch_config::invalid_image(&lc.image_id, &e.message))?;
    if let Some(key) = &lc.key_name {
        if state.key_pair_named(key).is_none() {
            return Err(AwsError::validation(shoal_model::ec2::key_pair::not_found(key).message));
        }
    }
    let (ids, names) = split_security_groups(&lc.security_groups);
    for id in ids {
        if !state.security_groups.contains_key(&id) {
            return Err(AwsError::validation(format!("The security group '{id}' does not exist")));
        }
    }
    for name in names {
        if !state.security_groups.values().any(|g| g.name == name) {
            return Err(AwsError::validation(format!(
                "The security group '{name}' does not exist"
            )));
        }
    }
    Ok(())
}

/// What a configuration created with `InstanceId` copies from that instance.
fn instance_attributes(state: &State, instance_id: &str) -> AwsResult<InstanceAttributes> {
    let inst = state
        .instances
        .get(instance_id)
        .filter(|i| i.state != InstanceState::Terminated)
        .ok_or_else(|| {
            AwsError::validation(format!("The instance ID '{instance_id}' does not exist"))
        })?;
    Ok(InstanceAttributes {
        image_id: inst.image_id.clone(),
        instance_type: inst.instance_type.clone(),
        key_name: inst.key_name.clone(),
        security_group_ids: inst.security_group_ids.clone(),
        user_data: inst.user_data.clone(),
    })
}

impl Service {
    /// CreateLaunchConfiguration: validated whole (model rules, then EC2's resources),
    /// then stored; a refused request stores nothing.
    pub fn create_launch_configuration(
        &self,
        req: CreateLaunchConfigurationRequest,
    ) -> AwsResult<LaunchConfiguration> {
        self.mutate(|state, changes| self.stage_launch_configuration(state, changes, &req))
    }

    /// Builds, checks and stages a launch configuration in the caller's change set
    /// (CreateAutoScalingGroup with `InstanceId` makes one for the group this way).
    pub(crate) fn stage_launch_configuration(
        &self,
        state: &State,
        changes: &mut Changes,
        req: &CreateLaunchConfigurationRequest,
    ) -> AwsResult<LaunchConfiguration> {
        let from =
            req.instance_id.as_deref().map(|id| instance_attributes(state, id)).transpose()?;
        let lc = launch_config::create_launch_configuration(
            req,
            from.as_ref(),
            state.launch_configurations.contains_key(&req.name),
            &self.config.region,
            &ids::uuid(),
            self.clock.now(),
        )?;
        check_against_ec2(state, &lc)?;
        shoal_model::quotas::check_launch_configurations(
            state.launch_configurations.len(),
            self.config.quotas.launch_configurations,
        )?;
        changes.put(lc.clone());
        Ok(lc)
    }

    /// DescribeLaunchConfigurations: by name (all when none given), in name order,
    /// `MaxRecords` 1–100 (default 50) with `NextToken` paging.
    pub fn describe_launch_configurations(
        &self,
        names: &[String],
        max_records: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<LaunchConfiguration>> {
        let items: Vec<LaunchConfiguration> = self.read(|s| {
            s.launch_configurations
                .values()
                .filter(|lc| names.is_empty() || names.contains(&lc.name))
                .cloned()
                .collect()
        });
        Paging::max_records(100, 50).page(items, max_records, next_token)
    }

    /// DeleteLaunchConfiguration: unknown → `ValidationError`; named by a group →
    /// `ResourceInUse` (AWS's texts).
    pub fn delete_launch_configuration(&self, name: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            find_launch_configuration(state, name)?;
            let using = state
                .groups
                .values()
                .find(|g| g.launch_configuration_name.as_deref() == Some(name))
                .map(|g| g.name.as_str());
            launch_config::check_delete(name, using)?;
            changes.delete::<LaunchConfiguration>(name);
            Ok(())
        })
    }
}
