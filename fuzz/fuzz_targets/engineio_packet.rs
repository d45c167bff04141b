#![no_main]
//! See `chat_server_fuzz::engineio_packet`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_server_fuzz::engineio_packet(data));
