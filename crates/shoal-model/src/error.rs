//! The one error type of the model: an AWS error code, its message and HTTP status.

use std::fmt;

/// An error as AWS reports it: a code such as `ValidationError` or
/// `InvalidInstanceID.NotFound`, a human message, the HTTP status (400 unless AWS
/// documents otherwise) and whether the fault is the caller's (`Sender`) or the
/// service's (`Receiver`). The API front renders it in each protocol's own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: u16,
    pub sender_fault: bool,
}

/// Result of every fallible model rule.
pub type AwsResult<T> = Result<T, AwsError>;

impl AwsError {
    /// A client error (HTTP 400, `Sender`) with the given code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError { code: code.into(), message: message.into(), status: 400, sender_fault: true }
    }

    /// `InvalidAction`: the service has no action of that name.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        )
    }

    /// The Query services' generic `ValidationError`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", message)
    }

    /// EC2's `InvalidParameterValue`.
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", message)
    }

    /// `MissingParameter`: a required parameter was not given.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new("MissingParameter", format!("The request must contain the parameter {name}"))
    }

    /// The Query services' `ValidationError` for a required member left out (the
    /// counterpart of EC2's `MissingParameter`).
    pub fn null_member(name: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            member_name(name)
        ))
    }

    /// A service-side failure (HTTP 500, `Receiver`), e.g. the store could not write.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError {
            code: "InternalFailure".into(),
            message: message.into(),
            status: 500,
            sender_fault: false,
        }
    }

    /// Overrides the HTTP status (CloudWatch's `ResourceNotFound` is 404, for example).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// How validation messages name a parameter: its first letter lowercased
/// (`EvaluationPeriods` is `evaluationPeriods`).
pub fn member_name(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}
