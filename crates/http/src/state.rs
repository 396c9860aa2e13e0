//! What every handler shares: the services, the authenticator and the request limits.

use actix_web::http::header;
use actix_web::HttpRequest;
use std::sync::Arc;

use parley_domain::events::EventService;
use parley_domain::{AppId, ConversationService, MessageService, UserService};

use crate::auth::Authenticator;
use crate::body::BodyPolicy;
use crate::error::ApiError;
use crate::path::app_segment;
use crate::rate::RateLimit;

/// Shared by all workers behind `web::Data`.
#[derive(Debug)]
pub struct AppState {
    pub conversations: ConversationService,
    pub messages: MessageService,
    pub users: UserService,
    pub auth: Authenticator,
    pub rate_limit: Option<RateLimit>,
    pub body: BodyPolicy,
    /// The event log and what wakes its streams; `None` serves no event routes (404).
    pub events: Option<(EventService, Arc<crate::EventBus>)>,
}

impl AppState {
    pub fn new(
        conversations: ConversationService,
        messages: MessageService,
        users: UserService,
        auth: Authenticator,
        rate_limit: Option<RateLimit>,
    ) -> Self {
        let body = BodyPolicy::with_limit(conversations.limits().body_bytes);
        Self {
            conversations,
            messages,
            users,
            auth,
            rate_limit,
            body,
            events: None,
        }
    }

    /// Serves the event log from `service`, its streams woken by `bus`.
    #[must_use]
    pub fn with_events(mut self, service: EventService, bus: Arc<crate::EventBus>) -> Self {
        self.events = Some((service, bus));
        self
    }

    /// Reads bodies with `policy` (its limit is `limits.body_bytes` of the services).
    #[must_use]
    pub fn with_body_policy(mut self, policy: BodyPolicy) -> Self {
        self.body = policy;
        self
    }

    /// Authenticates the request for the app in its path and applies the app's rate limit.
    ///
    /// # Errors
    /// 401 or 429 as [`ApiError`].
    pub fn admit(&self, req: &HttpRequest) -> Result<AppId, ApiError> {
        let mut given = req.headers().get_all(header::AUTHORIZATION);
        let authorization = given.next();
        // Which of two credentials counts would be a guess, and proxies disagree on it.
        if given.next().is_some() {
            return Err(ApiError::Unauthorized(
                "more than one Authorization header; send exactly one",
            ));
        }
        let app = self
            .auth
            .authenticate(&app_segment(req), authorization.map(|v| v.as_bytes()))?;
        if let Some(limit) = &self.rate_limit {
            limit.check(&app)?;
        }
        Ok(app)
    }
}
