//! Request bodies and their checksums: CRC32C always, MD5 in `md5` mode, SHA-256 when the
//! payload is signed (plain http). Each is computed a chunk at a time while the bytes are
//! still in the cache.

use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::upload::bandwidth::Limiter;
use crate::upload::plan;

/// Chunks the bandwidth limiter meters a body in.
const CHUNK: usize = 64 * 1024;

pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub struct Body {
    pub data: Bytes,
    /// Sent as `x-amz-checksum-crc32c` on object and part bodies.
    pub crc32c: Option<u32>,
    /// Sent as `Content-MD5` in `md5` mode.
    pub(super) md5: Option<[u8; 16]>,
    /// For the signature, when the payload is signed.
    pub(super) sha256_hex: Option<String>,
}

/// Checksums a body as it is read.
pub struct Summer {
    crc: u32,
    md5: Option<md5::Md5>,
    sha: Option<Sha256>,
}

impl Summer {
    pub fn new(md5: bool, sha256: bool) -> Summer {
        Summer {
            crc: 0,
            md5: md5.then(md5::Md5::new),
            sha: sha256.then(Sha256::new),
        }
    }

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
    pub fn document(data: Bytes, signed: bool) -> Body {
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

    /// The checksum header the body travels with: CRC32C in `crc` mode, else Content-MD5.
    pub fn checksum_header(&self, crc_mode: bool) -> Option<(String, String)> {
        match (self.crc32c, &self.md5) {
            (Some(crc), _) if crc_mode => {
                Some(("x-amz-checksum-crc32c".into(), plan::crc32c_b64(crc)))
            }
            (_, Some(md5)) => Some((
                "content-md5".into(),
                base64::engine::general_purpose::STANDARD.encode(md5),
            )),
            _ => None,
        }
    }
}

/// A body the bandwidth limiter releases chunk by chunk.
pub fn metered(limiter: &Limiter, data: Bytes) -> reqwest::Body {
    if limiter.rate().is_none() {
        return reqwest::Body::from(data);
    }
    let limiter = limiter.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_sums_equal_whole_sums() {
        let data = Bytes::from(vec![7u8; 300_000]);
        let mut s = Summer::new(true, true);
        for c in data.chunks(65_536) {
            s.update(c);
        }
        let b = s.finish(data.clone());
        assert_eq!(b.crc32c, Some(crc32c::crc32c(&data)));
        assert_eq!(
            b.sha256_hex.as_deref(),
            Some(plan::hex(&Sha256::digest(&data)).as_str())
        );
        assert_eq!(
            b.md5_hex(),
            Some(plan::hex(&<md5::Md5 as Digest>::digest(&data)))
        );
    }

    #[test]
    fn the_header_follows_the_mode() {
        let mut s = Summer::new(true, false);
        s.update(b"abc");
        let b = s.finish(Bytes::from_static(b"abc"));
        assert_eq!(b.checksum_header(true).unwrap().0, "x-amz-checksum-crc32c");
        assert_eq!(b.checksum_header(false).unwrap().0, "content-md5");
        let doc = Body::document(Bytes::from_static(b"<x/>"), false);
        assert!(doc.checksum_header(true).is_none() && doc.sha256_hex.is_none());
        assert_eq!(
            Body::document(Bytes::new(), true).sha256_hex.as_deref(),
            Some(EMPTY_SHA256)
        );
    }
}
