#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| keyshift_fuzz_targets::key_format(data));
