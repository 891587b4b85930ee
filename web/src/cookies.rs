//! The two cookies the server sets and reads, through `axum-extra`'s cookie jar: the
//! session (`loaxa_session`: `HttpOnly`, `SameSite=Strict`) and the page language
//! (`lang`: `SameSite=Lax`, a year). The request's `Cookie` headers are parsed once, on
//! first use, and the jar kept in the request's extensions for whoever asks next (the
//! authentication extractor, then the language). Both are `Secure` whenever the client
//! reached us over TLS (served here or by a trusted proxy, see [`crate::client`]).

use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use cookie::time::Duration;

/// The name of the browser session cookie.
pub const SESSION: &str = "loaxa_session";
/// The name of the language cookie.
pub const LANG: &str = "lang";

/// The value of cookie `name`, if the request sent it with a non-empty value.
pub fn get(parts: &mut Parts, name: &str) -> Option<String> {
    if parts.extensions.get::<CookieJar>().is_none() {
        let jar = CookieJar::from_headers(&parts.headers);
        parts.extensions.insert(jar);
    }
    parts
        .extensions
        .get::<CookieJar>()?
        .get(name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that keeps `token` as the session for `max_age_s` seconds
/// (0 and an empty token clear it).
pub fn session(token: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let c = Cookie::build((SESSION, token.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(Duration::seconds(max_age_s.max(0)))
        .secure(secure);
    value(c.build())
}

/// The `Set-Cookie` value that remembers the page language for a year.
pub fn lang(code: &str, secure: bool) -> HeaderValue {
    let c = Cookie::build((LANG, code.to_string()))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(Duration::days(365))
        .secure(secure);
    value(c.build())
}

fn value(c: Cookie<'static>) -> HeaderValue {
    // Tokens and language codes are URL-safe ASCII; `encoded` escapes anything else, so
    // the header value is always valid.
    HeaderValue::from_str(&c.encoded().to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, Request};

    fn parts(cookies: &[&str]) -> Parts {
        let mut b = Request::builder().uri("/");
        for c in cookies {
            b = b.header(header::COOKIE, *c);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn reads_a_cookie_among_others_and_across_headers() {
        let mut p = parts(&["a=1; loaxa_session=tok", "lang=en"]);
        assert_eq!(get(&mut p, SESSION).as_deref(), Some("tok"));
        assert_eq!(get(&mut p, LANG).as_deref(), Some("en"));
        assert_eq!(get(&mut p, "missing"), None);
        assert!(
            p.extensions.get::<CookieJar>().is_some(),
            "parsed once, kept"
        );
        let mut empty = parts(&["loaxa_session=", "junk without equals"]);
        assert_eq!(get(&mut empty, SESSION), None);
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_secure_over_tls() {
        let plain = session("abc", 3600, false);
        let s = plain.to_str().unwrap();
        assert!(s.starts_with("loaxa_session=abc"), "{s}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
            assert!(s.contains(part), "{part} in {s}");
        }
        assert!(!s.contains("Secure"), "{s}");
        let tls = session("", 0, true);
        let s = tls.to_str().unwrap();
        assert!(s.contains("; Secure") && s.contains("Max-Age=0"), "{s}");
        let l = lang("vi", true);
        let s = l.to_str().unwrap();
        assert!(s.starts_with("lang=vi") && s.contains("SameSite=Lax") && s.contains("Secure"));
        assert!(s.contains("Max-Age=31536000"), "{s}");
    }
}
