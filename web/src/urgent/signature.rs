//! XML signatures (XML-DSig) on CAP messages from a source that has a signing key.
//!
//! Checked by `xmlsec1` (the XML Security Library's command, Debian package `xmlsec1`):
//! the message must carry an enveloped signature whose one reference is the whole document
//! (`URI=""`), made with the source's key — the key given by the admin, never one the
//! message carries in its `KeyInfo` (only key names are read from it). A message that does
//! not verify, for whatever reason (no signature, another key, a changed byte, xmlsec1
//! missing), never airs.

use std::io::Write as _;
use std::time::Duration;

/// Whether `key_pem` looks like a PEM public key or certificate (what [`verify`] takes).
pub fn key_kind(key_pem: &str) -> Option<&'static str> {
    let k = key_pem.trim_start();
    if k.starts_with("-----BEGIN PUBLIC KEY-----") {
        Some("--pubkey-pem")
    } else if k.starts_with("-----BEGIN CERTIFICATE-----") {
        Some("--pubkey-cert-pem")
    } else {
        None
    }
}

/// Verify the enveloped signature of `xml` with `key_pem`; the error says why in a line.
pub async fn verify(xml: &[u8], key_pem: &str, timeout: Duration) -> Result<(), String> {
    let flag =
        key_kind(key_pem).ok_or("the source's key is not a PEM public key or certificate")?;
    let write = |bytes: &[u8]| -> std::io::Result<tempfile::NamedTempFile> {
        let mut f = tempfile::NamedTempFile::new()?;
        f.write_all(bytes)?;
        f.flush()?;
        Ok(f)
    };
    let (doc, key) = (
        write(xml).map_err(|e| e.to_string())?,
        write(key_pem.as_bytes()).map_err(|e| e.to_string())?,
    );
    let run = tokio::process::Command::new("xmlsec1")
        .arg("--verify")
        .arg(flag)
        .arg(key.path())
        .args(["--enabled-key-data", "key-name"])
        .args(["--enabled-reference-uris", "empty"])
        .arg(doc.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("not verified within {timeout:?}"))?
        .map_err(|e| format!("xmlsec1 could not be run ({e}); install the xmlsec1 package"))?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    tracing::info!("CAP signature not verified: {}", why.trim());
    Err(
        if why.contains("Signature") && why.contains("failed to find") {
            "the message carries no XML signature".into()
        } else {
            "the XML signature does not verify with the source's key".into()
        },
    )
}
