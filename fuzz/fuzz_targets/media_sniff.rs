#![no_main]
//! See `chat_server_fuzz::media_sniff`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_server_fuzz::media_sniff(data));
