//! Images: DescribeImages, CreateImage (a snapshot of an instance's disk), `shoal image
//! import`, DeregisterImage, the image a launch resolves to (also `resolve:ssm:`), and
//! the attributes Ansible's `ec2_ami` reads and sets (DescribeImageAttribute,
//! ModifyImageAttribute's description).

use chrono::{DateTime, Utc};
use shoal_model::ec2::image::{self, ImageState};
use shoal_model::ec2::instance::InstanceState;
use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::ec2::{instance_type, is_well_formed_id, Image};
use shoal_model::filter::Filter;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use super::instances::require_instance;
use super::{check_ids_well_formed, select, tags_for};
use crate::ids;
use crate::service::{Service, State};

impl Service {
    pub fn describe_images(
        &self,
        ids: &[String],
        owners: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<Image>> {
        check_ids_well_formed("ami", ErrorCode::InvalidAMIIDMalformed, ids)?;
        self.read(|state| {
            let images = select::<Image>(state, ids, filters, |m| {
                AwsError::new(
                    ErrorCode::InvalidAMIIDNotFound,
                    format!("The image id '[{}]' does not exist", m.join(", ")),
                )
            })?;
            Ok(images
                .into_iter()
                .filter(|i| {
                    owners.is_empty()
                        || owners.iter().any(|o| match o.as_str() {
                            "self" => i.owner_id == ACCOUNT_ID,
                            "amazon" => i.owner_alias.as_deref() == Some("amazon"),
                            other => i.owner_id == other,
                        })
                })
                .cloned()
                .collect())
        })
    }

    /// CreateImage. As in EC2, a running instance is shut down, its disk frozen, and
    /// booted again (the instance controller's reboot does it, and the image is
    /// `pending` until then), unless `no_reboot`, when the disk is frozen as it runs.
    /// A stopped instance's disk is frozen at once. Freezing copies only the instance's
    /// own changes: the image shares the layers below with the image it came from.
    pub async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<String>,
        tag_specs: &[TagSpecification],
        no_reboot: bool,
    ) -> AwsResult<Image> {
        image::validate_name(name)?;
        check_ids_well_formed(
            "i",
            ErrorCode::InvalidInstanceIDMalformed,
            &[instance_id.to_string()],
        )?;
        let tags = tags_for(tag_specs, "image")?;
        let image_id = ids::ec2("ami");
        let pending = self.mutate(|state, changes| {
            let inst = require_instance(state, instance_id)?;
            if !matches!(
                inst.state,
                InstanceState::Running | InstanceState::Stopped | InstanceState::Pending
            ) {
                return Err(AwsError::new(
                    ErrorCode::IncorrectInstanceState,
                    format!(
                        "The instance '{instance_id}' is not in the 'running' or 'stopped' states."
                    ),
                ));
            }
            image::check_name_free(name, ACCOUNT_ID, state.images.values())?;
            let mut img = Image::own(
                image_id.clone(),
                name,
                description,
                ACCOUNT_ID,
                self.clock.now(),
                Some(instance_id.into()),
            );
            img.tags = tags;
            img.architecture = instance_type::lookup(&inst.instance_type)
                .map_or("x86_64", |t| t.arch.image_architecture())
                .into();
            img.awaiting_reboot = inst.state == InstanceState::Running && !no_reboot;
            if img.awaiting_reboot {
                let mut inst = inst.clone();
                inst.reboot_requested = true;
                changes.put(inst);
            }
            changes.put(img.snapshot());
            changes.put(img.clone());
            Ok(img)
        })?;
        if pending.awaiting_reboot {
            return Ok(pending);
        }
        Ok(self.freeze_disk(instance_id, &image_id).await?.unwrap_or(pending))
    }

    /// The instance is down for its CreateImage reboot (or for a stop or termination
    /// that came first): freezes its disk into every image waiting for that.
    pub async fn freeze_images_awaiting_reboot(&self, instance_id: &str) -> AwsResult<()> {
        let waiting: Vec<String> = self.read(|s| {
            s.images
                .values()
                .filter(|i| i.awaiting_reboot && i.state == ImageState::Pending)
                .filter(|i| i.source_instance_id.as_deref() == Some(instance_id))
                .map(|i| i.id.clone())
                .collect()
        });
        for image_id in waiting {
            self.freeze_disk(instance_id, &image_id).await?;
        }
        Ok(())
    }

    /// Copies the instance's disk into the image's own layer; the image becomes
    /// `available`, or `failed` if the copy failed; `None` if it was deregistered
    /// meanwhile (the copy is removed again).
    async fn freeze_disk(&self, instance_id: &str, image_id: &str) -> AwsResult<Option<Image>> {
        let driver = self.driver.clone();
        let (iid, aid) = (instance_id.to_string(), image_id.to_string());
        let copied = tokio::task::spawn_blocking(move || driver.snapshot_disk(&iid, &aid)).await;
        let ok = matches!(copied, Ok(Ok(())));
        if !ok {
            tracing::error!(?copied, instance_id, "snapshot failed");
        }
        let frozen = self.mutate(|state, changes| {
            let Some(img) = state.images.get(image_id) else { return Ok(None) };
            let mut img = img.clone();
            img.state = if ok { ImageState::Available } else { ImageState::Failed };
            img.awaiting_reboot = false;
            changes.put(img.clone());
            Ok(Some(img))
        })?;
        if frozen.is_none() {
            if let Err(e) = self.driver.delete_image(image_id) {
                tracing::warn!(image_id, error = %e, "could not remove a deregistered image's copy");
            }
        }
        Ok(frozen)
    }

    /// `shoal image import SOURCE --name NAME`: an AMI from a local directory, a root
    /// filesystem tarball, or an image archive (`docker save`, `podman save`, an OCI
    /// archive), whose layers are applied in order.
    pub async fn import_image(
        &self,
        source: std::path::PathBuf,
        name: &str,
        description: Option<String>,
    ) -> AwsResult<Image> {
        image::validate_name(name)?;
        if !source.exists() {
            return Err(AwsError::invalid_parameter_value(format!(
                "{} does not exist",
                source.display()
            )));
        }
        self.read(|s| image::check_name_free(name, ACCOUNT_ID, s.images.values()))?;
        let image_id = ids::ec2("ami");
        let driver = self.driver.clone();
        let aid = image_id.clone();
        let work = self.config.data_dir.join("tmp").join(format!("import-{image_id}"));
        tokio::task::spawn_blocking(move || {
            if source.is_dir() {
                return driver.import_image(&aid, &source);
            }
            let rootfs = work.join("rootfs");
            let unpacked = crate::runtime::unpack::unpack(&source, &rootfs, &work)
                .and_then(|_| driver.import_image(&aid, &rootfs));
            let _ = crate::runtime::disk::remove_tree(&work);
            unpacked
        })
        .await
        .map_err(|e| AwsError::internal(e.to_string()))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => AwsError::invalid_parameter_value(e.to_string()),
            _ => AwsError::internal(format!("cannot import the image: {e}")),
        })?;
        self.mutate(|state, changes| {
            image::check_name_free(name, ACCOUNT_ID, state.images.values())?;
            let mut img =
                Image::own(image_id.clone(), name, description, ACCOUNT_ID, self.clock.now(), None);
            img.state = ImageState::Available;
            changes.put(img.snapshot());
            changes.put(img.clone());
            Ok(img)
        })
    }

    /// `shoal image usage`: the bytes each image layer and instance disk takes, and
    /// which layers images share.
    pub async fn disk_usage(&self) -> AwsResult<crate::runtime::layers::DiskUsage> {
        let driver = self.driver.clone();
        tokio::task::spawn_blocking(move || driver.disk_usage())
            .await
            .map_err(|e| AwsError::internal(e.to_string()))?
            .map_err(|e| AwsError::internal(format!("cannot measure the disks: {e}")))
    }

    /// DeregisterImage: the image is gone at once; its layers stay while another image
    /// or a running instance stands on them (as AWS keeps a running instance's volume).
    pub fn deregister_image(&self, image_id: &str) -> AwsResult<()> {
        check_ids_well_formed("ami", ErrorCode::InvalidAMIIDMalformed, &[image_id.to_string()])?;
        self.mutate(|state, changes| {
            let img = state.images.get(image_id).ok_or_else(|| {
                AwsError::new(
                    ErrorCode::InvalidAMIIDNotFound,
                    format!("The image id '[{image_id}]' does not exist"),
                )
            })?;
            if img.owner_id != ACCOUNT_ID {
                return Err(AwsError::new(
                    ErrorCode::AuthFailure,
                    format!("Not authorized for image:{image_id}"),
                ));
            }
            changes.delete::<Image>(image_id);
            Ok(())
        })?;
        if let Err(e) = self.driver.delete_image(image_id) {
            tracing::warn!(image_id, error = %e, "could not remove the image's disk");
        }
        Ok(())
    }
}

pub(crate) fn resolve_image<'a>(state: &'a State, image_id: &str) -> AwsResult<&'a Image> {
    let id = match image_id.strip_prefix("resolve:ssm:") {
        Some(param) => match crate::service::catalog::image_for_parameter(state, param) {
            Some(image) => image.id.clone(),
            None => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "Invalid parameter name {param}: only public AMI aliases are supported"
                )))
            }
        },
        None => image_id.to_string(),
    };
    if !is_well_formed_id("ami", &id) {
        return Err(AwsError::new(
            ErrorCode::InvalidAMIIDMalformed,
            format!("Invalid id: \"{id}\" (expecting \"ami-...\")"),
        ));
    }
    let img = state.images.get(&id).ok_or_else(|| {
        AwsError::new(
            ErrorCode::InvalidAMIIDNotFound,
            format!("The image id '[{id}]' does not exist"),
        )
    })?;
    if img.state != ImageState::Available {
        return Err(AwsError::new(
            ErrorCode::InvalidAMIIDUnavailable,
            format!("The image id '[{id}]' is not available"),
        ));
    }
    Ok(img)
}

fn image_not_found(id: &str) -> AwsError {
    AwsError::new(ErrorCode::InvalidAMIIDNotFound, format!("The image id '[{id}]' does not exist"))
}

fn find<'a>(state: &'a State, id: &str) -> AwsResult<&'a Image> {
    if !shoal_model::ec2::is_well_formed_id("ami", id) {
        return Err(AwsError::new(
            ErrorCode::InvalidAMIIDMalformed,
            format!("Invalid id: \"{id}\""),
        ));
    }
    state.images.get(id).ok_or_else(|| image_not_found(id))
}

impl Service {
    /// The image and when an instance was last launched from it (EC2's
    /// `lastLaunchedTime`: none until one is).
    pub fn image_with_last_launch(&self, id: &str) -> AwsResult<(Image, Option<DateTime<Utc>>)> {
        self.read(|state| {
            let image = find(state, id)?.clone();
            let last = state
                .instances
                .values()
                .filter(|i| i.image_id == image.id)
                .map(|i| i.launch_time)
                .max();
            Ok((image, last))
        })
    }

    /// ModifyImageAttribute's `Description`: only the owner may change it (EC2 answers
    /// AuthFailure for another account's image, as for DeregisterImage).
    pub fn modify_image_description(&self, id: &str, description: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut image = find(state, id)?.clone();
            if image.owner_id != ACCOUNT_ID {
                return Err(AwsError::new(
                    ErrorCode::AuthFailure,
                    format!("Not authorized for image:{id}"),
                ));
            }
            image.description = Some(description.to_string());
            changes.put(image);
            Ok(())
        })
    }
}
