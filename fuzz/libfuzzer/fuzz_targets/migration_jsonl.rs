#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| keyshift_fuzz_targets::migration_jsonl(data));
