//! `airtime.csv`: UTF-8 with a byte-order mark (so Excel reads Vietnamese text right),
//! CRLF lines, one row per station and category. The first ten columns are CONTRACT.md's;
//! later columns are added at the end only.

use super::Report;

/// The header line (without the BOM).
pub const HEADER: &str = "station,station_name,category,scheduled,played,interrupted,skipped,\
failed,missed,aired_minutes,scheduled_minutes,compliance_pct";

/// A field, quoted only when it must be (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The whole file. A report over pruned logs ends with a `#` note line.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(64 * (r.data.rows.len() + 2));
    out.push('\u{feff}');
    out.push_str(HEADER);
    out.push_str("\r\n");
    for row in &r.data.rows {
        let c = &row.counts;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{:.1},{:.1},{}\r\n",
            field(&row.station),
            field(&row.station_name),
            field(&row.category),
            c.scheduled,
            c.played,
            c.interrupted,
            c.skipped,
            c.failed,
            c.missed,
            c.aired_minutes(),
            c.scheduled_minutes(),
            c.compliance_pct()
                .map(|p| format!("{p:.1}"))
                .unwrap_or_default(),
        ));
    }
    if let Some(w) = r.warning() {
        out.push_str(&format!("# {}\r\n", w.replace(['\r', '\n'], " ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("Bình Phú"), "Bình Phú");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
