//! A page for the signed-in person: the template's context plus their name, role, area,
//! navigation and CSRF token. Templates themselves are in [`crate::pages::templates`].

use crate::pages::i18n::Lang;
use crate::pages::nav;
use crate::pages::session::Session;
use crate::pages::templates::render_with;
use axum::response::Response;
use minijinja::{context, Value};

pub use crate::pages::templates::{error_page, login_redirect, safe_next, urlencode};

/// Render `name` with `ctx` merged over the common context of `lang` and `session`.
pub fn render(
    name: &str,
    lang: Lang,
    session: Option<&Session>,
    page: &str,
    ctx: Value,
) -> Response {
    let user = session.map(|s| {
        context! {
                username => s.username.clone(),
                role => s.role.as_str(),
                area => s.area.clone(),
                can_edit => s.role >= crate::db::users::Role::Operator,
                is_admin => s.role >= crate::db::users::Role::Admin,
                nav => nav::entries(s.role, nav::Group::Main),
                admin_nav => nav::entries(s.role, nav::Group::Admin),
        }
    });
    let csrf = session.map(|s| s.csrf.clone()).unwrap_or_default();
    render_with(name, lang, user, csrf, page, ctx)
}
