//! Blobs in an S3-compatible object store (MinIO, Garage, Ceph RGW, AWS S3,
//! Alibaba OSS/Tencent COS in S3 mode): the scale-out option when several
//! server instances must share evidence.
//!
//! Keys are `<prefix>/ab/cd/<hash>`. An S3 PUT is atomic (an object is
//! visible whole or not at all), and so is completing a multipart upload,
//! so no temporary-name dance is needed. Retries are bounded and short on
//! purpose: a failed finish keeps the part file on local disk and the client
//! retries, so waiting minutes inside one request gains nothing.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use choucha_shared::Sha256Hex;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use super::{BlobBody, BlobSource, BlobStore, BlobStoreError, fan_out, io_stream};

/// Size of one multipart part (S3 requires at least 5 MiB but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// How to reach an S3-compatible bucket. Use [`S3Config::new`] and adjust.
#[derive(Clone)]
pub struct S3Config {
    /// Base URL, e.g. `http://127.0.0.1:9000` or `https://oss-cn-chengdu.aliyuncs.com`.
    pub endpoint: String,
    pub bucket: String,
    /// Signing region; most S3-compatible servers accept `us-east-1`.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Allow a plain-HTTP endpoint (a server on the same host or in tests).
    pub allow_http: bool,
    /// Key prefix inside the bucket, e.g. `blobs` (may be empty).
    pub prefix: String,
    /// Retries per request before the store reports failure.
    pub max_retries: usize,
    /// Upper bound for one request including its retries.
    pub retry_timeout: Duration,
    /// Timeout of a single HTTP request.
    pub request_timeout: Duration,
    /// Blobs larger than this are uploaded in parts.
    pub multipart_threshold: u64,
}

impl S3Config {
    /// Path-style requests against `endpoint`, static credentials, prefix
    /// `blobs`, three retries within 30 s.
    pub fn new(
        endpoint: impl Into<String>,
        bucket: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        let endpoint = endpoint.into();
        Self {
            allow_http: endpoint.starts_with("http://"),
            endpoint,
            bucket: bucket.into(),
            region: "us-east-1".to_owned(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            prefix: "blobs".to_owned(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            multipart_threshold: 16 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("multipart_threshold", &self.multipart_threshold)
            .finish()
    }
}

/// Blob store in an S3-compatible bucket. The bucket must exist.
#[derive(Debug)]
pub struct S3BlobStore {
    store: AmazonS3,
    prefix: Vec<String>,
    multipart_threshold: u64,
}

impl S3BlobStore {
    pub fn new(config: &S3Config) -> Result<Self, BlobStoreError> {
        if config.endpoint.is_empty() || config.bucket.is_empty() {
            return Err(BlobStoreError::Config(
                "S3 endpoint and bucket are required".to_owned(),
            ));
        }
        // Client options first: setting them replaces `allow_http` too.
        let store = AmazonS3Builder::new()
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(config.request_timeout)
                    .with_connect_timeout(Duration::from_secs(5)),
            )
            .with_endpoint(&config.endpoint)
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_allow_http(config.allow_http)
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: config.max_retries,
                retry_timeout: config.retry_timeout,
            })
            .build()
            .map_err(|e| BlobStoreError::Config(e.to_string()))?;
        Ok(Self {
            store,
            prefix: config
                .prefix
                .split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            multipart_threshold: config.multipart_threshold,
        })
    }

    /// The object key of a blob.
    pub fn key_of(&self, hash: &Sha256Hex) -> ObjectPath {
        self.prefix
            .iter()
            .map(String::as_str)
            .chain(fan_out(hash))
            .collect()
    }

    async fn put_multipart(
        &self,
        key: &ObjectPath,
        source: BlobSource,
    ) -> Result<(), BlobStoreError> {
        let upload = self.store.put_multipart(key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let written = async {
            match source {
                BlobSource::Bytes(bytes) => writer.put(bytes),
                BlobSource::File(path) => {
                    let mut file = File::open(&path)
                        .map_err(|e| BlobStoreError::io(format!("open {}", path.display()), e))?;
                    loop {
                        let (f, chunk) = read_part(file).await?;
                        file = f;
                        if chunk.is_empty() {
                            break;
                        }
                        writer.wait_for_capacity(2).await?;
                        writer.put(chunk);
                    }
                }
            }
            Ok::<(), BlobStoreError>(())
        }
        .await;
        match written {
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            Err(e) => {
                // Leave no orphaned parts (they cost money on real S3).
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }
}

/// Reads up to one part from `file` on the blocking pool.
async fn read_part(mut file: File) -> Result<(File, Bytes), BlobStoreError> {
    crate::background::run(move || {
        let mut buf = Vec::with_capacity(PART_SIZE);
        (&mut file)
            .take(PART_SIZE as u64)
            .read_to_end(&mut buf)
            .map(|_| (file, Bytes::from(buf)))
    })
    .await
    .map_err(|e| BlobStoreError::io("blocking task", io::Error::other(e)))?
    .map_err(|e| BlobStoreError::io("read blob source", e))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put_verified(
        &self,
        hash: &Sha256Hex,
        source: BlobSource,
    ) -> Result<(), BlobStoreError> {
        let key = self.key_of(hash);
        let size = match &source {
            BlobSource::Bytes(b) => b.len() as u64,
            BlobSource::File(p) => tokio::fs::metadata(p)
                .await
                .map_err(|e| BlobStoreError::io(format!("stat {}", p.display()), e))?
                .len(),
        };
        if size > self.multipart_threshold {
            return self.put_multipart(&key, source).await;
        }
        let bytes = match source {
            BlobSource::Bytes(b) => b,
            BlobSource::File(p) => Bytes::from(
                tokio::fs::read(&p)
                    .await
                    .map_err(|e| BlobStoreError::io(format!("read {}", p.display()), e))?,
            ),
        };
        self.store.put(&key, PutPayload::from(bytes)).await?;
        Ok(())
    }

    async fn get(&self, hash: &Sha256Hex) -> Result<Option<BlobBody>, BlobStoreError> {
        match self.store.get(&self.key_of(hash)).await {
            Ok(result) => Ok(Some(BlobBody {
                size: result.meta.size,
                stream: io_stream(result.into_stream()),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn size(&self, hash: &Sha256Hex) -> Result<Option<u64>, BlobStoreError> {
        match self.store.head(&self.key_of(hash)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, hash: &Sha256Hex) -> Result<bool, BlobStoreError> {
        let key = self.key_of(hash);
        // S3 answers a delete of a missing key with success: ask first, so
        // the collector's log says what it really removed.
        match self.store.head(&key).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.store.delete(&key).await?;
        Ok(true)
    }
}
