//! Snapshots as AMIs reference them: DescribeSnapshots and DeleteSnapshot.

use shoal_model::ec2::{Image, Snapshot};
use shoal_model::filter::{self, Filter};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use crate::service::{Service, State};

/// Every snapshot: the stored ones, and those of images stored before snapshots were
/// records (the base image's among them), derived from the image.
fn all_snapshots(state: &State) -> Vec<Snapshot> {
    let mut out: Vec<Snapshot> = state.snapshots.values().cloned().collect();
    for image in state.images.values() {
        if !state.snapshots.contains_key(&image.snapshot_id()) {
            out.push(image.snapshot());
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn not_found(id: &str) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidSnapshotNotFound,
        format!("The snapshot '{id}' does not exist."),
    )
}

impl Service {
    /// DescribeSnapshots by id, owner (`self`, `amazon` or an account id) and filters.
    pub fn describe_snapshots(
        &self,
        ids: &[String],
        owners: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<(Snapshot, Option<&'static str>)>> {
        self.read(|state| {
            let all = all_snapshots(state);
            if let Some(missing) = ids.iter().find(|id| !all.iter().any(|s| &s.id == *id)) {
                return Err(not_found(missing));
            }
            let alias = |s: &Snapshot| {
                state
                    .images
                    .get(&s.image_id)
                    .and_then(|i| i.owner_alias.as_deref())
                    .filter(|a| *a == "amazon")
                    .map(|_| "amazon")
            };
            let mut out = vec![];
            for snapshot in all {
                if !ids.is_empty() && !ids.contains(&snapshot.id) {
                    continue;
                }
                let owner_alias = alias(&snapshot);
                let owned = |o: &String| match o.as_str() {
                    "self" => snapshot.owner_id == ACCOUNT_ID && owner_alias.is_none(),
                    "amazon" => owner_alias == Some("amazon"),
                    id => snapshot.owner_id == id,
                };
                if !owners.is_empty() && !owners.iter().any(owned) {
                    continue;
                }
                if filter::matches(&snapshot, filters)? {
                    out.push((snapshot, owner_alias));
                }
            }
            Ok(out)
        })
    }

    /// DeleteSnapshot: refused while an image uses the snapshot, as EC2 refuses it.
    pub fn delete_snapshot(&self, id: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            if let Some(image) = state.images.values().find(|i| i.snapshot_id() == id) {
                return Err(in_use(id, image));
            }
            if !state.snapshots.contains_key(id) {
                return Err(not_found(id));
            }
            changes.delete::<Snapshot>(id);
            Ok(())
        })
    }
}

fn in_use(id: &str, image: &Image) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidSnapshotInUse,
        format!("The snapshot {id} is currently in use by {}", image.id),
    )
}
