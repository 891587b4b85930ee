//! `GET /api/v1/openapi.json`: the OpenAPI 3.0 description of the server, built from the
//! route table in [`paths`].
//!
//! Adding a route? Add its line to [`paths::operations`] too: the test
//! `web/tests/api/openapi.rs` walks the real router and fails on any (method, path) the
//! document does not describe, and on any documented one that is not routed.

pub mod paths;

use crate::state::AppState;
use axum::Json;
use serde_json::{json, Map, Value};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Nobody needs to sign in.
    Public,
    /// A person: bearer token from `POST /auth/token`, or the session cookie.
    Human,
    /// A station controller: its device token as a bearer token.
    Device,
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// `get`, `post`, `put`, `delete`, `patch`.
    pub method: &'static str,
    /// Full path with `{param}` templates, e.g. `/api/v1/stations/{code}`.
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// Query parameters: (name, schema, required, description).
    pub query: Vec<(&'static str, Value, bool, &'static str)>,
    /// Request body: (media type, schema).
    pub body: Option<(&'static str, Value)>,
    /// Success answer: (status, media type, schema); media type `None` for no body.
    pub ok: (u16, Option<&'static str>, Value),
    /// Other statuses this operation answers with the error body.
    pub errors: Vec<u16>,
}

impl Op {
    /// An operation with no parameters answering 200 with `schema` as JSON.
    pub fn new(method: &'static str, path: &'static str, summary: &'static str) -> Op {
        Op {
            method,
            path,
            summary,
            auth: Auth::Human,
            query: Vec::new(),
            body: None,
            ok: (200, Some("application/json"), json!({})),
            errors: Vec::new(),
        }
    }
    /// Set who may call it.
    pub fn auth(mut self, auth: Auth) -> Op {
        self.auth = auth;
        self
    }
    /// A query parameter.
    pub fn query(
        mut self,
        name: &'static str,
        schema: Value,
        required: bool,
        doc: &'static str,
    ) -> Op {
        self.query.push((name, schema, required, doc));
        self
    }
    /// A JSON request body.
    pub fn json(mut self, schema: Value) -> Op {
        self.body = Some(("application/json", schema));
        self
    }
    /// A request body of another media type.
    pub fn body(mut self, media: &'static str, schema: Value) -> Op {
        self.body = Some((media, schema));
        self
    }
    /// The success answer as JSON.
    pub fn ok(mut self, status: u16, schema: Value) -> Op {
        self.ok = (status, Some("application/json"), schema);
        self
    }
    /// The success answer in another media type (`None`: empty body).
    pub fn ok_as(mut self, status: u16, media: Option<&'static str>, schema: Value) -> Op {
        self.ok = (status, media, schema);
        self
    }
    /// Further error statuses.
    pub fn errors(mut self, statuses: &[u16]) -> Op {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// Names of the `{param}` segments of the path.
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }

    fn to_json(&self) -> Value {
        let mut params: Vec<Value> = self
            .path_params()
            .into_iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for (name, schema, required, doc) in &self.query {
            params.push(json!({"name": name, "in": "query", "required": required,
                "description": doc, "schema": schema}));
        }
        let mut responses = Map::new();
        let (status, media, schema) = &self.ok;
        let mut ok = json!({"description": "success"});
        if let Some(m) = media {
            ok["content"] = json!({ *m: {"schema": schema} });
        }
        responses.insert(status.to_string(), ok);
        let mut errors = self.errors.clone();
        if self.body.is_some() || !self.query.is_empty() || !self.path_params().is_empty() {
            errors.extend([400, 422]);
        }
        if self.auth != Auth::Public {
            errors.extend([401, 403]);
        }
        errors.push(500);
        errors.sort_unstable();
        errors.dedup();
        for e in errors {
            responses.insert(
                e.to_string(),
                json!({"$ref": "#/components/responses/Error"}),
            );
        }
        let mut op = json!({
            "summary": self.summary,
            "operationId": format!("{}{}", self.method, self.path.replace(['/', '{', '}', '.'], "_")),
            "tags": [self.path.trim_start_matches("/api/v1").trim_start_matches('/').split('/').next().unwrap_or("")],
            "parameters": params,
            "responses": responses,
        });
        op["security"] = match self.auth {
            Auth::Public => json!([]),
            Auth::Human => json!([{"bearer": []}, {"cookie": []}]),
            Auth::Device => json!([{"device": []}]),
        };
        if let Some((media, schema)) = &self.body {
            op["requestBody"] =
                json!({"required": true, "content": { *media: {"schema": schema} }});
        }
        op
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in paths::operations() {
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method] = op.to_json();
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Loa Xã",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The central server of Loa Xã: district offices schedule audio bulletins \
                and push urgent notices; station controllers sync through the `/api/v1/device` endpoints.",
            "license": {"name": "AGPL-3.0-or-later"},
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "A person's token from POST /api/v1/auth/token."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "loaxa_session",
                    "description": "Browser session from POST /api/v1/auth/login; form posts also need the CSRF token."},
                "device": {"type": "http", "scheme": "bearer",
                    "description": "A station controller's device token (reads only its own station)."},
            },
            "schemas": paths::schemas(),
            "responses": {
                "Error": {
                    "description": "An error: the status says its kind, the body says what went wrong.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve(_state: axum::extract::State<AppState>) -> Json<Value> {
    Json(document())
}
