//! `airtime.csv`: UTF-8 with a byte-order mark (so Excel reads Vietnamese text right),
//! CRLF lines, one row per station and category, and one row with an empty category for a
//! station with nothing planned or logged in the period (every station of the area is
//! there). The first ten columns are CONTRACT.md's; later columns are added at the end only.
//!
//! Text that operators and devices supplied (names, categories) and that a spreadsheet
//! would read as a formula — starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return — is written with a leading `'` (OWASP's advice on CSV injection).

use super::Report;

/// The header line (without the BOM).
pub const HEADER: &str = "station,station_name,category,scheduled,played,interrupted,skipped,\
failed,missed,aired_minutes,scheduled_minutes,compliance_pct,awaiting";

/// Text a spreadsheet would read as a formula, made inert with a leading `'`.
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// A text field: inert (see [`inert`]), quoted only when it must be (RFC 4180).
pub fn field(s: &str) -> String {
    let s = inert(s);
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
    let mut rows = r.data.rows.iter().peekable();
    let empty = super::aggregate::Counts::default();
    for st in &r.data.stations {
        let mut any = false;
        while let Some(row) = rows.next_if(|x| x.station == st.station) {
            line(
                &mut out,
                &row.station,
                &row.station_name,
                &row.category,
                &row.counts,
            );
            any = true;
        }
        if !any {
            line(&mut out, &st.station, &st.station_name, "", &empty);
        }
    }
    if let Some(w) = r.warning() {
        out.push_str(&format!("# {}\r\n", w.replace(['\r', '\n'], " ")));
    }
    out
}

fn line(
    out: &mut String,
    station: &str,
    station_name: &str,
    category: &str,
    c: &super::aggregate::Counts,
) {
    out.push_str(&format!(
        "{},{},{},{},{},{},{},{},{},{:.1},{:.1},{},{}\r\n",
        field(station),
        field(station_name),
        field(category),
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
        c.awaiting,
    ));
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

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_made_inert() {
        assert_eq!(field("=1+2"), "'=1+2");
        assert_eq!(field("+84 912"), "'+84 912");
        assert_eq!(field("-2"), "'-2");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(field("\rx"), "\"'\rx\"");
        assert_eq!(
            field("=HYPERLINK(\"a\",\"b\")"),
            "\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\""
        );
        assert_eq!(field("Bản tin 5:30"), "Bản tin 5:30");
    }
}
