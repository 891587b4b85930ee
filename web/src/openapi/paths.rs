//! The operations the document describes, read back from it (for tests that call every
//! route, such as the security headers' and the authorization matrix's).

use super::Auth;

/// One documented operation, as the document describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `get`, `post`, `put`, `delete`, `patch`.
    pub method: String,
    /// Full path with `{param}` templates, e.g. `/api/v1/stations/{code}`.
    pub path: String,
    /// Who may call it.
    pub auth: Auth,
}

/// Every operation of the document, sorted by path and method.
pub fn operations() -> Vec<Operation> {
    let doc = super::document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let auth = match op["security"].as_array().map(Vec::as_slice) {
                Some([]) => Auth::Public,
                Some([one]) if one.get("device").is_some() => Auth::Device,
                _ => Auth::Human,
            };
            out.push(Operation {
                method: method.clone(),
                path: path.clone(),
                auth,
            });
        }
    }
    out.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    out
}
