//! Changing a user's password: the new hash, and every other sign-in of theirs revoked.

use crate::db::sql::{params, Connection};

/// Store `password_hash` for `user_id` and delete their tokens except `keep_token_hash`
/// (the session making the change), in one transaction.
pub fn set(
    conn: &mut Connection,
    user_id: i64,
    password_hash: &str,
    keep_token_hash: &str,
) -> crate::db::sql::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )?;
    tx.execute(
        "DELETE FROM tokens WHERE user_id = ?1 AND hash <> ?2",
        params![user_id, keep_token_hash],
    )?;
    tx.commit()
}
