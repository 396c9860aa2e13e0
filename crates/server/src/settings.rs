//! Settings: compiled-in `config/default.toml` < `--config PATH` < `PARLEY__SECTION__KEY`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use config::{Config, Environment, File, FileFormat};
use parley_domain::Limits;
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub limits: Limits,
    pub rate_limit: RateLimitSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub webhooks: WebhooksSettings,
    pub events: EventsSettings,
    pub files: FilesSettings,
    #[serde(default)]
    pub apps: BTreeMap<String, AppSettings>,
}

/// Where uploaded files live (API.md "Files").
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSettings {
    /// The local directory of the default store (relative to the working directory).
    pub dir: String,
    /// `s3://bucket/prefix` for an S3-compatible object store instead; empty: `dir`.
    pub url: String,
    /// The S3 endpoint (e.g. `http://127.0.0.1:9000` for MinIO); empty: AWS.
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    /// Hours after its upload a file no message refers to is removed.
    pub unused_after_hours: f64,
    /// Seconds between two sweeps for unused files.
    pub sweep_interval_secs: u64,
}

impl std::fmt::Debug for FilesSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesSettings")
            .field("dir", &self.dir)
            .field("url", &self.url)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field("s3_secret_access_key", &"***")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSettings {
    /// Hours a failed delivery is retried; fractions allowed, 0 is a single attempt.
    pub retry_hours: f64,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    pub retention_hours: f64,
}

/// `[apps.<id>.webhooks]`: where the app's events are POSTed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppWebhookSettings {
    #[serde(default)]
    pub urls: Vec<String>,
    /// Event types; TalkJS's types when absent.
    pub events: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    /// The base of absolute URLs the server hands out (file downloads); empty:
    /// `http://<host>:<port>` with the port actually bound.
    pub public_url: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub request_head_timeout_secs: u64,
    pub keep_alive_secs: u64,
    pub body_idle_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub body_buffer_mib: usize,
    pub max_connections_per_worker: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connection_timeout_secs: u64,
    pub busy_timeout_ms: u64,
    pub sqlite_synchronous: String,
    pub sqlite_cache_mib: u32,
    pub sqlite_group_commit: bool,
    pub sqlite_writer_cache_mib: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub requests_per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    /// `text` (human-readable, the default) or `json` (one JSON object per line).
    pub format: String,
}

impl LogSettings {
    /// Whether lines are JSON objects.
    ///
    /// # Errors
    /// When `format` is neither `text` nor `json`.
    pub fn json(&self) -> anyhow::Result<bool> {
        match self.format.as_str() {
            "text" => Ok(false),
            "json" => Ok(true),
            other => bail!("log.format: {other:?} is neither \"text\" nor \"json\""),
        }
    }
}

/// `[metrics]`: where `GET /metrics` is served.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// 0: on the API's port; another port: there only (on `server.host`), off the API's.
    pub port: u16,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    pub secret_key: String,
    #[serde(default)]
    pub webhooks: AppWebhookSettings,
    /// The app's default `TalkJS-REST-Version` (`YYYY-MM-DD`); unset: the newest.
    #[serde(default)]
    pub rest_version: Option<String>,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("secret_key", &"***")
            .field("webhooks", &self.webhooks)
            .field("rest_version", &self.rest_version)
            .finish()
    }
}

/// Where the data lives, parsed from `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Memory,
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) URL, as libpq takes it.
    Postgres(String),
}

impl Storage {
    /// Parses `memory://`, `sqlite://PATH` (`sqlite:///abs/path` for an absolute path) or
    /// `postgres://...`.
    ///
    /// # Errors
    /// When the scheme is unknown or the path is empty.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url == "memory://" || url == "memory:" {
            return Ok(Storage::Memory);
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                bail!("database.url `{url}` names no file; use sqlite://data/parley.db or sqlite:///absolute/path.db");
            }
            return Ok(Storage::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Storage::Postgres(url.to_owned()));
        }
        let scheme = url.split("://").next().unwrap_or(url);
        bail!(
            "database.url `{url}`: unsupported scheme `{scheme}`; this build supports sqlite://PATH, postgres://... and memory://"
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Storage::Memory => "in-memory (nothing is kept after exit)".into(),
            Storage::Sqlite(path) => format!("SQLite at {}", path.display()),
            Storage::Postgres(url) => {
                format!("PostgreSQL at {}", parley_store_diesel::redacted(url))
            }
        }
    }
}

impl Settings {
    /// Loads the layered settings.
    ///
    /// # Errors
    /// When the file cannot be read or parsed, or a value has the wrong type or an unknown key.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        builder = builder.add_source(
            Environment::with_prefix("PARLEY")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        let settings: Settings = builder
            .build()
            .context("invalid configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    /// The base of the absolute URLs handed out (file downloads): `server.public_url`, or
    /// `http://<addr>` of the address the server is bound to.
    pub fn public_url(&self, addr: &str) -> String {
        match self.server.public_url.trim() {
            "" => format!("http://{addr}"),
            url => url.to_owned(),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.storage()?;
        self.log.json()?;
        #[cfg(feature = "sqlite")]
        self.synchronous()?;
        for (app, cfg) in &self.apps {
            parley_domain::AppId::new(app.as_str())
                .with_context(|| format!("apps.{app}: invalid app ID"))?;
            if cfg.secret_key.trim().is_empty() {
                bail!("apps.{app}.secret_key is empty");
            }
        }
        self.webhooks()?;
        if !(self.webhooks.retry_hours >= 0.0 && self.webhooks.retry_hours.is_finite()) {
            bail!("webhooks.retry_hours must be a number of hours, 0 or more");
        }
        if !(self.events.retention_hours >= 0.0 && self.events.retention_hours.is_finite()) {
            bail!("events.retention_hours must be a number of hours, 0 or more");
        }
        Ok(())
    }

    /// Every app's webhooks, checked: http(s) URLs and known event types.
    ///
    /// # Errors
    /// Naming the app and the bad URL or event type.
    pub fn webhooks(
        &self,
    ) -> anyhow::Result<BTreeMap<parley_domain::AppId, Vec<parley_domain::events::Webhook>>> {
        use parley_domain::events::{EventType, Webhook};
        let mut out = BTreeMap::new();
        for (app, cfg) in &self.apps {
            let id = parley_domain::AppId::new(app.as_str())
                .with_context(|| format!("apps.{app}: invalid app ID"))?;
            let events = match &cfg.webhooks.events {
                None => None,
                Some(names) => Some(
                    names
                        .iter()
                        .map(|n| {
                            EventType::parse(n).with_context(|| {
                                format!("apps.{app}.webhooks.events: `{n}` is no event type")
                            })
                        })
                        .collect::<anyhow::Result<_>>()?,
                ),
            };
            let mut hooks: Vec<Webhook> = Vec::new();
            for url in &cfg.webhooks.urls {
                // A URL listed twice gets each event once.
                if hooks.iter().any(|h| &h.url == url) {
                    continue;
                }
                let parsed = reqwest::Url::parse(url)
                    .with_context(|| format!("apps.{app}.webhooks.urls: `{url}` is not a URL"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    bail!("apps.{app}.webhooks.urls: `{url}` is not an http(s) URL");
                }
                hooks.push(Webhook::new(url.clone(), events.clone()));
            }
            if !hooks.is_empty() {
                out.insert(id, hooks);
            }
        }
        Ok(out)
    }

    /// # Errors
    /// As [`Storage::parse`].
    pub fn storage(&self) -> anyhow::Result<Storage> {
        Storage::parse(&self.database.url)
    }

    /// # Errors
    /// When `database.sqlite_synchronous` is neither `full` nor `normal`.
    #[cfg(feature = "sqlite")]
    pub fn synchronous(&self) -> anyhow::Result<parley_store_diesel::Synchronous> {
        match self
            .database
            .sqlite_synchronous
            .to_ascii_lowercase()
            .as_str()
        {
            "full" => Ok(parley_store_diesel::Synchronous::Full),
            "normal" => Ok(parley_store_diesel::Synchronous::Normal),
            other => bail!("database.sqlite_synchronous `{other}`: use \"full\" or \"normal\""),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_defaults_match_the_documented_ones() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.server.host, "127.0.0.1");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.database.url, "sqlite://data/parley.db");
        assert_eq!(s.limits(), Limits::default());
        assert!(s.apps.is_empty());
    }

    #[test]
    fn database_urls_parse() {
        assert_eq!(Storage::parse("memory://").unwrap(), Storage::Memory);
        assert_eq!(
            Storage::parse("sqlite://data/parley.db").unwrap(),
            Storage::Sqlite(PathBuf::from("data/parley.db"))
        );
        assert_eq!(
            Storage::parse("sqlite:///var/lib/parley.db").unwrap(),
            Storage::Sqlite(PathBuf::from("/var/lib/parley.db"))
        );
        let err = Storage::parse("mysql://x").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme `mysql`"), "{err}");
        assert!(Storage::parse("sqlite://").is_err());
        assert_eq!(
            Storage::parse("postgres://u:p@db/parley").unwrap(),
            Storage::Postgres("postgres://u:p@db/parley".into())
        );
        assert!(matches!(
            Storage::parse("postgresql://db/parley").unwrap(),
            Storage::Postgres(_)
        ));
        assert_eq!(
            Storage::parse("postgres://u:secret@db/parley")
                .unwrap()
                .describe(),
            "PostgreSQL at postgres://u:***@db/parley"
        );
    }
}
