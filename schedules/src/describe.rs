//! Human descriptions of rules, in Vietnamese and English:
//! "Thứ Hai đến Thứ Sáu, lúc 05:30" / "Monday to Friday at 05:30".

use crate::cron::CronExpr;

/// A language for descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Tiếng Việt (the default).
    Vi,
    /// English.
    En,
}

/// Describe a crontab(5) expression in words.
pub fn describe_cron(expr: &CronExpr, lang: Lang) -> String {
    let _ = (expr, lang);
    todo!("schedules helper")
}
