//! One header policy for both request paths (the fast path in [`crate::h1`] and
//! hyper's in [`crate::forward`]), so they cannot drift apart: which headers never
//! cross the load balancer, which it sets itself, and how a `Host` names the host.

use shoal_model::elbv2::load_balancer::XffMode;

/// Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so the load
/// balancer drops them in both directions, as ALB does. A `Connection` header may
/// name more; each path drops those too (the fast path hands such requests to hyper).
pub(crate) const HOP_BY_HOP: [&str; 5] =
    ["connection", "keep-alive", "proxy-connection", "te", "upgrade"];

/// Headers ALB sets on every forwarded request, replacing any the client sent:
/// `X-Forwarded-Proto`, `X-Forwarded-Port` and the `X-Amzn-Trace-Id` it extends.
/// (`X-Forwarded-For` follows the load balancer's `routing.http.xff_header_processing.mode`.)
pub(crate) const SET_BY_LOAD_BALANCER: [&str; 3] =
    ["x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"];

pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether a client's request header is left out of the request to the target
/// (the load balancer then writes its own where it sets one).
pub(crate) fn dropped_from_request(name: &str, xff: XffMode) -> bool {
    is_hop_by_hop(name)
        || SET_BY_LOAD_BALANCER.iter().any(|n| n.eq_ignore_ascii_case(name))
        || (xff != XffMode::Preserve && name.eq_ignore_ascii_case("x-forwarded-for"))
}

/// The host a `Host` header (or an absolute URI's authority) names, without its port:
/// `example.com:8080` → `example.com`, `[::1]:80` → `::1`. Host-header rules match it.
pub(crate) fn host_name(raw: &str) -> Option<&str> {
    match raw.strip_prefix('[') {
        Some(rest) => rest.split(']').next(),
        None => Some(raw.rsplit_once(':').map_or(raw, |(h, _)| h)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("example.com"), Some("example.com"));
        assert_eq!(host_name("example.com:8080"), Some("example.com"));
        assert_eq!(host_name("[::1]:80"), Some("::1"));
        assert_eq!(host_name("[::1]"), Some("::1"));
    }

    #[test]
    fn request_policy_drops_hop_by_hop_and_what_the_load_balancer_sets() {
        for name in ["Connection", "TE", "Upgrade", "X-Amzn-Trace-Id", "x-forwarded-port"] {
            assert!(dropped_from_request(name, XffMode::Append), "{name}");
        }
        assert!(dropped_from_request("X-Forwarded-For", XffMode::Append));
        assert!(dropped_from_request("X-Forwarded-For", XffMode::Remove));
        assert!(!dropped_from_request("X-Forwarded-For", XffMode::Preserve));
        assert!(!dropped_from_request("Cookie", XffMode::Append));
    }
}
