//! The IAM that tools fall back to for the account id (Query protocol, 2010-05-08, a
//! global service): `GetUser`, for the one user every Shoal access key belongs to.

use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::query::Params;
use super::xml::Xml;
use crate::credentials::Credentials;

pub const VERSION: &str = "2010-05-08";
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

pub fn handle(credentials: &Credentials, action: &str, params: &Params) -> AwsResult<Option<Xml>> {
    match action {
        "GetUser" => {
            let id = crate::credentials::identity();
            if let Some(name) = params.get("UserName").filter(|n| *n != id.user_name) {
                let mut e = AwsError::new(
                    ErrorCode::NoSuchEntity,
                    format!("The user with name {name} cannot be found."),
                );
                e.status = 404;
                return Err(e);
            }
            let mut x = Xml::new();
            x.el("User", |u| {
                u.text("Path", "/")
                    .text("UserName", id.user_name)
                    .text("UserId", &id.user_id)
                    .text("Arn", &id.arn)
                    .text("CreateDate", shoal_model::ec2::format_time(credentials.created));
            });
            Ok(Some(x))
        }
        other => Err(AwsError::new(
            ErrorCode::InvalidAction,
            format!("Could not find operation {other} for version {VERSION}"),
        )),
    }
}
