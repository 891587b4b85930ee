//! CAP 1.2 and 1.1 reading: `schedules::cap`. Test names hold "cap" so `cargo test -p schedules cap`
//! runs them all.

use chrono::{DateTime, TimeZone, Utc};
use schedules::cap::{
    cap_key, parse_cap, parse_cap_bytes, verify_digest, CapAlert, CapError, CapMsgType,
    CapResource, CapStatus, MAX_CAP_BYTES,
};

/// The bytes that `AUDIO_B64` encodes: a tiny stand-in for an MP3.
const AUDIO: [u8; 32] = [
    73, 68, 51, 4, 0, 0, 0, 0, 0, 0, 108, 111, 97, 32, 120, 97, 32, 116, 101, 115, 116, 32, 97,
    117, 100, 105, 111, 32, 255, 251, 144, 0,
];
const AUDIO_B64: &str = "SUQzBAAAAAAAAGxvYSB4YSB0ZXN0IGF1ZGlvIP/7kAA=";
const AUDIO_SHA1: &str = "19aa6da5a01572bafb2a07defcf1be2dab21243d";
const AUDIO_SHA256: &str = "3b0bc8acb57e0034c6ce1ba9e8046d7b609abc3479752e0e86a69066d469443b";

/// A storm warning as a provincial warning system would send it: an English block first,
/// then the Vietnamese one, with inline audio on the Vietnamese block.
fn storm_alert() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>VN-KTTV-2026-0907-003</identifier>
  <sender>canhbao@kttv.gov.vn</sender>
  <sent>2026-09-07T16:00:00+07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <source>Trung tâm Dự báo Khí tượng Thủy văn Quốc gia</source>
  <scope>Public</scope>
  <code>VN-LOAXA</code>
  <info>
    <language>en-US</language>
    <category>Met</category>
    <event>Tropical storm</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <expires>2026-09-08T16:00:00+07:00</expires>
    <headline>Storm No. 3 warning</headline>
    <area>
      <areaDesc>Thanh Tri commune</areaDesc>
      <geocode><valueName>LOAXA</valueName><value>TT</value></geocode>
    </area>
  </info>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <category>Safety</category>
    <event>Bão</event>
    <responseType>Prepare</responseType>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <effective>2026-09-07T16:00:00+07:00</effective>
    <onset>2026-09-08T02:00:00+07:00</onset>
    <expires>2026-09-09T06:00:00+07:00</expires>
    <senderName>Đài Khí tượng Thủy văn khu vực Bắc Bộ</senderName>
    <headline>Cảnh báo bão số 3</headline>
    <description>
      Hồi 16 giờ, vị trí tâm bão ở vào khoảng 19,5 độ Vĩ Bắc; 107,8 độ Kinh Đông.
      Sức gió mạnh nhất vùng gần tâm bão mạnh cấp 12
    </description>
    <instruction>Người dân không ra khơi, gia cố nhà cửa và sơ tán khỏi vùng trũng thấp.</instruction>
    <web>https://nchmf.gov.vn/</web>
    <parameter><valueName>WindForce</valueName><value>12</value></parameter>
    <resource>
      <resourceDesc>Bản đồ đường đi của bão</resourceDesc>
      <mimeType>image/png</mimeType>
      <uri>https://nchmf.gov.vn/bao-so-3.png</uri>
    </resource>
    <resource>
      <resourceDesc>Bản tin phát thanh</resourceDesc>
      <mimeType>audio/mpeg</mimeType>
      <size>32</size>
      <derefUri>{AUDIO_B64}</derefUri>
      <digest>{AUDIO_SHA1}</digest>
    </resource>
    <area>
      <areaDesc>Xã Thanh Trì</areaDesc>
      <polygon>20.9,105.8 20.9,105.9 21.0,105.9 20.9,105.8</polygon>
      <geocode><valueName>LOAXA</valueName><value>TT</value></geocode>
      <geocode><valueName>LOAXA</valueName><value>TT-02</value></geocode>
    </area>
  </info>
</alert>
"#
    )
}

/// The smallest valid alert: the six required elements and nothing else.
fn minimal_alert() -> String {
    r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>ID-1</identifier>
  <sender>sender@example.vn</sender>
  <sent>2026-09-07T16:00:00+07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
</alert>"#
        .to_string()
}

/// `minimal_alert` with one `info` block holding `inner`.
fn alert_with_info(inner: &str) -> String {
    minimal_alert().replace("</alert>", &format!("<info>{inner}</info></alert>"))
}

const INFO_REQUIRED: &str = "<category>Met</category><event>Bão</event>\
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>";

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn err(xml: &str) -> CapError {
    match parse_cap(xml) {
        Ok(alert) => panic!("expected an error, parsed {alert:?}"),
        Err(e) => e,
    }
}

fn resource(digest: Option<&str>) -> CapResource {
    CapResource {
        resource_desc: "audio".into(),
        mime_type: "audio/mpeg".into(),
        size: None,
        uri: None,
        deref_uri: None,
        digest: digest.map(str::to_string),
    }
}

mod parse_cap_accepts {
    use super::*;

    #[test]
    fn a_realistic_vietnamese_storm_alert_is_read_whole() {
        let alert = parse_cap(&storm_alert()).unwrap();
        assert_eq!(alert.identifier, "VN-KTTV-2026-0907-003");
        assert_eq!(alert.sender, "canhbao@kttv.gov.vn");
        assert_eq!(alert.sent, utc(2026, 9, 7, 9, 0));
        assert_eq!(alert.status, CapStatus::Actual);
        assert_eq!(alert.msg_type, CapMsgType::Alert);
        assert_eq!(alert.scope, "Public");
        assert!(alert.references.is_empty());
        assert_eq!(alert.infos.len(), 2);

        let vi = &alert.infos[1];
        assert_eq!(vi.language, "vi-VN");
        assert_eq!(vi.category, vec!["Met", "Safety"]);
        assert_eq!(vi.event, "Bão");
        assert_eq!(vi.urgency, "Immediate");
        assert_eq!(vi.severity, "Extreme");
        assert_eq!(vi.certainty, "Observed");
        assert_eq!(vi.effective, Some(utc(2026, 9, 7, 9, 0)));
        assert_eq!(vi.onset, Some(utc(2026, 9, 7, 19, 0)));
        assert_eq!(vi.expires, Some(utc(2026, 9, 8, 23, 0)));
        assert_eq!(
            vi.sender_name.as_deref(),
            Some("Đài Khí tượng Thủy văn khu vực Bắc Bộ")
        );
        assert_eq!(vi.headline.as_deref(), Some("Cảnh báo bão số 3"));
        assert!(vi
            .description
            .as_deref()
            .unwrap()
            .starts_with("Hồi 16 giờ, vị trí tâm bão"));
        assert_eq!(
            vi.instruction.as_deref(),
            Some("Người dân không ra khơi, gia cố nhà cửa và sơ tán khỏi vùng trũng thấp.")
        );
        assert_eq!(vi.resources.len(), 2);
        assert_eq!(vi.resources[0].mime_type, "image/png");
        assert_eq!(
            vi.resources[0].uri.as_deref(),
            Some("https://nchmf.gov.vn/bao-so-3.png")
        );
        assert_eq!(vi.resources[0].deref_uri, None);
        assert_eq!(vi.resources[1].size, Some(32));
        assert_eq!(vi.areas.len(), 1);
        assert_eq!(vi.areas[0].area_desc, "Xã Thanh Trì");
        assert_eq!(
            vi.areas[0].geocodes,
            vec![
                ("LOAXA".to_string(), "TT".to_string()),
                ("LOAXA".to_string(), "TT-02".to_string())
            ]
        );

        assert_eq!(alert.expires(), Some(utc(2026, 9, 8, 23, 0)));
        assert_eq!(alert.geocodes(), vec!["TT", "TT-02"]);
        assert_eq!(alert.key(), "canhbao@kttv.gov.vn,VN-KTTV-2026-0907-003");
    }

    #[test]
    fn an_update_with_references_is_read() {
        let xml = minimal_alert()
            .replace("<msgType>Alert</msgType>", "<msgType>Update</msgType>")
            .replace(
                "<scope>Public</scope>",
                "<scope>Public</scope>\n  <references>\n    \
                 canhbao@kttv.gov.vn,VN-KTTV-2026-0907-003,2026-09-07T16:00:00+07:00\n    \
                 canhbao@kttv.gov.vn,VN-KTTV-2026-0907-004,2026-09-07T19:00:00-00:00\n  \
                 </references>",
            );
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(alert.msg_type, CapMsgType::Update);
        assert_eq!(alert.references.len(), 2);
        assert_eq!(alert.references[0].sender, "canhbao@kttv.gov.vn");
        assert_eq!(alert.references[0].identifier, "VN-KTTV-2026-0907-003");
        assert_eq!(alert.references[0].sent, utc(2026, 9, 7, 9, 0));
        assert_eq!(alert.references[1].identifier, "VN-KTTV-2026-0907-004");
        assert_eq!(alert.references[1].sent, utc(2026, 9, 7, 19, 0));
        assert_eq!(
            alert.references[0].key(),
            cap_key("canhbao@kttv.gov.vn", "VN-KTTV-2026-0907-003")
        );
    }

    #[test]
    fn a_cancel_with_a_reference_and_no_info_is_read() {
        let xml = minimal_alert()
            .replace("<msgType>Alert</msgType>", "<msgType>Cancel</msgType>")
            .replace(
                "<scope>Public</scope>",
                "<scope>Public</scope><references>sender@example.vn,ID-0,2026-09-07T15:00:00+07:00</references>",
            );
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(alert.msg_type, CapMsgType::Cancel);
        assert_eq!(alert.references.len(), 1);
        assert_eq!(alert.references[0].key(), "sender@example.vn,ID-0");
        assert!(alert.infos.is_empty());
        assert_eq!(alert.preferred_info(), None);
        assert_eq!(alert.spoken_text(), None);
        assert_eq!(alert.expires(), None);
        assert!(alert.geocodes().is_empty());
        assert_eq!(alert.audio(), None);
    }

    #[test]
    fn every_status_and_msg_type_is_read_including_exercise() {
        for status in [
            CapStatus::Actual,
            CapStatus::Exercise,
            CapStatus::System,
            CapStatus::Test,
            CapStatus::Draft,
        ] {
            let xml = minimal_alert().replace(
                "<status>Actual</status>",
                &format!("<status>{status}</status>"),
            );
            assert_eq!(parse_cap(&xml).unwrap().status, status);
        }
        for msg_type in [
            CapMsgType::Alert,
            CapMsgType::Update,
            CapMsgType::Cancel,
            CapMsgType::Ack,
            CapMsgType::Error,
        ] {
            let xml = minimal_alert().replace(
                "<msgType>Alert</msgType>",
                &format!("<msgType>{msg_type}</msgType>"),
            );
            assert_eq!(parse_cap(&xml).unwrap().msg_type, msg_type);
        }
    }

    #[test]
    fn enumerations_are_matched_ignoring_case_and_stored_in_cap_spelling() {
        let xml = alert_with_info(
            "<category>met</category><event>Bão</event><urgency>IMMEDIATE</urgency>\
             <severity>severe</severity><certainty>observed</certainty>",
        )
        .replace("<status>Actual</status>", "<status>exercise</status>")
        .replace("<scope>Public</scope>", "<scope>public</scope>");
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(alert.status, CapStatus::Exercise);
        assert_eq!(alert.scope, "Public");
        let info = &alert.infos[0];
        assert_eq!(info.category, vec!["Met"]);
        assert_eq!(info.urgency, "Immediate");
        assert_eq!(info.severity, "Severe");
        assert_eq!(info.certainty, "Observed");
    }

    #[test]
    fn cap_date_times_with_offsets_minus_zero_and_z_are_all_read() {
        for (sent, expected) in [
            ("2026-09-07T16:00:00+07:00", utc(2026, 9, 7, 9, 0)),
            ("2026-09-07T09:00:00-00:00", utc(2026, 9, 7, 9, 0)),
            ("2026-09-07T09:00:00Z", utc(2026, 9, 7, 9, 0)),
            ("2026-09-07T02:00:00-07:00", utc(2026, 9, 7, 9, 0)),
        ] {
            let xml = minimal_alert().replace(
                "<sent>2026-09-07T16:00:00+07:00</sent>",
                &format!("<sent>{sent}</sent>"),
            );
            assert_eq!(parse_cap(&xml).unwrap().sent, expected, "{sent}");
        }
    }

    #[test]
    fn an_info_without_language_is_en_us() {
        let alert = parse_cap(&alert_with_info(INFO_REQUIRED)).unwrap();
        assert_eq!(alert.infos[0].language, "en-US");
        assert_eq!(alert.infos[0].headline, None);
        assert_eq!(alert.infos[0].expires, None);
    }

    #[test]
    fn a_prefixed_cap_namespace_a_bom_and_foreign_elements_are_accepted() {
        let xml = "\u{feff}<?xml version=\"1.0\"?>\
            <cap:alert xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.2\" xmlns:x=\"urn:x\">\
            <cap:identifier>A</cap:identifier><cap:sender>S</cap:sender>\
            <cap:sent>2026-09-07T16:00:00+07:00</cap:sent><cap:status>Test</cap:status>\
            <cap:msgType>Alert</cap:msgType><cap:scope>Public</cap:scope>\
            <x:identifier>ignored, another namespace</x:identifier>\
            <x:Signature><x:Value>abc</x:Value></x:Signature>\
            <!-- a comment --></cap:alert>";
        let alert = parse_cap(xml).unwrap();
        assert_eq!(alert.identifier, "A");
        assert_eq!(alert.status, CapStatus::Test);
    }

    #[test]
    fn cdata_and_entities_in_text_are_read() {
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<headline><![CDATA[Lũ & sạt lở]]></headline>\
             <description>Mực nước &gt; báo động 3</description>"
        ));
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(alert.infos[0].headline.as_deref(), Some("Lũ & sạt lở"));
        assert_eq!(
            alert.infos[0].description.as_deref(),
            Some("Mực nước > báo động 3")
        );
    }
}

mod parse_cap_refuses {
    use super::*;

    #[test]
    fn each_missing_required_alert_element_is_named() {
        for name in ["identifier", "sender", "sent", "status", "msgType", "scope"] {
            let xml = minimal_alert();
            let start = xml.find(&format!("<{name}>")).unwrap();
            let end_tag = format!("</{name}>");
            let end = xml.find(&end_tag).unwrap() + end_tag.len();
            let without = format!("{}{}", &xml[..start], &xml[end..]);
            let e = err(&without);
            assert_eq!(
                e,
                CapError::Missing {
                    element: name.to_string()
                }
            );
            assert_eq!(
                e.to_string(),
                format!("{name}: required element is missing")
            );
            assert_eq!(e.element(), Some(name));
        }
    }

    #[test]
    fn an_empty_required_element_is_named() {
        let xml =
            minimal_alert().replace("<sender>sender@example.vn</sender>", "<sender> </sender>");
        assert_eq!(err(&xml).to_string(), "sender: required element is empty");
    }

    #[test]
    fn each_missing_required_info_element_is_named_with_its_path() {
        for name in ["category", "event", "urgency", "severity", "certainty"] {
            let start = INFO_REQUIRED.find(&format!("<{name}>")).unwrap();
            let end_tag = format!("</{name}>");
            let end = INFO_REQUIRED.find(&end_tag).unwrap() + end_tag.len();
            let inner = format!("{}{}", &INFO_REQUIRED[..start], &INFO_REQUIRED[end..]);
            // The second info block lacks it: the path says which.
            let xml = minimal_alert().replace(
                "</alert>",
                &format!("<info>{INFO_REQUIRED}</info><info>{inner}</info></alert>"),
            );
            assert_eq!(
                err(&xml).to_string(),
                format!("info[2]/{name}: required element is missing")
            );
        }
    }

    #[test]
    fn missing_resource_area_and_geocode_parts_are_named() {
        let cases = [
            (
                "<resource><mimeType>audio/mpeg</mimeType></resource>",
                "info[1]/resource[1]/resourceDesc: required element is missing",
            ),
            (
                "<resource><resourceDesc>x</resourceDesc></resource>",
                "info[1]/resource[1]/mimeType: required element is missing",
            ),
            (
                "<area><geocode><valueName>LOAXA</valueName><value>TT</value></geocode></area>",
                "info[1]/area[1]/areaDesc: required element is missing",
            ),
            (
                "<area><areaDesc>x</areaDesc><geocode><valueName>LOAXA</valueName></geocode></area>",
                "info[1]/area[1]/geocode[1]/value: required element is missing",
            ),
        ];
        for (part, message) in cases {
            let xml = alert_with_info(&format!("{INFO_REQUIRED}{part}"));
            assert_eq!(err(&xml).to_string(), message);
        }
    }

    #[test]
    fn a_bogus_status_lists_the_allowed_values() {
        let xml = minimal_alert().replace("<status>Actual</status>", "<status>Bogus</status>");
        assert_eq!(
            err(&xml).to_string(),
            "status: 'Bogus' is not one of Actual, Exercise, System, Test, Draft"
        );
    }

    #[test]
    fn bogus_msg_type_scope_and_info_enumerations_are_refused() {
        let xml = minimal_alert().replace("<msgType>Alert</msgType>", "<msgType>Notice</msgType>");
        assert_eq!(
            err(&xml).to_string(),
            "msgType: 'Notice' is not one of Alert, Update, Cancel, Ack, Error"
        );
        let xml = minimal_alert().replace("<scope>Public</scope>", "<scope>Everyone</scope>");
        assert_eq!(
            err(&xml).to_string(),
            "scope: 'Everyone' is not one of Public, Restricted, Private"
        );
        let xml = alert_with_info(&INFO_REQUIRED.replace("Severe", "Catastrophic"));
        assert_eq!(
            err(&xml).to_string(),
            "info[1]/severity: 'Catastrophic' is not one of Extreme, Severe, Moderate, Minor, Unknown"
        );
        let xml = alert_with_info(&format!("<category>Weather</category>{INFO_REQUIRED}"));
        assert!(err(&xml)
            .to_string()
            .starts_with("info[1]/category[1]: 'Weather' is not one of Geo, Met,"));
    }

    #[test]
    fn a_duplicated_single_element_is_refused() {
        let xml = minimal_alert().replace(
            "<identifier>ID-1</identifier>",
            "<identifier>ID-1</identifier><identifier>ID-2</identifier>",
        );
        assert_eq!(err(&xml).to_string(), "identifier: appears more than once");
    }

    #[test]
    fn an_identifier_or_sender_with_a_space_or_comma_is_refused() {
        let xml = minimal_alert().replace(
            "<identifier>ID-1</identifier>",
            "<identifier>ID 1</identifier>",
        );
        assert_eq!(
            err(&xml).to_string(),
            "identifier: 'ID 1' must not contain spaces or commas"
        );
        let xml = minimal_alert().replace("sender@example.vn", "a,b");
        assert_eq!(err(&xml).element(), Some("sender"));
    }

    #[test]
    fn a_date_time_without_offset_or_malformed_is_refused() {
        for bad in [
            "2026-09-07T16:00:00",
            "2026-09-07",
            "07/09/2026 16:00",
            "2026-13-07T16:00:00+07:00",
        ] {
            let xml = minimal_alert().replace(
                "<sent>2026-09-07T16:00:00+07:00</sent>",
                &format!("<sent>{bad}</sent>"),
            );
            assert_eq!(
                err(&xml),
                CapError::DateTime {
                    element: "sent".into(),
                    value: bad.into()
                }
            );
        }
        let xml = alert_with_info(&format!("{INFO_REQUIRED}<expires>tomorrow</expires>"));
        assert_eq!(
            err(&xml).to_string(),
            "info[1]/expires: 'tomorrow' is not a CAP date-time with a time zone offset \
             (e.g. 2026-09-07T16:00:00+07:00)"
        );
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "sender@example.vn,ID-0",
            "sender@example.vn,ID-0,yesterday",
            "a,b,2026-09-07T16:00:00+07:00,extra",
            ",ID-0,2026-09-07T16:00:00+07:00",
        ] {
            let xml = minimal_alert().replace(
                "<scope>Public</scope>",
                &format!("<scope>Public</scope><references>{bad}</references>"),
            );
            let e = err(&xml);
            assert_eq!(e.element(), Some("references"), "{bad}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn the_wrong_namespace_is_refused() {
        let xml =
            minimal_alert().replace("urn:oasis:names:tc:emergency:cap:1.2", "urn:example:alerts");
        assert_eq!(
            err(&xml).to_string(),
            "alert: namespace 'urn:example:alerts' is not CAP 1.2 \
             (urn:oasis:names:tc:emergency:cap:1.2)"
        );
        let xml = minimal_alert().replace(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"", "");
        assert!(matches!(err(&xml), CapError::WrongNamespace { found } if found.is_empty()));
    }

    #[test]
    fn cap_1_0_is_refused_by_version() {
        let xml = minimal_alert().replace(
            "urn:oasis:names:tc:emergency:cap:1.2",
            "http://www.incident.com/cap/1.0",
        );
        assert_eq!(
            err(&xml).to_string(),
            "unsupported CAP version 1.0; send CAP 1.2 or 1.1"
        );
    }

    #[test]
    fn a_root_other_than_alert_is_refused() {
        let xml = "<feed xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>";
        assert_eq!(
            err(xml).to_string(),
            "root element is <feed>, expected <alert>"
        );
    }

    #[test]
    fn malformed_xml_is_refused() {
        for bad in [
            "",
            "not xml at all",
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</alert>",
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">",
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"></alert><alert/>",
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">&undefined;</alert>",
        ] {
            let e = err(bad);
            assert!(matches!(e, CapError::Xml(_)), "{bad:?} gave {e:?}");
            assert!(e.to_string().starts_with("malformed XML: "), "{e}");
        }
    }

    #[test]
    fn a_doctype_and_an_xml_bomb_are_refused() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE alert [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"#;
        let e = err(bomb);
        assert_eq!(e, CapError::DoctypeRefused);
        assert!(e.to_string().contains("DOCTYPE"), "{e}");
        let plain = format!("<!DOCTYPE alert>{}", minimal_alert());
        assert_eq!(err(&plain), CapError::DoctypeRefused);
    }

    #[test]
    fn input_over_one_mib_is_refused_before_parsing() {
        let padding = " ".repeat(MAX_CAP_BYTES);
        let xml = minimal_alert().replace("</alert>", &format!("{padding}</alert>"));
        assert_eq!(
            err(&xml),
            CapError::TooLarge {
                size: xml.len(),
                limit: MAX_CAP_BYTES
            }
        );
        assert!(err(&xml).to_string().contains("1 MiB"));
    }

    #[test]
    fn deeply_nested_elements_under_one_mib_do_not_overflow_the_stack() {
        let depth = 100_000;
        let xml = minimal_alert().replace(
            "</alert>",
            &format!("{}{}</alert>", "<x>".repeat(depth), "</x>".repeat(depth)),
        );
        assert!(xml.len() <= MAX_CAP_BYTES);
        // Unknown CAP elements are ignored, however deep.
        assert_eq!(parse_cap(&xml).unwrap().identifier, "ID-1");
        let unclosed = minimal_alert().replace("</alert>", &"<info>".repeat(depth));
        assert!(matches!(err(&unclosed), CapError::Xml(_)));
    }

    #[test]
    fn a_non_numeric_size_and_bad_base64_are_refused() {
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<resource><resourceDesc>a</resourceDesc><mimeType>audio/mpeg</mimeType>\
             <size>32 bytes</size></resource>"
        ));
        assert_eq!(
            err(&xml).to_string(),
            "info[1]/resource[1]/size: '32 bytes' is not a whole number of bytes"
        );
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<resource><resourceDesc>a</resourceDesc><mimeType>audio/mpeg</mimeType>\
             <derefUri>not*base64!</derefUri></resource>"
        ));
        let e = err(&xml);
        assert_eq!(e.element(), Some("info[1]/resource[1]/derefUri"));
        assert!(e.to_string().contains("is not base64"), "{e}");
    }
}

mod cap_alert_helpers {
    use super::*;

    fn storm() -> CapAlert {
        parse_cap(&storm_alert()).unwrap()
    }

    #[test]
    fn preferred_info_picks_the_vietnamese_block_though_english_comes_first() {
        let alert = storm();
        assert_eq!(alert.preferred_info().unwrap().language, "vi-VN");
        assert_eq!(
            alert.preferred_info().unwrap().headline.as_deref(),
            Some("Cảnh báo bão số 3")
        );
    }

    #[test]
    fn preferred_info_falls_back_to_the_first_block() {
        let xml = minimal_alert().replace(
            "</alert>",
            &format!(
                "<info><language>en-US</language>{INFO_REQUIRED}<headline>first</headline></info>\
                 <info><language>fr-FR</language>{INFO_REQUIRED}<headline>second</headline></info>\
                 <info><language>vie</language>{INFO_REQUIRED}<headline>not vi</headline></info>\
                 </alert>"
            ),
        );
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(
            alert.preferred_info().unwrap().headline.as_deref(),
            Some("first")
        );
        let xml = xml.replace("<language>fr-FR</language>", "<language>VI</language>");
        assert_eq!(
            parse_cap(&xml)
                .unwrap()
                .preferred_info()
                .unwrap()
                .headline
                .as_deref(),
            Some("second")
        );
    }

    #[test]
    fn spoken_text_joins_headline_description_and_instruction() {
        let alert = storm();
        assert_eq!(
            alert.spoken_text().unwrap(),
            "Cảnh báo bão số 3. Hồi 16 giờ, vị trí tâm bão ở vào khoảng 19,5 độ Vĩ Bắc; \
             107,8 độ Kinh Đông. Sức gió mạnh nhất vùng gần tâm bão mạnh cấp 12. \
             Người dân không ra khơi, gia cố nhà cửa và sơ tán khỏi vùng trũng thấp."
        );
    }

    #[test]
    fn spoken_text_skips_missing_parts_and_doubles_no_full_stop() {
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<headline>Lũ quét!</headline><instruction>Sơ tán ngay.</instruction>"
        ));
        assert_eq!(
            parse_cap(&xml).unwrap().spoken_text().unwrap(),
            "Lũ quét! Sơ tán ngay."
        );
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<headline>Cháy rừng.</headline><description>Khu vực đồi thông</description>"
        ));
        assert_eq!(
            parse_cap(&xml).unwrap().spoken_text().unwrap(),
            "Cháy rừng. Khu vực đồi thông"
        );
        let xml = alert_with_info(INFO_REQUIRED);
        assert_eq!(parse_cap(&xml).unwrap().spoken_text(), None);
    }

    #[test]
    fn expires_is_the_latest_among_info_blocks() {
        assert_eq!(storm().expires(), Some(utc(2026, 9, 8, 23, 0)));
        assert_eq!(storm().infos[0].expires, Some(utc(2026, 9, 8, 9, 0)));
    }

    #[test]
    fn geocodes_are_deduplicated_across_areas_and_blocks_in_order() {
        let xml = minimal_alert().replace(
            "</alert>",
            &format!(
                "<info>{INFO_REQUIRED}\
                   <area><areaDesc>a</areaDesc>\
                     <geocode><valueName>LOAXA</valueName><value>TT</value></geocode>\
                     <geocode><valueName>GSO</valueName><value>00001</value></geocode></area>\
                   <area><areaDesc>b</areaDesc>\
                     <geocode><valueName>LOAXA</valueName><value>TT</value></geocode>\
                     <geocode><valueName>LOAXA</valueName><value>HD</value></geocode></area>\
                 </info>\
                 <info>{INFO_REQUIRED}<area><areaDesc>c</areaDesc>\
                     <geocode><valueName>LOAXA</valueName><value>HD</value></geocode>\
                     <geocode><valueName>LOAXA</valueName><value>KB</value></geocode></area></info>\
                 </alert>"
            ),
        );
        assert_eq!(
            parse_cap(&xml).unwrap().geocodes(),
            vec!["TT", "00001", "HD", "KB"]
        );
    }

    #[test]
    fn geocodes_of_a_one_mib_alert_are_gathered_quickly() {
        let geocodes: String = (0..15_000)
            .map(|i| format!("<geocode><valueName>G</valueName><value>{i}</value></geocode>"))
            .collect();
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<area><areaDesc>a</areaDesc>{geocodes}</area>"
        ));
        assert!(xml.len() <= MAX_CAP_BYTES);
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(alert.geocodes().len(), 15_000);
    }

    #[test]
    fn audio_is_the_first_audio_resource_of_the_preferred_block() {
        let alert = storm();
        let audio = alert.audio().unwrap();
        assert_eq!(audio.mime_type, "audio/mpeg");
        assert_eq!(audio.resource_desc, "Bản tin phát thanh");
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType></resource>\
             <resource><resourceDesc>voice</resourceDesc><mimeType>Audio/Wav</mimeType></resource>"
        ));
        assert_eq!(
            parse_cap(&xml).unwrap().audio().unwrap().resource_desc,
            "voice"
        );
        let xml = alert_with_info(&format!(
            "{INFO_REQUIRED}<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType></resource>"
        ));
        assert_eq!(parse_cap(&xml).unwrap().audio(), None);
    }

    #[test]
    fn cap_key_is_sender_comma_identifier() {
        assert_eq!(
            cap_key("canhbao@kttv.gov.vn", "VN-3"),
            "canhbao@kttv.gov.vn,VN-3"
        );
        assert_eq!(storm().key(), cap_key(&storm().sender, &storm().identifier));
    }
}

mod cap_resources_and_digests {
    use super::*;

    #[test]
    fn deref_uri_is_base64_decoded_and_its_sha1_digest_verifies() {
        let alert = parse_cap(&storm_alert()).unwrap();
        let audio = alert.audio().unwrap();
        let bytes = audio.deref_uri.as_deref().unwrap();
        assert_eq!(bytes, AUDIO);
        assert_eq!(audio.digest.as_deref(), Some(AUDIO_SHA1));
        assert!(verify_digest(audio, bytes));
    }

    #[test]
    fn a_bad_digest_is_detected() {
        let alert = parse_cap(&storm_alert().replace(AUDIO_SHA1, &"0".repeat(40))).unwrap();
        let audio = alert.audio().unwrap();
        assert!(!verify_digest(audio, audio.deref_uri.as_deref().unwrap()));
        let good = parse_cap(&storm_alert()).unwrap();
        let audio = good.audio().unwrap();
        let mut tampered = AUDIO.to_vec();
        tampered[5] ^= 1;
        assert!(!verify_digest(audio, &tampered));
    }

    #[test]
    fn a_sha256_digest_in_any_case_verifies() {
        assert!(verify_digest(&resource(Some(AUDIO_SHA256)), &AUDIO));
        assert!(verify_digest(
            &resource(Some(&AUDIO_SHA256.to_uppercase())),
            &AUDIO
        ));
        assert!(verify_digest(
            &resource(Some(&AUDIO_SHA1.to_uppercase())),
            &AUDIO
        ));
        assert!(!verify_digest(&resource(Some(AUDIO_SHA256)), b"other"));
    }

    #[test]
    fn no_digest_or_a_digest_of_another_length_never_verifies() {
        assert!(!verify_digest(&resource(None), &AUDIO));
        assert!(!verify_digest(&resource(Some("")), &AUDIO));
        assert!(!verify_digest(&resource(Some("abcd")), &AUDIO));
        assert!(!verify_digest(&resource(Some("zz")), &AUDIO));
        assert!(!verify_digest(&resource(Some(&AUDIO_SHA1[..39])), &AUDIO));
    }

    #[test]
    fn deref_uri_wrapped_over_lines_and_without_padding_is_decoded() {
        let wrapped = format!(
            "\n  {}\n  {}\n",
            &AUDIO_B64[..20],
            AUDIO_B64[20..].trim_end_matches('=')
        );
        let xml = storm_alert().replace(AUDIO_B64, &wrapped);
        let alert = parse_cap(&xml).unwrap();
        assert_eq!(
            alert.audio().unwrap().deref_uri.as_deref(),
            Some(&AUDIO[..])
        );
    }
}

mod cap_never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Checks every helper on whatever parsed; errors must render.
    fn exercise(xml: &str) {
        match parse_cap(xml) {
            Ok(alert) => {
                let _ = alert.preferred_info();
                let _ = alert.spoken_text();
                let _ = alert.expires();
                let _ = alert.geocodes();
                if let Some(audio) = alert.audio() {
                    let _ = verify_digest(audio, audio.deref_uri.as_deref().unwrap_or(&[]));
                }
                assert!(alert.key().contains(','));
                assert!(!alert.identifier.is_empty() && !alert.sender.is_empty());
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    fn floor_boundary(s: &str, mut i: usize) -> usize {
        i = i.min(s.len());
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    /// One edit: delete a span, insert a fragment, or duplicate a span.
    #[derive(Debug, Clone)]
    enum Edit {
        Delete(usize, usize),
        Insert(usize, String),
        Duplicate(usize, usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let fragment = prop_oneof![
            Just("<".to_string()),
            Just(">".to_string()),
            Just("</info>".to_string()),
            Just("<info>".to_string()),
            Just("&amp;".to_string()),
            Just("&#x0;".to_string()),
            Just("<![CDATA[".to_string()),
            Just("<!DOCTYPE a>".to_string()),
            Just("xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\"".to_string()),
            Just("<derefUri>%%%</derefUri>".to_string()),
            Just("<digest>ffff</digest>".to_string()),
            Just("<references>a,b,c d</references>".to_string()),
            Just("9999-99-99T99:99:99+99:99".to_string()),
            "\\PC{0,12}",
        ];
        prop_oneof![
            (any::<usize>(), 0usize..64).prop_map(|(at, len)| Edit::Delete(at, len)),
            (any::<usize>(), fragment).prop_map(|(at, s)| Edit::Insert(at, s)),
            (any::<usize>(), 0usize..128).prop_map(|(at, len)| Edit::Duplicate(at, len)),
        ]
    }

    fn apply(mut xml: String, edits: &[Edit]) -> String {
        for e in edits {
            match e {
                Edit::Delete(at, len) => {
                    let start = floor_boundary(&xml, at % (xml.len() + 1));
                    let end = floor_boundary(&xml, start + len);
                    xml.replace_range(start..end, "");
                }
                Edit::Insert(at, s) => {
                    let at = floor_boundary(&xml, at % (xml.len() + 1));
                    xml.insert_str(at, s);
                }
                Edit::Duplicate(at, len) => {
                    let start = floor_boundary(&xml, at % (xml.len() + 1));
                    let end = floor_boundary(&xml, start + len);
                    let span = xml[start..end].to_string();
                    xml.insert_str(end, &span);
                }
            }
        }
        xml
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn cap_parsing_random_text_never_panics(s in "\\PC{0,300}") {
            exercise(&s);
        }

        #[test]
        fn cap_parsing_random_tag_soup_never_panics(
            s in "(<|>|/|alert|info|identifier|sender|sent|status|msgType|scope|references|\
                   resource|derefUri|digest|area|geocode|value|valueName|language|\
                   xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"| |=|\"|&|;|[a-zA-Z0-9,:+-]){0,120}"
        ) {
            exercise(&s);
        }

        #[test]
        fn cap_parsing_mutated_storm_alerts_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
            exercise(&apply(storm_alert(), &edits));
        }

        #[test]
        fn cap_parsing_alerts_with_arbitrary_field_values_never_panics(
            identifier in "\\PC{0,20}",
            sent in "\\PC{0,30}",
            status in "(Actual|Exercise|Test|\\PC{0,8})",
            language in "(vi|vi-VN|en|\\PC{0,6})",
            headline in "\\PC{0,40}",
            deref in "[A-Za-z0-9+/=\\s]{0,40}",
            digest in "[0-9a-fA-F]{0,64}",
            refs in "\\PC{0,60}",
        ) {
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
            let xml = format!(
                "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\
                 <identifier>{}</identifier><sender>s</sender><sent>{}</sent>\
                 <status>{}</status><msgType>Alert</msgType><scope>Public</scope>\
                 <references>{}</references>\
                 <info><language>{}</language>{INFO_REQUIRED}<headline>{}</headline>\
                 <resource><resourceDesc>r</resourceDesc><mimeType>audio/mpeg</mimeType>\
                 <derefUri>{}</derefUri><digest>{}</digest></resource></info></alert>",
                esc(&identifier), esc(&sent), esc(&status), esc(&refs), esc(&language),
                esc(&headline), deref, digest,
            );
            exercise(&xml);
        }
    }
}

/// Real-world-shaped messages: other versions, encodings, places.
mod real_cap {
    use super::*;
    use schedules::geo::GeoPoint;

    /// A CAP 1.1 flood watch as a national weather service publishes it: `Very Likely`,
    /// a polygon, and its own zone codes.
    const FLOOD_WATCH_1_1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1">
  <identifier>NOAA-NWS-ALERTS-FL.2026.001</identifier>
  <sender>w-nws.webmaster@noaa.gov</sender>
  <sent>2026-09-07T10:00:00-00:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Flood Watch</event>
    <urgency>Future</urgency>
    <severity>Moderate</severity>
    <certainty>Very Likely</certainty>
    <headline>Flood Watch issued</headline>
    <area>
      <areaDesc>Lower river valley</areaDesc>
      <polygon>21.00,105.50 21.10,105.50 21.10,105.60 21.00,105.60 21.00,105.50</polygon>
      <geocode><valueName>FIPS6</valueName><value>012345</value></geocode>
    </area>
  </info>
</alert>"#;

    #[test]
    fn a_cap_1_1_flood_watch_is_read_with_very_likely_as_likely() {
        let alert = parse_cap(FLOOD_WATCH_1_1).unwrap();
        assert_eq!(alert.version, "1.1");
        assert_eq!(alert.infos[0].certainty, "Likely");
        assert_eq!(alert.geocodes(), vec!["012345"]);
        assert!(alert.has_shapes());
        assert!(alert.covers(GeoPoint::new(21.05, 105.55).unwrap()));
        assert!(!alert.covers(GeoPoint::new(21.15, 105.55).unwrap()));
        assert_eq!(parse_cap(&storm_alert()).unwrap().version, "1.2");
    }

    #[test]
    fn very_likely_is_refused_outside_its_enumeration_spelling() {
        let xml = FLOOD_WATCH_1_1.replace("Very Likely", "Quite Likely");
        assert!(
            matches!(err(&xml), CapError::NotOneOf { element, .. } if element == "info[1]/certainty")
        );
    }

    /// An earthquake message in ISO-8859-1, as a seismological service sends it.
    fn quake_latin1() -> Vec<u8> {
        let text = r#"<?xml version='1.0' encoding='ISO-8859-1'?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>SED-2026-0001</identifier>
  <sender>sed@ethz.ch</sender>
  <sent>2026-09-07T10:00:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>fr-CH</language>
    <category>Geo</category>
    <event>Tremblement de terre</event>
    <urgency>Past</urgency>
    <severity>Minor</severity>
    <certainty>Observed</certainty>
    <headline>Séisme ressenti à Zürich — magnitude 4,1</headline>
    <area><areaDesc>Zürich</areaDesc><circle>47.37,8.54 30</circle></area>
  </info>
</alert>"#;
        // The em dash is not in ISO-8859-1: windows-1252 has it at 0x97, which is what a
        // Latin-1 label means on the web.
        text.chars()
            .map(|c| match c {
                '—' => 0x97,
                c => u8::try_from(u32::from(c)).expect("a Latin-1 character"),
            })
            .collect()
    }

    #[test]
    fn an_iso_8859_1_message_is_read_in_the_encoding_it_declares() {
        let bytes = quake_latin1();
        assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
        let alert = parse_cap_bytes(&bytes).unwrap();
        let info = &alert.infos[0];
        assert_eq!(
            info.headline.as_deref(),
            Some("Séisme ressenti à Zürich — magnitude 4,1")
        );
        assert_eq!(info.areas[0].area_desc, "Zürich");
        let c = info.areas[0].circles[0];
        assert_eq!(
            (c.centre.lat(), c.centre.lon(), c.radius_km),
            (47.37, 8.54, 30.0)
        );
    }

    #[test]
    fn windows_1252_utf_16_with_a_bom_and_plain_utf_8_are_read() {
        // Curly quotes are 0x93 and 0x94 in windows-1252.
        let xml = alert_with_info(&format!("{INFO_REQUIRED}<headline>«L»</headline>"));
        let cp1252: Vec<u8> = format!("<?xml version=\"1.0\" encoding=\"windows-1252\"?>{xml}")
            .chars()
            .map(|c| match c {
                '«' => 0x93,
                '»' => 0x94,
                c => u8::try_from(u32::from(c)).expect("ASCII"),
            })
            .collect();
        let alert = parse_cap_bytes(&cp1252).unwrap();
        assert_eq!(
            alert.infos[0].headline.as_deref(),
            Some("\u{201c}L\u{201d}")
        );

        let mut utf16 = vec![0xFF, 0xFE];
        for u in storm_alert().encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(
            parse_cap_bytes(&utf16).unwrap(),
            parse_cap(&storm_alert()).unwrap()
        );
        assert_eq!(
            parse_cap_bytes(storm_alert().as_bytes()).unwrap(),
            parse_cap(&storm_alert()).unwrap()
        );
    }

    #[test]
    fn an_unknown_encoding_or_bytes_outside_the_one_declared_are_refused() {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"x-klingon\"?>{}",
            minimal_alert()
        );
        assert_eq!(
            parse_cap_bytes(xml.as_bytes()).unwrap_err(),
            CapError::Encoding {
                label: "x-klingon".into()
            }
        );
        // Latin-1 bytes under a UTF-8 declaration.
        let mut bytes = quake_latin1();
        let decl_end = bytes.iter().position(|&b| b == b'>').unwrap();
        bytes.splice(
            ..=decl_end,
            b"<?xml version='1.0' encoding='UTF-8'?>".iter().copied(),
        );
        assert!(matches!(
            parse_cap_bytes(&bytes).unwrap_err(),
            CapError::Encoding { .. }
        ));
        // No declaration at all means UTF-8.
        let newline = quake_latin1().iter().position(|&b| b == b'\n').unwrap() + 1;
        assert!(matches!(
            parse_cap_bytes(&quake_latin1()[newline..]).unwrap_err(),
            CapError::Encoding { .. }
        ));
    }

    #[test]
    fn a_doctype_is_refused_in_any_encoding() {
        let xml = "<?xml version='1.0' encoding='ISO-8859-1'?>\n\
            <!DOCTYPE alert [<!ENTITY a \"aaaa\">]>\n\
            <alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>";
        assert_eq!(
            parse_cap_bytes(xml.as_bytes()).unwrap_err(),
            CapError::DoctypeRefused
        );
        let big = vec![b' '; MAX_CAP_BYTES + 1];
        assert!(matches!(
            parse_cap_bytes(&big).unwrap_err(),
            CapError::TooLarge { .. }
        ));
    }

    #[test]
    fn polygons_and_circles_are_read_and_bad_ones_name_their_element() {
        let area = |inner: &str| {
            alert_with_info(&format!(
                "{INFO_REQUIRED}<area><areaDesc>x</areaDesc>{inner}</area>"
            ))
        };
        let alert = parse_cap(&area(
            "<polygon>21,105 21,106 22,106 21,105</polygon>\
             <polygon>10,100 10,101 11,101</polygon><circle>21.2,105.1 0</circle>",
        ))
        .unwrap();
        let a = &alert.infos[0].areas[0];
        assert_eq!(a.polygons.len(), 2);
        assert_eq!(a.polygons[1].points().len(), 4, "closed");
        assert_eq!(a.circles[0].radius_km, 0.0);
        // A point (radius 0) covers no one.
        assert!(!alert.covers(GeoPoint::new(21.2, 105.1).unwrap()));
        assert!(alert.covers(GeoPoint::new(21.2, 105.5).unwrap()));
        let bad = err(&area("<polygon>21,105 21,106</polygon>"));
        assert_eq!(bad.element(), Some("info[1]/area[1]/polygon[1]"));
        let bad = err(&area("<circle>21,105 -3</circle>"));
        assert_eq!(bad.element(), Some("info[1]/area[1]/circle[1]"));
        let bad = err(&area(
            "<circle>21,105 1</circle><polygon>95,1 1,1 1,2 95,1</polygon>",
        ));
        assert_eq!(bad.element(), Some("info[1]/area[1]/polygon[1]"));
    }

    #[test]
    fn of_several_info_blocks_the_vietnamese_one_is_preferred_else_the_first() {
        let alert = parse_cap(&storm_alert()).unwrap();
        assert_eq!(alert.preferred_info().unwrap().language, "vi-VN");
        let english_only = storm_alert().replace("vi-VN", "de-DE");
        let alert = parse_cap(&english_only).unwrap();
        assert_eq!(alert.preferred_info().unwrap().language, "en-US");
    }
}
