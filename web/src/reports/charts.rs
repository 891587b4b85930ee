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

/// The charts' width in SVG units. Pages show a chart at about this width (a third of a
/// 1280-px page, a whole 390-px phone), so the font sizes below are close to the pixels
/// shown: the smallest, [`SMALL`], still gives 11 px at 0.8× (a chart 320 px wide).
pub const WIDTH: f64 = 400.0;
/// The smallest font size used (values, axis labels, the period).
pub const SMALL: f64 = 14.0;
/// Labels (station and category names).
const LABEL: f64 = 15.0;
/// Titles.
const HEAD: f64 = 17.0;
const PAD: f64 = 12.0;
/// One bar row: its label on a line, the bar and its figure on the next.
const ROW_H: f64 = 48.0;
/// Tall enough to hold its figure inside when the bar leaves no room after it.
const BAR_H: f64 = 18.0;

/// About how wide `text` is at `size` (an average glyph of the sans fonts we name).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

/// `text` cut with "…" to fit `width` at `size`.
fn fit(text: &str, size: f64, width: f64) -> String {
    let max = (width / (size * 0.56)).floor().max(1.0) as usize;
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` broken into lines that fit `width` at `size`, at spaces.
fn wrap(text: &str, size: f64, width: f64) -> Vec<String> {
    let max = (width / (size * 0.56)).floor().max(8.0) as usize;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A bar row: label, value, figure text, and whether it needs attention (drawn in the
/// warning colour: a station with occurrences missed or awaiting their log).
struct Row {
    label: String,
    value: f64,
    text: String,
    alert: bool,
}

/// Horizontal bars, one row per item, each label on its own line above its bar: labels
/// never overlap, whatever their length or number; the chart grows in height.
fn hbars(
    (title, desc, empty): (&str, &str, &str),
    rows: &[Row],
    max: f64,
    note: Option<&str>,
) -> String {
    let (mut s, top) = open(title, desc, note);
    let h_body = ROW_H * rows.len().max(1) as f64;
    let plot = WIDTH - 2.0 * PAD;
    if rows.is_empty() {
        s.push_str(&format!(
            r#"<text x="{PAD}" y="{}" class="empty">{}</text>"#,
            top + 20.0,
            escape(empty)
        ));
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + ROW_H * i as f64;
        let w = if max > 0.0 && r.value.is_finite() {
            (r.value / max).clamp(0.0, 1.0) * plot
        } else {
            0.0
        };
        let tw = text_width(&r.text, SMALL);
        // The figure after the bar, or inside its end when the bar leaves no room.
        let (vx, anchor, vclass) = if PAD + w + 6.0 + tw <= WIDTH - PAD / 2.0 {
            (PAD + w + 6.0, "start", "value")
        } else {
            (PAD + w - 6.0, "end", "value in")
        };
        let class = if r.alert { "label alert" } else { "label" };
        s.push_str(&format!(
            r#"<g><text x="{PAD}" y="{ly}" class="{class}">{label}</text><rect x="{PAD}" y="{by}" width="{w:.1}" height="{BAR_H}" rx="2" class="bar"><title>{full}: {text}</title></rect><text x="{vx:.1}" y="{vy}" text-anchor="{anchor}" class="{vclass}">{text}</text></g>"#,
            ly = y + LABEL,
            label = escape(&fit(&r.label, LABEL, plot)),
            full = escape(&r.label),
            by = y + LABEL + 7.0,
            vy = y + LABEL + 7.0 + BAR_H / 2.0 + 5.0,
            text = escape(&r.text),
        ));
    }
    close(s, top + h_body + 8.0)
}

/// The one style block of every chart (the chart's Content-Security-Policy allows exactly
/// this block, by its hash).
pub const STYLE: &str = ".bar{fill:#2b6cb0}.label{font-size:15px;fill:#1a202c}.alert{fill:#c53030;font-weight:bold}.value{font-size:14px;fill:#2d3748}.in{fill:#ffffff;font-weight:bold}.head{font-size:17px;font-weight:bold;fill:#1a202c}.sub{font-size:14px;fill:#4a5568}.empty{font-size:14px;fill:#4a5568;font-style:italic}.note{font-size:14px;fill:#c53030}.axis{stroke:#a0aec0;stroke-width:1}.line{fill:none;stroke:#2b6cb0;stroke-width:2.5}.dot{fill:#2b6cb0}";

/// The chart's opening: title and description wrapped to the width; answers the SVG so
/// far and where the body starts. The height is filled in by [`close`].
fn open(title: &str, desc: &str, note: Option<&str>) -> (String, f64) {
    let mut y = PAD;
    let mut head = String::new();
    for line in wrap(title, HEAD, WIDTH - 2.0 * PAD) {
        y += HEAD + 4.0;
        head.push_str(&format!(
            r#"<text x="{PAD}" y="{y}" class="head">{}</text>"#,
            escape(&line)
        ));
        head.push('\n');
    }
    for line in wrap(desc, SMALL, WIDTH - 2.0 * PAD) {
        y += SMALL + 4.0;
        head.push_str(&format!(
            r#"<text x="{PAD}" y="{y}" class="sub">{}</text>"#,
            escape(&line)
        ));
        head.push('\n');
    }
    if let Some(n) = note {
        for line in wrap(n, SMALL, WIDTH - 2.0 * PAD) {
            y += SMALL + 4.0;
            head.push_str(&format!(
                r#"<text x="{PAD}" y="{y}" class="note">{}</text>"#,
                escape(&line)
            ));
            head.push('\n');
        }
    }
    let s = format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="@H@" viewBox="0 0 {WIDTH} @H@" role="img" aria-labelledby="t d" font-family="Noto Sans, DejaVu Sans, Arial, sans-serif" font-size="{SMALL}">
<title id="t">{t}</title>
<desc id="d">{d}</desc>
<style>{STYLE}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
{head}"##,
        t = escape(title),
        d = escape(desc),
    );
    (s, y + 14.0)
}

fn close(s: String, h: f64) -> String {
    let h = format!("{:.0}", h.ceil());
    // Only the two in the opening tag, before any text from the data.
    let mut s = s.replacen("@H@", &h, 2);
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
            // Every station of the area, a silent one included: its missed and awaiting
            // occurrences are said next to its (empty) bar, in the warning colour.
            let rows: Vec<_> = r
                .data
                .stations
                .iter()
                .map(|s| {
                    let c = &s.counts;
                    let m = c.aired_minutes();
                    let mut text = format!("{m:.1} {min}");
                    if c.missed > 0 {
                        text.push_str(&format!(" · {} {}", c.missed, lang.t("chart_svg_missed")));
                    }
                    if c.awaiting > 0 {
                        text.push_str(&format!(
                            " · {} {}",
                            c.awaiting,
                            lang.t("chart_svg_awaiting")
                        ));
                    }
                    Row {
                        label: s.station_name.clone(),
                        value: m,
                        text,
                        alert: c.missed > 0 || c.awaiting > 0,
                    }
                })
                .collect();
            let max = rows.iter().map(|x| x.value).fold(0.0, f64::max);
            let title = lang.t("chart_svg_aired_title");
            let empty = lang.t("chart_svg_empty_stations");
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
                .filter(|(_, c)| c.aired_ms > 0 || c.scheduled > 0)
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
                    Row {
                        label,
                        value: share,
                        text: format!("{share:.1} % ({:.1} {min})", c.aired_minutes()),
                        alert: false,
                    }
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
    let (mut s, top) = open(title, &desc, note);
    let (left, right) = (PAD + 44.0, WIDTH - PAD - 4.0);
    let (top, bottom) = (top + 8.0, top + 208.0);
    for pct in [0, 25, 50, 75, 100] {
        let y = bottom - (bottom - top) * pct as f64 / 100.0;
        s.push_str(&format!(
            r#"<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" class="axis"/><text x="{}" y="{}" text-anchor="end" class="sub">{pct} %</text>"#,
            left - 6.0,
            y + 5.0
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
            left + 8.0,
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
    // Date labels ("dd/mm", about 40 units at the small size) at least 56 units apart.
    let room = ((right - left) / 56.0).floor().max(1.0) as usize;
    let label_every = n.div_ceil(room).max(1);
    for (i, (d, p)) in days.iter().enumerate() {
        let date = d.format("%Y-%m-%d").to_string();
        s.push_str(&format!(
            r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" class="dot"><title>{date}: {p:.1} %</title></circle>"#,
            x_of(i),
            y_of(*p)
        ));
        if i % label_every == 0 {
            s.push_str(&format!(
                r#"<text x="{:.1}" y="{}" text-anchor="middle" class="sub">{}</text>"#,
                x_of(i),
                bottom + 20.0,
                d.format("%d/%m")
            ));
        }
    }
    close(s, bottom + 32.0)
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

    fn report(n: usize) -> Report {
        use crate::reports::aggregate::{Aggregate, Counts, StationTotal};
        let stations = (0..n)
            .map(|i| StationTotal {
                station: format!("S{i:03}"),
                station_name: format!("Đài truyền thanh xã Số {i} có một cái tên rất dài"),
                counts: Counts {
                    scheduled: 60,
                    played: 58 - (i % 3) as i64,
                    missed: (i % 3) as i64,
                    awaiting: (i % 5 == 0) as i64,
                    aired_ms: 60_000 * (i as i64 % 40),
                    scheduled_ms: 60_000 * 40,
                    ..Counts::default()
                },
                awaiting_since: None,
            })
            .collect();
        Report {
            from: None,
            to: None,
            area: "TT".into(),
            incomplete_before: None,
            data: Aggregate {
                stations,
                ..Aggregate::default()
            },
        }
    }

    /// The y of every element of `class` (its `class="…"` attribute starting so).
    fn ys(svg: &str, class: &str) -> Vec<f64> {
        svg.split("<text ")
            .filter(|t| t.contains(&format!("class=\"{class}")))
            .filter_map(|t| t.split("y=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn station_labels_never_overlap_with_23_or_300_stations_and_fit_the_width() {
        for n in [1, 23, 300] {
            let svg = render(Chart::AiredByStation, &report(n), Lang::Vi);
            let labels = ys(&svg, "label");
            assert_eq!(labels.len(), n);
            for w in labels.windows(2) {
                assert!(w[1] - w[0] >= LABEL + BAR_H + 8.0, "{w:?}");
            }
            // Each label is cut to the plot's width.
            for t in svg.split("class=\"label").skip(1) {
                let text = t.split('>').nth(1).unwrap().split('<').next().unwrap();
                assert!(text_width(text, LABEL) <= WIDTH - 2.0 * PAD + 1.0, "{text}");
            }
            // The chart grows to hold them all.
            let h: f64 = svg
                .split("height=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(h >= labels.last().unwrap() + BAR_H, "{h}");
            // Missed and awaiting are said, in the warning colour.
            assert!(svg.contains("label alert"));
            assert!(n == 1 || (svg.contains("bị lỡ") && svg.contains("chờ nhật ký")));
        }
    }

    #[test]
    fn every_font_size_is_at_least_the_small_size() {
        for chart in [
            Chart::AiredByStation,
            Chart::ComplianceByDay,
            Chart::ShareByCategory,
        ] {
            let svg = render(chart, &report(23), Lang::En);
            let mut sizes = Vec::new();
            for part in svg.split("font-size").skip(1) {
                let num: String = part
                    .trim_start_matches([':', '=', '"'])
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                sizes.push(num.parse::<f64>().unwrap());
            }
            assert!(!sizes.is_empty());
            assert!(sizes.iter().all(|s| *s >= SMALL), "{chart:?}: {sizes:?}");
        }
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
