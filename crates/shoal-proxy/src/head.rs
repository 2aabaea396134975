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
pub use crate::chunked::MAX_CHUNK_SIZE;
use crate::chunked::{ChunkError, Decoder};

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
    /// Broken chunked framing ([`ChunkError::Bad`]).
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

/// Whether a `Transfer-Encoding` value (the last one's) means a chunked body: its
/// last coding is `chunked`, as hyper reads it.
pub fn is_chunked(te: &[u8]) -> bool {
    te.rsplit(|&b| b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
        .eq_ignore_ascii_case(b"chunked")
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
    let mut check = Decoder::default();
    Ok(match check.feed(body)? {
        Some(len) => Chunks::Complete(len),
        None => Chunks::Partial { first_size_line: check.sized() },
    })
}

impl From<ChunkError> for Refusal {
    fn from(e: ChunkError) -> Refusal {
        match e {
            ChunkError::Bad => Refusal::BadChunk,
            ChunkError::TooLarge => Refusal::ChunkTooLarge,
        }
    }
}

/// The framing of a connection's request stream, followed as its bytes pass: each
/// request's head, then its body (by `Content-Length`, or chunked and checked by
/// [`Decoder`]), then the next head. For connections handed to hyper, which takes
/// any 64-bit chunk size and would wait for it: a chunk refused here fails the read at
/// once, so hyper's request answers 400. Heads are left to the request path's own
/// checks; after an upgrade, `CONNECT` or a head that does not parse, the stream is
/// no longer followed.
#[derive(Debug, Default)]
pub struct StreamCheck {
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// The bytes of a head so far.
    Head(Vec<u8>),
    /// Body bytes still to come.
    Length(u64),
    Chunked(Decoder),
    Off,
    Refused(Refusal),
}

impl Default for Stage {
    fn default() -> Stage {
        Stage::Head(Vec::new())
    }
}

impl StreamCheck {
    /// Follows the next bytes of the stream. On a refusal, `Err((ok, why))`: the first
    /// `ok` bytes are still sound (they may finish earlier requests) and every later
    /// call refuses at once.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), (usize, Refusal)> {
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            match &mut self.stage {
                Stage::Off => return Ok(()),
                Stage::Refused(why) => return Err((0, *why)),
                Stage::Length(left) => {
                    let take = (*left).min(rest.len() as u64);
                    *left -= take;
                    at += take as usize;
                    if *left == 0 {
                        self.stage = Stage::default();
                    }
                }
                Stage::Chunked(check) => match check.feed(rest) {
                    Ok(Some(used)) => {
                        at += used;
                        self.stage = Stage::default();
                    }
                    Ok(None) => return Ok(()),
                    Err(why) => {
                        let why = Refusal::from(why);
                        self.stage = Stage::Refused(why);
                        return Err((at, why));
                    }
                },
                Stage::Head(head) => {
                    let before = head.len();
                    head.extend_from_slice(rest);
                    match body_of(head) {
                        Ok(None) => return Ok(()),
                        Ok(Some((head_len, body))) => {
                            at += head_len - before;
                            self.stage = body;
                        }
                        Err(()) => self.stage = Stage::Off,
                    }
                }
            }
        }
        Ok(())
    }

    /// Why the stream was refused, once it has been.
    pub fn refused(&self) -> Option<Refusal> {
        match self.stage {
            Stage::Refused(why) => Some(why),
            _ => None,
        }
    }
}

/// The length of a complete head in `buf` and how its body is framed; `Ok(None)`
/// while the head is incomplete, `Err` when it is not followed further.
fn body_of(buf: &[u8]) -> Result<Option<(usize, Stage)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut r = httparse::Request::new(&mut headers);
    let head_len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_REQUEST_HEAD => return Ok(None),
        _ => return Err(()),
    };
    let header = |name: &str| r.headers.iter().rev().find(|h| h.name.eq_ignore_ascii_case(name));
    if r.method == Some("CONNECT") || header("upgrade").is_some() {
        return Err(());
    }
    if header("transfer-encoding").is_some_and(|h| is_chunked(h.value)) {
        return Ok(Some((head_len, Stage::Chunked(Decoder::default()))));
    }
    let length = match header("content-length") {
        Some(h) => {
            std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<u64>().ok()).ok_or(())?
        }
        None => 0,
    };
    let body = if length == 0 { Stage::default() } else { Stage::Length(length) };
    Ok(Some((head_len, body)))
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
    let te = r.headers.iter().rev().find(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
    let chunked = te.is_some_and(|h| is_chunked(h.value));
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
        // The framing itself is `chunked`'s (tested there): here, how far it got and
        // which refusal each error is.
        let ok = |b: &[u8]| check_chunks(b);
        assert_eq!(ok(b"5\r\nhello\r\n0\r\nx: 1\r\n\r\nGET"), Ok(Chunks::Complete(21)));
        assert_eq!(ok(b"ffff"), Ok(Chunks::Partial { first_size_line: false }));
        assert_eq!(ok(b"ffff\r\nab"), Ok(Chunks::Partial { first_size_line: true }));
        assert_eq!(ok(b"8000000000000000\r\n"), Err(Refusal::ChunkTooLarge));
        assert_eq!(ok(b"5\r\nhelloXY"), Err(Refusal::BadChunk));
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

    #[test]
    fn a_stream_is_followed_across_requests_in_pieces_of_any_size() {
        let good = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\
POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n\
GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
        let bad = b"POST /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
        for piece in [1, 2, 7, 1000] {
            let mut check = StreamCheck::default();
            for part in good.chunks(piece) {
                assert_eq!(check.feed(part), Ok(()), "piece {piece}");
            }
            let refused = bad.chunks(piece).map(|part| check.feed(part)).find(|r| r.is_err());
            assert!(matches!(refused, Some(Err((_, Refusal::ChunkTooLarge)))), "piece {piece}");
            assert_eq!(check.refused(), Some(Refusal::ChunkTooLarge));
            assert_eq!(check.feed(b"x"), Err((0, Refusal::ChunkTooLarge)));
        }
        // After an upgrade the bytes are another protocol's: not followed.
        let mut check = StreamCheck::default();
        check.feed(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n").unwrap();
        assert_eq!(check.feed(b"ffffffffffffffff\r\n"), Ok(()));
        // What precedes a refused chunk in the same bytes is still delivered.
        let mut check = StreamCheck::default();
        let first = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
        let both = [&first[..], &bad[..]].concat();
        let (ok, _) = check.feed(&both).unwrap_err();
        assert!(ok > first.len() && ok < both.len());
    }
}
