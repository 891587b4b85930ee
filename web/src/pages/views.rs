//! The pages whose content the script fills in from the JSON API: each handler checks who
//! may see it and renders the shell.

use crate::db::{self, users::Role};
use crate::pages::render::{error_page, render};
use crate::pages::session::Session;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;

fn shell(session: &Session, template: &str, page: &str, title_key: &str) -> Response {
    let lang = session.lang;
    render(
        template,
        lang,
        Some(session),
        page,
        context! { title => lang.t(title_key) },
    )
}

/// `GET /`: the dashboard.
pub async fn dashboard(session: Session) -> Response {
    shell(&session, "dashboard.html", "dashboard", "dash_title")
}

/// `GET /media`: the media library.
pub async fn media(session: Session) -> Response {
    shell(&session, "media.html", "media", "media_title")
}

/// `GET /schedules`: the schedule form and list.
pub async fn schedules(session: Session) -> Response {
    shell(&session, "schedules.html", "schedules", "sched_title")
}

/// `GET /programmes`: build, reorder, hear and save programmes; the page knows the slot
/// limit of the user's area (a programme being edited answers its own).
pub async fn programmes(State(state): State<AppState>, session: Session) -> Response {
    let lang = session.lang;
    let area = session.area.clone();
    let limit = state
        .db
        .call(move |conn| Ok(db::areas::slot_limit_minutes(conn, &area)?))
        .await;
    match limit {
        Ok(limit) => render(
            "programmes.html",
            lang,
            Some(&session),
            "programmes",
            context! { title => lang.t("prog_title"), slot_limit => limit },
        ),
        Err(e) => e.into_response(),
    }
}

/// `GET /approvals`: the approval queue (approvers decide; others see what waits).
pub async fn approvals(session: Session) -> Response {
    shell(&session, "approvals.html", "approvals", "appr_title")
}

/// `GET /urgent`: push an urgent notice (operators and admins).
pub async fn urgent(session: Session) -> Response {
    if let Some(res) = session.require(Role::Operator) {
        return res;
    }
    shell(&session, "urgent.html", "urgent", "urgent_title")
}

/// `GET /live`: "Phát trực tiếp": speak into the chosen stations' loudspeakers (#25).
pub async fn live(session: Session) -> Response {
    if let Some(res) = session.require(Role::Operator) {
        return res;
    }
    shell(&session, "live.html", "live", "live_title")
}

/// `GET /urgent/{id}`: the live delivery board of one notice.
pub async fn urgent_board(session: Session, Path(id): Path<String>) -> Response {
    let lang = session.lang;
    render(
        "urgent.html",
        lang,
        Some(&session),
        "urgent-board",
        context! { title => lang.t("board_title"), notice_id => id },
    )
}

/// `GET /cap`: "Cảnh báo CAP": the CAP sources of the user's area (admins) and the latest
/// messages fetched from them, with what each matched and what became of it.
pub async fn cap(State(state): State<AppState>, session: Session) -> Response {
    let lang = session.lang;
    let (area, admin) = (session.area.clone(), session.role >= Role::Admin);
    let found = state
        .db
        .call(move |conn| {
            let sources = if admin {
                db::cap_sources::list_in_subtree(conn, &area)?
            } else {
                Vec::new()
            };
            Ok((
                sources,
                db::cap_sources::messages_in_subtree(conn, &area, 200)?,
            ))
        })
        .await;
    match found {
        Ok((sources, messages)) => render(
            "cap.html",
            lang,
            Some(&session),
            "cap",
            context! { title => lang.t("cap_title"), sources => sources, messages => messages },
        ),
        Err(e) => e.into_response(),
    }
}

/// `GET /logs`: the as-run log.
pub async fn logs(session: Session) -> Response {
    shell(&session, "logs.html", "logs", "logs_title")
}

/// `GET /reports`: report downloads.
pub async fn reports(session: Session) -> Response {
    shell(&session, "reports.html", "reports", "reports_title")
}

/// An administration page: admins only, others get the 403 page.
fn admin_shell(session: &Session, template: &str, page: &str, title_key: &str) -> Response {
    if let Some(res) = session.require(Role::Admin) {
        return res;
    }
    shell(session, template, page, title_key)
}

/// `GET /admin/areas`: the areas tree; add an area.
pub async fn areas(session: Session) -> Response {
    admin_shell(&session, "areas.html", "areas", "areas_title")
}

/// `GET /admin/stations`: stations; add one (its device token shown once), rotate a token.
pub async fn stations(session: Session) -> Response {
    admin_shell(&session, "stations.html", "stations", "stations_title")
}

/// `GET /admin/users`: people in the admin's area; add one.
pub async fn users(session: Session) -> Response {
    admin_shell(&session, "users.html", "users", "users_title")
}

/// `GET /admin/channels`: the live channels relays play; add, change, measure, delete.
pub async fn channels(session: Session) -> Response {
    admin_shell(&session, "channels.html", "channels", "channels_title")
}

/// `GET /admin/audit`: the audit log with filters and pages.
pub async fn audit(session: Session) -> Response {
    admin_shell(&session, "audit.html", "audit", "audit_title")
}

/// `GET /stations/{code}/week`: one station's week calendar; 404 for an unknown station,
/// 403 for one outside the user's area.
pub async fn week(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Response {
    let lang = session.lang;
    let area = session.area.clone();
    let c = code.clone();
    let found = state
        .db
        .call(move |conn| {
            let Some(st) = db::stations::get(conn, &c)? else {
                return Ok(None);
            };
            let inside = crate::app::policy::in_area(conn, &area, &st.area)?;
            Ok(Some((st, inside)))
        })
        .await;
    match found {
        Ok(Some((st, true))) => render(
            "week.html",
            lang,
            Some(&session),
            "week",
            context! {
                title => format!("{} {}", lang.t("week_title"), st.name),
                station_code => st.code,
                station_name => st.name,
                timezone => st.timezone,
            },
        ),
        Ok(Some((_, false))) => error_page(lang, StatusCode::FORBIDDEN, "forbidden"),
        Ok(None) => error_page(lang, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => e.into_response(),
    }
}
