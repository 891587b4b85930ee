//! The browser session for pages: the `loaxa_session` cookie looked up like the API does,
//! plus its CSRF token (forms carry it in a hidden `csrf` field, scripts in the
//! `X-CSRF-Token` header). Without a live session a page redirects to the log-in form.

use crate::auth::{token_hash, SESSION_COOKIE};
use crate::db::{self, users::Role};
use crate::pages::i18n::Lang;
use crate::pages::templates::{error_page, login_redirect};
use crate::state::{AppState, Now};
use axum::extract::FromRequestParts;
use axum::http::{request::Parts, StatusCode};
use axum::response::Response;

/// A signed-in person on a page.
#[derive(Debug, Clone)]
pub struct Session {
    /// Row id of the user.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The root of their rights.
    pub area: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Hash of the session token.
    pub token_hash: String,
    /// Chosen language.
    pub lang: Lang,
}

impl Session {
    /// A 403 page (to return) unless the user has at least `role`.
    pub fn require(&self, role: Role) -> Option<Response> {
        (self.role < role).then(|| error_page(self.lang, StatusCode::FORBIDDEN, "forbidden"))
    }

    /// A 403 page (to return) unless `sent` is this session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Option<Response> {
        (sent.is_empty() || sent != self.csrf)
            .then(|| error_page(self.lang, StatusCode::FORBIDDEN, "err_csrf"))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let Now(now) = Now::from_request_parts(parts, state)
            .await
            .unwrap_or(Now(state.clock.now()));
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let Some(token) = crate::cookies::get(parts, SESSION_COOKIE) else {
            return Err(login_redirect(&next));
        };
        let hash = token_hash(&token);
        let h = hash.clone();
        let found = state
            .db
            .call(move |conn| Ok(db::tokens::lookup(conn, &h, now)?))
            .await
            .map_err(|_| error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, "load_failed"))?;
        match found {
            Some(t) if t.kind == db::tokens::Kind::Session => Ok(Session {
                user_id: t.user.id,
                username: t.user.username,
                role: t.user.role,
                area: t.user.area,
                csrf: t.csrf.unwrap_or_default(),
                token_hash: hash,
                lang,
            }),
            _ => Err(login_redirect(&next)),
        }
    }
}
