//! The one error type of the model: an AWS error code, its message and HTTP status.

use std::fmt;

/// An error as AWS reports it: a code such as `ValidationError` or
/// `InvalidInstanceID.NotFound`, a human message, the HTTP status (400 unless AWS
/// documents otherwise) and whether the fault is the caller's (`Sender`) or the
/// service's (`Receiver`). The API front renders it in each protocol's own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: ErrorCode,
    pub message: String,
    pub status: u16,
    pub sender_fault: bool,
}

/// Result of every fallible model rule.
pub type AwsResult<T> = Result<T, AwsError>;

impl AwsError {
    /// A client error (HTTP 400, `Sender`) with the given code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AwsError { code, message: message.into(), status: 400, sender_fault: true }
    }

    /// `InvalidAction`: the service has no action of that name.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            ErrorCode::InvalidAction,
            format!("The action {action} is not valid for this web service."),
        )
    }

    /// The Query services' generic `ValidationError`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }

    /// EC2's `InvalidParameterValue`.
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    /// `MissingParameter`: a required parameter was not given.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!("The request must contain the parameter {name}"),
        )
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
            code: ErrorCode::InternalFailure,
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

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and callers compare a code with AWS's spelling directly.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// Every error code Shoal answers with, as AWS spells it: the one list, so a code is
/// chosen from it rather than typed as a string (an unknown or misspelt code does not
/// compile). Grouped by the service whose documentation names it; a code some services
/// share (`ValidationError`, `InvalidParameterValue`) is listed once.
macro_rules! error_codes {
    ($($(#[$section:meta])* $variant:ident = $text:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$section])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the catalog's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it goes on the wire (`InvalidGroup.NotFound`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    /// Common to the Query and JSON protocols.
    AccessDenied = "AccessDenied",
    IncompleteBody = "IncompleteBody",
    IncompleteSignature = "IncompleteSignature",
    InternalFailure = "InternalFailure",
    InvalidAction = "InvalidAction",
    InvalidClientTokenId = "InvalidClientTokenId",
    InvalidParameterCombination = "InvalidParameterCombination",
    InvalidParameterValue = "InvalidParameterValue",
    InvalidSignatureException = "InvalidSignatureException",
    MethodNotAllowed = "MethodNotAllowed",
    MissingAction = "MissingAction",
    MissingAuthenticationToken = "MissingAuthenticationToken",
    MissingParameter = "MissingParameter",
    NotFound = "NotFound",
    RequestEntityTooLarge = "RequestEntityTooLarge",
    RequestHeaderFieldsTooLarge = "RequestHeaderFieldsTooLarge",
    RequestExpired = "RequestExpired",
    RequestTimeout = "RequestTimeout",
    RequestTimeTooSkewed = "RequestTimeTooSkewed",
    SerializationException = "SerializationException",
    SignatureDoesNotMatch = "SignatureDoesNotMatch",
    UnknownService = "UnknownService",
    UnsupportedOperation = "UnsupportedOperation",
    ValidationError = "ValidationError",
    /// EC2.
    AuthFailure = "AuthFailure",
    DependencyViolation = "DependencyViolation",
    IncorrectInstanceState = "IncorrectInstanceState",
    InstanceLimitExceeded = "InstanceLimitExceeded",
    InsufficientFreeAddressesInSubnet = "InsufficientFreeAddressesInSubnet",
    InsufficientInstanceCapacity = "InsufficientInstanceCapacity",
    InvalidAMIIDMalformed = "InvalidAMIID.Malformed",
    InvalidAMIIDNotFound = "InvalidAMIID.NotFound",
    InvalidAMIIDUnavailable = "InvalidAMIID.Unavailable",
    InvalidAMINameDuplicate = "InvalidAMIName.Duplicate",
    InvalidAMINameMalformed = "InvalidAMIName.Malformed",
    InvalidGroupDuplicate = "InvalidGroup.Duplicate",
    InvalidGroupNotFound = "InvalidGroup.NotFound",
    InvalidID = "InvalidID",
    InvalidIPAddressInUse = "InvalidIPAddress.InUse",
    InvalidInstanceIDMalformed = "InvalidInstanceID.Malformed",
    InvalidInstanceIDNotFound = "InvalidInstanceID.NotFound",
    InvalidInstanceType = "InvalidInstanceType",
    InvalidInternetGatewayIDNotFound = "InvalidInternetGatewayID.NotFound",
    InvalidKeyPairDuplicate = "InvalidKeyPair.Duplicate",
    InvalidKeyPairNotFound = "InvalidKeyPair.NotFound",
    InvalidLaunchTemplateIdNotFound = "InvalidLaunchTemplateId.NotFound",
    InvalidLaunchTemplateIdVersionNotFound = "InvalidLaunchTemplateId.VersionNotFound",
    InvalidLaunchTemplateNameAlreadyExistsException = "InvalidLaunchTemplateName.AlreadyExistsException",
    InvalidLaunchTemplateNameMalformedException = "InvalidLaunchTemplateName.MalformedException",
    InvalidLaunchTemplateNameNotFoundException = "InvalidLaunchTemplateName.NotFoundException",
    InvalidNetworkAclIDNotFound = "InvalidNetworkAclID.NotFound",
    InvalidNetworkInterfaceIDNotFound = "InvalidNetworkInterfaceID.NotFound",
    InvalidNetworkInterfaceInUse = "InvalidNetworkInterface.InUse",
    InvalidNextToken = "InvalidNextToken",
    InvalidPermissionDuplicate = "InvalidPermission.Duplicate",
    InvalidPermissionNotFound = "InvalidPermission.NotFound",
    InvalidRouteTableIDNotFound = "InvalidRouteTableID.NotFound",
    InvalidSecurityGroupRuleIdNotFound = "InvalidSecurityGroupRuleId.NotFound",
    InvalidSnapshotInUse = "InvalidSnapshot.InUse",
    InvalidSnapshotNotFound = "InvalidSnapshot.NotFound",
    InvalidSubnetConflict = "InvalidSubnet.Conflict",
    InvalidSubnetRange = "InvalidSubnet.Range",
    InvalidSubnetIDNotFound = "InvalidSubnetID.NotFound",
    InvalidUserDataMalformed = "InvalidUserData.Malformed",
    InvalidVpcRange = "InvalidVpc.Range",
    InvalidVpcIDNotFound = "InvalidVpcID.NotFound",
    LaunchTemplateLimitExceeded = "LaunchTemplateLimitExceeded",
    OperationNotPermitted = "OperationNotPermitted",
    TagLimitExceeded = "TagLimitExceeded",
    VPCIdNotSpecified = "VPCIdNotSpecified",
    VcpuLimitExceeded = "VcpuLimitExceeded",
    /// EC2 Auto Scaling.
    ActiveInstanceRefreshNotFound = "ActiveInstanceRefreshNotFound",
    AlreadyExists = "AlreadyExists",
    InstanceRefreshInProgress = "InstanceRefreshInProgress",
    LimitExceeded = "LimitExceeded",
    ResourceInUse = "ResourceInUse",
    ScalingActivityInProgress = "ScalingActivityInProgress",
    /// Elastic Load Balancing.
    CannotDelete = "CannotDelete",
    DuplicateListener = "DuplicateListener",
    DuplicateLoadBalancerName = "DuplicateLoadBalancerName",
    DuplicateTagKeys = "DuplicateTagKeys",
    DuplicateTargetGroupName = "DuplicateTargetGroupName",
    InvalidConfigurationRequest = "InvalidConfigurationRequest",
    InvalidLoadBalancerAction = "InvalidLoadBalancerAction",
    InvalidSecurityGroup = "InvalidSecurityGroup",
    InvalidSubnet = "InvalidSubnet",
    InvalidTarget = "InvalidTarget",
    ListenerNotFound = "ListenerNotFound",
    LoadBalancerNotFound = "LoadBalancerNotFound",
    PriorityInUse = "PriorityInUse",
    RuleNotFound = "RuleNotFound",
    SubnetNotFound = "SubnetNotFound",
    TargetGroupAssociationLimit = "TargetGroupAssociationLimit",
    TargetGroupNotFound = "TargetGroupNotFound",
    TooManyConditionValues = "TooManyConditionValues",
    TooManyListeners = "TooManyListeners",
    TooManyLoadBalancers = "TooManyLoadBalancers",
    TooManyRules = "TooManyRules",
    TooManyTags = "TooManyTags",
    TooManyTargetGroups = "TooManyTargetGroups",
    TooManyTargets = "TooManyTargets",
    UnsupportedProtocol = "UnsupportedProtocol",
    /// CloudWatch.
    InvalidFormat = "InvalidFormat",
    MissingInput = "MissingInput",
    ResourceNotFound = "ResourceNotFound",
    ResourceNotFoundException = "ResourceNotFoundException",
    /// Systems Manager, IAM.
    NoSuchEntity = "NoSuchEntity",
    ParameterNotFound = "ParameterNotFound",
    /// Shoal's blue/green deployments (`shoal deploy`), in AWS's naming style.
    DeploymentAlreadyStartedException = "DeploymentAlreadyStartedException",
    DeploymentDoesNotExistException = "DeploymentDoesNotExistException",
    InvalidDeploymentStatus = "InvalidDeploymentStatus",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_spelt_as_aws_spells_them() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            // AWS's codes: CamelCase words, at most one dot (`InvalidGroup.NotFound`).
            assert!(text.split('.').count() <= 2, "{text}");
            assert!(
                text.split('.').all(|w| w.starts_with(|c: char| c.is_ascii_uppercase())
                    && w.chars().all(|c| c.is_ascii_alphanumeric())),
                "{text}"
            );
            assert_eq!(format!("{code:?}"), text.replace('.', ""), "variant names the code");
        }
    }
}
