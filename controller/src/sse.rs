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
    /// A fresh parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last event id seen (kept across events, as the spec says).
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The reconnection delay the server asked for, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Feed bytes; returns the events they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    self.skip_lf = true;
                    self.line(&mut out);
                }
                b'\n' => self.line(&mut out),
                _ => self.buf.push(b),
            }
        }
        out
    }

    fn line(&mut self, out: &mut Vec<Event>) {
        let raw = std::mem::take(&mut self.buf);
        let line = String::from_utf8_lossy(&raw);
        let line = line.strip_prefix('\u{feff}').unwrap_or(&line);
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
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" => {
                if !value.contains('\0') {
                    self.last_id = Some(value.to_string());
                }
            }
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }
}

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
                Event { event: "urgent".into(), data: "{\"a\":1}".into(), id: Some("7".into()) },
                Event { event: "schedule".into(), data: "x".into(), id: Some("7".into()) },
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
        assert!(p.feed(b": keep-alive\n\n:\n\nevent: schedule\n\nretry: 5000\n\n").is_empty());
        assert_eq!(p.retry_ms(), Some(5000));
        // The event type of a data-less block does not leak into the next event.
        let evs = p.feed(b"data: hi\n\n");
        assert_eq!(evs[0].event, "message");
    }

    #[test]
    fn a_lone_cr_ends_a_line_even_when_the_lf_never_comes() {
        let mut p = Parser::new();
        let evs = p.feed(b"data:nospace\r\r");
        assert_eq!(evs[0].data, "nospace");
    }
}
