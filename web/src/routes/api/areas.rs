//! The areas tree as far as the user can see: their area and everything below it.

use crate::auth::User;
use crate::db::{self, areas::Area};
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;

/// `GET /areas`: the user's area and its subtree, by code.
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<Area>>> {
    let rows = state
        .db
        .call(move |conn| Ok(db::areas::list_subtree(conn, &user.area)?))
        .await?;
    Ok(Json(rows))
}
