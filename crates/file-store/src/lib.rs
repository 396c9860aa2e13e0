//! Where the bytes of uploaded files live: the domain's [`FileStore`] port over `object_store`,
//! either a local directory (the default, `files.dir`) or an S3-compatible object store
//! (`files.url = "s3://bucket/prefix"`), so that several servers can share files.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use parley_domain::files::{ByteStream, FileStore, FileStoreError};

/// How to reach an S3-compatible store.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// E.g. `http://127.0.0.1:9000`; empty: AWS.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Files in an object store, under a key prefix.
#[derive(Debug, Clone)]
pub struct ObjectFiles {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    describe: String,
}

fn store_error(e: object_store::Error) -> FileStoreError {
    match e {
        object_store::Error::NotFound { .. } => FileStoreError::NotFound,
        other => FileStoreError::Store(other.to_string()),
    }
}

impl ObjectFiles {
    /// Files in process memory (with `database.url = "memory://"`: nothing survives a restart,
    /// nothing is written to disk).
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix: String::new(),
            describe: "memory".to_owned(),
        }
    }

    /// Files in the directory `dir` (created when missing).
    ///
    /// # Errors
    /// When the directory cannot be created or opened.
    pub fn local(dir: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the files directory {}: {e}", dir.display()))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("cannot open the files directory {}: {e}", dir.display()))?;
        Ok(Self {
            store: Arc::new(fs),
            prefix: String::new(),
            describe: format!("directory {}", dir.display()),
        })
    }

    /// Files in an S3-compatible bucket (it must exist).
    ///
    /// # Errors
    /// When the URL is not `s3://bucket[/prefix]` or the client cannot be built.
    pub fn s3(options: &S3Options) -> Result<Self, String> {
        let rest = options
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("files.url {:?} must start with s3://", options.url))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("files.url {:?} names no bucket", options.url));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&options.region);
        if !options.endpoint.is_empty() {
            builder = builder
                .with_endpoint(&options.endpoint)
                .with_allow_http(options.endpoint.starts_with("http://"));
        }
        if !options.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&options.access_key_id)
                .with_secret_access_key(&options.secret_access_key);
        }
        let s3 = builder.build().map_err(|e| format!("files.url: {e}"))?;
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            store: Arc::new(s3),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            describe: options.url.clone(),
        })
    }

    /// Where files live, for the start-up log.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Every key in the store (under the prefix), for checks and operations.
    ///
    /// # Errors
    /// When the store cannot be listed.
    pub async fn keys(&self) -> Result<Vec<String>, FileStoreError> {
        let prefix = Path::from(self.prefix.trim_end_matches('/'));
        let listed: Vec<_> = self
            .store
            .list(if self.prefix.is_empty() {
                None
            } else {
                Some(&prefix)
            })
            .try_collect()
            .await
            .map_err(store_error)?;
        Ok(listed
            .into_iter()
            .map(|meta| {
                let full = meta.location.to_string();
                full.strip_prefix(&self.prefix).unwrap_or(&full).to_owned()
            })
            .collect())
    }

    fn path(&self, key: &str) -> Path {
        Path::from(format!("{}{key}", self.prefix))
    }
}

#[async_trait]
impl FileStore for ObjectFiles {
    async fn put(
        &self,
        key: &str,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, FileStoreError> {
        let upload = self
            .store
            .put_multipart(&self.path(key))
            .await
            .map_err(store_error)?;
        let mut writer = WriteMultipart::new(upload);
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let failed = match chunk {
                Err(e) => Some(e),
                Ok(bytes) => {
                    size += bytes.len() as u64;
                    if size > max_bytes {
                        Some(FileStoreError::TooLarge(max_bytes))
                    } else {
                        match writer.wait_for_capacity(2).await {
                            Ok(()) => {
                                writer.put(bytes);
                                None
                            }
                            Err(e) => Some(store_error(e)),
                        }
                    }
                }
            };
            if let Some(e) = failed {
                // Nothing of a refused or broken upload stays in the store.
                let _ = writer.abort().await;
                return Err(e);
            }
        }
        writer.finish().await.map_err(store_error)?;
        Ok(size)
    }

    async fn get(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, FileStoreError> {
        if end <= start {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..end)),
            ..Default::default()
        };
        let got = self
            .store
            .get_opts(&self.path(key), options)
            .await
            .map_err(store_error)?;
        Ok(Box::pin(got.into_stream().map_err(store_error)))
    }

    async fn delete(&self, key: &str) -> Result<(), FileStoreError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: Vec<&'static [u8]>) -> ByteStream {
        Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok(bytes::Bytes::from_static(c))),
        ))
    }

    async fn read(files: &ObjectFiles, key: &str, start: u64, end: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stream = files.get(key, start, end).await.unwrap();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_local_directory_stores_ranges_and_refuses_too_large_uploads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let files = ObjectFiles::local(&dir.path().join("files")).unwrap();
        let size = files
            .put("file_a", body(vec![b"hello ", b"world"]), 100)
            .await
            .unwrap();
        assert_eq!(size, 11);
        assert_eq!(read(&files, "file_a", 0, 11).await, b"hello world");
        assert_eq!(read(&files, "file_a", 6, 9).await, b"wor");
        let err = files
            .put("file_b", body(vec![b"0123456789", b"0123456789"]), 15)
            .await
            .unwrap_err();
        assert!(matches!(err, FileStoreError::TooLarge(15)), "{err:?}");
        assert!(matches!(
            files.get("file_b", 0, 1).await.err(),
            Some(FileStoreError::NotFound)
        ));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("files"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["file_a"], "nothing of the refused upload stays");
        files.delete("file_a").await.unwrap();
        files.delete("file_a").await.unwrap();
        assert!(files.get("file_a", 0, 1).await.is_err());
    }

    #[test]
    fn s3_urls_name_a_bucket_and_an_optional_prefix() {
        let options = |url: &str| S3Options {
            url: url.into(),
            endpoint: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
            ..Default::default()
        };
        let files = ObjectFiles::s3(&options("s3://media/parley/")).unwrap();
        assert_eq!(files.path("file_x").as_ref(), "parley/file_x");
        let files = ObjectFiles::s3(&options("s3://media")).unwrap();
        assert_eq!(files.path("file_x").as_ref(), "file_x");
        assert!(ObjectFiles::s3(&options("https://media")).is_err());
        assert!(ObjectFiles::s3(&options("s3://")).is_err());
    }
}
