//! What every handler shares: the services, the authenticator and the request limits.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use std::collections::HashMap;
use std::sync::Arc;

use parley_domain::events::EventService;
use parley_domain::{AppId, ConversationService, MessageService, UserService};

use crate::auth::Authenticator;
use crate::body::BodyPolicy;
use crate::dto::FileUrls;
use crate::error::ApiError;
use crate::path::app_segment;
use crate::rate::RateLimit;
use crate::version::{requested, RestVersion};
use parley_domain::files::{FileRepository, FileStore};

/// Marks a request that runs as an operation of a `/batch`: the batch was admitted (and
/// rate-limited as its number of operations) already.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchOperation;

/// Files: where their bytes and records are kept, and the URLs downloads are served at.
#[derive(Clone)]
pub struct FilesState {
    pub urls: FileUrls,
    pub store: Option<Arc<dyn FileStore>>,
    pub records: Option<Arc<dyn FileRepository>>,
    /// Bytes of one upload (`limits.file_bytes`; more is 413).
    pub max_bytes: u64,
}

impl FilesState {
    /// The time an upload is recorded at.
    pub fn now_ms(&self) -> i64 {
        parley_domain::Clock::now_ms(&parley_domain::SystemClock)
    }
}

impl std::fmt::Debug for FilesState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesState")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

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
    /// Each app's default `TalkJS-REST-Version` (`apps.<id>.rest_version`); others: the newest.
    pub rest_versions: HashMap<AppId, RestVersion>,
    /// Uploads and downloads; without a store `POST /files` answers 503.
    pub files: FilesState,
    /// Reactions; `None` answers 503.
    pub reactions: Option<parley_domain::reactions::ReactionService>,
    /// This process's metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// `GET /metrics` on this (the API's) port; false when `metrics.port` serves them.
    pub metrics_here: bool,
    /// Storage readiness and figures; `None`: always ready, no storage gauges.
    pub probe: Option<Arc<dyn parley_domain::probe::StoreProbe>>,
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
            rest_versions: HashMap::new(),
            files: FilesState {
                urls: FileUrls::new("http://localhost:8080"),
                store: None,
                records: None,
                max_bytes: 25 * 1024 * 1024,
            },
            reactions: None,
            metrics: Arc::new(crate::metrics::Metrics::new()),
            metrics_here: true,
            probe: None,
        }
    }

    /// Checks storage readiness and reads its figures with `probe`.
    #[must_use]
    pub fn with_probe(mut self, probe: Arc<dyn parley_domain::probe::StoreProbe>) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Counts into `metrics` (shared with the server's background tasks).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>, here: bool) -> Self {
        self.metrics = metrics;
        self.metrics_here = here;
        self
    }

    /// Serves reactions with `service`.
    #[must_use]
    pub fn with_reactions(mut self, service: parley_domain::reactions::ReactionService) -> Self {
        self.reactions = Some(service);
        self
    }

    /// Serves uploads and downloads from `files`.
    #[must_use]
    pub fn with_files(mut self, files: FilesState) -> Self {
        self.files = files;
        self
    }

    /// Gives apps their default API version.
    #[must_use]
    pub fn with_rest_versions(mut self, versions: HashMap<AppId, RestVersion>) -> Self {
        self.rest_versions = versions;
        self
    }

    /// The API version whose behaviour this request of `app` gets.
    ///
    /// # Errors
    /// 400 naming the header when it is not a date.
    pub fn version(&self, req: &HttpRequest, app: &AppId) -> Result<RestVersion, ApiError> {
        Ok(match requested(req)? {
            Some(version) => version,
            None => self.rest_versions.get(app).copied().unwrap_or_default(),
        })
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

    /// Authenticates the request for the app in its path, applies the app's rate limit and
    /// checks the `TalkJS-REST-Version` header.
    ///
    /// # Errors
    /// 401, 429 or 400 (a version that is not a date) as [`ApiError`].
    pub fn admit(&self, req: &HttpRequest) -> Result<AppId, ApiError> {
        let app = self.authenticate(req)?;
        req.extensions_mut()
            .insert(crate::observe::AdmittedApp(app.as_str().to_owned()));
        self.charge(req, &app, 1)?;
        Ok(app)
    }

    /// The app whose credentials the request carries (exactly one `Authorization` header).
    ///
    /// # Errors
    /// 401 as [`ApiError`].
    pub(crate) fn authenticate(&self, req: &HttpRequest) -> Result<AppId, ApiError> {
        let mut given = req.headers().get_all(header::AUTHORIZATION);
        let authorization = given.next();
        // Which of two credentials counts would be a guess, and proxies disagree on it.
        if given.next().is_some() {
            return Err(ApiError::Unauthorized(
                "more than one Authorization header; send exactly one",
            ));
        }
        self.auth
            .authenticate(&app_segment(req), authorization.map(|v| v.as_bytes()))
    }

    /// Counts the request as `weight` requests of `app` for the rate limit (a batch of that
    /// many operations; the operations of an admitted batch are not counted again) and checks
    /// its version header.
    ///
    /// # Errors
    /// 429 or 400 as [`ApiError`].
    pub(crate) fn charge(
        &self,
        req: &HttpRequest,
        app: &AppId,
        weight: u32,
    ) -> Result<(), ApiError> {
        if let Some(limit) = &self.rate_limit {
            if req.extensions().get::<BatchOperation>().is_none() {
                limit.check_n(app, weight)?;
            }
        }
        requested(req)?;
        Ok(())
    }
}
