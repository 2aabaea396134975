//! Launch templates and their versions: create, describe, modify (the default
//! version), delete, and resolving a template reference to a concrete version (for
//! RunInstances, Auto Scaling and deployments).

use shoal_model::ec2::launch_template::{
    self as lt, LaunchTemplateData, LaunchTemplateSpec, TagSpecification, VersionSelector,
};
use shoal_model::ec2::{instance_type, LaunchTemplate, LaunchTemplateVersion};
use shoal_model::filter::Filter;
use shoal_model::quotas;
use shoal_model::tags;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use super::{decode_user_data, select, tags_for};
use crate::ids;
use crate::service::page::{Page, Paging};
use crate::service::{Changes, Service, State};

/// DeleteLaunchTemplateVersions' answer: the template, the deleted version numbers and
/// each refused one as (version, code, message).
pub type DeletedVersions = (LaunchTemplate, Vec<u64>, Vec<(String, String, String)>);

impl Service {
    pub fn create_launch_template(
        &self,
        name: &str,
        description: Option<String>,
        data: LaunchTemplateData,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<(LaunchTemplate, LaunchTemplateVersion)> {
        lt::validate_name(name)?;
        let tags = tags_for(tag_specs, "launch-template")?;
        self.mutate(|state, changes| {
            lt::check_name_free(name, state.launch_templates.values())?;
            quotas::check_launch_templates(
                state.launch_templates.len(),
                self.config.quotas.launch_templates,
            )?;
            validate_template_data(state, &data)?;
            let now = self.clock.now();
            let template = LaunchTemplate {
                id: ids::ec2("lt"),
                name: name.into(),
                create_time: now,
                created_by: format!("arn:aws:iam::{ACCOUNT_ID}:root"),
                default_version: 1,
                latest_version: 1,
                tags,
            };
            let version = new_version(&template, 1, description, data, now);
            changes.put(template.clone());
            changes.put(version.clone());
            Ok((template, version))
        })
    }

    pub fn create_launch_template_version(
        &self,
        spec: &LaunchTemplateSpec,
        source_version: Option<&str>,
        description: Option<String>,
        data: LaunchTemplateData,
    ) -> AwsResult<LaunchTemplateVersion> {
        self.mutate(|state, changes| {
            self.create_launch_template_version_in(
                state,
                changes,
                spec,
                source_version,
                description,
                data,
            )
        })
    }

    /// CreateLaunchTemplateVersion inside another operation's change set (a deployment
    /// makes green's version in the same commit as the rest of the deployment).
    pub(crate) fn create_launch_template_version_in(
        &self,
        state: &State,
        changes: &mut Changes,
        spec: &LaunchTemplateSpec,
        source_version: Option<&str>,
        description: Option<String>,
        data: LaunchTemplateData,
    ) -> AwsResult<LaunchTemplateVersion> {
        let template = resolve_template(state, spec)?;
        let data = match source_version {
            Some(v) => {
                let n = VersionSelector::parse(v, &template.id)?.resolve(template)?;
                let source = state
                    .launch_template_versions
                    .get(&lt::version_key(&template.id, n))
                    .ok_or_else(|| lt::version_not_found(template, n))?;
                lt::overlay(&source.data, &data)
            }
            None => data,
        };
        validate_template_data(state, &data)?;
        let mut template = template.clone();
        template.latest_version += 1;
        let version =
            new_version(&template, template.latest_version, description, data, self.clock.now());
        changes.put(template);
        changes.put(version.clone());
        Ok(version)
    }

    pub fn describe_launch_templates(
        &self,
        ids: &[String],
        names: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<LaunchTemplate>> {
        self.read(|state| {
            if let Some(missing) = names.iter().find(|n| !state.launch_templates.values().any(|t| &t.name == *n)) {
                return Err(AwsError::new(
                    ErrorCode::InvalidLaunchTemplateNameNotFoundException,
                    format!("At least one of the launch templates specified in the request does not exist. ({missing})"),
                ));
            }
            let all = select::<LaunchTemplate>(state, ids, filters, |m| lt::not_found_by_id(&m.join(", ")))?;
            Ok(all.into_iter().filter(|t| names.is_empty() || names.contains(&t.name)).cloned().collect())
        })
    }

    /// DescribeLaunchTemplates as the API pages it (1..=200 a page).
    pub fn describe_launch_templates_page(
        &self,
        ids: &[String],
        names: &[String],
        filters: &[Filter],
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<LaunchTemplate>> {
        let templates = self.describe_launch_templates(ids, names, filters)?;
        Paging::ec2(1, 200).page(templates, max_results, next_token)
    }

    /// DescribeLaunchTemplateVersions as the API pages it (1..=200 a page).
    pub fn describe_launch_template_versions_page(
        &self,
        spec: &LaunchTemplateSpec,
        versions: &[String],
        (min, max): (Option<u64>, Option<u64>),
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<(LaunchTemplate, LaunchTemplateVersion)>> {
        let found = self.describe_launch_template_versions(spec, versions, min, max)?;
        Paging::ec2(1, 200).page(found, max_results, next_token)
    }

    /// DescribeLaunchTemplateVersions: by template, selected versions or all.
    pub fn describe_launch_template_versions(
        &self,
        spec: &LaunchTemplateSpec,
        versions: &[String],
        min: Option<u64>,
        max: Option<u64>,
    ) -> AwsResult<Vec<(LaunchTemplate, LaunchTemplateVersion)>> {
        self.read(|state| {
            let template = resolve_template(state, spec)?;
            let numbers: Vec<u64> = if versions.is_empty() {
                (1..=template.latest_version)
                    .filter(|n| min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m))
                    .collect()
            } else {
                versions
                    .iter()
                    .map(|v| {
                        VersionSelector::parse(v, &template.id).and_then(|s| s.resolve(template))
                    })
                    .collect::<AwsResult<_>>()?
            };
            let mut out = Vec::new();
            for n in numbers {
                match state.launch_template_versions.get(&lt::version_key(&template.id, n)) {
                    Some(v) => out.push((template.clone(), v.clone())),
                    None if !versions.is_empty() => return Err(lt::version_not_found(template, n)),
                    None => {}
                }
            }
            Ok(out)
        })
    }

    /// ModifyLaunchTemplate: sets the default version.
    pub fn modify_launch_template(
        &self,
        spec: &LaunchTemplateSpec,
        default_version: Option<&str>,
    ) -> AwsResult<LaunchTemplate> {
        self.mutate(|state, changes| {
            let mut template = resolve_template(state, spec)?.clone();
            if let Some(v) = default_version {
                let n = VersionSelector::parse(v, &template.id)?.resolve(&template)?;
                if !state.launch_template_versions.contains_key(&lt::version_key(&template.id, n)) {
                    return Err(lt::version_not_found(&template, n));
                }
                template.default_version = n;
                changes.put(template.clone());
            }
            Ok(template)
        })
    }

    pub fn delete_launch_template(&self, spec: &LaunchTemplateSpec) -> AwsResult<LaunchTemplate> {
        self.mutate(|state, changes| {
            let template = resolve_template(state, spec)?.clone();
            for n in 1..=template.latest_version {
                changes.delete::<LaunchTemplateVersion>(&lt::version_key(&template.id, n));
            }
            changes.delete::<LaunchTemplate>(&template.id);
            Ok(template)
        })
    }

    /// DeleteLaunchTemplateVersions: the default version cannot be deleted. Returns the
    /// deleted numbers and the (number, code, message) of each refused one.
    pub fn delete_launch_template_versions(
        &self,
        spec: &LaunchTemplateSpec,
        versions: &[String],
    ) -> AwsResult<DeletedVersions> {
        self.mutate(|state, changes| {
            let template = resolve_template(state, spec)?.clone();
            let (mut deleted, mut refused) = (Vec::new(), Vec::new());
            for v in versions {
                match v.parse::<u64>() {
                    Ok(n) if n == template.default_version => refused.push((
                        v.clone(),
                        "launchTemplateVersionIsDefault".into(),
                        "Cannot delete the default version.".into(),
                    )),
                    Ok(n)
                        if state
                            .launch_template_versions
                            .contains_key(&lt::version_key(&template.id, n)) =>
                    {
                        changes.delete::<LaunchTemplateVersion>(&lt::version_key(&template.id, n));
                        deleted.push(n);
                    }
                    _ => refused.push((
                        v.clone(),
                        "launchTemplateVersionDoesNotExist".into(),
                        "The specified launch template version does not exist.".into(),
                    )),
                }
            }
            Ok((template, deleted, refused))
        })
    }

    /// The launch data a template spec resolves to, with its concrete version.
    pub fn resolve_launch_template(
        &self,
        spec: &LaunchTemplateSpec,
    ) -> AwsResult<(LaunchTemplate, LaunchTemplateVersion)> {
        self.read(|state| resolve_version_in(state, spec).map(|(t, v)| (t.clone(), v.clone())))
    }
}

fn resolve_template<'a>(
    state: &'a State,
    spec: &LaunchTemplateSpec,
) -> AwsResult<&'a LaunchTemplate> {
    match (&spec.id, &spec.name) {
        (Some(id), _) => state.launch_templates.get(id).ok_or_else(|| lt::not_found_by_id(id)),
        (None, Some(name)) => state
            .launch_templates
            .values()
            .find(|t| &t.name == name)
            .ok_or_else(|| lt::not_found_by_name(name)),
        (None, None) => Err(AwsError::missing_parameter("LaunchTemplateId or LaunchTemplateName")),
    }
}

/// A template spec resolved to its template and concrete version.
pub(crate) fn resolve_version_in<'a>(
    state: &'a State,
    spec: &LaunchTemplateSpec,
) -> AwsResult<(&'a LaunchTemplate, &'a LaunchTemplateVersion)> {
    let template = resolve_template(state, spec)?;
    let n = VersionSelector::parse(spec.version.as_deref().unwrap_or("$Default"), &template.id)?
        .resolve(template)?;
    let version = state
        .launch_template_versions
        .get(&lt::version_key(&template.id, n))
        .ok_or_else(|| lt::version_not_found(template, n))?;
    Ok((template, version))
}

fn new_version(
    template: &LaunchTemplate,
    number: u64,
    description: Option<String>,
    data: LaunchTemplateData,
    now: chrono::DateTime<chrono::Utc>,
) -> LaunchTemplateVersion {
    LaunchTemplateVersion {
        key: lt::version_key(&template.id, number),
        template_id: template.id.clone(),
        template_name: template.name.clone(),
        number,
        description,
        create_time: now,
        created_by: template.created_by.clone(),
        data,
    }
}

/// What AWS checks when a template version is created: a known instance type and
/// decodable user data. (Images and groups are checked at launch, as in AWS.)
fn validate_template_data(_state: &State, data: &LaunchTemplateData) -> AwsResult<()> {
    if let Some(t) = &data.instance_type {
        instance_type::resolve(t)?;
    }
    if let Some(u) = &data.user_data {
        decode_user_data(u)?;
    }
    for spec in &data.tag_specifications {
        tags::validate_user_tags(&spec.tags)?;
    }
    Ok(())
}
