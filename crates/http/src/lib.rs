//! Parley's HTTP delivery layer: the TalkJS REST API v1 on actix-web.
//!
//! Handlers authenticate, turn the wire format into domain inputs, call a domain service and
//! turn the result back into JSON. Every status code is chosen in [`error`].

mod auth;
mod body;
mod dto;
pub mod error;
mod json;
pub mod metrics;
pub mod observe;
pub mod openapi;
mod path;
mod rate;
mod routes;
mod state;
pub mod version;

pub use auth::Authenticator;
pub use body::BodyPolicy;
pub use dto::archive;
pub use dto::FileUrls;
pub use error::ApiError;
pub use metrics::Metrics;
pub use rate::RateLimit;
pub use routes::{
    app, configure, openapi_json, render_metrics, route_not_found, EventBus, JsonEventEncoder,
};
pub use state::{AppState, FilesState};
pub use version::RestVersion;
