#![no_main]
//! See `chat_server_fuzz::protocol_json`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_server_fuzz::protocol_json(data));
