//! The route handlers, one file per resource.

pub(crate) mod health;
pub(crate) mod messages;
