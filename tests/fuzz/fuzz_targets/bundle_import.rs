#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| praxiskiosk_fuzz::bundle_import::check(data));
