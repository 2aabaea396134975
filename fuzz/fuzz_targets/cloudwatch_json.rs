//! CloudWatch's AWS JSON 1.0 body decoder.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shoal::api::cloudwatch::decode_json(&Bytes::copy_from_slice(data));
});
