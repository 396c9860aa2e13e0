//! The sweep for unused files: a file that no live message refers to (never used, or its last
//! message deleted, also with its conversation) goes once it is `files.unused_after_hours` old.

use std::sync::Arc;
use std::time::Duration;

use parley_domain::files::{FileRepository, FileStore};

/// Files handled per round of a sweep.
const BATCH: usize = 100;

/// One sweep: removes every unused file uploaded before `before`: the record first, and only if
/// it is still unused at that moment (a message may have taken it up meanwhile), then the bytes
/// (a crash in between leaves bytes without a record, which are never served). Answers how many
/// went.
pub async fn sweep(
    records: &dyn FileRepository,
    store: &dyn FileStore,
    before: i64,
) -> Result<usize, String> {
    let mut removed = 0;
    loop {
        let unused = records
            .unused_files(before, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        if unused.is_empty() {
            return Ok(removed);
        }
        for file in &unused {
            if records
                .delete_unused_file(&file.token)
                .await
                .map_err(|e| e.to_string())?
            {
                store.delete(&file.token).await.map_err(|e| e.to_string())?;
                removed += 1;
            }
        }
        if unused.len() < BATCH {
            return Ok(removed);
        }
    }
}

pub async fn run(
    records: Arc<dyn FileRepository>,
    store: Arc<dyn FileStore>,
    unused_after: Duration,
    every: Duration,
) {
    let after_ms = i64::try_from(unused_after.as_millis()).unwrap_or(i64::MAX);
    loop {
        let before = super::deliverer::now_ms().saturating_sub(after_ms);
        match sweep(records.as_ref(), store.as_ref(), before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed unused files"),
            Err(e) => tracing::warn!(error = %e, "sweeping unused files failed; retrying later"),
        }
        tokio::time::sleep(every).await;
    }
}
