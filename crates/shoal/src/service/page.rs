//! One pagination for every service. A listing is cut from an ordered `Vec`; the token
//! for the next page (EC2's and CloudWatch's `NextToken`, ELBv2's and Auto Scaling's
//! markers) is the index of its first item, base64 of `shoal:<n>` — opaque to users, as
//! AWS's are. What differs between AWS's APIs, and so is a parameter ([`Paging`]): the
//! accepted page sizes, the size when none is asked for, and the texts of the two errors.

use base64::Engine;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

/// A page of results and the token (or marker) for the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// How one API pages: its bounds, its default size and how it words refusals.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// The smallest and largest page size accepted.
    pub bounds: (u32, u32),
    /// The size when the request names none; `None`: everything that is left.
    pub default: Option<u32>,
    /// The parameter's name in AWS's messages (`maxResults`, `maxRecords`, `pageSize`).
    pub parameter: &'static str,
    pub style: ErrorStyle,
}

/// How an API words a bad page size and a token it did not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// EC2: InvalidParameterValue "Value ( n ) for parameter maxResults is invalid…";
    /// InvalidNextToken "The specified token is invalid or has expired".
    Ec2,
    /// Query APIs checked against their model (Auto Scaling, CloudWatch):
    /// ValidationError "1 validation error detected: …"; InvalidNextToken.
    Modeled,
    /// ELBv2: ValidationError for the size as [`ErrorStyle::Modeled`], and
    /// ValidationError "Invalid marker '…'" for the token.
    Marker,
}

impl Paging {
    /// EC2's `MaxResults`, between `min` and `max`, everything when absent.
    pub const fn ec2(min: u32, max: u32) -> Self {
        Paging {
            bounds: (min, max),
            default: None,
            parameter: "maxResults",
            style: ErrorStyle::Ec2,
        }
    }

    /// A Query API's `MaxRecords` (Auto Scaling, CloudWatch): 1 to `max`, `default` when absent.
    pub const fn max_records(max: u32, default: u32) -> Self {
        Paging {
            bounds: (1, max),
            default: Some(default),
            parameter: "maxRecords",
            style: ErrorStyle::Modeled,
        }
    }

    /// ELBv2's `PageSize` (1–400) and `Marker`: everything when absent.
    pub const ELBV2: Paging = Paging {
        bounds: (1, 400),
        default: None,
        parameter: "pageSize",
        style: ErrorStyle::Marker,
    };

    fn bad_size(&self, n: u32) -> AwsError {
        let (min, max) = self.bounds;
        match self.style {
            ErrorStyle::Ec2 => AwsError::invalid_parameter_value(format!(
                "Value ( {n} ) for parameter {} is invalid. Parameter must be between {min} and {max}.",
                self.parameter
            )),
            ErrorStyle::Modeled | ErrorStyle::Marker => AwsError::validation(format!(
                "1 validation error detected: Value '{n}' at '{}' failed to satisfy constraint: Member must have value between {min} and {max}",
                self.parameter
            )),
        }
    }

    fn bad_token(&self, token: &str) -> AwsError {
        match self.style {
            ErrorStyle::Ec2 => AwsError::new(
                ErrorCode::InvalidNextToken,
                "The specified token is invalid or has expired",
            ),
            ErrorStyle::Modeled => AwsError::new(
                ErrorCode::InvalidNextToken,
                "The service cannot process the NextToken.",
            ),
            ErrorStyle::Marker => AwsError::validation(format!("Invalid marker '{token}'")),
        }
    }

    /// Where the page that `token` names starts.
    pub fn start(&self, token: Option<&str>) -> AwsResult<usize> {
        let Some(token) = token else { return Ok(0) };
        base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("shoal:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| self.bad_token(token))
    }

    /// Cuts the page of `items` that `token` names, of `size` items (or the default).
    pub fn page<T>(
        &self,
        items: Vec<T>,
        size: Option<u32>,
        token: Option<&str>,
    ) -> AwsResult<Page<T>> {
        let start = self.start(token)?;
        let size = match size.or(self.default) {
            Some(n) if n < self.bounds.0 || n > self.bounds.1 => return Err(self.bad_size(n)),
            Some(n) => n as usize,
            None => usize::MAX,
        };
        let total = items.len();
        let end = start.saturating_add(size).min(total);
        let items: Vec<T> = items.into_iter().skip(start).take(end.saturating_sub(start)).collect();
        Ok(Page { items, next_token: (end < total).then(|| token_for(end)) })
    }
}

/// The token of the page that starts at item `n`.
pub fn token_for(n: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("shoal:{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_tokens_to_the_end() {
        let p = Paging::ELBV2;
        let first = p.page((0..5).collect::<Vec<_>>(), Some(2), None).unwrap();
        assert_eq!(first.items, vec![0, 1]);
        let second =
            p.page((0..5).collect::<Vec<_>>(), Some(2), first.next_token.as_deref()).unwrap();
        assert_eq!(second.items, vec![2, 3]);
        let third =
            p.page((0..5).collect::<Vec<_>>(), Some(2), second.next_token.as_deref()).unwrap();
        assert_eq!((third.items, third.next_token), (vec![4], None));
        assert_eq!(p.page(vec![1, 2], None, None).unwrap().items, vec![1, 2]);
    }

    #[test]
    fn defaults_apply_when_no_size_is_asked() {
        let p = Paging::max_records(100, 2);
        let page = p.page(vec![1, 2, 3], None, None).unwrap();
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.next_token.is_some());
    }

    #[test]
    fn each_style_words_its_refusals_as_its_api_does() {
        let e = Paging::ec2(5, 1000).page(vec![1], Some(4), None).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(
            e.message.contains("Value ( 4 ) for parameter maxResults is invalid"),
            "{}",
            e.message
        );
        let e = Paging::ec2(5, 1000).page(vec![1], None, Some("junk")).unwrap_err();
        assert_eq!(e.code, "InvalidNextToken");
        let e = Paging::max_records(100, 50).page(vec![1], Some(101), None).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("'maxRecords'"), "{}", e.message);
        let e = Paging::max_records(100, 50).page(vec![1], None, Some("junk")).unwrap_err();
        assert_eq!(e.code, "InvalidNextToken");
        let e = Paging::ELBV2.page(vec![1], Some(401), None).unwrap_err();
        assert!(e.message.contains("'pageSize'"), "{}", e.message);
        let e = Paging::ELBV2.page(vec![1], Some(0), None).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = Paging::ELBV2.page(vec![1], None, Some("junk")).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ValidationError", "Invalid marker 'junk'")
        );
    }
}
