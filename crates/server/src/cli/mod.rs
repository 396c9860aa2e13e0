//! The command-line tools beside the server: `parley export`, `parley import` and
//! `parley migrate`. Each opens the storage `database.url` names through the same ports as the
//! server (so they work on SQLite and PostgreSQL, also while servers run on that database) and
//! shows its progress on stderr.

pub mod export;
pub mod import;
pub mod migrate;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use parley_domain::archive::Restorer;
use parley_domain::files::FileStore;
use parley_domain::AppId;

use crate::{open_files, open_storage, Ports, Settings, Storage, DEV_APP};

/// SQLite page cache of a tool's writer connection, at most (MiB).
const TOOL_WRITER_CACHE_MIB: u32 = 16;
/// SQLite page cache of a tool's reader connections, at most (MiB).
const TOOL_READER_CACHE_MIB: u32 = 4;

/// The storage and file store of `settings`, opened.
pub struct Opened {
    pub ports: Ports,
    pub files: Arc<dyn FileStore>,
}

impl Opened {
    /// Opens what `database.url` and `files` name.
    ///
    /// # Errors
    /// When either cannot be opened.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let storage = settings.storage()?;
        let in_memory = matches!(storage, Storage::Memory);
        // A tool streams through the data once: SQLite's page caches are capped (the writer's
        // at 16 MiB, each reader's at 4 MiB) so that its memory stays small however large
        // the server's settings make them.
        let mut settings = settings.clone();
        let db = &mut settings.database;
        db.sqlite_writer_cache_mib = db.sqlite_writer_cache_mib.min(TOOL_WRITER_CACHE_MIB);
        db.sqlite_cache_mib = db.sqlite_cache_mib.min(TOOL_READER_CACHE_MIB);
        let settings = &settings;
        let ports = open_storage(settings, storage).await?;
        let files = open_files(settings, in_memory)?;
        Ok(Self { ports, files })
    }

    pub fn restorer(&self) -> Restorer {
        Restorer::new(
            self.ports.conversations.clone(),
            self.ports.messages.clone(),
            self.ports.users.clone(),
            self.ports.reactions.clone(),
            self.ports.files.clone(),
            self.files.clone(),
            self.ports.archive.clone(),
        )
    }
}

/// The apps of the settings (`apps.*`), or the development app when none is configured.
///
/// # Errors
/// When a configured app ID is invalid.
pub fn configured_apps(settings: &Settings) -> anyhow::Result<Vec<AppId>> {
    if settings.apps.is_empty() {
        return Ok(vec![AppId::new(DEV_APP).expect("a valid app ID")]);
    }
    settings
        .apps
        .keys()
        .map(|a| AppId::new(a.as_str()).with_context(|| format!("apps.{a}: invalid app ID")))
        .collect()
}

/// Counters shown while a tool runs: progress bars on a terminal, otherwise a plain line every
/// few seconds (and one at the end).
pub struct Progress {
    bars: Option<(indicatif::MultiProgress, Vec<indicatif::ProgressBar>)>,
    names: Vec<&'static str>,
    counts: Vec<u64>,
    totals: Vec<Option<u64>>,
    started: Instant,
    last_line: Instant,
}

/// How often the plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    /// One counter per name; bars only when stderr is a terminal.
    pub fn new(names: &[&'static str]) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = indicatif::MultiProgress::new();
            let bars = names
                .iter()
                .map(|name| {
                    let bar = multi.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{prefix:>14} {spinner} {pos:>10} {per_sec:>12} {elapsed_precise}",
                        )
                        .expect("a valid template"),
                    );
                    bar.set_prefix(*name);
                    bar.enable_steady_tick(Duration::from_millis(200));
                    bar
                })
                .collect();
            (multi, bars)
        });
        Self {
            bars,
            names: names.to_vec(),
            counts: vec![0; names.len()],
            totals: vec![None; names.len()],
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// Sets the expected total of counter `i` (its bar then shows a bar and an ETA).
    pub fn set_total(&mut self, i: usize, total: u64) {
        self.totals[i] = Some(total);
        if let Some((_, bars)) = &self.bars {
            bars[i].set_length(total);
            bars[i].set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix:>14} [{bar:30}] {pos:>10}/{len:<10} {per_sec:>12} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
        }
    }

    pub fn add(&mut self, i: usize, n: u64) {
        self.counts[i] += n;
        match &self.bars {
            Some((_, bars)) => bars[i].inc(n),
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    pub fn count(&self, i: usize) -> u64 {
        self.counts[i]
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let parts: Vec<String> = self
            .names
            .iter()
            .zip(&self.counts)
            .zip(&self.totals)
            .map(|((name, n), total)| {
                #[allow(clippy::cast_precision_loss)]
                let rate = *n as f64 / secs;
                match total {
                    Some(t) => format!("{name} {n}/{t} ({rate:.0}/s)"),
                    None => format!("{name} {n} ({rate:.0}/s)"),
                }
            })
            .collect();
        format!("{} in {secs:.1} s", parts.join(", "))
    }

    /// Ends the bars and prints the final counts.
    pub fn finish(self, what: &str) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars {
                bar.finish();
            }
        }
        eprintln!("{what}: {}", self.line());
    }
}
