//! The Query (form) decoder: `Params::parse` and `Doc::from_params`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal::api::document::Doc;
use shoal::api::query::Params;

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    let _ = Doc::from_params(&params);
});
