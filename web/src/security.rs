//! Security headers on every response, pages and API alike: HSTS when served over HTTPS, a
//! Content-Security-Policy
//! (pages load only their own script and style sheet, nothing inline; everything else may
//! load nothing at all), no MIME sniffing, no framing, and no referrer to other sites. A
//! handler that needs a narrower or different policy (the SVG charts carry their own style
//! block) sets its header itself and the middleware leaves it alone.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy of HTML pages: own script and style only, no inline code, no framing.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of everything that is not a page (JSON, files, CSV): a document opened from
/// it may load nothing and run nothing.
pub const API_CSP: &str = "default-src 'none'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'; sandbox";

/// The policy of an SVG document whose only active part is the one `<style>` block
/// `style`: that block by its hash, nothing else.
pub fn svg_csp(style: &str) -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'")
}

/// Is this response an HTML page (or a page asset)? Those get [`PAGE_CSP`].
fn is_page(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

/// `Strict-Transport-Security` on answers that went out over HTTPS: a year, this host only
/// (the district's other hosts are not ours to decide for).
pub const HSTS: &str = "max-age=31536000";

/// The middleware: set the headers unless the handler chose its own policy.
pub async fn headers(req: Request, next: Next) -> Response {
    let https = req
        .extensions()
        .get::<crate::client::ClientInfo>()
        .is_some_and(|c| c.https);
    let mut res = next.run(req).await;
    if https {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    let csp = if is_page(&res) { PAGE_CSP } else { API_CSP };
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_policy_allows_inline_code() {
        for csp in [PAGE_CSP, API_CSP, &svg_csp(".a{fill:#000}")] {
            assert!(!csp.contains("unsafe-inline"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }
    }

    #[test]
    fn the_svg_policy_names_its_style_by_hash() {
        // printf '.a{fill:#000}' | openssl dgst -sha256 -binary | base64
        let csp = svg_csp(".a{fill:#000}");
        assert!(
            csp.contains("style-src 'sha256-aE4qwyM/T9OaPxZIArgoQgFEEKc91B7YSfc1qbyNVn0='"),
            "{csp}"
        );
        assert_ne!(svg_csp(".a{fill:#000}"), svg_csp(".a{fill:#111}"));
    }
}
