//! Parley's server: reads settings, opens the configured storage, wires the domain services to
//! the HTTP layer and runs it.

pub mod background;
pub mod cli;
pub mod settings;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpServer};
use anyhow::Context;
use parley_domain::archive::ArchiveRepository;
use parley_domain::events::{EventRecorder, EventRepository, EventService, ReadLookup};
use parley_domain::files::{FileRepository, FileStore};
use parley_domain::probe::StoreProbe;
use parley_domain::reactions::{ReactionRepository, ReactionService};
use parley_domain::{
    AppId, AppKeys, AppRepository, ConversationRepository, ConversationService, CursorStore,
    MessageRepository, MessageService, SecretKey, SystemClock, UserRepository, UserService,
};
use parley_file_store::{ObjectFiles, S3Options};
use parley_http::{
    AppState, Authenticator, BodyPolicy, EventBus, FileUrls, FilesState, JsonEventEncoder, Metrics,
    RateLimit, RestVersion,
};
#[cfg(feature = "sqlite")]
use parley_store_diesel::{DieselStore, SqliteOptions};
#[cfg(feature = "postgres")]
use parley_store_diesel::{PgOptions, PgStore};
use parley_store_memory::{MemoryCursorStore, MemoryStore};

pub use settings::{Settings, Storage};

/// The app created on first start when no app is configured.
pub const DEV_APP: &str = "demo";

/// A started server: where it listens, and the development app if one was generated.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served when `metrics.port` gives it a port of its own.
    pub metrics_addr: Option<SocketAddr>,
    /// Stops the metrics server (it also stops by itself on SIGINT/SIGTERM).
    pub metrics_handle: Option<actix_web::dev::ServerHandle>,
    pub server: actix_web::dev::Server,
    pub storage: String,
    pub dev_app: Option<(AppId, SecretKey)>,
}

/// Every port of the storage `database.url` names (the server's, and the command-line tools').
pub struct Ports {
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub users: Arc<dyn UserRepository>,
    pub apps: Arc<dyn AppRepository>,
    /// The outbox's reading side: the event log and the webhook deliveries.
    pub events: Arc<dyn EventRepository>,
    /// Where served pages of conversation lists ended: in this process, or (PostgreSQL) in the
    /// database, shared by every server on it.
    pub cursors: Arc<dyn CursorStore>,
    pub reactions: Arc<dyn ReactionRepository>,
    pub files: Arc<dyn FileRepository>,
    /// Readiness and pool figures of the store.
    pub probe: Arc<dyn StoreProbe>,
    /// Whole conversations many at a time (`parley import`).
    pub archive: Arc<dyn ArchiveRepository>,
}

impl Ports {
    /// Every repository port served by one store, and `cursors`.
    fn of<S>(store: Arc<S>, cursors: Arc<dyn CursorStore>) -> Self
    where
        S: ConversationRepository
            + MessageRepository
            + UserRepository
            + AppRepository
            + EventRepository
            + ReactionRepository
            + FileRepository
            + StoreProbe
            + ArchiveRepository
            + 'static,
    {
        Self {
            conversations: store.clone(),
            messages: store.clone(),
            users: store.clone(),
            apps: store.clone(),
            events: store.clone(),
            reactions: store.clone(),
            files: store.clone(),
            probe: store.clone(),
            archive: store,
            cursors,
        }
    }
}

/// A number of hours (fractions allowed) in milliseconds.
fn hours_ms(hours: f64) -> i64 {
    // Settings are validated to be finite and not negative.
    #[allow(clippy::cast_possible_truncation)]
    let ms = (hours * 3_600_000.0).round() as i64;
    ms
}

/// Runs a blocking open (it runs migrations) off the async executor.
async fn open_blocking<S, F>(open: F) -> anyhow::Result<Arc<S>>
where
    S: Send + 'static,
    F: FnOnce() -> Result<S, parley_store_diesel::OpenError> + Send + 'static,
{
    let store = tokio::task::spawn_blocking(open)
        .await
        .context("opening the database panicked")??;
    Ok(Arc::new(store))
}

/// Opens the storage `storage` with `settings` (running migrations).
///
/// # Errors
/// When it cannot be opened.
pub async fn open_storage(settings: &Settings, storage: Storage) -> anyhow::Result<Ports> {
    let pool_size = settings.database.pool_size;
    let connection_timeout = Duration::from_secs(settings.database.connection_timeout_secs);
    match storage {
        Storage::Memory => Ok(Ports::of(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryCursorStore::default()),
        )),
        #[cfg(not(feature = "sqlite"))]
        Storage::Sqlite(_) => anyhow::bail!(
            "database.url names SQLite, but this build has no SQLite backend; \
             build with `--features sqlite` (it is on by default)"
        ),
        #[cfg(not(feature = "postgres"))]
        Storage::Postgres(_) => anyhow::bail!(
            "database.url names PostgreSQL, but this build has no PostgreSQL backend; \
             build with `--features postgres` (it is on by default)"
        ),
        #[cfg(feature = "postgres")]
        Storage::Postgres(url) => {
            let mut options = PgOptions::new(url);
            options.pool_size = pool_size;
            options.connection_timeout = connection_timeout;
            let store = open_blocking(move || PgStore::open_postgres(&options)).await?;
            Ok(Ports::of(store.clone(), store))
        }
        #[cfg(feature = "sqlite")]
        Storage::Sqlite(path) => {
            let mut options = SqliteOptions::new(path);
            options.pool_size = pool_size;
            options.connection_timeout = connection_timeout;
            options.busy_timeout = Duration::from_millis(settings.database.busy_timeout_ms);
            options.synchronous = settings.synchronous()?;
            options.cache_mib = settings.database.sqlite_cache_mib;
            options.group_commit = settings.database.sqlite_group_commit;
            options.writer_cache_mib = settings.database.sqlite_writer_cache_mib;
            let store = open_blocking(move || DieselStore::open_sqlite(&options)).await?;
            Ok(Ports::of(store, Arc::new(MemoryCursorStore::default())))
        }
    }
}

async fn app_keys(
    settings: &Settings,
    apps: &dyn AppRepository,
) -> anyhow::Result<(AppKeys, Option<(AppId, SecretKey)>)> {
    let mut keys = AppKeys::new();
    if settings.apps.is_empty() {
        let app = AppId::new(DEV_APP).expect("the development app ID is valid");
        let key = apps
            .get_or_create_key(&app, &SecretKey::generate_test_key())
            .await
            .context("cannot create the development app")?;
        keys.insert(app.clone(), key.clone());
        return Ok((keys, Some((app, key))));
    }
    for (app, cfg) in &settings.apps {
        let app =
            AppId::new(app.as_str()).with_context(|| format!("apps.{app}: invalid app ID"))?;
        keys.insert(app, SecretKey::new(cfg.secret_key.clone()));
    }
    Ok((keys, None))
}

/// The file store `files.url` (S3-compatible) or `files.dir` names.
/// With `database.url = "memory://"` and no `files.url`, files are kept in memory too.
///
/// # Errors
/// When the store cannot be opened.
pub fn open_files(settings: &Settings, in_memory: bool) -> anyhow::Result<Arc<dyn FileStore>> {
    let files = &settings.files;
    let store = if files.url.trim().is_empty() && in_memory {
        Ok(ObjectFiles::in_memory())
    } else if files.url.trim().is_empty() {
        ObjectFiles::local(std::path::Path::new(&files.dir))
    } else {
        ObjectFiles::s3(&S3Options {
            url: files.url.trim().to_owned(),
            endpoint: files.s3_endpoint.clone(),
            region: files.s3_region.clone(),
            access_key_id: files.s3_access_key_id.clone(),
            secret_access_key: files.s3_secret_access_key.clone(),
        })
    }
    .map_err(anyhow::Error::msg)?;
    tracing::info!(files = store.describe(), "file store");
    Ok(Arc::new(store))
}

/// Each configured app's `rest_version`, checked.
fn rest_versions(settings: &Settings) -> anyhow::Result<HashMap<AppId, RestVersion>> {
    let mut out = HashMap::new();
    for (app, cfg) in &settings.apps {
        let Some(raw) = &cfg.rest_version else {
            continue;
        };
        let version = RestVersion::parse(raw).with_context(|| {
            format!("apps.{app}.rest_version: {raw:?} is not an API version date (YYYY-MM-DD)")
        })?;
        let id = AppId::new(app.as_str()).with_context(|| format!("apps.{app}: invalid app ID"))?;
        out.insert(id, version);
    }
    Ok(out)
}

/// The server of `GET /metrics` on `metrics.port`, when it is not 0: its own listener, one
/// worker, nothing else served.
fn metrics_server(
    settings: &Settings,
    state: web::Data<AppState>,
) -> anyhow::Result<Option<(SocketAddr, actix_web::dev::Server)>> {
    if settings.metrics.port == 0 {
        return Ok(None);
    }
    let address = (settings.server.host.as_str(), settings.metrics.port);
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("metrics.port: cannot listen on {}:{}", address.0, address.1))?;
    let addr = listener
        .local_addr()
        .context("the metrics server is bound to no address")?;
    let server = HttpServer::new(move || {
        let state = state.clone();
        actix_web::App::new().route(
            "/metrics",
            web::get().to(move || {
                let state = state.clone();
                async move { parley_http::render_metrics(&state).await }
            }),
        )
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(Some((addr, server)))
}

/// Opens storage, binds the listener and starts serving. The returned server runs until it is
/// stopped or the process gets SIGINT/SIGTERM; then it finishes requests in flight.
///
/// # Errors
/// When the storage cannot be opened or the address cannot be bound.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    // Bound first: the public URL of file downloads defaults to the port actually bound.
    let address = (settings.server.host.as_str(), settings.server.port);
    let listener = std::net::TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {}:{}", address.0, address.1))?;
    let addr = listener
        .local_addr()
        .context("the server is bound to no address")?;
    let public_url = settings.public_url(&addr.to_string());
    let storage = settings.storage()?;
    let described = storage.describe();
    let ports = open_storage(&settings, storage).await?;
    let (keys, dev_app) = app_keys(&settings, ports.apps.as_ref()).await?;
    let clock = Arc::new(SystemClock);
    let retry_ms = hours_ms(settings.webhooks.retry_hours);
    let bus = Arc::new(EventBus::default());
    let recorder = EventRecorder::new(
        Arc::new(JsonEventEncoder::new(FileUrls::new(&public_url))),
        settings.webhooks()?,
        clock.clone(),
        retry_ms,
    )
    .with_signal(bus.clone());
    let lookup = ReadLookup {
        messages: ports.messages.clone(),
        users: ports.users.clone(),
    };
    let conversations = ConversationService::new(
        ports.conversations.clone(),
        ports.cursors,
        clock.clone(),
        settings.limits(),
    )
    .with_events(recorder.clone(), lookup.clone());
    let messages = MessageService::new(
        ports.conversations.clone(),
        ports.messages.clone(),
        clock.clone(),
        settings.limits(),
    )
    .with_events(recorder.clone(), lookup)
    .with_files(ports.files.clone());
    let reactions = ReactionService::new(
        ports.conversations,
        ports.messages.clone(),
        ports.reactions.clone(),
        clock.clone(),
        settings.limits(),
    )
    .with_events(recorder.clone());
    let users = UserService::new(
        ports.users,
        ports.messages,
        conversations.clone(),
        clock.clone(),
        settings.limits(),
    )
    .with_events(recorder);
    let event_log = EventService::new(ports.events.clone(), clock, retry_ms);
    let metrics = Arc::new(Metrics::new());
    background::spawn(
        ports.events,
        keys.clone(),
        bus.subscribe(),
        Duration::from_secs(settings.webhooks.timeout_secs.max(1)),
        Duration::from_millis(
            u64::try_from(hours_ms(settings.events.retention_hours)).unwrap_or(0),
        ),
        metrics.clone(),
    )?;
    let file_store = open_files(&settings, matches!(settings.storage()?, Storage::Memory))?;
    actix_web::rt::spawn(background::files::run(
        ports.files.clone(),
        file_store.clone(),
        Duration::from_millis(
            u64::try_from(hours_ms(settings.files.unused_after_hours)).unwrap_or(0),
        ),
        Duration::from_secs(settings.files.sweep_interval_secs.max(1)),
    ));
    let server_settings = &settings.server;
    let body = BodyPolicy::new(
        settings.limits.body_bytes,
        Duration::from_secs(server_settings.body_idle_timeout_secs),
        Duration::from_secs(server_settings.body_timeout_secs),
        server_settings.body_buffer_mib.saturating_mul(1024 * 1024),
    );
    let state = web::Data::new(
        AppState::new(
            conversations,
            messages,
            users,
            Authenticator::new(keys),
            RateLimit::new(
                settings.rate_limit.requests_per_second,
                settings.rate_limit.burst,
            ),
        )
        .with_body_policy(body)
        .with_events(event_log, bus)
        .with_rest_versions(rest_versions(&settings)?)
        .with_reactions(reactions)
        .with_files(FilesState {
            urls: FileUrls::new(&public_url),
            store: Some(file_store.clone()),
            records: Some(ports.files.clone()),
            max_bytes: settings.limits.file_bytes,
        })
        .with_probe(ports.probe)
        .with_metrics(metrics, settings.metrics.port == 0),
    );
    let metrics_server = metrics_server(&settings, state.clone())?;

    let mut server = HttpServer::new(move || parley_http::app(state.clone()))
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(
            server_settings.request_head_timeout_secs,
        ))
        .keep_alive(Duration::from_secs(server_settings.keep_alive_secs))
        .max_connections(server_settings.max_connections_per_worker);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server
        .listen(listener)
        .with_context(|| format!("cannot listen on {addr}"))?;
    let server = server.run();
    let (metrics_addr, metrics_handle) = match metrics_server {
        Some((addr, metrics)) => {
            let handle = metrics.handle();
            actix_web::rt::spawn(metrics);
            (Some(addr), Some(handle))
        }
        None => (None, None),
    };
    Ok(Running {
        addr,
        metrics_addr,
        metrics_handle,
        server,
        storage: described,
        dev_app,
    })
}
