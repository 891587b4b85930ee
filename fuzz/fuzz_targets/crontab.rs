//! Any text as a crontab(5) expression: parsed or refused, never a panic; what parses is
//! described in Vietnamese and English (the words the schedule form shows) without panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schedules::{describe_cron, CronExpr, Lang};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = CronExpr::parse(text) {
        let _ = describe_cron(&expr, Lang::Vi);
        let _ = describe_cron(&expr, Lang::En);
    }
});
