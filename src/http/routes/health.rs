//! `GET /healthz` (the process answers) and `GET /readyz` (store open, a bind up per carrier).
//!
//! No token needed: load balancers and systemd probes call these.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::http::{Api, Intake};

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
}

pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
pub(crate) struct Ready {
    status: &'static str,
    store: &'static str,
    carriers: Vec<CarrierView>,
    /// Names of the carriers with no bind up.
    down: Vec<String>,
}

#[derive(Serialize)]
struct CarrierView {
    name: String,
    up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub(crate) async fn readyz<I: Intake>(State(api): State<Arc<Api<I>>>) -> (StatusCode, Json<Ready>) {
    let readiness = api.intake.readiness();
    let ready = readiness.is_ready();
    let down = readiness
        .carriers
        .iter()
        .filter(|c| !c.up)
        .map(|c| c.name.clone())
        .collect();
    let body = Ready {
        status: if ready { "ready" } else { "not_ready" },
        store: if readiness.store_ok { "ok" } else { "down" },
        carriers: readiness
            .carriers
            .into_iter()
            .map(|c| CarrierView {
                name: c.name,
                up: c.up,
                reason: c.reason,
            })
            .collect(),
        down,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
