#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| praxiskiosk_fuzz::argon2_phc::check(data));
