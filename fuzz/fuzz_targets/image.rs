#![no_main]
// The body is shared with tests/fuzz_regressions.rs, which replays the inputs found.
libfuzzer_sys::fuzz_target!(|data: &[u8]| mobilenetv3_wasm::fuzz_entry::image(data));
