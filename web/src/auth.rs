//! Who is asking: people (bearer token or session cookie + CSRF header) and station
//! controllers (device bearer token). Tokens are random 32 bytes, stored only as sha256.
//! Passwords are Argon2id (m = 19456 KiB, t = 2, p = 1).

use crate::db::{self, stations::Station, users::Role};
use crate::error::AppError;
use crate::state::{AppState, Now};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{header, request::Parts, Method};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = crate::cookies::SESSION;
/// The header a cookie-authenticated change must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A fresh random token (64 hex digits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// How a token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants known to be valid.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password (blocking, tens of milliseconds).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

/// Check a password against a stored hash (blocking). With no stored hash a dummy one is
/// checked, so that unknown users take as long as known ones.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$\
                         8Nn6RjI9mI1HBkOq/0tvGvAq2V3jYLBTxRkqD0ofeKc";
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(DUMMY)) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && stored.is_some()
}

/// A password good enough to store.
pub fn check_password_rules(password: &str) -> Result<(), AppError> {
    if password.chars().count() < 8 {
        return Err(AppError::invalid("password: must be at least 8 characters"));
    }
    if password.len() > 1024 {
        return Err(AppError::invalid("password: must be at most 1024 bytes"));
    }
    Ok(())
}

/// The client's address, when the server knows it: behind a trusted proxy, the address it
/// forwarded (see [`crate::client`]).
pub fn remote_addr(parts: &Parts) -> Option<String> {
    match parts.extensions.get::<crate::client::ClientInfo>() {
        Some(c) => c.ip.map(|ip| ip.to_string()),
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
    }
}

/// Did the request reach us over HTTPS (here or at a trusted proxy)? Cookies are then
/// `Secure`.
pub fn is_https(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<crate::client::ClientInfo>()
        .is_some_and(|c| c.https)
}

enum Credential {
    Bearer(String),
    Cookie(String),
}

fn credential(parts: &mut Parts) -> Result<Option<Credential>, AppError> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let v = v
            .to_str()
            .map_err(|_| AppError::unauthorized("malformed Authorization header"))?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::unauthorized("expected Authorization: Bearer TOKEN"))?;
        return Ok(Some(Credential::Bearer(token.to_string())));
    }
    Ok(crate::cookies::get(parts, SESSION_COOKIE).map(Credential::Cookie))
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The root of their rights.
    pub area: String,
    /// Hash of the token used for this request.
    pub token_hash: String,
    /// Client address.
    pub remote: Option<String>,
}

impl User {
    /// Refuse unless the user has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this needs the {role} role; {} is {}",
                self.username, self.role
            )))
        }
    }
}

/// Whose token `hash` is: a person's (unexpired, enabled) or a station's, in one database
/// call (the station lookup first).
async fn identify(
    state: &AppState,
    hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Option<db::tokens::TokenRow>, Option<db::stations::Station>), AppError> {
    let h = hash.to_string();
    state
        .db
        .call(move |conn| {
            // A station's token first: stations ask far more often than people do.
            let station = db::stations::by_token_hash(conn, &h)?;
            let found = match station {
                Some(_) => None,
                None => db::tokens::lookup(conn, &h, now)?,
            };
            Ok((found, station))
        })
        .await
}

/// The person behind a found token, once a cookie's CSRF header is checked.
fn signed_in(
    parts: &Parts,
    found: db::tokens::TokenRow,
    hash: String,
    is_cookie: bool,
) -> Result<User, AppError> {
    if is_cookie {
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !safe && (found.csrf.is_none() || sent != found.csrf.as_deref()) {
            return Err(AppError::forbidden(
                "missing or wrong X-CSRF-Token header (required with the session cookie)",
            ));
        }
    }
    Ok(User {
        id: found.user.id,
        username: found.user.username,
        role: found.user.role,
        area: found.user.area,
        token_hash: hash,
        remote: remote_addr(parts),
    })
}

/// The credential a request carries, its hash, and whether it came as the session cookie.
fn presented(parts: &mut Parts) -> Result<(String, bool), AppError> {
    let Some(cred) = credential(parts)? else {
        return Err(AppError::unauthorized(
            "sign in first: send Authorization: Bearer TOKEN",
        ));
    };
    Ok(match cred {
        Credential::Bearer(t) => (token_hash(&t), false),
        Credential::Cookie(t) => (token_hash(&t), true),
    })
}

impl FromRequestParts<AppState> for User {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Now(now) = Now::from_request_parts(parts, state)
            .await
            .unwrap_or(Now(state.clock.now()));
        let (hash, is_cookie) = presented(parts)?;
        match identify(state, &hash, now).await? {
            (Some(found), _) => signed_in(parts, found, hash, is_cookie),
            (None, Some(_)) => Err(AppError::forbidden(
                "a station's device token cannot use this endpoint",
            )),
            (None, None) => Err(AppError::unauthorized("invalid or expired token")),
        }
    }
}

/// A station's controller, by its device token.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its station.
    pub station: Station,
    /// Client address.
    pub remote: Option<String>,
}

impl FromRequestParts<AppState> for Device {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Now(now) = Now::from_request_parts(parts, state)
            .await
            .unwrap_or(Now(state.clock.now()));
        let hash = match credential(parts)? {
            Some(Credential::Bearer(t)) => token_hash(&t),
            _ => {
                return Err(AppError::unauthorized(
                    "send the station's device token: Authorization: Bearer TOKEN",
                ))
            }
        };
        match identify(state, &hash, now).await? {
            (_, Some(station)) => Ok(Device {
                station,
                remote: remote_addr(parts),
            }),
            (Some(_), None) => Err(AppError::forbidden(
                "this endpoint is for station controllers (device tokens) only",
            )),
            (None, None) => Err(AppError::unauthorized("invalid device token")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("mật khẩu dài").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("mật khẩu dài", Some(&h)));
        assert!(!verify_password("wrong password", Some(&h)));
        assert!(!verify_password("mật khẩu dài", None));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}

/// Either a person or a station's controller (for endpoints both use, like media download).
#[derive(Debug, Clone)]
pub enum Caller {
    /// A signed-in person.
    User(User),
    /// A station's controller.
    Device(Box<Device>),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    /// One database call decides: a person's token (session cookie or bearer) or a
    /// station's device token (bearer only).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Now(now) = Now::from_request_parts(parts, state)
            .await
            .unwrap_or(Now(state.clock.now()));
        let (hash, is_cookie) = presented(parts)?;
        match identify(state, &hash, now).await? {
            (Some(found), _) => signed_in(parts, found, hash, is_cookie).map(Caller::User),
            (None, Some(station)) if !is_cookie => Ok(Caller::Device(Box::new(Device {
                station,
                remote: remote_addr(parts),
            }))),
            (None, Some(_)) => Err(AppError::forbidden(
                "a station's device token cannot use this endpoint",
            )),
            (None, None) => Err(AppError::unauthorized("invalid or expired token")),
        }
    }
}

/// The client's address as an extractor (absent when served without connection info).
#[derive(Debug, Clone)]
pub struct Remote(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Remote(remote_addr(parts)))
    }
}

/// Whether the request came over HTTPS, as an extractor (see [`is_https`]).
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Https(is_https(parts)))
    }
}
