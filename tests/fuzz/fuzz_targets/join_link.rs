#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| praxiskiosk_fuzz::join_link::check(data));
