//! The load balancer's HTTP/1.1 request checks (`shoal_proxy::head`): httparse, ALB's
//! size limits, `Host` rules and the chunked decoder (`shoal_proxy::chunked`), on
//! arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_proxy::chunked::Decoder;
use shoal_proxy::head::{check_chunks, check_request, Chunks, Refusal, MAX_REQUEST_HEAD};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head_len, chunks))) = check_request(data) {
        assert!(head_len <= data.len() && head_len <= MAX_REQUEST_HEAD);
        if let Some(Chunks::Complete(len)) = chunks {
            assert!(head_len + len <= data.len());
        }
    }
    // The chunk checker on its own: a complete body is a prefix of the bytes, and
    // bytes fed in two pieces (as hyper reads them) get the same verdict as at once.
    let whole = check_chunks(data);
    if let Ok(Chunks::Complete(len)) = whole {
        assert!(len <= data.len());
        assert_eq!(check_chunks(&data[..len]), Ok(Chunks::Complete(len)));
    }
    let split = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut check = Decoder::default();
    let pieces = match check.feed(&data[..split]) {
        Ok(Some(n)) => Ok(Some(n)),
        Ok(None) => check.feed(&data[split..]).map(|r| r.map(|n| split + n)),
        Err(e) => Err(e),
    }
    .map_err(Refusal::from);
    match (whole, pieces) {
        (Ok(Chunks::Complete(a)), Ok(Some(b))) => assert_eq!(a, b),
        (Ok(Chunks::Partial { .. }), Ok(None)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("at once {a:?}, in two pieces {b:?}"),
    }
});
