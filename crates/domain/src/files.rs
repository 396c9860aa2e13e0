//! Files (API.md "Files"): what an upload records, the ports that keep the records and the
//! bytes, and how a message's file blocks are filled in from the records.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::content::{Block, Finite};
use crate::error::{Problems, RepositoryError};
use crate::ids::AppId;
use crate::message::random_base62;
use crate::message::GivenContent;

/// A file as its upload recorded it. `token` is the `fileToken`: 128 random bits and more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub app: AppId,
    pub token: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub subtype: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub duration: Option<Finite>,
    pub created_at: i64,
}

/// A fresh file token: `file_` and 32 base62 characters (about 190 bits) from the operating
/// system's cryptographically secure random source.
pub fn generate_token() -> String {
    format!("file_{}", random_base62(32))
}

/// The records of uploaded files.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FileRepository: Send + Sync + 'static {
    /// Records an uploaded file (its bytes are in the file store already).
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn insert_file(&self, file: &StoredFile) -> Result<(), RepositoryError>;

    /// The file with this token, of any app (downloads need no credentials).
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn find_file(&self, token: &str) -> Result<Option<StoredFile>, RepositoryError>;

    /// Up to `limit` files uploaded before `uploaded_before` that no live message refers to.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn unused_files(
        &self,
        uploaded_before: i64,
        limit: usize,
    ) -> Result<Vec<StoredFile>, RepositoryError>;

    /// Forgets the file's record if no live message refers to it (checked in the same
    /// statement, so a message that took the file up since it was found unused keeps it).
    /// `true` when the record went; then its bytes may be removed.
    ///
    /// # Errors
    /// `Unavailable`/`Other`.
    async fn delete_unused_file(&self, token: &str) -> Result<bool, RepositoryError>;
}

/// A stream of file bytes.
pub type ByteStream = Pin<
    Box<dyn futures_core::Stream<Item = Result<bytes::Bytes, FileStoreError>> + Send + 'static>,
>;

/// What can go wrong in a file store.
#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error("the upload is larger than {0} bytes")]
    TooLarge(u64),
    #[error("no such file in the store")]
    NotFound,
    #[error("the upload failed: {0}")]
    Upload(String),
    #[error("file store: {0}")]
    Store(String),
}

/// Where the bytes of files live: a local directory or an S3-compatible object store.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Streams `body` into the store under `key`, refusing (and leaving nothing) once it passes
    /// `max_bytes`. Answers the size.
    ///
    /// # Errors
    /// [`FileStoreError::TooLarge`], `Upload` when the body fails, `Store`.
    async fn put(&self, key: &str, body: ByteStream, max_bytes: u64)
        -> Result<u64, FileStoreError>;

    /// The bytes of `key` from `start` (inclusive) to `end` (exclusive) as a stream.
    ///
    /// # Errors
    /// `NotFound`, `Store`.
    async fn get(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, FileStoreError>;

    /// Removes `key` (no error when it is gone already).
    ///
    /// # Errors
    /// `Store`.
    async fn delete(&self, key: &str) -> Result<(), FileStoreError>;
}

/// Fills in the file blocks of `given` from the records (a token must name a file of `app`),
/// naming each unknown token at its path under `prefix` (`[0].`).
///
/// # Errors
/// Storage.
pub async fn resolve_files(
    files: Option<&Arc<dyn FileRepository>>,
    app: &AppId,
    prefix: &str,
    given: &mut GivenContent,
    problems: &mut Problems,
) -> Result<(), RepositoryError> {
    let field = given.clone();
    for (j, block) in given.blocks.iter_mut().enumerate() {
        let Block::File(file) = block else {
            continue;
        };
        let found = match files {
            Some(repo) => repo.find_file(&file.file_token).await?,
            None => None,
        };
        match found.filter(|f| &f.app == app) {
            Some(stored) => {
                file.filename = stored.filename;
                file.size = stored.size;
                file.subtype = stored.subtype;
                file.width = stored.width;
                file.height = stored.height;
                file.duration = stored.duration;
            }
            None => problems.invalid(
                field.token_path(prefix, j),
                "is no uploaded file of this app (POST /files answers a fileToken)",
            ),
        }
    }
    Ok(())
}
