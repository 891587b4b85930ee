//! The one error type of the server: every failure answers
//! `{"error": {"code": "...", "message": "..."}}` with its status; internal causes are
//! logged once, here, and never shown to the client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Seconds to wait before retrying (429).
    pub retry_after: Option<u64>,
}

impl AppError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 422: the request is well-formed but a value is not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
    /// 401: no or bad credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403: authenticated, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 409: the state forbids it.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }
    /// 416.
    pub fn range_not_satisfiable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            message,
        )
    }
    /// 429, with the seconds to wait.
    pub fn too_many(message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        e.retry_after = Some(retry_after);
        e
    }
    /// 502: a server this one depends on (e.g. a channel's stream) failed.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "bad_gateway", message)
    }
    /// 503: what was asked depends on another node that did not answer in time.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    /// The same error with a more precise code, e.g. `silent` rather than `invalid`.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
    /// 500: logged in full, answered with a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

/// The body of every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong.
    #[schema(inline)]
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, e.g. not_found, invalid, unauthorized.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

impl From<crate::db::sql::Error> for AppError {
    fn from(e: crate::db::sql::Error) -> Self {
        AppError::internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::internal(format!("i/o: {e}"))
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::internal(format!("json: {e}"))
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::too_large(r.body_text());
        }
        match r {
            JsonRejection::JsonDataError(e) => AppError::invalid(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => {
                AppError::bad_request("expected a JSON body with Content-Type: application/json")
            }
            other => AppError::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request(r.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::bad_request(r.body_text())
    }
}

/// JSON body extractor whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct JsonBody<T>(pub T);

/// Query extractor whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct QueryArgs<T>(pub T);

/// Path extractor whose rejections are [`AppError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct PathArg<T>(pub T);

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;

/// The application layer's refusals, answered with their status: the one place a domain
/// error becomes HTTP.
impl From<crate::app::error::Error> for AppError {
    fn from(e: crate::app::error::Error) -> Self {
        use crate::app::error::Error as E;
        match e {
            E::Invalid(m) => AppError::invalid(m),
            E::Malformed(m) => AppError::bad_request(m),
            E::NotFound(m) => AppError::not_found(m),
            E::Forbidden(m) => AppError::forbidden(m),
            E::Conflict(m) => AppError::conflict(m),
            E::TooLarge(m) => AppError::too_large(m),
            E::Store(e) => AppError::from(e),
        }
    }
}
