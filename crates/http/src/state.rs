//! What every handler shares: the services, the authenticator and the request limits.

use actix_web::http::header;
use actix_web::HttpRequest;
use parley_domain::{AppId, ConversationService, MessageService, UserService};

use crate::auth::Authenticator;
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
}

impl AppState {
    pub fn new(
        conversations: ConversationService,
        messages: MessageService,
        users: UserService,
        auth: Authenticator,
        rate_limit: Option<RateLimit>,
    ) -> Self {
        Self {
            conversations,
            messages,
            users,
            auth,
            rate_limit,
        }
    }

    /// Authenticates the request for the app in its path and applies the app's rate limit.
    ///
    /// # Errors
    /// 401 or 429 as [`ApiError`].
    pub fn admit(&self, req: &HttpRequest) -> Result<AppId, ApiError> {
        let app = self.auth.authenticate(
            &app_segment(req),
            req.headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
        )?;
        if let Some(limit) = &self.rate_limit {
            limit.check(&app)?;
        }
        Ok(app)
    }

    pub fn body_limit(&self) -> usize {
        self.conversations.limits().body_bytes
    }
}
