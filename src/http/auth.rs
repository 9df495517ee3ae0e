//! Bearer tokens: who is calling and what they may see.
//!
//! Owns the token table and the [`Caller`] extractor. Must not touch: the outbox. Used by
//! every `/v1` route; built from `HttpConfig::tokens` by the router.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::{Api, Intake};
use crate::config::Secret;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every message, whoever sent it.
    Admin,
    /// Only the messages sent with this token's name.
    Shop,
}

/// One configured API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The owner name given to messages sent with it (a shop id or `admin`).
    pub name: String,
    /// The token itself.
    pub secret: Secret,
    /// What it may do.
    pub scope: Scope,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name: the owner of what it creates.
    pub name: Arc<str>,
    /// What it may do.
    pub scope: Scope,
}

impl Caller {
    /// Whether the caller may read or cancel a message owned by `owner`.
    pub fn may_see(&self, owner: &str) -> bool {
        self.scope == Scope::Admin || *self.name == *owner
    }
}

/// Configured tokens, kept as SHA-256 digests so that comparing takes the same time whatever
/// the length or content of the presented token.
#[derive(Debug, Clone)]
pub(crate) struct TokenTable {
    entries: Vec<([u8; 32], Caller)>,
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

impl TokenTable {
    pub(crate) fn new(tokens: &[ApiToken]) -> Self {
        let entries = tokens
            .iter()
            .filter(|t| !t.secret.expose().is_empty())
            .map(|t| {
                let caller = Caller {
                    name: Arc::from(t.name.as_str()),
                    scope: t.scope,
                };
                (digest(t.secret.expose().as_bytes()), caller)
            })
            .collect();
        Self { entries }
    }

    /// The caller whose token this is. Every entry is compared, in constant time each.
    pub(crate) fn find(&self, presented: &[u8]) -> Option<Caller> {
        let presented = digest(presented);
        let mut found = None;
        for (hash, caller) in &self.entries {
            if bool::from(hash.ct_eq(&presented)) && found.is_none() {
                found = Some(caller.clone());
            }
        }
        found
    }
}

/// The token from an `Authorization: Bearer <token>` header value.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

impl<I: Intake> FromRequestParts<Arc<Api<I>>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        api: &Arc<Api<I>>,
    ) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| bearer(v.as_bytes()))
            .and_then(|token| api.tokens.find(token))
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        TokenTable::new(&[
            ApiToken {
                name: "admin".into(),
                secret: Secret::new("a-secret"),
                scope: Scope::Admin,
            },
            ApiToken {
                name: "shop".into(),
                secret: Secret::new("s-secret"),
                scope: Scope::Shop,
            },
        ])
    }

    #[test]
    fn finds_each_token_and_nothing_else() {
        let t = table();
        assert_eq!(t.find(b"a-secret").map(|c| c.scope), Some(Scope::Admin));
        assert_eq!(t.find(b"s-secret").map(|c| c.name), Some(Arc::from("shop")));
        assert_eq!(t.find(b"s-secre"), None);
        assert_eq!(t.find(b""), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }
}
