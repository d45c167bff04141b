#![no_main]
//! See `chat_server_fuzz::ws_frame`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_server_fuzz::ws_frame(data));
