//! `airtime.xlsx`: the same report as an Excel workbook (rust_xlsxwriter), two sheets —
//! by station and category (every station of the area, one with nothing planned or logged
//! on a row with an empty category), by day — with a totals row and, for a report over
//! pruned logs, a note row. Text is written as Unicode strings, so Vietnamese names stay
//! intact, and text that would read as a formula gets the CSV's leading `'`
//! ([`super::csv::inert`]).

use super::aggregate::Counts;
use super::Report;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

/// The sheet names.
pub const SHEET_ROWS: &str = "Station and category";
/// The per-day sheet.
pub const SHEET_DAYS: &str = "By day";

const FIGURES: [&str; 10] = [
    "scheduled",
    "played",
    "interrupted",
    "skipped",
    "failed",
    "missed",
    "aired_minutes",
    "scheduled_minutes",
    "compliance_pct",
    "awaiting",
];

fn write_counts(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    c: &Counts,
    f: &Format,
) -> Result<(), XlsxError> {
    let ints = [
        c.scheduled,
        c.played,
        c.interrupted,
        c.skipped,
        c.failed,
        c.missed,
    ];
    for (i, v) in ints.iter().enumerate() {
        ws.write_number(row, col + i as u16, *v as f64)?;
    }
    ws.write_number_with_format(row, col + 6, round1(c.aired_minutes()), f)?;
    ws.write_number_with_format(row, col + 7, round1(c.scheduled_minutes()), f)?;
    if let Some(p) = c.compliance_pct() {
        ws.write_number_with_format(row, col + 8, round1(p), f)?;
    }
    ws.write_number(row, col + 9, c.awaiting as f64)?;
    Ok(())
}

fn text_cells(ws: &mut Worksheet, row: u32, texts: [&str; 3]) -> Result<(), XlsxError> {
    for (i, t) in texts.into_iter().enumerate() {
        ws.write_string(row, i as u16, super::csv::inert(t))?;
    }
    Ok(())
}

/// One decimal, as in the CSV, so both files show the same figures.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn header(ws: &mut Worksheet, first: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (i, h) in first.iter().chain(FIGURES.iter()).enumerate() {
        ws.write_string_with_format(0, i as u16, *h, bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// The workbook's bytes.
pub fn render(r: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let one = Format::new().set_num_format("0.0");
    let note = r.warning();

    let ws = wb.add_worksheet();
    ws.set_name(SHEET_ROWS)?;
    header(ws, &["station", "station_name", "category"], &bold)?;
    ws.set_column_width(1, 28)?;
    ws.set_column_width(2, 28)?;
    let mut row = 1u32;
    let mut rows = r.data.rows.iter().peekable();
    let empty = Counts::default();
    for st in &r.data.stations {
        let mut any = false;
        while let Some(x) = rows.next_if(|x| x.station == st.station) {
            text_cells(ws, row, [&x.station, &x.station_name, &x.category])?;
            write_counts(ws, row, 3, &x.counts, &one)?;
            row += 1;
            any = true;
        }
        if !any {
            text_cells(ws, row, [&st.station, &st.station_name, ""])?;
            write_counts(ws, row, 3, &empty, &one)?;
            row += 1;
        }
    }
    ws.write_string_with_format(row, 0, "total", &bold)?;
    write_counts(ws, row, 3, &r.data.totals, &one)?;
    if let Some(n) = &note {
        ws.write_string(row + 2, 0, n)?;
    }

    let ws = wb.add_worksheet();
    ws.set_name(SHEET_DAYS)?;
    header(ws, &["date"], &bold)?;
    let mut row = 1u32;
    for (date, c) in &r.data.days {
        ws.write_string(row, 0, date.format("%Y-%m-%d").to_string())?;
        write_counts(ws, row, 1, c, &one)?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "total", &bold)?;
    write_counts(ws, row, 1, &r.data.totals, &one)?;
    if let Some(n) = &note {
        ws.write_string(row + 2, 0, n)?;
    }
    wb.save_to_buffer()
}
