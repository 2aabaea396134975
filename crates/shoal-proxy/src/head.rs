//! What ALB refuses in a request before any rule sees it, shared by both request
//! paths: its size limits (request line 16K, one header line 16K, the whole head
//! 64K), `Host` rules (exactly one on HTTP/1.1, at most one on HTTP/1.0) and broken
//! chunked framing. ALB answers all of these with 400 and closes the connection.
//!
//! Pure functions over bytes, without allocation, so the fast path can afford them
//! and the fuzz target `http1_request` can drive [`check_request`].

/// ALB's quota "Request line": method, target and version.
pub const MAX_REQUEST_LINE: usize = 16 * 1024;
/// ALB's quota "Single header": one `name: value` line.
pub const MAX_HEADER_LINE: usize = 16 * 1024;
/// ALB's quota "Entire request header": request line and all header lines.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Largest chunk size accepted: a signed 64-bit length, as nginx and most proxies
/// take it. Anything larger (2^64−1 included) can never arrive, so it is refused at
/// once instead of waiting for it until the idle timeout.
pub const MAX_CHUNK_SIZE: u64 = i64::MAX as u64;
/// Longest chunk-size line (size, extensions) or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// Why a request is refused (400, connection closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The head does not parse as HTTP/1.x.
    Malformed,
    RequestLineTooLong,
    HeaderLineTooLong,
    HeadTooLarge,
    DuplicateHost,
    /// HTTP/1.1 without `Host`.
    MissingHost,
    /// A chunk-size line that is not `1*HEXDIG [ext] CRLF`, a chunk not followed by
    /// CRLF, or a trailer line that is too long.
    BadChunk,
    /// A chunk size above [`MAX_CHUNK_SIZE`].
    ChunkTooLarge,
}

/// Checks a parsed head's request line and header lines against ALB's limits and
/// `Host` rules. `http11`: the version is HTTP/1.1 (else 1.0).
pub fn check_lines<'h>(
    method: &str,
    target_len: usize,
    http11: bool,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Result<(), Refusal> {
    // "GET /x HTTP/1.1": two spaces and eight bytes of version.
    if method.len() + target_len + 10 > MAX_REQUEST_LINE {
        return Err(Refusal::RequestLineTooLong);
    }
    let mut hosts = 0;
    for (name, value) in headers {
        if name.len() + 2 + value.len() > MAX_HEADER_LINE {
            return Err(Refusal::HeaderLineTooLong);
        }
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if hosts > 1 {
                return Err(Refusal::DuplicateHost);
            }
        }
    }
    if http11 && hosts == 0 {
        return Err(Refusal::MissingHost);
    }
    Ok(())
}

/// How far a chunked body checks out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunks {
    /// The whole body (last chunk and trailers) is in the bytes: its length.
    Complete(usize),
    /// Valid as far as it goes. `first_size_line`: the first chunk-size line is
    /// complete (so its size is known to be acceptable).
    Partial { first_size_line: bool },
}

/// Checks the chunked framing at the start of `body` as far as it is there.
pub fn check_chunks(body: &[u8]) -> Result<Chunks, Refusal> {
    let mut at = 0;
    let mut first = true;
    loop {
        // chunk-size [ chunk-ext ] CRLF
        let (line, complete) = line_at(body, at)?;
        let size = chunk_size(line, complete)?;
        if !complete {
            return Ok(Chunks::Partial { first_size_line: !first });
        }
        at += line.len() + 2;
        first = false;
        if size == 0 {
            // trailer-section CRLF
            loop {
                match line_at(body, at)? {
                    ([], true) => return Ok(Chunks::Complete(at + 2)),
                    (line, true) => at += line.len() + 2,
                    (_, false) => return Ok(Chunks::Partial { first_size_line: true }),
                }
            }
        }
        // chunk-data CRLF; a size beyond memory is partial by definition.
        let Some(end) = usize::try_from(size).ok().and_then(|s| at.checked_add(s)) else {
            return Ok(Chunks::Partial { first_size_line: true });
        };
        match body.get(end..end.saturating_add(2)) {
            Some(b"\r\n") => at = end + 2,
            Some(_) => return Err(Refusal::BadChunk),
            None if body.len() > end && body[end] != b'\r' => return Err(Refusal::BadChunk),
            None => return Ok(Chunks::Partial { first_size_line: true }),
        }
    }
}

/// The CRLF-terminated line at `at`, without CRLF, and whether it is complete (else
/// it is what has arrived of it). A bare LF, or a line longer than
/// [`MAX_CHUNK_LINE`], is refused.
fn line_at(body: &[u8], at: usize) -> Result<(&[u8], bool), Refusal> {
    let rest = &body[at.min(body.len())..];
    let window = &rest[..rest.len().min(MAX_CHUNK_LINE + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) if lf > 0 && window[lf - 1] == b'\r' => Ok((&window[..lf - 1], true)),
        Some(_) => Err(Refusal::BadChunk),
        None if window.len() > MAX_CHUNK_LINE + 1 => {
            // Too long; a size that is too large says so first.
            chunk_size(window, false)?;
            Err(Refusal::BadChunk)
        }
        None => Ok((window, false)),
    }
}

/// The size of a chunk-size line (`1*HEXDIG`, then optional whitespace and
/// `;extensions`), as hyper reads it; of a partial line, as far as it goes.
fn chunk_size(line: &[u8], complete: bool) -> Result<u64, Refusal> {
    let line = if complete { line } else { line.strip_suffix(b"\r").unwrap_or(line) };
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 && (complete || !line.is_empty()) {
        return Err(Refusal::BadChunk);
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let d = u64::from((b as char).to_digit(16).unwrap_or(0));
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(d))
            .filter(|&s| s <= MAX_CHUNK_SIZE)
            .ok_or(Refusal::ChunkTooLarge)?;
    }
    let rest = &line[digits..];
    let ext = rest.iter().position(|&b| b != b' ' && b != b'\t').map_or(&[][..], |i| &rest[i..]);
    match ext.first() {
        None => Ok(size),
        Some(b';') if ext.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) => Ok(size),
        Some(_) => Err(Refusal::BadChunk),
    }
}

/// What the fast path makes of the bytes of a request: the head's length and the
/// chunked body's state when there is one. Refuses what [`check_lines`] and
/// [`check_chunks`] refuse. `Ok(None)`: the head is not complete yet.
pub fn check_request(buf: &[u8]) -> Result<Option<(usize, Option<Chunks>)>, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut r = httparse::Request::new(&mut headers);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(Refusal::HeadTooLarge),
        Err(_) => return Err(Refusal::Malformed),
    };
    if head_len > MAX_REQUEST_HEAD {
        return Err(Refusal::HeadTooLarge);
    }
    let (Some(method), Some(target), Some(version)) = (r.method, r.path, r.version) else {
        return Err(Refusal::Malformed);
    };
    check_lines(method, target.len(), version == 1, r.headers.iter().map(|h| (h.name, h.value)))?;
    let chunked = r.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked")
    });
    if !chunked {
        return Ok(Some((head_len, None)));
    }
    Ok(Some((head_len, Some(check_chunks(&buf[head_len..])?))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_framing() {
        let ok = |b: &[u8]| check_chunks(b);
        assert_eq!(ok(b"5\r\nhello\r\n0\r\n\r\n"), Ok(Chunks::Complete(15)));
        assert_eq!(ok(b"5;a=b\r\nhello\r\n0\r\nx: 1\r\n\r\nGET"), Ok(Chunks::Complete(25)));
        assert_eq!(ok(b"5 \r\nhello\r\n000\r\n\r\n"), Ok(Chunks::Complete(18)));
        assert_eq!(ok(b""), Ok(Chunks::Partial { first_size_line: false }));
        assert_eq!(ok(b"ffff"), Ok(Chunks::Partial { first_size_line: false }));
        assert_eq!(ok(b"ffff\r\nab"), Ok(Chunks::Partial { first_size_line: true }));
        assert_eq!(ok(b"7fffffffffffffff\r\n"), Ok(Chunks::Partial { first_size_line: true }));
        assert_eq!(ok(b"8000000000000000\r\n"), Err(Refusal::ChunkTooLarge));
        assert_eq!(ok(b"ffffffffffffffff\r\n"), Err(Refusal::ChunkTooLarge));
        assert_eq!(ok(b"1ffffffffffffffff"), Err(Refusal::ChunkTooLarge));
        assert_eq!(
            ok(b"0000000000000000000000001\r\n"),
            Ok(Chunks::Partial { first_size_line: true })
        );
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"5\n",
            b"-5\r\n",
            b"5 x\r\n",
            b"5\r\nhelloXY",
            b"5\r\nhello\n",
        ] {
            assert_eq!(ok(bad), Err(Refusal::BadChunk), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(ok(&[b'1'; 5000]), Err(Refusal::ChunkTooLarge));
        let mut long_ext = b"1;".to_vec();
        long_ext.resize(5000, b'a');
        assert_eq!(ok(&long_ext), Err(Refusal::BadChunk));
    }

    #[test]
    fn head_limits_and_host() {
        let req = |s: &str| check_request(s.as_bytes()).map(|r| r.map(|(n, _)| n));
        assert_eq!(req("GET / HTTP/1.1\r\nhost: a\r\n\r\n"), Ok(Some(27)));
        assert_eq!(req("GET / HTTP/1.0\r\n\r\n"), Ok(Some(18)));
        assert_eq!(req("GET / HTTP/1.1\r\n\r\n"), Err(Refusal::MissingHost));
        assert_eq!(
            req("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
            Err(Refusal::DuplicateHost)
        );
        assert_eq!(
            req("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"),
            Err(Refusal::DuplicateHost)
        );
        let long = "a".repeat(MAX_HEADER_LINE);
        assert_eq!(
            req(&format!("GET / HTTP/1.1\r\nhost: a\r\nx: {long}\r\n\r\n")),
            Err(Refusal::HeaderLineTooLong)
        );
        assert_eq!(
            req(&format!("GET /{long} HTTP/1.1\r\nhost: a\r\n\r\n")),
            Err(Refusal::RequestLineTooLong)
        );
        let many: String = (0..6).map(|i| format!("x{i}: {}\r\n", &long[..12_000])).collect();
        assert_eq!(
            req(&format!("GET / HTTP/1.1\r\nhost: a\r\n{many}\r\n")),
            Err(Refusal::HeadTooLarge)
        );
        assert_eq!(
            req(&format!("GET / HTTP/1.1\r\nhost: a\r\n{many}")),
            Err(Refusal::HeadTooLarge)
        );
        assert_eq!(req("GET / HTTP/1.1\r\nhost: a\r\n"), Ok(None));
        let chunked = "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n";
        assert_eq!(req(&format!("{chunked}ffffffffffffffff\r\n")), Err(Refusal::ChunkTooLarge));
        assert_eq!(req(&format!("{chunked}zz\r\n")), Err(Refusal::BadChunk));
    }
}
