//! STS (Query protocol, 2011-06-15): `GetCallerIdentity`, which tools call first to
//! learn the account, answered for the access key that signed the request.

use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::query::Params;
use super::xml::Xml;

pub const VERSION: &str = "2011-06-15";
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub fn handle(action: &str, _params: &Params) -> AwsResult<Option<Xml>> {
    match action {
        "GetCallerIdentity" => {
            // Every Shoal access key belongs to the account's one IAM user.
            let id = crate::credentials::identity();
            let mut x = Xml::new();
            x.text("UserId", &id.user_id).text("Account", id.account).text("Arn", &id.arn);
            Ok(Some(x))
        }
        other => Err(AwsError::new(
            ErrorCode::InvalidAction,
            format!("Could not find operation {other} for version {VERSION}"),
        )),
    }
}
