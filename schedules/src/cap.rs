//! OASIS Common Alerting Protocol (CAP) 1.2 and 1.1 messages, read into plain values.
//!
//! Warning systems (storm, flood, fire, epidemic) send CAP alerts; the server turns
//! them into urgent notices. This module only reads and checks the message: it does no
//! I/O and reads no clock.
//!
//! Bytes as received are read with [`parse_cap_bytes`]: the encoding is the one a byte
//! order mark or the XML declaration names (`UTF-8` when neither does; any label the
//! WHATWG Encoding Standard knows: `ISO-8859-1`, `windows-1252`, `UTF-16`…); an unknown
//! label, or bytes that are not in the encoding named, are refused.
//!
//! What is checked, each failure a [`CapError`] that names the element:
//! - the input is at most [`MAX_CAP_BYTES`] (1 MiB);
//! - no `<!DOCTYPE>`: entity declarations can hide XML bombs, so any DTD is refused;
//! - the root is `<alert>` in the CAP 1.2 namespace
//!   (`urn:oasis:names:tc:emergency:cap:1.2`) or the CAP 1.1 one (`…:cap:1.1`, whose
//!   certainty `Very Likely` reads as `Likely`); CAP 1.0 is refused by name;
//! - each `polygon` is at least four `lat,lon` WGS 84 points (an unclosed ring is closed);
//!   each `circle` is `lat,lon radius` with the radius in km (see [`crate::geo`]);
//! - `identifier`, `sender`, `sent`, `status`, `msgType` and `scope` are present, once each,
//!   and not empty; `identifier` and `sender` hold no whitespace and no comma (they make up
//!   [`cap_key`] and the `references` triples);
//! - each `info` has `category` (one or more), `event`, `urgency`, `severity`, `certainty`;
//!   each `resource` has `resourceDesc` and `mimeType`; each `area` has `areaDesc`; each
//!   `geocode` has `valueName` and `value`;
//! - enumerations (`status`, `msgType`, `scope`, `category`, `urgency`, `severity`,
//!   `certainty`) hold one of the CAP 1.2 values;
//! - date-times are CAP date-times; `references` are whitespace-separated
//!   `sender,identifier,sent` triples; `size` is a whole number; `derefUri` is base64.
//!
//! Leniencies, on purpose (an urgent notice should not be lost to a sender's slip):
//! - date-times: CAP 1.2 wants `2026-09-07T16:00:00+07:00`, with `-00:00` for UTC, and
//!   forbids `Z`; `Z` and fractional seconds are accepted all the same. An offset is
//!   required: a date-time without one is refused.
//! - enumeration values are matched ignoring ASCII case and stored in their CAP spelling
//!   (`actual` reads as `Actual`).
//! - CAP elements may also come without a namespace (`<cap:alert>` with unprefixed
//!   children); elements of other namespaces (signatures, extensions) and unknown CAP
//!   elements are ignored.
//! - text is trimmed; an empty optional element reads as absent; `language` defaults
//!   to `en-US`; base64 in `derefUri` may be wrapped over lines and may lack padding.

use crate::geo::{Circle, GeoError, GeoPoint, Polygon};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use roxmltree::{Document, Node};
use std::fmt;

/// The CAP 1.2 XML namespace.
pub const CAP_1_2_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// The CAP 1.1 XML namespace.
pub const CAP_1_1_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.1";
const CAP_1_0_NAMESPACE: &str = "http://www.incident.com/cap/1.0";

/// The largest CAP message read, in bytes: 1 MiB.
pub const MAX_CAP_BYTES: usize = 1024 * 1024;

/// The language of an `info` block that names none.
pub const DEFAULT_LANGUAGE: &str = "en-US";

/// Why a CAP message was refused. `Display` is a sentence for the sender, naming the element
/// as a path from `<alert>` (`identifier`, `info[1]/event`, `info[2]/resource[1]/derefUri`;
/// indices count from 1, as in XPath).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// The input is larger than [`MAX_CAP_BYTES`].
    #[error("CAP message is {size} bytes; the limit is {limit} bytes (1 MiB)")]
    TooLarge { size: usize, limit: usize },
    /// The input has a `<!DOCTYPE>` (and with it, possibly, entity declarations).
    #[error(
        "XML DOCTYPE and entity declarations are refused (they can hide XML bombs); \
         send the CAP alert without a DOCTYPE"
    )]
    DoctypeRefused,
    /// The encoding the XML declaration names is unknown, or the bytes are not in it.
    #[error("the message is not in the encoding its XML declaration names ({label})")]
    Encoding { label: String },
    /// The input is not well-formed XML.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The root element is not `<alert>`.
    #[error("root element is <{found}>, expected <alert>")]
    NotAnAlert { found: String },
    /// `<alert>` is in a CAP namespace other than 1.2 or 1.1.
    #[error("unsupported CAP version {version}; send CAP 1.2 or 1.1")]
    UnsupportedVersion { version: String },
    /// `<alert>` is in no CAP namespace at all.
    #[error("alert: namespace '{found}' is not CAP 1.2 ({CAP_1_2_NAMESPACE})")]
    WrongNamespace { found: String },
    /// A required element is missing.
    #[error("{element}: required element is missing")]
    Missing { element: String },
    /// A required element is there but holds no text.
    #[error("{element}: required element is empty")]
    Empty { element: String },
    /// An element that CAP allows once appears more than once.
    #[error("{element}: appears more than once")]
    Duplicate { element: String },
    /// An enumerated element holds a value outside its enumeration.
    #[error("{element}: '{value}' is not one of {allowed}")]
    NotOneOf {
        element: String,
        value: String,
        allowed: String,
    },
    /// A date-time element is not a CAP date-time.
    #[error(
        "{element}: '{value}' is not a CAP date-time with a time zone offset \
         (e.g. 2026-09-07T16:00:00+07:00)"
    )]
    DateTime { element: String, value: String },
    /// Any other malformed value; `reason` says what is wrong with it.
    #[error("{element}: '{value}' {reason}")]
    Invalid {
        element: String,
        value: String,
        reason: String,
    },
}

impl CapError {
    /// The element the error is about, as a path from `<alert>`, when it is about one.
    pub fn element(&self) -> Option<&str> {
        match self {
            CapError::Missing { element }
            | CapError::Empty { element }
            | CapError::Duplicate { element }
            | CapError::NotOneOf { element, .. }
            | CapError::DateTime { element, .. }
            | CapError::Invalid { element, .. } => Some(element),
            CapError::WrongNamespace { .. }
            | CapError::UnsupportedVersion { .. }
            | CapError::NotAnAlert { .. } => Some("alert"),
            CapError::TooLarge { .. }
            | CapError::DoctypeRefused
            | CapError::Encoding { .. }
            | CapError::Xml(_) => None,
        }
    }
}

/// CAP 1.2 `status`: the appropriate handling of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapStatus {
    /// Actionable by all targeted recipients.
    Actual,
    /// Actionable only by designated exercise participants.
    Exercise,
    /// For messages that support alert network internal functions.
    System,
    /// Technical testing only; all recipients disregard.
    Test,
    /// A preliminary template or draft, not actionable in its current form.
    Draft,
}

impl CapStatus {
    const ALL: [CapStatus; 5] = [
        CapStatus::Actual,
        CapStatus::Exercise,
        CapStatus::System,
        CapStatus::Test,
        CapStatus::Draft,
    ];

    /// The CAP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CapStatus::Actual => "Actual",
            CapStatus::Exercise => "Exercise",
            CapStatus::System => "System",
            CapStatus::Test => "Test",
            CapStatus::Draft => "Draft",
        }
    }
}

impl fmt::Display for CapStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// CAP 1.2 `msgType`: the nature of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapMsgType {
    /// Initial information requiring attention.
    Alert,
    /// Updates and supersedes the earlier message(s) in `references`.
    Update,
    /// Cancels the earlier message(s) in `references`.
    Cancel,
    /// Acknowledges receipt of the message(s) in `references`.
    Ack,
    /// Indicates rejection of the message(s) in `references`.
    Error,
}

impl CapMsgType {
    const ALL: [CapMsgType; 5] = [
        CapMsgType::Alert,
        CapMsgType::Update,
        CapMsgType::Cancel,
        CapMsgType::Ack,
        CapMsgType::Error,
    ];

    /// The CAP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CapMsgType::Alert => "Alert",
            CapMsgType::Update => "Update",
            CapMsgType::Cancel => "Cancel",
            CapMsgType::Ack => "Ack",
            CapMsgType::Error => "Error",
        }
    }
}

impl fmt::Display for CapMsgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const SCOPES: &[&str] = &["Public", "Restricted", "Private"];
const CATEGORIES: &[&str] = &[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
];
const URGENCIES: &[&str] = &["Immediate", "Expected", "Future", "Past", "Unknown"];
const SEVERITIES: &[&str] = &["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const CERTAINTIES: &[&str] = &["Observed", "Likely", "Possible", "Unlikely", "Unknown"];

/// One earlier message named in `references`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapReference {
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<Utc>,
}

impl CapReference {
    /// The referenced message's idempotency key, as [`cap_key`] makes it.
    pub fn key(&self) -> String {
        cap_key(&self.sender, &self.identifier)
    }
}

/// A CAP message (1.2 or 1.1).
#[derive(Debug, Clone, PartialEq)]
pub struct CapAlert {
    /// `"1.2"` or `"1.1"`, from the namespace.
    pub version: &'static str,
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<Utc>,
    pub status: CapStatus,
    pub msg_type: CapMsgType,
    /// `Public`, `Restricted` or `Private`.
    pub scope: String,
    pub references: Vec<CapReference>,
    pub infos: Vec<CapInfo>,
}

/// One `info` block: the alert in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct CapInfo {
    /// RFC 3066 language tag; `en-US` when the message names none.
    pub language: String,
    /// One or more of `Geo`, `Met`, `Safety`, `Security`, `Rescue`, `Fire`, `Health`, `Env`,
    /// `Transport`, `Infra`, `CBRNE`, `Other`.
    pub category: Vec<String>,
    pub event: String,
    /// `Immediate`, `Expected`, `Future`, `Past` or `Unknown`.
    pub urgency: String,
    /// `Extreme`, `Severe`, `Moderate`, `Minor` or `Unknown`.
    pub severity: String,
    /// `Observed`, `Likely`, `Possible`, `Unlikely` or `Unknown`.
    pub certainty: String,
    pub effective: Option<DateTime<Utc>>,
    pub onset: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub resources: Vec<CapResource>,
    pub areas: Vec<CapArea>,
}

/// A `resource`: a file that goes with the alert (audio, image, document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapResource {
    pub resource_desc: String,
    /// MIME type, e.g. `audio/mpeg`.
    pub mime_type: String,
    /// Size in bytes, as the sender states it.
    pub size: Option<u64>,
    pub uri: Option<String>,
    /// The content sent inline, base64-decoded.
    pub deref_uri: Option<Vec<u8>>,
    /// The content's digest in hex as sent: SHA-1 per CAP 1.2 (40 hex digits), or SHA-256
    /// (64). See [`verify_digest`].
    pub digest: Option<String>,
}

impl CapResource {
    /// Whether the MIME type is `audio/*`.
    pub fn is_audio(&self) -> bool {
        self.mime_type
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("audio/"))
    }
}

/// An `area`: where the alert applies.
#[derive(Debug, Clone, PartialEq)]
pub struct CapArea {
    pub area_desc: String,
    /// `polygon`s, WGS 84.
    pub polygons: Vec<Polygon>,
    /// `circle`s, WGS 84, radius in km.
    pub circles: Vec<Circle>,
    /// `(valueName, value)` pairs, in message order.
    pub geocodes: Vec<(String, String)>,
}

impl CapAlert {
    /// The info block to use: the first whose language is Vietnamese (`vi` or `vi-…`,
    /// any case), else the first.
    pub fn preferred_info(&self) -> Option<&CapInfo> {
        self.infos
            .iter()
            .find(|i| is_vietnamese(&i.language))
            .or_else(|| self.infos.first())
    }

    /// The text to speak when there is no audio: the preferred info's headline, description
    /// and instruction joined with ". " (with " " after a part that already ends a sentence),
    /// runs of whitespace made one space. `None` when there is nothing to say.
    pub fn spoken_text(&self) -> Option<String> {
        let info = self.preferred_info()?;
        let parts = [&info.headline, &info.description, &info.instruction];
        let mut out = String::new();
        for part in parts.into_iter().flatten() {
            let words: Vec<&str> = part.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            if !out.is_empty() {
                if out.ends_with(['.', '!', '?', '…']) {
                    out.push(' ');
                } else {
                    out.push_str(". ");
                }
            }
            out.push_str(&words.join(" "));
        }
        (!out.is_empty()).then_some(out)
    }

    /// The latest `expires` among the info blocks.
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        self.infos.iter().filter_map(|i| i.expires).max()
    }

    /// Every `area` of every info block, in message order.
    pub fn areas(&self) -> impl Iterator<Item = &CapArea> {
        self.infos.iter().flat_map(|i| &i.areas)
    }

    /// Whether `p` lies inside one of the polygons or circles of any area.
    pub fn covers(&self, p: GeoPoint) -> bool {
        self.areas().any(|a| {
            a.polygons.iter().any(|poly| poly.contains(p))
                || a.circles.iter().any(|c| c.contains(p))
        })
    }

    /// Whether any area has a polygon or a circle.
    pub fn has_shapes(&self) -> bool {
        self.areas()
            .any(|a| !a.polygons.is_empty() || !a.circles.is_empty())
    }

    /// All geocode values (any valueName) across all areas of all info blocks, each once,
    /// in message order.
    pub fn geocodes(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.infos
            .iter()
            .flat_map(|i| &i.areas)
            .flat_map(|a| &a.geocodes)
            .map(|(_, value)| value)
            .filter(|value| seen.insert(value.as_str()))
            .cloned()
            .collect()
    }

    /// The first audio resource (MIME type `audio/*`): the preferred info's first, else the
    /// first in message order.
    pub fn audio(&self) -> Option<&CapResource> {
        fn first_in(info: &CapInfo) -> Option<&CapResource> {
            info.resources.iter().find(|r| r.is_audio())
        }
        self.preferred_info()
            .and_then(first_in)
            .or_else(|| self.infos.iter().find_map(first_in))
    }

    /// This message's idempotency key, as [`cap_key`] makes it.
    pub fn key(&self) -> String {
        cap_key(&self.sender, &self.identifier)
    }
}

/// The idempotency key of a CAP message: `"sender,identifier"`, the pair CAP says is unique
/// (neither part may hold a comma).
pub fn cap_key(sender: &str, identifier: &str) -> String {
    format!("{sender},{identifier}")
}

/// Whether `bytes` match the resource's digest: SHA-1 when the digest is 40 hex digits (as
/// CAP 1.2 specifies), SHA-256 when it is 64; any case, surrounding whitespace ignored.
/// `false` when the resource has no digest or it is neither.
pub fn verify_digest(resource: &CapResource, bytes: &[u8]) -> bool {
    use sha1::Digest as _;
    let Some(digest) = resource.digest.as_deref() else {
        return false;
    };
    let Ok(expected) = hex::decode(digest.trim()) else {
        return false;
    };
    match expected.len() {
        20 => sha1::Sha1::digest(bytes).as_slice() == expected.as_slice(),
        32 => sha2::Sha256::digest(bytes).as_slice() == expected.as_slice(),
        _ => false,
    }
}

/// Reads a CAP message as received, in the encoding it declares. See the module
/// documentation.
pub fn parse_cap_bytes(bytes: &[u8]) -> Result<CapAlert, CapError> {
    if bytes.len() > MAX_CAP_BYTES {
        return Err(CapError::TooLarge {
            size: bytes.len(),
            limit: MAX_CAP_BYTES,
        });
    }
    parse_cap(&decode_xml(bytes)?)
}

/// The text of an XML document: decoded from the encoding its byte order mark, else its
/// XML declaration, names; UTF-8 when neither names one.
pub fn decode_xml(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, CapError> {
    let (encoding, body) = match encoding_rs::Encoding::for_bom(bytes) {
        Some((enc, bom)) => (enc, &bytes[bom..]),
        None => match declared_encoding(bytes) {
            None => (encoding_rs::UTF_8, bytes),
            Some(label) => {
                let enc = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                    CapError::Encoding {
                        label: label.clone(),
                    }
                })?;
                // A document whose declaration could be read in ASCII is not UTF-16.
                if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                    (encoding_rs::UTF_8, bytes)
                } else {
                    (enc, bytes)
                }
            }
        },
    };
    encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .ok_or_else(|| CapError::Encoding {
            label: encoding.name().to_string(),
        })
}

/// The `encoding` of an XML declaration at the very start of `bytes`, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.get(..bytes.len().min(512))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[5..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let label = &rest[..rest.find(quote)?];
    Some(label.trim().to_string())
}

/// Reads a CAP 1.2 or 1.1 message. See the module documentation for what is checked.
pub fn parse_cap(xml: &str) -> Result<CapAlert, CapError> {
    if xml.len() > MAX_CAP_BYTES {
        return Err(CapError::TooLarge {
            size: xml.len(),
            limit: MAX_CAP_BYTES,
        });
    }
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let doc = Document::parse(xml).map_err(|e| match e {
        roxmltree::Error::DtdDetected => CapError::DoctypeRefused,
        other => CapError::Xml(other.to_string()),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "alert" {
        return Err(CapError::NotAnAlert {
            found: root.tag_name().name().to_string(),
        });
    }
    let version = match root.tag_name().namespace() {
        Some(CAP_1_2_NAMESPACE) => "1.2",
        Some(CAP_1_1_NAMESPACE) => "1.1",
        Some(CAP_1_0_NAMESPACE) => {
            return Err(CapError::UnsupportedVersion {
                version: "1.0".into(),
            })
        }
        other => {
            return Err(CapError::WrongNamespace {
                found: other.unwrap_or("").to_string(),
            })
        }
    };
    parse_alert(root, version)
}

fn parse_alert(alert: Node<'_, '_>, version: &'static str) -> Result<CapAlert, CapError> {
    let el = Elements {
        node: alert,
        path: String::new(),
    };
    let identifier = el.required_text("identifier")?;
    check_key_part(&el.path("identifier"), &identifier)?;
    let sender = el.required_text("sender")?;
    check_key_part(&el.path("sender"), &sender)?;
    let sent = parse_date_time(&el.path("sent"), &el.required_text("sent")?)?;
    let status = one_of(
        &el.path("status"),
        &el.required_text("status")?,
        &CapStatus::ALL,
        |s| s.as_str(),
    )?;
    let msg_type = one_of(
        &el.path("msgType"),
        &el.required_text("msgType")?,
        &CapMsgType::ALL,
        |m| m.as_str(),
    )?;
    let scope = one_of(
        &el.path("scope"),
        &el.required_text("scope")?,
        SCOPES,
        |s| s,
    )?;
    let references = match el.optional_text("references")? {
        Some(text) => parse_references(&el.path("references"), &text)?,
        None => Vec::new(),
    };
    let infos = el
        .children("info")
        .enumerate()
        .map(|(i, node)| parse_info(node, format!("info[{}]", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CapAlert {
        version,
        identifier,
        sender,
        sent,
        status,
        msg_type,
        scope: scope.to_string(),
        references,
        infos,
    })
}

fn parse_info(node: Node<'_, '_>, path: String) -> Result<CapInfo, CapError> {
    let el = Elements { node, path };
    let language = el
        .optional_text("language")?
        .unwrap_or_else(|| DEFAULT_LANGUAGE.to_string());
    let mut category = Vec::new();
    for (i, c) in el.children("category").enumerate() {
        let path = format!("{}[{}]", el.path("category"), i + 1);
        let text = text_of(c);
        if text.is_empty() {
            return Err(CapError::Empty { element: path });
        }
        let value = one_of(&path, &text, CATEGORIES, |s| s)?;
        category.push(value.to_string());
    }
    if category.is_empty() {
        return Err(CapError::Missing {
            element: el.path("category"),
        });
    }
    let event = el.required_text("event")?;
    let urgency = one_of(
        &el.path("urgency"),
        &el.required_text("urgency")?,
        URGENCIES,
        |s| s,
    )?;
    let severity = one_of(
        &el.path("severity"),
        &el.required_text("severity")?,
        SEVERITIES,
        |s| s,
    )?;
    let certainty = el.required_text("certainty")?;
    // CAP 1.1's `Very Likely`, deprecated by 1.2, means `Likely` there.
    let certainty = if certainty.eq_ignore_ascii_case("Very Likely") {
        "Likely"
    } else {
        one_of(&el.path("certainty"), &certainty, CERTAINTIES, |s| s)?
    };
    let effective = el.optional_date_time("effective")?;
    let onset = el.optional_date_time("onset")?;
    let expires = el.optional_date_time("expires")?;
    let sender_name = el.optional_text("senderName")?;
    let headline = el.optional_text("headline")?;
    let description = el.optional_text("description")?;
    let instruction = el.optional_text("instruction")?;
    let resources = el
        .children("resource")
        .enumerate()
        .map(|(i, n)| parse_resource(n, format!("{}[{}]", el.path("resource"), i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let areas = el
        .children("area")
        .enumerate()
        .map(|(i, n)| parse_area(n, format!("{}[{}]", el.path("area"), i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CapInfo {
        language,
        category,
        event,
        urgency: urgency.to_string(),
        severity: severity.to_string(),
        certainty: certainty.to_string(),
        effective,
        onset,
        expires,
        sender_name,
        headline,
        description,
        instruction,
        resources,
        areas,
    })
}

fn parse_resource(node: Node<'_, '_>, path: String) -> Result<CapResource, CapError> {
    let el = Elements { node, path };
    let resource_desc = el.required_text("resourceDesc")?;
    let mime_type = el.required_text("mimeType")?;
    let size = match el.optional_text("size")? {
        Some(text) => Some(text.parse::<u64>().map_err(|_| CapError::Invalid {
            element: el.path("size"),
            value: text.clone(),
            reason: "is not a whole number of bytes".into(),
        })?),
        None => None,
    };
    let uri = el.optional_text("uri")?;
    let deref_uri = match el.optional_text("derefUri")? {
        Some(text) => Some(decode_base64(&el.path("derefUri"), &text)?),
        None => None,
    };
    let digest = el.optional_text("digest")?;
    Ok(CapResource {
        resource_desc,
        mime_type,
        size,
        uri,
        deref_uri,
        digest,
    })
}

fn parse_area(node: Node<'_, '_>, path: String) -> Result<CapArea, CapError> {
    let el = Elements { node, path };
    let area_desc = el.required_text("areaDesc")?;
    let geocodes = el
        .children("geocode")
        .enumerate()
        .map(|(i, n)| {
            let geo = Elements {
                node: n,
                path: format!("{}[{}]", el.path("geocode"), i + 1),
            };
            Ok((geo.required_text("valueName")?, geo.required_text("value")?))
        })
        .collect::<Result<Vec<_>, CapError>>()?;
    let shape = |name: &'static str, i: usize, text: String, e: GeoError| CapError::Invalid {
        element: format!("{}[{}]", el.path(name), i + 1),
        value: text.chars().take(60).collect(),
        reason: e.to_string().replacen(&format!("'{text}' "), "", 1),
    };
    let polygons = el
        .children("polygon")
        .enumerate()
        .map(|(i, n)| {
            let text = text_of(n);
            Polygon::parse(&text).map_err(|e| shape("polygon", i, text.clone(), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let circles = el
        .children("circle")
        .enumerate()
        .map(|(i, n)| {
            let text = text_of(n);
            Circle::parse(&text).map_err(|e| shape("circle", i, text.clone(), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CapArea {
        area_desc,
        polygons,
        circles,
        geocodes,
    })
}

/// The CAP children of one element, and that element's path for error messages.
struct Elements<'a, 'input> {
    node: Node<'a, 'input>,
    /// Path of `node` from `<alert>`, empty for `<alert>` itself.
    path: String,
}

impl<'a, 'input> Elements<'a, 'input> {
    fn path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.path)
        }
    }

    fn children(&self, name: &'static str) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
        self.node.children().filter(move |n| {
            n.is_element()
                && n.tag_name().name() == name
                && matches!(
                    n.tag_name().namespace(),
                    None | Some(CAP_1_2_NAMESPACE) | Some(CAP_1_1_NAMESPACE)
                )
        })
    }

    /// The one child called `name`, if any; an error if there are more.
    fn single(&self, name: &'static str) -> Result<Option<Node<'a, 'input>>, CapError> {
        let mut found = self.children(name);
        let first = found.next();
        if found.next().is_some() {
            return Err(CapError::Duplicate {
                element: self.path(name),
            });
        }
        Ok(first)
    }

    /// The trimmed text of the one child called `name`; `None` when absent or empty.
    fn optional_text(&self, name: &'static str) -> Result<Option<String>, CapError> {
        Ok(self
            .single(name)?
            .map(text_of)
            .filter(|text| !text.is_empty()))
    }

    fn required_text(&self, name: &'static str) -> Result<String, CapError> {
        match self.single(name)? {
            None => Err(CapError::Missing {
                element: self.path(name),
            }),
            Some(node) => {
                let text = text_of(node);
                if text.is_empty() {
                    Err(CapError::Empty {
                        element: self.path(name),
                    })
                } else {
                    Ok(text)
                }
            }
        }
    }

    fn optional_date_time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, CapError> {
        match self.optional_text(name)? {
            Some(text) => parse_date_time(&self.path(name), &text).map(Some),
            None => Ok(None),
        }
    }
}

/// The text directly inside `node` (text and CDATA), trimmed.
fn text_of(node: Node<'_, '_>) -> String {
    let text: String = node
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    text.trim().to_string()
}

fn is_vietnamese(language: &str) -> bool {
    let primary = language.split(['-', '_']).next().unwrap_or("");
    primary.eq_ignore_ascii_case("vi")
}

/// `identifier` and `sender` make up keys and `references` triples: no whitespace, no comma.
fn check_key_part(element: &str, value: &str) -> Result<(), CapError> {
    if value.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(CapError::Invalid {
            element: element.to_string(),
            value: value.to_string(),
            reason: "must not contain spaces or commas".into(),
        });
    }
    Ok(())
}

/// A CAP date-time: RFC 3339 with an offset. `Z` is accepted though CAP forbids it.
fn parse_date_time(element: &str, value: &str) -> Result<DateTime<Utc>, CapError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CapError::DateTime {
            element: element.to_string(),
            value: value.to_string(),
        })
}

/// The entry of `allowed` that `value` names, ignoring ASCII case.
fn one_of<T: Copy>(
    element: &str,
    value: &str,
    allowed: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, CapError> {
    allowed
        .iter()
        .copied()
        .find(|&a| name(a).eq_ignore_ascii_case(value))
        .ok_or_else(|| CapError::NotOneOf {
            element: element.to_string(),
            value: value.to_string(),
            allowed: allowed
                .iter()
                .map(|&a| name(a))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn parse_references(element: &str, text: &str) -> Result<Vec<CapReference>, CapError> {
    text.split_whitespace()
        .map(|triple| {
            let invalid = |reason: &str| CapError::Invalid {
                element: element.to_string(),
                value: triple.to_string(),
                reason: reason.to_string(),
            };
            let mut parts = triple.split(',');
            let (Some(sender), Some(identifier), Some(sent), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(invalid("is not a sender,identifier,sent triple"));
            };
            if sender.is_empty() || identifier.is_empty() {
                return Err(invalid("is not a sender,identifier,sent triple"));
            }
            let sent = DateTime::parse_from_rfc3339(sent)
                .map_err(|_| invalid("has a sent that is not a CAP date-time"))?;
            Ok(CapReference {
                sender: sender.to_string(),
                identifier: identifier.to_string(),
                sent: sent.with_timezone(&Utc),
            })
        })
        .collect()
}

fn decode_base64(element: &str, text: &str) -> Result<Vec<u8>, CapError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT.decode(compact.as_bytes()).map_err(|e| {
        let mut value: String = text.chars().take(40).collect();
        if value.len() < text.len() {
            value.push('…');
        }
        CapError::Invalid {
            element: element.to_string(),
            value,
            reason: format!("is not base64 ({e})"),
        }
    })
}
