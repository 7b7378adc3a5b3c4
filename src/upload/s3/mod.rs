//! The S3 calls the uploader needs, signed with aws-sigv4 and sent with reqwest (rustls).
//! Every object and part body carries `x-amz-checksum-crc32c`, which AWS S3 and Garage both
//! verify (a damaged body is refused with BadDigest/InvalidDigest) and which costs next to
//! nothing (SSE4.2 on x86, the CRC instructions on ARMv8); with `checksum = "md5"` it
//! carries `Content-MD5` instead, for servers that refuse checksum headers (Backblaze B2).
//! Over plain http the payload's SHA-256 is also signed, so nobody on the path can swap the
//! bytes; over https TLS does that and the payload goes `UNSIGNED-PAYLOAD`, as the AWS SDKs
//! do.
//!
//! `error.rs` classifies refusals, `xml.rs` reads and writes the documents, `body.rs` holds
//! bodies and their checksums, `sign.rs` the signing; this file is the client.

mod body;
mod error;
mod sign;
mod uri;
pub(crate) mod xml;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::SignableBody;
use bytes::Bytes;

use super::bandwidth::Limiter;
use super::plan::{Head, ServerPart};
use crate::base::SharedClock;
use crate::config::{Addressing, ChecksumMode, UploadConfig};
pub use body::{Body, Summer};
use body::{EMPTY_SHA256, metered};
pub use error::S3Error;
use sign::{Placement, Signer, host_header};

/// What the server said about an object as it stored it: all a key that may write but not
/// read (no HEAD) has to verify the upload by.
#[derive(Debug, Clone, Default)]
pub struct Proof {
    pub etag: String,
    pub crc32c: Option<String>,
}

pub struct S3 {
    http: reqwest::Client,
    endpoint: url::Url,
    bucket: String,
    path_style: bool,
    signer: Signer,
    storage_class: String,
    sse: Option<String>,
    limiter: Limiter,
    /// Sign the payload's SHA-256 (plain http) rather than send it UNSIGNED-PAYLOAD (https).
    sign_payload: bool,
    checksum: ChecksumMode,
    clock: SharedClock,
    /// Server time minus ours, in ms, learned from responses (shared with health).
    pub skew_ms: Arc<AtomicI64>,
    /// A test seam: added to the clock, to play a device whose clock is wrong.
    fake_ms: i64,
}

impl S3 {
    pub fn new(
        cfg: &UploadConfig,
        limiter: Limiter,
        clock: SharedClock,
        skew_ms: Arc<AtomicI64>,
        fake_ms: i64,
    ) -> Result<S3, S3Error> {
        let endpoint = url::Url::parse(&cfg.effective_endpoint())
            .map_err(|e| S3Error::setup(format!("upload.endpoint: {e}")))?;
        let sign_payload = endpoint.scheme() != "https";
        let host = endpoint.host_str().unwrap_or("");
        let bucket = cfg.bucket.clone().unwrap_or_default();
        let path_style = match cfg.addressing {
            Addressing::Path => true,
            Addressing::Virtual => false,
            // AWS serves virtual-host style, but `a.b.s3.amazonaws.com` is outside its
            // wildcard certificate; S3-compatible servers on an IP or a custom name are
            // addressed path-style (Garage, MinIO, s3s).
            Addressing::Auto => {
                !host.ends_with("amazonaws.com")
                    || (bucket.contains('.') && endpoint.scheme() == "https")
            }
        };
        let creds = Credentials::new(
            cfg.access_key_id.clone().unwrap_or_default(),
            cfg.secret_access_key
                .as_ref()
                .map(|s| s.expose().to_string())
                .unwrap_or_default(),
            cfg.session_token.as_ref().map(|s| s.expose().to_string()),
            None,
            "camvault-config",
        );
        let http = crate::base::http::client(cfg.ca_file.as_deref(), Duration::from_secs(60))
            .map_err(S3Error::setup)?;
        Ok(S3 {
            http,
            endpoint,
            bucket,
            path_style,
            signer: Signer::new(creds, cfg.region.clone()),
            storage_class: cfg.storage_class.clone(),
            sse: cfg.server_side_encryption.clone(),
            limiter,
            sign_payload,
            checksum: cfg.checksum,
            clock,
            skew_ms,
            fake_ms,
        })
    }

    /// New credentials for every request from now on (SIGHUP re-read their files).
    pub fn set_credentials(&self, key_id: &str, secret: &str, token: Option<&str>) {
        self.signer.set_credentials(Credentials::new(
            key_id,
            secret,
            token.map(str::to_string),
            None,
            "camvault-config",
        ));
    }

    /// What a body read for this server must be checksummed with.
    pub fn summer(&self) -> Summer {
        Summer::new(self.checksum == ChecksumMode::Md5, self.sign_payload)
    }

    fn crc_mode(&self) -> bool {
        self.checksum == ChecksumMode::Crc32c
    }

    fn url(&self, key: Option<&str>, query: &[(&str, String)]) -> url::Url {
        let mut u = self.endpoint.clone();
        if !self.path_style
            && let Some(host) = self.endpoint.host_str()
        {
            let _ = u.set_host(Some(&format!("{}.{host}", self.bucket)));
        }
        // Built from encoded pieces: only unreserved characters, `%XX` and `/`, which the URL
        // parser keeps as they are, so the path sent is the path signed.
        let mut path = self.endpoint.path().trim_end_matches('/').to_string();
        if self.path_style {
            path = format!("{path}/{}", uri::encode(&self.bucket, false));
        }
        match key {
            Some(k) => path = format!("{path}/{}", uri::encode(k, true)),
            None if self.path_style => {}
            None => path.push('/'),
        }
        u.set_path(&path);
        u.set_query((!query.is_empty()).then(|| uri::query(query)).as_deref());
        u
    }

    /// The offset to add to our clock: what the server taught us, and the test seam.
    fn offset_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::Relaxed) + self.fake_ms
    }

    /// Our clock corrected by what the server taught us.
    fn signing_time(&self) -> SystemTime {
        let now = self.clock.now() + chrono::Duration::milliseconds(self.offset_ms());
        SystemTime::from(now)
    }

    /// Sends a request, retrying what is worth retrying right away (a 5xx, a reset, a clock
    /// the server just corrected us on) a few times, as the AWS SDKs do.
    async fn send(
        &self,
        method: &str,
        url: url::Url,
        headers: Vec<(String, String)>,
        body: Option<&Body>,
    ) -> Result<reqwest::Response, S3Error> {
        let mut delay = Duration::from_millis(200);
        let mut tries = 0;
        loop {
            tries += 1;
            match self
                .send_once(method, url.clone(), headers.clone(), body)
                .await
            {
                Err(e) if tries < 4 && e.is_retryable() => {
                    tracing::debug!(error = %e, tries, "s3: retrying");
                    if e.code != "RequestTimeTooSkewed" {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: &str,
        url: url::Url,
        mut headers: Vec<(String, String)>,
        body: Option<&Body>,
    ) -> Result<reqwest::Response, S3Error> {
        let payload = match body {
            None => SignableBody::Precomputed(EMPTY_SHA256.to_string()),
            Some(Body {
                sha256_hex: Some(sha),
                ..
            }) => SignableBody::Precomputed(sha.clone()),
            Some(_) => SignableBody::UnsignedPayload,
        };
        if let Some(b) = body {
            headers.extend(b.checksum_header(self.crc_mode()));
            headers.push(("content-length".into(), b.data.len().to_string()));
        }
        headers.push(("host".into(), host_header(&url)));
        let instructions = self.signer.sign(
            method,
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            payload,
            Placement::Headers,
            self.signing_time(),
        )?;
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(S3Error::network)?;
        let mut req = self.http.request(m, url);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k, v);
        }
        for (k, v) in instructions.headers() {
            req = req.header(k, v);
        }
        if let Some(b) = body {
            req = req.body(metered(&self.limiter, b.data.clone()));
        }
        let resp = req.send().await.map_err(S3Error::transport)?;
        self.learn_skew(&resp);
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(S3Error::from_answer(status, &text))
    }

    /// Learns the server's clock from its Date header when ours is more than a minute off
    /// (a Pi without RTC before NTP), so signatures stay inside the server's window.
    fn learn_skew(&self, resp: &reqwest::Response) {
        let Some(date) = resp.headers().get("date").and_then(|d| d.to_str().ok()) else {
            return;
        };
        let Ok(server) = chrono::DateTime::parse_from_rfc2822(date) else {
            return;
        };
        let ours = self.clock.now() + chrono::Duration::milliseconds(self.offset_ms());
        let diff = (server.with_timezone(&chrono::Utc) - ours).num_milliseconds();
        if diff.abs() > 60_000 {
            let learned = self.skew_ms.load(Ordering::Relaxed) + diff;
            tracing::warn!(
                offset_s = learned / 1000,
                "upload: the server's clock differs from ours; signing with its time"
            );
            self.skew_ms.store(learned, Ordering::Relaxed);
        }
    }

    /// Headers that describe the object: storage class, encryption, and a Content-Type from
    /// the key's extension so browsers play a presigned clip instead of downloading it.
    fn object_headers(&self, key: &str) -> Vec<(String, String)> {
        let mut h = vec![
            (
                "x-amz-storage-class".to_string(),
                self.storage_class.clone(),
            ),
            ("content-type".to_string(), content_type(key).to_string()),
        ];
        if let Some(sse) = &self.sse {
            h.push(("x-amz-server-side-encryption".into(), sse.clone()));
        }
        h
    }

    async fn text(&self, method: &str, url: url::Url) -> Result<String, S3Error> {
        self.send(method, url, Vec::new(), None)
            .await?
            .text()
            .await
            .map_err(S3Error::network)
    }

    pub async fn put_object(&self, key: &str, body: &Body) -> Result<Proof, S3Error> {
        let url = self.url(Some(key), &[]);
        let resp = self
            .send("PUT", url, self.object_headers(key), Some(body))
            .await?;
        Ok(Proof {
            etag: etag_of(&resp),
            crc32c: resp
                .headers()
                .get("x-amz-checksum-crc32c")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        })
    }

    pub async fn create_multipart(&self, key: &str) -> Result<String, S3Error> {
        let mut headers = self.object_headers(key);
        // Parts then carry CRC32C, ListParts reports them, and the object gets a composite
        // checksum that a HEAD can show.
        if self.crc_mode() {
            headers.push(("x-amz-checksum-algorithm".into(), "CRC32C".into()));
        }
        let url = self.url(Some(key), &[("uploads", String::new())]);
        let resp = self.send("POST", url, headers, None).await?;
        xml::upload_id(&resp.text().await.map_err(S3Error::network)?)
    }

    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i64,
        body: &Body,
    ) -> Result<String, S3Error> {
        let q = [
            ("partNumber", number.to_string()),
            ("uploadId", upload_id.to_string()),
        ];
        let resp = self
            .send("PUT", self.url(Some(key), &q), Vec::new(), Some(body))
            .await?;
        Ok(etag_of(&resp))
    }

    /// Every part the server holds for an upload (following pagination).
    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<ServerPart>, S3Error> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut q = vec![
                ("uploadId", upload_id.to_string()),
                ("max-parts", "1000".to_string()),
            ];
            if let Some(m) = &marker {
                q.push(("part-number-marker", m.clone()));
            }
            let (parts, next) = xml::parts_page(&self.text("GET", self.url(Some(key), &q)).await?)?;
            out.extend(parts);
            match next {
                Some(n) if marker.as_ref() != Some(&n) => marker = Some(n),
                _ => return Ok(out),
            }
        }
    }

    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i64, String, u32)],
    ) -> Result<Proof, S3Error> {
        let doc = xml::complete(parts, self.crc_mode());
        let body = Body::document(Bytes::from(doc.into_bytes()), self.sign_payload);
        let url = self.url(Some(key), &[("uploadId", upload_id.to_string())]);
        let resp = self.send("POST", url, Vec::new(), Some(&body)).await?;
        let text = resp.text().await.map_err(S3Error::network)?;
        match S3Error::in_body(&text) {
            Some(e) => Err(e),
            None => {
                let (etag, crc32c) = xml::completed(&text);
                Ok(Proof { etag, crc32c })
            }
        }
    }

    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let url = self.url(Some(key), &[("uploadId", upload_id.to_string())]);
        self.send("DELETE", url, Vec::new(), None).await?;
        Ok(())
    }

    /// Open multipart uploads under `prefix` (following pagination).
    pub async fn list_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>, S3Error> {
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut q = vec![("uploads", String::new()), ("prefix", prefix.to_string())];
            if let Some((k, u)) = &markers {
                q.push(("key-marker", k.clone()));
                q.push(("upload-id-marker", u.clone()));
            }
            let (uploads, next) = xml::uploads_page(&self.text("GET", self.url(None, &q)).await?)?;
            out.extend(uploads);
            match next {
                Some(n) if markers.as_ref() != Some(&n) => markers = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// A GET URL for `key` anyone can use until it expires (SigV4 query signing; AWS caps
    /// `expires` at 7 days).
    pub fn presign_get(&self, key: &str, expires: Duration) -> Result<String, S3Error> {
        let mut url = self.url(Some(key), &[]);
        let host = host_header(&url);
        let instructions = self.signer.sign(
            "GET",
            &url,
            std::iter::once(("host", host.as_str())),
            SignableBody::UnsignedPayload,
            Placement::Query(expires),
            self.signing_time(),
        )?;
        let params: Vec<(&str, String)> = instructions
            .params()
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        url.set_query(Some(&uri::query(&params)));
        Ok(url.to_string())
    }

    /// Size, ETag and (where the server keeps one) CRC32C of an object.
    pub async fn head(&self, key: &str) -> Result<Head, S3Error> {
        let headers = match self.crc_mode() {
            true => vec![("x-amz-checksum-mode".to_string(), "ENABLED".to_string())],
            false => Vec::new(),
        };
        let resp = self
            .send("HEAD", self.url(Some(key), &[]), headers, None)
            .await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(Head {
            size: header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            etag: etag_of(&resp),
            crc32c: header("x-amz-checksum-crc32c"),
        })
    }
}

fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("mp4") => "video/mp4",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ts") => "video/mp2t",
        _ => "application/octet-stream",
    }
}

fn etag_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests;
