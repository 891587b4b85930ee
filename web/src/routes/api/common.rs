//! What several resources' handlers answer alike.

/// What a create answers when the new object's id is all it has to say: `{"id"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Created {
    /// The new object's id.
    pub id: String,
}
