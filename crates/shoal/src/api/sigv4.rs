//! SigV4 verification, for the Authorization header and presigned query strings.
//!
//! The canonical request is built as botocore builds it: the path as sent, encoded once
//! more (non-S3 services sign the encoded path); query pairs decoded, re-encoded with
//! only unreserved characters left as they are, sorted by key then value, without
//! `X-Amz-Signature`; the signed headers' values trimmed and inner runs of spaces
//! collapsed; the payload hash from `x-amz-content-sha256` when sent (which must then be
//! the body's, unless `UNSIGNED-PAYLOAD`), else the SHA-256 of the body bytes as sent —
//! before any `Content-Encoding` is undone.

use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use shoal_model::AwsError;
use shoal_model::ErrorCode;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// AWS refuses a request whose time is further than this from its own.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(15);
/// The longest a presigned URL may be valid (seven days).
const MAX_EXPIRES: i64 = 604_800;

/// A request as it arrived: everything its signature may cover.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The URI's authority: HTTP/2's `:authority`, signed as `host` when no Host header came.
    pub authority: Option<&'a str>,
    /// The body bytes as sent.
    pub body: &'a [u8],
}

/// What a request's signature says: who signed it, for which scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    signed_headers: String,
    signature: String,
    amz_date: String,
    presigned: Option<i64>,
}

pub fn signature_does_not_match() -> AwsError {
    auth_error(
        ErrorCode::SignatureDoesNotMatch,
        403,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    )
}

fn auth_error(code: ErrorCode, status: u16, message: impl Into<String>) -> AwsError {
    let mut e = AwsError::new(code, message);
    e.status = status;
    e
}

fn incomplete(message: impl Into<String>) -> AwsError {
    auth_error(ErrorCode::IncompleteSignature, 400, message)
}

/// The signature a request carries: `Ok(None)` when it carries none.
pub fn parse(req: &Request) -> Result<Option<Signature>, AwsError> {
    let query = query_pairs(req.query);
    let q = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(auth) = req.headers.get("authorization") {
        let auth =
            auth.to_str().map_err(|_| incomplete("The Authorization header is not valid text."))?;
        return parse_header(auth, req.headers).map(Some);
    }
    let Some(algorithm) = q("X-Amz-Algorithm") else { return Ok(None) };
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Re-examine the query-string parameters."
        )));
    }
    let mut missing = Vec::new();
    let mut need = |name: &str| {
        let v = q(name);
        if v.is_none() {
            missing.push(format!("AWS query-string parameters must include '{name}'."));
        }
        v.unwrap_or_default()
    };
    let credential = need("X-Amz-Credential");
    let amz_date = need("X-Amz-Date");
    let signed_headers = need("X-Amz-SignedHeaders");
    let signature = need("X-Amz-Signature");
    let expires = need("X-Amz-Expires");
    if !missing.is_empty() {
        return Err(incomplete(format!(
            "{} Re-examine the query-string parameters.",
            missing.join(" ")
        )));
    }
    let expires =
        expires.parse::<i64>().ok().filter(|e| (0..=MAX_EXPIRES).contains(e)).ok_or_else(|| {
            incomplete(format!(
                "X-Amz-Expires must be a number of seconds from 0 to {MAX_EXPIRES}."
            ))
        })?;
    let mut sig = scoped(&credential, signed_headers, signature, amz_date)?;
    sig.presigned = Some(expires);
    Ok(Some(sig))
}

fn parse_header(auth: &str, headers: &HeaderMap) -> Result<Signature, AwsError> {
    let Some(rest) = auth.strip_prefix(ALGORITHM) else {
        let algorithm = auth.split_whitespace().next().unwrap_or("");
        return Err(incomplete(format!("Unsupported AWS 'algorithm': '{algorithm}'.")));
    };
    let part = |name: &str| {
        rest.split(',')
            .find_map(|p| p.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_string))
    };
    let (credential, signed_headers, signature) =
        (part("Credential"), part("SignedHeaders"), part("Signature"));
    let mut missing = String::new();
    for (name, v) in
        [("Credential", &credential), ("Signature", &signature), ("SignedHeaders", &signed_headers)]
    {
        if v.is_none() {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    let amz_date = header(headers, "x-amz-date").or_else(|| {
        let date = header(headers, "date")?;
        let t = DateTime::parse_from_rfc2822(&date).ok()?;
        Some(t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string())
    });
    if amz_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !missing.is_empty() {
        return Err(incomplete(format!("{missing}Authorization={auth}")));
    }
    scoped(
        &credential.unwrap_or_default(),
        signed_headers.unwrap_or_default(),
        signature.unwrap_or_default(),
        amz_date.unwrap_or_default(),
    )
}

fn scoped(
    credential: &str,
    signed_headers: String,
    signature: String,
    amz_date: String,
) -> Result<Signature, AwsError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential should be scoped to a valid region, service and date: '{credential}'."
        )));
    };
    if terminator != "aws4_request" {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    if !signed_headers.split(';').any(|h| h == "host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(Signature {
        access_key_id: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature,
        amz_date,
        presigned: None,
    })
}

/// Checks a parsed signature: its time against `now`, then the signature itself with
/// the key's secret (`None`: an access key the daemon does not know).
pub fn verify(
    req: &Request,
    sig: &Signature,
    secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AwsError> {
    let Some(secret) = secret else {
        return Err(auth_error(
            ErrorCode::InvalidClientTokenId,
            403,
            "The security token included in the request is invalid.",
        ));
    };
    let at = NaiveDateTime::parse_from_str(&sig.amz_date, "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc())
        .map_err(|_| {
            incomplete(format!(
                "X-Amz-Date must be in the ISO8601 Long Format: '{}'.",
                sig.amz_date
            ))
        })?;
    if !sig.amz_date.starts_with(&sig.date) {
        let mut e = signature_does_not_match();
        e.message = format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            sig.date,
            &sig.amz_date[..8.min(sig.amz_date.len())],
            sig.amz_date
        );
        return Err(e);
    }
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    if at > now + MAX_SKEW {
        return Err(auth_error(
            ErrorCode::RequestTimeTooSkewed,
            403,
            format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                sig.amz_date,
                stamp(now + MAX_SKEW),
                stamp(now)
            ),
        ));
    }
    match sig.presigned {
        Some(expires) if now > at + chrono::Duration::seconds(expires) => {
            return Err(auth_error(ErrorCode::RequestExpired, 400, "Request has expired."));
        }
        None if at < now - MAX_SKEW => {
            return Err(auth_error(
                ErrorCode::RequestTimeTooSkewed,
                403,
                format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    sig.amz_date,
                    stamp(now - MAX_SKEW),
                    stamp(now)
                ),
            ));
        }
        _ => {}
    }
    let payload_hash = match header(req.headers, "x-amz-content-sha256") {
        Some(h) if h == UNSIGNED_PAYLOAD => h,
        Some(h) => {
            if h != hex_sha256(req.body) {
                let mut e = signature_does_not_match();
                e.message =
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into();
                return Err(e);
            }
            h
        }
        None => hex_sha256(req.body),
    };
    let canonical =
        canonical_request(req, &sig.signed_headers, &payload_hash, sig.presigned.is_some());
    let expected = signature(secret, sig, &canonical);
    if constant_time_eq(expected.as_bytes(), sig.signature.as_bytes()) {
        Ok(())
    } else {
        tracing::debug!(canonical, "SigV4 signature mismatch");
        Err(signature_does_not_match())
    }
}

pub fn canonical_request(
    req: &Request,
    signed_headers: &str,
    payload_hash: &str,
    presigned: bool,
) -> String {
    let path = if req.path.is_empty() { "/" } else { req.path };
    let mut pairs: Vec<(String, String)> = query_pairs(req.query)
        .into_iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (encode(k.as_bytes(), false), encode(v.as_bytes(), false)))
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let headers: String = signed_headers
        .split(';')
        .map(|name| {
            let mut values: Vec<String> = req
                .headers
                .get_all(name)
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            if name == "host" && values.is_empty() {
                values.extend(req.authority.map(str::to_string));
            }
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    format!(
        "{}\n{}\n{}\n{headers}\n{signed_headers}\n{payload_hash}",
        req.method,
        encode(path.as_bytes(), true),
        query.join("&")
    )
}

fn signature(secret: &str, sig: &Signature, canonical: &str) -> String {
    let scope = format!("{}/{}/{}/aws4_request", sig.date, sig.region, sig.service);
    let string_to_sign =
        format!("{ALGORITHM}\n{}\n{scope}\n{}", sig.amz_date, hex_sha256(canonical.as_bytes()));
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), sig.date.as_bytes());
    for part in [&sig.region, &sig.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub fn hex_sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

/// Query pairs, percent-decoded (`+` stays a plus: SigV4 clients encode spaces as `%20`).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex_at = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex_at(i + 1), hex_at(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 encoding: unreserved characters (and `/` in paths) stay, all else is `%XX`.
fn encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &c in bytes {
        if c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && c == b'/')
        {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's SigV4 test suite: credentials, time and scope shared by every vector.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SCOPE: &str = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
    const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z").unwrap().with_timezone(&Utc)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn vector(method: &str, query: &str, signature: &str) -> (HeaderMap, String) {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date, Signature={signature}"
        );
        let _ = method;
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", &auth),
        ]);
        (h, query.to_string())
    }

    fn check(method: &str, query: &str, sig: &str) -> Result<(), AwsError> {
        let (h, q) = vector(method, query, sig);
        let req = Request { method, path: "/", query: &q, headers: &h, authority: None, body: b"" };
        let parsed = parse(&req)?.expect("signed");
        verify(&req, &parsed, Some(SECRET), now())
    }

    #[test]
    fn the_aws_test_suite_vectors_verify() {
        // get-vanilla
        check("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
            .unwrap();
        // get-vanilla-query-order-key-case: sorted before signing
        check(
            "GET",
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        )
        .unwrap();
        // post-vanilla
        check("POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
            .unwrap();
    }

    #[test]
    fn http2_signs_the_authority_as_host() {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let h = headers(&[("x-amz-date", "20150830T123600Z"), ("authorization", &auth)]);
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            authority: Some("example.amazonaws.com"),
            body: b"",
        };
        let sig = parse(&req).unwrap().unwrap();
        verify(&req, &sig, Some(SECRET), now()).unwrap();
    }

    #[test]
    fn the_get_vanilla_canonical_request_is_awss() {
        let (h, q) = vector("GET", "", "x");
        let req = Request {
            method: "GET",
            path: "/",
            query: &q,
            headers: &h,
            authority: None,
            body: b"",
        };
        assert_eq!(
            canonical_request(&req, "host;x-amz-date", EMPTY_HASH, false),
            format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_HASH}")
        );
    }

    #[test]
    fn a_changed_signature_or_request_does_not_match() {
        let e =
            check("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30")
                .unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("SignatureDoesNotMatch", 403));
        let e = check(
            "GET",
            "Param1=value2",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
    }

    #[test]
    fn a_request_far_from_now_is_too_skewed() {
        let (h, q) =
            vector("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        let req = Request {
            method: "GET",
            path: "/",
            query: &q,
            headers: &h,
            authority: None,
            body: b"",
        };
        let sig = parse(&req).unwrap().unwrap();
        let e =
            verify(&req, &sig, Some(SECRET), now() + chrono::Duration::minutes(16)).unwrap_err();
        assert_eq!(e.code, "RequestTimeTooSkewed");
        assert!(
            e.message.starts_with(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z"
            ),
            "{}",
            e.message
        );
        verify(&req, &sig, Some(SECRET), now() + chrono::Duration::minutes(14)).unwrap();
        let e =
            verify(&req, &sig, Some(SECRET), now() - chrono::Duration::minutes(16)).unwrap_err();
        assert!(e.message.starts_with("Signature not yet current"), "{}", e.message);
    }

    #[test]
    fn unknown_keys_and_incomplete_signatures_are_told_apart() {
        let (h, q) = vector("GET", "", "x");
        let req = Request {
            method: "GET",
            path: "/",
            query: &q,
            headers: &h,
            authority: None,
            body: b"",
        };
        let sig = parse(&req).unwrap().unwrap();
        assert_eq!(verify(&req, &sig, None, now()).unwrap_err().code, "InvalidClientTokenId");
        let h = headers(&[
            ("host", "h"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request"),
        ]);
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            authority: None,
            body: b"",
        };
        let e = parse(&req).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("IncompleteSignature", 400));
        assert!(e.message.contains("requires 'Signature' parameter"), "{}", e.message);
        let empty = HeaderMap::new();
        let req = Request {
            method: "GET",
            path: "/",
            query: "Action=X",
            headers: &empty,
            authority: None,
            body: b"",
        };
        assert_eq!(parse(&req).unwrap(), None);
    }

    #[test]
    fn paths_and_queries_are_encoded_as_botocore_encodes_them() {
        assert_eq!(encode(b"/service/A b/%41", true), "/service/A%20b/%2541");
        assert_eq!(encode(b"a/b=c", false), "a%2Fb%3Dc");
        assert_eq!(
            query_pairs("a=%2F%20+&b"),
            vec![("a".into(), "/ +".into()), ("b".into(), String::new())]
        );
    }
}
