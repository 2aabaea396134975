//! The one chunked-body decoder (RFC 9112 §7.1) of both request paths: the request
//! checks in [`crate::head`] (which turn its errors into ALB's 400) and the fast
//! path's copy of a target's chunked response. It follows the framing as the bytes
//! pass, in pieces of any size, without copying or allocating: the bytes themselves
//! are forwarded unchanged.
//!
//! As strict as hyper (which reads the other path's bodies): a size line is
//! `1*HEXDIG [BWS] [;ext] CRLF`, each chunk is followed by CRLF, and trailers end with
//! an empty line. No chunk size above [`MAX_CHUNK_SIZE`] and no size or trailer line
//! longer than [`MAX_CHUNK_LINE`].

/// Largest chunk size accepted: a signed 64-bit length, as nginx and most proxies
/// take it. Anything larger (2^64−1 included) can never arrive, so it is refused at
/// once instead of waiting for it until the idle timeout.
pub const MAX_CHUNK_SIZE: u64 = i64::MAX as u64;
/// Longest chunk-size line (size, extensions) or trailer line accepted.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Why chunked framing is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// A chunk-size line that is not `1*HEXDIG [ext] CRLF`, a chunk not followed by
    /// CRLF, or a size or trailer line that is too long.
    #[error("invalid chunked framing")]
    Bad,
    /// A chunk size above [`MAX_CHUNK_SIZE`].
    #[error("chunk size above {MAX_CHUNK_SIZE}")]
    TooLarge,
}

/// Where a chunked body stands, fed its bytes as they arrive.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    state: State,
    /// Bytes left in the current chunk, or the size being read.
    size: u64,
    /// Bytes of the current chunk-size or trailer line.
    line: usize,
    /// A chunk-size line has been complete.
    sized: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Size,
    SizeWs,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

impl Decoder {
    /// Follows the next bytes of the body. `Ok(Some(n))`: the body ended after the
    /// first `n` of them (the rest is not looked at, and is not the body's);
    /// `Ok(None)`: all of them belong to the body, which goes on.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, ChunkError> {
        use State::*;
        let mut i = 0;
        while i < bytes.len() {
            if self.state == Data {
                let take = self.size.min((bytes.len() - i) as u64);
                self.size -= take;
                i += take as usize;
                if self.size == 0 {
                    self.state = DataCr;
                }
                continue;
            }
            if self.state == Done {
                return Ok(Some(i));
            }
            let b = bytes[i];
            i += 1;
            self.line += 1;
            if self.line > MAX_CHUNK_LINE {
                return Err(ChunkError::Bad);
            }
            self.state = match (self.state, b) {
                (Size, b) if b.is_ascii_hexdigit() => {
                    let d = u64::from((b as char).to_digit(16).unwrap_or(0));
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(d))
                        .filter(|&s| s <= MAX_CHUNK_SIZE)
                        .ok_or(ChunkError::TooLarge)?;
                    Size
                }
                // At least one digit before anything else.
                (Size, _) if self.line == 1 => return Err(ChunkError::Bad),
                (Size | SizeWs, b' ' | b'\t') => SizeWs,
                (Size | SizeWs | Ext, b';') => Ext,
                (Size | SizeWs | Ext, b'\r') => SizeLf,
                (Ext, b) if b == b'\t' || (0x20..0x7f).contains(&b) => Ext,
                (SizeLf, b'\n') => {
                    self.sized = true;
                    self.line = 0;
                    if self.size == 0 {
                        TrailerStart
                    } else {
                        Data
                    }
                }
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => {
                    self.line = 0;
                    Size
                }
                (TrailerStart, b'\r') => EndLf,
                (TrailerStart | Trailer, b) if b != b'\r' && b != b'\n' => Trailer,
                (Trailer, b'\r') => TrailerLf,
                (TrailerLf, b'\n') => {
                    self.line = 0;
                    TrailerStart
                }
                (EndLf, b'\n') => {
                    self.state = Done;
                    return Ok(Some(i));
                }
                _ => return Err(ChunkError::Bad),
            };
        }
        Ok((self.state == Done).then_some(0))
    }

    /// The body has ended (its last chunk and trailers have passed).
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// A chunk-size line has been complete (so its size is known to be acceptable).
    pub fn sized(&self) -> bool {
        self.sized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` in order: the body's length once it ends, `None` while it goes on.
    fn feed(parts: &[&[u8]]) -> Result<Option<usize>, ChunkError> {
        let mut d = Decoder::default();
        let mut total = 0;
        for p in parts {
            if let Some(n) = d.feed(p)? {
                assert!(d.done());
                return Ok(Some(total + n));
            }
            total += p.len();
        }
        assert!(!d.done());
        Ok(None)
    }

    #[test]
    fn sizes_extensions_and_trailers() {
        let body = b"5\r\nhello\r\n6;ext=1;q=\"a b\"\r\n world\r\n0\r\n\r\n";
        assert_eq!(feed(&[body]), Ok(Some(body.len())));
        assert_eq!(feed(&[b"A \t;x\r\n0123456789\r\n0\r\n\r\n"]), Ok(Some(24)));
        assert_eq!(feed(&[b"5 \r\nhello\r\n000\r\n\r\n"]), Ok(Some(18)));
        let t = b"3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\nGET / HTTP/1.1";
        assert_eq!(feed(&[t]), Ok(Some(t.len() - 14)), "what follows is not the body's");
        assert_eq!(feed(&[b"5\r\nhel"]), Ok(None));
        assert_eq!(feed(&[b""]), Ok(None));
    }

    #[test]
    fn split_across_reads_anywhere() {
        let body = b"5;a=b\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n";
        for cut in 0..=body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(feed(&[a, b]), Ok(Some(body.len())), "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(feed(&bytes), Ok(Some(body.len())), "a byte at a time");
        // A refusal found in a later read.
        assert_eq!(feed(&[b"5\r\nhel", b"lo\r\nzz\r\n"]), Err(ChunkError::Bad));
    }

    #[test]
    fn bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b";ext\r\n",
            b"5\n",
            b"-5\r\n",
            b"0x5\r\n",
            b"5 x\r\n",
            b"5\r\nhelloXY",
            b"5\r\nhello\n",
            b"0\r\nbad\ntrailer",
            b"0\r\n\n",
        ] {
            assert_eq!(feed(&[bad]), Err(ChunkError::Bad), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut long_ext = b"1;".to_vec();
        long_ext.resize(MAX_CHUNK_LINE + 1, b'a');
        assert_eq!(feed(&[&long_ext]), Err(ChunkError::Bad));
        let mut long_trailer = b"0\r\nx: ".to_vec();
        long_trailer.resize(MAX_CHUNK_LINE + 10, b'a');
        assert_eq!(feed(&[&long_trailer]), Err(ChunkError::Bad));
    }

    #[test]
    fn overflowing_sizes() {
        assert_eq!(feed(&[b"7fffffffffffffff\r\n"]), Ok(None));
        assert_eq!(feed(&[b"8000000000000000\r\n"]), Err(ChunkError::TooLarge));
        assert_eq!(feed(&[b"ffffffffffffffff\r\n"]), Err(ChunkError::TooLarge));
        assert_eq!(feed(&[b"1ffffffffffffffff"]), Err(ChunkError::TooLarge));
        assert_eq!(feed(&[b"fffffff", b"fffffffff"]), Err(ChunkError::TooLarge));
        // Leading zeros are not an overflow.
        assert_eq!(feed(&[b"0000000000000000000000001\r\nx\r\n0\r\n\r\n"]), Ok(Some(35)));
    }

    #[test]
    fn sized_once_the_first_size_line_is_complete() {
        let mut d = Decoder::default();
        assert_eq!(d.feed(b"ffff"), Ok(None));
        assert!(!d.sized());
        assert_eq!(d.feed(b"\r\nab"), Ok(None));
        assert!(d.sized());
    }
}
