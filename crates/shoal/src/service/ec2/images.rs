//! Image attributes: DescribeImageAttribute and ModifyImageAttribute's description, as
//! Ansible's `ec2_ami` reads and sets them.

use chrono::{DateTime, Utc};
use shoal_model::ec2::Image;
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use crate::service::{Service, State};

fn image_not_found(id: &str) -> AwsError {
    AwsError::new("InvalidAMIID.NotFound", format!("The image id '[{id}]' does not exist"))
}

fn find<'a>(state: &'a State, id: &str) -> AwsResult<&'a Image> {
    if !shoal_model::ec2::is_well_formed_id("ami", id) {
        return Err(AwsError::new("InvalidAMIID.Malformed", format!("Invalid id: \"{id}\"")));
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
                return Err(AwsError::new("AuthFailure", format!("Not authorized for image:{id}")));
            }
            image.description = Some(description.to_string());
            changes.put(image);
            Ok(())
        })
    }
}
