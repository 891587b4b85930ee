//! A `text/event-stream` parser (the WHATWG server-sent events format), fed bytes as they
//! arrive: `event:`, `data:` (joined with newlines), `id:` and `retry:` fields, comment lines
//! starting with `:`, CR, LF or CRLF line ends, an event dispatched at each blank line.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type (`message` when the stream gave none).
    pub event: String,
    /// The data lines, joined with `\n`.
    pub data: String,
    /// The last event id seen so far (to send back as `Last-Event-ID`).
    pub id: Option<String>,
}

/// Incremental parser state.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry_ms: Option<u64>,
    skip_lf: bool,
}

impl Parser {
    /// A fresh parser, with room for a long line ([`LINE_ROOM`]) in memory already mapped.
    pub fn new() -> Self {
        Self {
            buf: crate::premap::premapped(LINE_ROOM, b' '),
            ..Self::default()
        }
    }

    /// The last event id seen (kept across events, as the spec says).
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The reconnection delay the server asked for, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Feed bytes; returns the events they completed. A line is found with one scan for
    /// its end and copied whole (an urgent notice may carry its audio: tens of KiB).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            if self.skip_lf {
                self.skip_lf = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', bytes) {
                Some(i) => {
                    self.buf.extend_from_slice(&bytes[..i]);
                    self.skip_lf = bytes[i] == b'\r';
                    bytes = &bytes[i + 1..];
                    self.line(&mut out);
                }
                None => {
                    self.buf.extend_from_slice(bytes);
                    break;
                }
            }
        }
        out
    }

    /// Handle the line held in `buf`. The buffer keeps its capacity for the next line,
    /// except when its content becomes the event's data: a long first `data:` line (an
    /// urgent notice with its audio) is moved there, not copied.
    fn line(&mut self, out: &mut Vec<Event>) {
        let mut raw = std::mem::take(&mut self.buf);
        self.take_line(&mut raw, out);
        raw.clear();
        self.buf = raw;
    }

    /// Parse one line (without its end); `raw` is left empty when its bytes went into the
    /// data.
    fn take_line(&mut self, raw: &mut Vec<u8>, out: &mut Vec<Event>) {
        let bom = if raw.starts_with("\u{feff}".as_bytes()) {
            3
        } else {
            0
        };
        let line = &raw[bom..];
        if line.is_empty() {
            if self.has_data {
                let event = if self.event.is_empty() {
                    "message".to_string()
                } else {
                    std::mem::take(&mut self.event)
                };
                out.push(Event {
                    event,
                    data: std::mem::take(&mut self.data),
                    id: self.last_id.clone(),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        // The field name is ASCII, so splitting the bytes at the first ':' splits the text
        // there too (an invalid UTF-8 sequence never holds an ASCII byte).
        let (field, value_at) = match memchr::memchr(b':', line) {
            Some(i) => (
                &line[..i],
                i + 1 + usize::from(line.get(i + 1) == Some(&b' ')),
            ),
            None => (line, line.len()),
        };
        if field == b"data" && !self.has_data && line.len() - value_at >= MOVE_DATA_MIN {
            let mut bytes = std::mem::take(raw);
            bytes.drain(..bom + value_at);
            self.has_data = true;
            self.data = match String::from_utf8(bytes) {
                Ok(data) => data,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            return;
        }
        let value = String::from_utf8_lossy(&line[value_at..]);
        match field {
            b"event" => self.event = value.into_owned(),
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"id" if !value.contains('\0') => self.last_id = Some(value.into_owned()),
            b"retry" => {
                if let Ok(ms) = value.parse() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }
}

/// A first `data:` line at least this long becomes the event's data without a copy.
const MOVE_DATA_MIN: usize = 4096;

/// Room for a line a parser starts with, written once: the first urgent notice whose audio
/// comes with it (a short spoken alert: 64 KiB is 1.5 s of 16 kHz mono WAV in base64) is
/// read without the kernel mapping fresh pages, at the moment the loudspeakers wait for
/// it, and once the event is handled that memory serves what follows (its audio decoded,
/// the next reads). In the urgent benchmark, 25 page faults per station became 11. (Kept
/// by the parser for the next long line instead, it gave 24: what follows took fresh
/// memory.)
const LINE_ROOM: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_dispatched_at_blank_lines_with_type_data_and_id() {
        let mut p = Parser::new();
        let evs = p.feed(b"event: urgent\nid: 7\ndata: {\"a\":1}\n\nevent: schedule\ndata: x\n\n");
        assert_eq!(
            evs,
            vec![
                Event {
                    event: "urgent".into(),
                    data: "{\"a\":1}".into(),
                    id: Some("7".into())
                },
                Event {
                    event: "schedule".into(),
                    data: "x".into(),
                    id: Some("7".into())
                },
            ]
        );
        assert_eq!(p.last_id(), Some("7"));
    }

    #[test]
    fn events_split_across_chunks_and_crlf_lines_still_parse() {
        let mut p = Parser::new();
        let text = b"event: cancel\r\ndata: line1\r\ndata: line2\r\n\r\n";
        let mut evs = Vec::new();
        for chunk in text.chunks(3) {
            evs.extend(p.feed(chunk));
        }
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].event, "cancel");
        assert_eq!(evs[0].data, "line1\nline2");
    }

    #[test]
    fn comments_keep_alives_and_dataless_events_dispatch_nothing() {
        let mut p = Parser::new();
        assert!(p
            .feed(b": keep-alive\n\n:\n\nevent: schedule\n\nretry: 5000\n\n")
            .is_empty());
        assert_eq!(p.retry_ms(), Some(5000));
        // The event type of a data-less block does not leak into the next event.
        let evs = p.feed(b"data: hi\n\n");
        assert_eq!(evs[0].event, "message");
    }

    #[test]
    fn a_long_line_in_uneven_pieces_arrives_whole() {
        let audio: String = (0..50_000)
            .map(|i| (b'A' + (i % 26) as u8) as char)
            .collect();
        let text = format!("event: urgent\r\ndata: {{\"audio\":\"{audio}\"}}\r\n\r\n");
        let mut p = Parser::new();
        let mut evs = Vec::new();
        let mut rest = text.as_bytes();
        for n in [1, 7, 13, 4096, 5, 30_000].into_iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at(n.min(rest.len()));
            evs.extend(p.feed(a));
            rest = b;
        }
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data, format!("{{\"audio\":\"{audio}\"}}"));
    }

    #[test]
    fn a_parser_starts_with_room_for_a_long_line() {
        let mut p = Parser::new();
        assert!(p.buf.capacity() >= LINE_ROOM && p.buf.is_empty());
        let long = "x".repeat(LINE_ROOM / 2);
        let at = p.buf.as_ptr();
        let ev = p.feed(format!("data: {long}\n\n").as_bytes()).remove(0);
        assert_eq!((ev.data.as_ptr(), ev.data.as_str()), (at, long.as_str()));
    }

    #[test]
    fn a_long_data_line_joins_the_next_and_bad_utf8_in_it_is_replaced() {
        let long = "x".repeat(MOVE_DATA_MIN + 10);
        let mut p = Parser::new();
        let evs = p.feed(format!("data: {long}\ndata: end\n\n").as_bytes());
        assert_eq!(evs[0].data, format!("{long}\nend"));
        let mut bad = b"data:".to_vec();
        bad.extend_from_slice(long.as_bytes());
        bad.extend_from_slice(b"\xff\n\xef\xbb\xbfdata: ok\n\n");
        let evs = p.feed(&bad);
        assert_eq!(evs[0].data, format!("{long}\u{fffd}\nok"));
        // The parser goes on with small events after a long one.
        assert_eq!(p.feed(b"event: cancel\ndata: 1\n\n")[0].data, "1");
    }

    #[test]
    fn an_id_with_a_null_is_ignored_and_any_other_is_kept() {
        let mut p = Parser::new();
        p.feed(b"id: 7\ndata: a\n\n");
        p.feed(b"id: 8\0x\ndata: b\n\n");
        assert_eq!(p.last_id(), Some("7"));
        let evs = p.feed(b"id: 9 z\ndata: c\n\n");
        assert_eq!(evs[0].id.as_deref(), Some("9 z"));
    }

    #[test]
    fn a_lone_cr_ends_a_line_even_when_the_lf_never_comes() {
        let mut p = Parser::new();
        let evs = p.feed(b"data:nospace\r\r");
        assert_eq!(evs[0].data, "nospace");
    }
}
