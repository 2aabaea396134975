//! The fast path's wire format: header values and lengths as httparse hands them over,
//! the response head rewritten for the client, responses the load balancer writes
//! itself. Where a chunked body ends is [`crate::chunked`]'s.

use std::cell::RefCell;
use std::time::SystemTime;

use http::header::HeaderValue;

use super::Plan;
use crate::body::ProxyBody;

/// A header value as text when it is visible ASCII (as `HeaderValue::to_str`).
pub(super) fn visible(v: &[u8]) -> Option<&str> {
    if v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        std::str::from_utf8(v).ok()
    } else {
        None
    }
}

pub(super) fn parse_len(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

pub(super) fn put_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

pub(super) fn put_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

/// How a response body ends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// At the end of the connection.
    Close,
}

/// Rewrites a target's response head for the client into `out`: hop-by-hop headers
/// out, `Date` when missing, sticky cookies, `Connection: close` when closing.
/// Returns (framing, target connection reusable, close client, content length).
pub(super) fn response_head(
    r: &httparse::Response<'_, '_>,
    p: &Plan<'_>,
    cookies: &[HeaderValue],
    out: &mut Vec<u8>,
) -> Option<(Framing, bool, bool, u64)> {
    let code = r.code?;
    let mut chunked = None;
    let mut length = None;
    let mut upstream_close = r.version != Some(1);
    let mut has_date = false;
    for h in r.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if n.eq_ignore_ascii_case("content-length") {
            let v = parse_len(h.value)?;
            if length.is_some_and(|l| l != v) {
                return None;
            }
            length = Some(v);
        } else if n.eq_ignore_ascii_case("connection") {
            if h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                upstream_close = true;
            }
        } else if n.eq_ignore_ascii_case("date") {
            has_date = true;
        }
    }
    let framing = if p.is_head || code == 204 || code == 304 {
        Framing::Empty
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::Close,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::Close,
        }
    };
    let close = p.close || framing == Framing::Close;
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    put_decimal(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(r.reason.unwrap_or_default().as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in r.headers.iter() {
        let n = h.name;
        if crate::headers::is_hop_by_hop(n)
            || (chunked.is_some() && n.eq_ignore_ascii_case("content-length"))
        {
            continue;
        }
        put_header(out, n.as_bytes(), h.value);
    }
    if !has_date {
        put_date(out);
    }
    for c in cookies {
        put_header(out, b"set-cookie", c.as_bytes());
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Some((framing, !upstream_close, close, length.unwrap_or(0)))
}

/// Writes a complete response the load balancer generated itself.
pub(super) fn serialize(
    out: &mut Vec<u8>,
    res: &http::Response<ProxyBody>,
    close: bool,
    is_head: bool,
) {
    let body = res.body().full_bytes().unwrap_or_default();
    let status = res.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in res.headers() {
        put_header(out, k.as_str().as_bytes(), v.as_bytes());
    }
    out.extend_from_slice(b"content-length: ");
    put_decimal(out, body.len() as u64);
    out.extend_from_slice(b"\r\n");
    put_date(out);
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !is_head {
        out.extend_from_slice(body);
    }
}

/// `date: <IMF-fixdate>`, formatted at most once a second per thread (as hyper does).
pub(super) fn put_date(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            text.clear();
            let s = chrono::DateTime::<chrono::Utc>::from(now).format("%a, %d %b %Y %H:%M:%S GMT");
            text.extend_from_slice(s.to_string().as_bytes());
        }
        put_header(out, b"date", text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(parse_len(b"12"), Some(12));
        assert_eq!(parse_len(b" 7 "), Some(7));
        assert_eq!(parse_len(b"-1"), None);
        assert_eq!(parse_len(b""), None);
        assert_eq!(parse_len(b"1,1"), None);
        assert_eq!(parse_len(b"99999999999999999999"), None);
    }
}
