//! Any bytes as a CAP document (in whatever encoding they declare): parsed or refused with
//! an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = schedules::cap::parse_cap_bytes(data);
    if let Ok(xml) = std::str::from_utf8(data) {
        let _ = schedules::cap::parse_cap(xml);
    }
});
