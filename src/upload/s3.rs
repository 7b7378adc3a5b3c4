//! The S3 calls the uploader needs, signed with aws-sigv4 and sent with reqwest (rustls).
//! Every object and part body carries `x-amz-checksum-crc32c`, which AWS S3 and Garage both
//! verify (a damaged body is refused with BadDigest/InvalidDigest) and which costs next to
//! nothing (SSE4.2 on x86, the CRC instructions on ARMv8); with `checksum = "md5"` it
//! carries `Content-MD5` instead, for servers that refuse checksum headers (Backblaze B2). Over plain http the payload's
//! SHA-256 is also signed, so nobody on the path can swap the bytes; over https TLS does that
//! and the payload goes `UNSIGNED-PAYLOAD`, as the AWS SDKs do.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use bytes_compat::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::bandwidth::Limiter;
use super::plan::{self, Head, ServerPart};
use crate::config::ChecksumMode;
use crate::config::UploadConfig;

/// Chunks the bandwidth limiter meters a body in.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct S3Error {
    /// HTTP status; 0 when the request never got an answer.
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl S3Error {
    fn describe(&self) -> String {
        match self.status {
            0 => format!("network: {}", self.message),
            s => format!("HTTP {s} {}: {}", self.code, self.message),
        }
    }

    fn network(e: impl std::fmt::Display) -> S3Error {
        S3Error {
            status: 0,
            code: String::new(),
            message: e.to_string(),
        }
    }

    /// Retrying cannot help: wrong credentials, missing bucket, refused request.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.code.as_str(),
            "AccessDenied"
                | "InvalidAccessKeyId"
                | "NoSuchBucket"
                | "InvalidBucketName"
                | "AllAccessDisabled"
                | "AccountProblem"
                | "EntityTooLarge"
        ) || (self.status == 403
            && !self.code.contains("Signature")
            && self.code != "RequestTimeTooSkewed")
    }

    /// Worth an immediate retry: the network, a server error, throttling, a clock correction,
    /// or a signature refused by a server that briefly does so (Garage has been seen to).
    pub fn is_retryable(&self) -> bool {
        self.status == 0
            || self.status >= 500
            || self.status == 429
            || matches!(
                self.code.as_str(),
                "RequestTimeout"
                    | "RequestTimeTooSkewed"
                    | "SlowDown"
                    | "InternalError"
                    | "SignatureDoesNotMatch"
                    | "InvalidSignature"
                    | "BadDigest"
                    | "InvalidDigest"
                    | "XAmzContentSHA256Mismatch"
            )
    }

    pub fn is_no_such_upload(&self) -> bool {
        self.code == "NoSuchUpload" || (self.status == 404 && self.code.is_empty())
    }
}

#[derive(Deserialize)]
struct ErrorXml {
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct InitiateXml {
    #[serde(rename = "UploadId")]
    upload_id: String,
}

#[derive(Deserialize)]
struct PartXml {
    #[serde(rename = "PartNumber")]
    number: i64,
    #[serde(rename = "ETag")]
    etag: String,
    #[serde(rename = "Size")]
    size: i64,
    #[serde(rename = "ChecksumCRC32C", default)]
    crc32c: Option<String>,
}

#[derive(Deserialize)]
struct ListPartsXml {
    #[serde(rename = "IsTruncated", default)]
    truncated: bool,
    #[serde(rename = "NextPartNumberMarker", default)]
    next: Option<String>,
    #[serde(rename = "Part", default)]
    parts: Vec<PartXml>,
}

#[derive(Deserialize)]
struct UploadXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "UploadId")]
    upload_id: String,
}

#[derive(Deserialize)]
struct ListUploadsXml {
    #[serde(rename = "IsTruncated", default)]
    truncated: bool,
    #[serde(rename = "NextKeyMarker", default)]
    next_key: Option<String>,
    #[serde(rename = "NextUploadIdMarker", default)]
    next_upload: Option<String>,
    #[serde(rename = "Upload", default)]
    uploads: Vec<UploadXml>,
}

pub struct Body {
    pub data: Bytes,
    /// Sent as `x-amz-checksum-crc32c` on object and part bodies.
    pub crc32c: Option<u32>,
    /// Sent as `Content-MD5` in `md5` mode.
    md5: Option<[u8; 16]>,
    /// For the signature, when the payload is signed.
    sha256_hex: Option<String>,
}

/// Checksums a body as it is read, a chunk at a time, while the chunk is still in the cache.
pub struct Summer {
    crc: u32,
    md5: Option<md5::Md5>,
    sha: Option<Sha256>,
}

impl Summer {
    pub fn update(&mut self, chunk: &[u8]) {
        self.crc = crc32c::crc32c_append(self.crc, chunk);
        if let Some(md5) = &mut self.md5 {
            md5.update(chunk);
        }
        if let Some(sha) = &mut self.sha {
            sha.update(chunk);
        }
    }

    /// The body whose every byte went through `update`.
    pub fn finish(self, data: Bytes) -> Body {
        Body {
            data,
            crc32c: Some(self.crc),
            md5: self.md5.map(|m| m.finalize().into()),
            sha256_hex: self.sha.map(|s| plan::hex(&s.finalize())),
        }
    }
}

impl Body {
    /// A request document: no checksum header (on CompleteMultipartUpload that header would
    /// claim the whole object's checksum), the SHA-256 when `signed`.
    fn document(data: Bytes, signed: bool) -> Body {
        Body {
            sha256_hex: signed.then(|| plan::hex(&Sha256::digest(&data))),
            data,
            crc32c: None,
            md5: None,
        }
    }

    /// The MD5 of the bytes, in `md5` mode.
    pub fn md5_hex(&self) -> Option<String> {
        self.md5.map(|m| plan::hex(&m))
    }
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub struct S3 {
    http: reqwest::Client,
    endpoint: url::Url,
    bucket: String,
    region: String,
    path_style: bool,
    creds: Credentials,
    storage_class: String,
    sse: Option<String>,
    limiter: Limiter,
    /// Sign the payload's SHA-256 (plain http) rather than send it UNSIGNED-PAYLOAD (https).
    sign_payload: bool,
    checksum: ChecksumMode,
    /// Server time minus ours, in ms, learned from responses (shared with health).
    pub skew_ms: Arc<AtomicI64>,
    /// A test seam: added to the system clock, to play a device whose clock is wrong.
    fake_ms: i64,
}

impl S3 {
    pub fn new(
        cfg: &UploadConfig,
        limiter: Limiter,
        skew_ms: Arc<AtomicI64>,
        fake_ms: i64,
    ) -> Result<S3, String> {
        let endpoint = url::Url::parse(&cfg.effective_endpoint())
            .map_err(|e| format!("upload.endpoint: {e}"))?;
        let sign_payload = endpoint.scheme() != "https";
        let host = endpoint.host_str().unwrap_or("");
        // AWS serves virtual-host style; S3-compatible servers on an IP or a custom name
        // are addressed path-style (Garage, MinIO, s3s).
        let path_style = !host.ends_with("amazonaws.com");
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
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(S3 {
            http,
            endpoint,
            bucket: cfg.bucket.clone().unwrap_or_default(),
            region: cfg.region.clone(),
            path_style,
            creds,
            storage_class: cfg.storage_class.clone(),
            sse: cfg.server_side_encryption.clone(),
            limiter,
            sign_payload,
            checksum: cfg.checksum,
            skew_ms,
            fake_ms,
        })
    }

    /// What a body read for this server must be checksummed with.
    pub fn summer(&self) -> Summer {
        Summer {
            crc: 0,
            md5: (self.checksum == ChecksumMode::Md5).then(md5::Md5::new),
            sha: self.sign_payload.then(Sha256::new),
        }
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
        {
            let mut segs = u.path_segments_mut().expect("http URL");
            segs.pop_if_empty();
            if self.path_style {
                segs.push(&self.bucket);
            }
            match key {
                Some(k) => {
                    segs.extend(k.split('/'));
                }
                None if self.path_style => {}
                None => {
                    segs.push("");
                }
            }
        }
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        // S3 wants %20, not +, and sorted canonical queries are the signer's business.
        let fixed = u.as_str().replace('+', "%20");
        url::Url::parse(&fixed).unwrap_or(u)
    }

    /// Our clock corrected by what the server taught us.
    fn signing_time(&self) -> SystemTime {
        let skew = self.skew_ms.load(Ordering::Relaxed) + self.fake_ms;
        let now = SystemTime::now();
        if skew >= 0 {
            now + Duration::from_millis(skew as u64)
        } else {
            now - Duration::from_millis((-skew) as u64)
        }
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
            match (b.crc32c, &b.md5) {
                (Some(crc), _) if self.crc_mode() => {
                    headers.push(("x-amz-checksum-crc32c".into(), plan::crc32c_b64(crc)))
                }
                (_, Some(md5)) => headers.push((
                    "content-md5".into(),
                    base64::engine::general_purpose::STANDARD.encode(md5),
                )),
                _ => {}
            }
            headers.push(("content-length".into(), b.data.len().to_string()));
        }
        let time = self.signing_time();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity = self.creds.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(S3Error::network)?
            .into();
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        headers.push(("host".into(), host));
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            payload,
        )
        .map_err(S3Error::network)?;
        let (instructions, _) = sign(signable, &params)
            .map_err(S3Error::network)?
            .into_parts();
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(S3Error::network)?;
        let mut req = self.http.request(m, url.clone());
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k, v);
        }
        for (k, v) in instructions.headers() {
            req = req.header(k, v);
        }
        if let Some(b) = body {
            req = req.body(self.metered(b.data.clone()));
        }
        let resp = req.send().await.map_err(S3Error::network)?;
        self.learn_skew(&resp);
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let parsed: Option<ErrorXml> = quick_xml::de::from_str(&text).ok();
        let (code, mut message) = parsed
            .map_or((String::new(), text.chars().take(200).collect()), |e| {
                (e.code, e.message)
            });
        if status == 400 && message.contains("x-amz-checksum") {
            message += " (this server refuses checksum headers: set upload.checksum = \"md5\")";
        }
        Err(S3Error {
            status,
            code,
            message,
        })
    }

    /// A body the bandwidth limiter releases chunk by chunk.
    fn metered(&self, data: Bytes) -> reqwest::Body {
        if self.limiter.rate().is_none() {
            return reqwest::Body::from(data);
        }
        let limiter = self.limiter.clone();
        let stream = futures_util::stream::unfold((data, 0usize), move |(data, off)| {
            let limiter = limiter.clone();
            async move {
                if off >= data.len() {
                    return None;
                }
                let end = (off + CHUNK).min(data.len());
                limiter.take(end - off).await;
                let chunk = data.slice(off..end);
                Some((Ok::<_, std::io::Error>(chunk), (data, end)))
            }
        });
        reqwest::Body::wrap_stream(stream)
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
        let ours = chrono::Utc::now()
            + chrono::Duration::milliseconds(self.skew_ms.load(Ordering::Relaxed) + self.fake_ms);
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

    fn object_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![(
            "x-amz-storage-class".to_string(),
            self.storage_class.clone(),
        )];
        if let Some(sse) = &self.sse {
            h.push(("x-amz-server-side-encryption".into(), sse.clone()));
        }
        h
    }

    pub async fn put_object(&self, key: &str, body: &Body) -> Result<String, S3Error> {
        let resp = self
            .send(
                "PUT",
                self.url(Some(key), &[]),
                self.object_headers(),
                Some(body),
            )
            .await?;
        Ok(etag_of(&resp))
    }

    pub async fn create_multipart(&self, key: &str) -> Result<String, S3Error> {
        let mut headers = self.object_headers();
        // Parts then carry CRC32C, ListParts reports them, and the object gets a composite
        // checksum that a HEAD can show.
        if self.crc_mode() {
            headers.push(("x-amz-checksum-algorithm".into(), "CRC32C".into()));
        }
        let resp = self
            .send(
                "POST",
                self.url(Some(key), &[("uploads", String::new())]),
                headers,
                None,
            )
            .await?;
        let text = resp.text().await.map_err(S3Error::network)?;
        let x: InitiateXml = quick_xml::de::from_str(&text)
            .map_err(|e| S3Error::network(format!("bad CreateMultipartUpload answer: {e}")))?;
        Ok(x.upload_id)
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
            let text = self
                .send("GET", self.url(Some(key), &q), Vec::new(), None)
                .await?
                .text()
                .await
                .map_err(S3Error::network)?;
            let x: ListPartsXml = quick_xml::de::from_str(&text)
                .map_err(|e| S3Error::network(format!("bad ListParts answer: {e}")))?;
            out.extend(x.parts.into_iter().map(|p| ServerPart {
                number: p.number,
                etag: p.etag,
                size: p.size,
                crc32c: p.crc32c,
            }));
            match (x.truncated, x.next) {
                (true, Some(n)) if marker.as_ref() != Some(&n) => marker = Some(n),
                _ => return Ok(out),
            }
        }
    }

    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i64, String, u32)],
    ) -> Result<(), S3Error> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag, crc) in parts {
            xml += &format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>");
            if self.crc_mode() {
                xml += &format!(
                    "<ChecksumCRC32C>{}</ChecksumCRC32C>",
                    plan::crc32c_b64(*crc)
                );
            }
            xml += "</Part>";
        }
        xml += "</CompleteMultipartUpload>";
        let body = Body::document(Bytes::from(xml.into_bytes()), self.sign_payload);
        let resp = self
            .send(
                "POST",
                self.url(Some(key), &[("uploadId", upload_id.to_string())]),
                Vec::new(),
                Some(&body),
            )
            .await?;
        // S3 may answer 200 and still report an error in the body.
        let text = resp.text().await.map_err(S3Error::network)?;
        if text.contains("<Error>") {
            let e: ErrorXml = quick_xml::de::from_str(&text).unwrap_or(ErrorXml {
                code: "InternalError".into(),
                message: text,
            });
            return Err(S3Error {
                status: 200,
                code: e.code,
                message: e.message,
            });
        }
        Ok(())
    }

    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        self.send(
            "DELETE",
            self.url(Some(key), &[("uploadId", upload_id.to_string())]),
            Vec::new(),
            None,
        )
        .await?;
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
            let text = self
                .send("GET", self.url(None, &q), Vec::new(), None)
                .await?
                .text()
                .await
                .map_err(S3Error::network)?;
            let x: ListUploadsXml = quick_xml::de::from_str(&text)
                .map_err(|e| S3Error::network(format!("bad ListMultipartUploads answer: {e}")))?;
            out.extend(x.uploads.into_iter().map(|u| (u.key, u.upload_id)));
            match (x.truncated, x.next_key, x.next_upload) {
                (true, Some(k), Some(u)) if markers.as_ref() != Some(&(k.clone(), u.clone())) => {
                    markers = Some((k, u))
                }
                _ => return Ok(out),
            }
        }
    }

    /// A GET URL for `key` anyone can use until it expires (SigV4 query signing; AWS caps
    /// `expires` at 7 days).
    pub fn presign_get(&self, key: &str, expires: Duration) -> Result<String, S3Error> {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let identity = self.creds.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(self.signing_time())
            .settings(settings)
            .build()
            .map_err(S3Error::network)?
            .into();
        let mut url = self.url(Some(key), &[]);
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let signable = SignableRequest::new(
            "GET",
            url.as_str(),
            std::iter::once(("host", host.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(S3Error::network)?;
        let (instructions, _) = sign(signable, &params)
            .map_err(S3Error::network)?
            .into_parts();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in instructions.params() {
                q.append_pair(k, v);
            }
        }
        Ok(url.as_str().replace('+', "%20"))
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

fn etag_of(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// `bytes::Bytes` under a name that does not clash with the `bytes` field names above.
mod bytes_compat {
    pub use bytes::Bytes;
}
