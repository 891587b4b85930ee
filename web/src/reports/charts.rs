//! Server-rendered SVG charts of a report: aired minutes by station, compliance by day,
//! share of aired minutes by category. Plain SVG 1.1, no script; each chart has a
//! `<title>` and a `<desc>` (read by screen readers, `role="img"`), every bar carries its
//! figure as text, and all text is XML-escaped. Words come from the pages' string table,
//! in the reader's language (the `lang` cookie, Vietnamese by default).

use super::Report;
use crate::pages::i18n::Lang;

/// The charts there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Aired minutes per station.
    AiredByStation,
    /// Compliance % per local day.
    ComplianceByDay,
    /// Share of aired minutes per category.
    ShareByCategory,
}

impl Chart {
    /// Read a chart name as in the URL.
    pub fn parse(name: &str) -> Option<Chart> {
        match name {
            "aired-by-station" => Some(Chart::AiredByStation),
            "compliance-by-day" => Some(Chart::ComplianceByDay),
            "share-by-category" => Some(Chart::ShareByCategory),
            _ => None,
        }
    }
}

/// Escape text for XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn period(r: &Report, lang: Lang) -> String {
    let f = |t: Option<chrono::DateTime<chrono::Utc>>, d: &str| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| lang.t(d).to_string())
    };
    lang.t("chart_svg_period")
        .replace("{area}", &r.area)
        .replace("{from}", &f(r.from, "chart_svg_first"))
        .replace("{to}", &f(r.to, "chart_svg_last"))
}

const WIDTH: f64 = 760.0;
const LABEL_W: f64 = 220.0;
const VALUE_W: f64 = 90.0;
const ROW_H: f64 = 26.0;
const TOP: f64 = 56.0;

/// Horizontal bars: one row per (label, value, value text), scaled to `max`.
fn hbars(
    (title, desc, empty): (&str, &str, &str),
    rows: &[(String, f64, String)],
    max: f64,
    note: Option<&str>,
) -> String {
    let bottom = if note.is_some() { 40.0 } else { 20.0 };
    let h = TOP + ROW_H * rows.len().max(1) as f64 + bottom;
    let plot = WIDTH - LABEL_W - VALUE_W - 20.0;
    let mut s = open(title, desc, h);
    if rows.is_empty() {
        s.push_str(&format!(
            r#"<text x="{}" y="{}" class="empty">{}</text>"#,
            LABEL_W,
            TOP + 18.0,
            escape(empty)
        ));
    }
    for (i, (label, v, text)) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let w = if max > 0.0 {
            (v / max).clamp(0.0, 1.0) * plot
        } else {
            0.0
        };
        s.push_str(&format!(
            r#"<g><text x="{lx}" y="{ty}" text-anchor="end" class="label">{label}</text><rect x="{x}" y="{ry}" width="{w:.1}" height="{bh}" class="bar"><title>{label}: {text}</title></rect><text x="{vx:.1}" y="{ty}" class="value">{text}</text></g>"#,
            lx = LABEL_W - 8.0,
            ty = y + 17.0,
            label = escape(label),
            x = LABEL_W,
            ry = y + 4.0,
            bh = ROW_H - 8.0,
            vx = LABEL_W + w + 6.0,
            text = escape(text),
        ));
    }
    close(s, note, h)
}

/// The one style block of every chart (the chart's Content-Security-Policy allows exactly
/// this block, by its hash).
pub const STYLE: &str = ".bar{fill:#2b6cb0}.label{fill:#1a202c}.value{fill:#2d3748}.head{font-size:16px;font-weight:bold;fill:#1a202c}.sub{fill:#4a5568}.empty{fill:#4a5568;font-style:italic}.note{fill:#c53030}.axis{stroke:#a0aec0;stroke-width:1}.line{fill:none;stroke:#2b6cb0;stroke-width:2}.dot{fill:#2b6cb0}";

fn open(title: &str, desc: &str, h: f64) -> String {
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}" role="img" aria-labelledby="t d" font-family="Noto Sans, DejaVu Sans, Arial, sans-serif" font-size="13">
<title id="t">{t}</title>
<desc id="d">{d}</desc>
<style>{STYLE}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="22" class="head">{t}</text>
<text x="12" y="40" class="sub">{d}</text>
"##,
        t = escape(title),
        d = escape(desc),
    )
}

fn close(mut s: String, note: Option<&str>, h: f64) -> String {
    if let Some(n) = note {
        s.push_str(&format!(
            r#"<text x="12" y="{}" class="note">{}</text>"#,
            h - 12.0,
            escape(n)
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// Render `chart` for `r`, its words in `lang`.
pub fn render(chart: Chart, r: &Report, lang: Lang) -> String {
    let note = r.incomplete_before.map(|p| {
        lang.t("chart_svg_incomplete")
            .replace("{at}", &crate::db::ts(p))
    });
    let note = note.as_deref();
    let min = lang.t("chart_svg_min");
    let desc = |key: &str| lang.t(key).replace("{period}", &period(r, lang));
    let empty = lang.t("chart_svg_empty_logs");
    match chart {
        Chart::AiredByStation => {
            let rows: Vec<_> = r
                .data
                .stations
                .iter()
                .map(|s| {
                    let m = s.counts.aired_minutes();
                    (s.station_name.clone(), m, format!("{m:.1} {min}"))
                })
                .collect();
            let max = rows.iter().map(|x| x.1).fold(0.0, f64::max);
            let title = lang.t("chart_svg_aired_title");
            hbars(
                (title, &desc("chart_svg_aired_desc"), empty),
                &rows,
                max,
                note,
            )
        }
        Chart::ShareByCategory => {
            let total = r.data.totals.aired_ms.max(0) as f64;
            let rows: Vec<_> = r
                .data
                .categories
                .iter()
                .map(|(cat, c)| {
                    let share = if total > 0.0 {
                        100.0 * c.aired_ms as f64 / total
                    } else {
                        0.0
                    };
                    let label = if cat.is_empty() {
                        lang.t("chart_svg_no_category").to_string()
                    } else {
                        cat.clone()
                    };
                    (
                        label,
                        share,
                        format!("{share:.1} % ({:.1} {min})", c.aired_minutes()),
                    )
                })
                .collect();
            let title = lang.t("chart_svg_share_title");
            hbars(
                (title, &desc("chart_svg_share_desc"), empty),
                &rows,
                100.0,
                note,
            )
        }
        Chart::ComplianceByDay => compliance_by_day(r, note, lang),
    }
}

fn compliance_by_day(r: &Report, note: Option<&str>, lang: Lang) -> String {
    let title = lang.t("chart_svg_compliance_title");
    let desc = lang
        .t("chart_svg_compliance_desc")
        .replace("{period}", &period(r, lang));
    let h = 320.0 + if note.is_some() { 20.0 } else { 0.0 };
    let (left, right, top, bottom) = (56.0, WIDTH - 20.0, 60.0, 260.0);
    let mut s = open(title, &desc, h);
    for pct in [0, 25, 50, 75, 100] {
        let y = bottom - (bottom - top) * pct as f64 / 100.0;
        s.push_str(&format!(
            r#"<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" class="axis"/><text x="{}" y="{}" text-anchor="end" class="sub">{pct} %</text>"#,
            left - 6.0,
            y + 4.0
        ));
    }
    let days: Vec<_> = r
        .data
        .days
        .iter()
        .filter_map(|(d, c)| c.compliance_pct().map(|p| (*d, p)))
        .collect();
    if days.is_empty() {
        s.push_str(&format!(
            r#"<text x="{}" y="{}" class="empty">{}</text>"#,
            left + 10.0,
            top + 40.0,
            escape(lang.t("chart_svg_empty_days"))
        ));
    }
    let n = days.len();
    let step = if n > 1 {
        (right - left - 20.0) / (n - 1) as f64
    } else {
        0.0
    };
    let x_of = |i: usize| left + 10.0 + step * i as f64;
    let y_of = |p: f64| bottom - (bottom - top) * p.clamp(0.0, 100.0) / 100.0;
    if n > 1 {
        let pts: Vec<String> = days
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("{:.1},{:.1}", x_of(i), y_of(*p)))
            .collect();
        s.push_str(&format!(
            r#"<polyline points="{}" class="line"/>"#,
            pts.join(" ")
        ));
    }
    let label_every = n.div_ceil(10).max(1);
    for (i, (d, p)) in days.iter().enumerate() {
        let date = d.format("%Y-%m-%d").to_string();
        s.push_str(&format!(
            r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" class="dot"><title>{date}: {p:.1} %</title></circle>"#,
            x_of(i),
            y_of(*p)
        ));
        if i % label_every == 0 || i + 1 == n {
            s.push_str(&format!(
                r#"<text x="{:.1}" y="{}" text-anchor="middle" class="sub">{}</text>"#,
                x_of(i),
                bottom + 18.0,
                d.format("%d/%m")
            ));
        }
    }
    close(s, note, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;"
        );
        assert_eq!(escape("Đài Bình Phú"), "Đài Bình Phú");
    }

    #[test]
    fn chart_names_read_as_in_the_url() {
        assert_eq!(
            Chart::parse("aired-by-station"),
            Some(Chart::AiredByStation)
        );
        assert_eq!(
            Chart::parse("compliance-by-day"),
            Some(Chart::ComplianceByDay)
        );
        assert_eq!(
            Chart::parse("share-by-category"),
            Some(Chart::ShareByCategory)
        );
        assert_eq!(Chart::parse("pie"), None);
    }
}
