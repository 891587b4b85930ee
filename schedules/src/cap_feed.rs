//! What a CAP source publishes at its address: an Atom or RSS index whose entries link to
//! CAP documents, or a single CAP document. Pure: the server fetches, this reads.
//!
//! ```
//! use schedules::cap_feed::{read_index, Index};
//! let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom">
//!   <entry><id>urn:a:1</id><link href="alerts/1.xml" type="application/cap+xml"/></entry>
//! </feed>"#;
//! let Index::Entries(entries) = read_index(atom.as_bytes()).unwrap() else { panic!() };
//! assert_eq!(entries[0].link, "alerts/1.xml");
//! ```

use crate::cap::{decode_xml, CapError, MAX_CAP_BYTES};
use roxmltree::{Document, Node};

/// The largest index read, in bytes: 4 MiB.
pub const MAX_INDEX_BYTES: usize = 4 * 1024 * 1024;

/// One entry of an index: where its CAP document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's id (Atom `id`, RSS `guid`), else its link.
    pub id: String,
    /// The link to the CAP document, as written (maybe relative to the index).
    pub link: String,
}

/// What an address holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Index {
    /// An Atom or RSS index, entries in document order.
    Entries(Vec<Entry>),
    /// A CAP document itself.
    Document,
}

/// Reads an index (in the encoding it declares); a root `<alert>` is a single CAP
/// document. DOCTYPEs are refused as in CAP documents.
pub fn read_index(bytes: &[u8]) -> Result<Index, CapError> {
    if bytes.len() > MAX_INDEX_BYTES {
        return Err(CapError::TooLarge {
            size: bytes.len(),
            limit: MAX_INDEX_BYTES,
        });
    }
    let text = decode_xml(bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let doc = Document::parse(text).map_err(|e| match e {
        roxmltree::Error::DtdDetected => CapError::DoctypeRefused,
        other => CapError::Xml(other.to_string()),
    })?;
    let root = doc.root_element();
    match root.tag_name().name() {
        "alert" => {
            if bytes.len() > MAX_CAP_BYTES {
                return Err(CapError::TooLarge {
                    size: bytes.len(),
                    limit: MAX_CAP_BYTES,
                });
            }
            Ok(Index::Document)
        }
        "feed" => Ok(Index::Entries(
            children(root, "entry").filter_map(atom_entry).collect(),
        )),
        "rss" | "RDF" => Ok(Index::Entries(
            root.descendants()
                .filter(|n| n.is_element() && n.tag_name().name() == "item")
                .filter_map(rss_item)
                .collect(),
        )),
        other => Err(CapError::NotAnAlert {
            found: other.to_string(),
        }),
    }
}

fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn text(node: Option<Node<'_, '_>>) -> Option<String> {
    let t: String = node?
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// An Atom entry: the link typed as CAP, else the `alternate` one, else the first.
fn atom_entry(entry: Node<'_, '_>) -> Option<Entry> {
    let links: Vec<Node<'_, '_>> = children(entry, "link").collect();
    let is_cap = |l: &&Node<'_, '_>| {
        l.attribute("type")
            .is_some_and(|t| t.to_ascii_lowercase().contains("cap"))
    };
    let alternate = |l: &&Node<'_, '_>| matches!(l.attribute("rel"), None | Some("alternate"));
    let link = links
        .iter()
        .find(is_cap)
        .or_else(|| links.iter().find(alternate))
        .or(links.first())
        .and_then(|l| l.attribute("href"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())?;
    let id = text(children(entry, "id").next()).unwrap_or_else(|| link.clone());
    Some(Entry { id, link })
}

/// An RSS item: its `link`, else an `enclosure`'s `url`.
fn rss_item(item: Node<'_, '_>) -> Option<Entry> {
    let link = text(children(item, "link").next()).or_else(|| {
        children(item, "enclosure")
            .next()
            .and_then(|e| e.attribute("url"))
            .map(|u| u.trim().to_string())
    })?;
    let id = text(children(item, "guid").next()).unwrap_or_else(|| link.clone());
    Some(Entry { id, link })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom_entries_link_to_their_cap_documents() {
        let atom = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Cảnh báo</title>
  <entry>
    <id>urn:oid:2.49.0.1.704.0.2026.1</id>
    <link rel="alternate" type="text/html" href="https://x.vn/1.html"/>
    <link rel="related" type="application/cap+xml" href="https://x.vn/1.xml"/>
  </entry>
  <entry><id>e2</id><link href="/cap/2.xml"/></entry>
  <entry><link href="3.xml"/></entry>
  <entry><id>no-link</id></entry>
</feed>"#;
        assert_eq!(
            read_index(atom.as_bytes()).unwrap(),
            Index::Entries(vec![
                Entry {
                    id: "urn:oid:2.49.0.1.704.0.2026.1".into(),
                    link: "https://x.vn/1.xml".into()
                },
                Entry {
                    id: "e2".into(),
                    link: "/cap/2.xml".into()
                },
                Entry {
                    id: "3.xml".into(),
                    link: "3.xml".into()
                },
            ])
        );
    }

    #[test]
    fn rss_items_link_or_enclose_their_cap_documents() {
        let rss = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0"><channel><title>Alertes</title>
  <item><title>Séisme</title><link>https://x.ch/a.xml</link><guid>a</guid></item>
  <item><enclosure url="https://x.ch/b.xml" type="application/cap+xml"/></item>
</channel></rss>"#;
        let bytes: Vec<u8> = rss.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(
            read_index(&bytes).unwrap(),
            Index::Entries(vec![
                Entry {
                    id: "a".into(),
                    link: "https://x.ch/a.xml".into()
                },
                Entry {
                    id: "https://x.ch/b.xml".into(),
                    link: "https://x.ch/b.xml".into()
                },
            ])
        );
    }

    #[test]
    fn a_cap_document_is_its_own_index_and_anything_else_is_refused() {
        let cap = r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"#;
        assert_eq!(read_index(cap.as_bytes()).unwrap(), Index::Document);
        assert!(matches!(
            read_index(b"<html/>").unwrap_err(),
            CapError::NotAnAlert { .. }
        ));
        assert_eq!(
            read_index(b"<!DOCTYPE feed [<!ENTITY a \"b\">]><feed/>").unwrap_err(),
            CapError::DoctypeRefused
        );
        assert!(matches!(
            read_index(b"<feed>").unwrap_err(),
            CapError::Xml(_)
        ));
    }
}
