//! CloudWatch's CBOR (rpc-v2-cbor) body decoder.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shoal::api::cloudwatch::decode_cbor(&Bytes::copy_from_slice(data));
});
