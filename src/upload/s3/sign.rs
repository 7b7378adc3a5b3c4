//! SigV4 with aws-sigv4, for requests (headers) and presigned URLs (query), in one place.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningInstructions, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;

use super::S3Error;

pub struct Signer {
    /// Replaced when SIGHUP re-reads the credential files.
    creds: parking_lot::RwLock<Credentials>,
    region: String,
}

/// Where the signature goes.
pub enum Placement {
    Headers,
    /// A presigned URL valid this long.
    Query(Duration),
}

impl Signer {
    pub fn new(creds: Credentials, region: String) -> Signer {
        Signer {
            creds: parking_lot::RwLock::new(creds),
            region,
        }
    }

    pub fn set_credentials(&self, creds: Credentials) {
        *self.creds.write() = creds;
    }

    /// Signs `method url` with `headers` (which must include `host`) at `time`.
    pub fn sign<'a>(
        &self,
        method: &'a str,
        url: &'a url::Url,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        payload: SignableBody<'a>,
        placement: Placement,
        time: SystemTime,
    ) -> Result<SigningInstructions, S3Error> {
        // S3 keys are encoded once, as they are in the URL, and never normalised.
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        match placement {
            Placement::Headers => settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
            Placement::Query(expires) => {
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(expires);
            }
        }
        let identity = self.creds.read().clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(time)
            .settings(settings)
            .build()
            .map_err(S3Error::network)?
            .into();
        let signable = SignableRequest::new(method, url.as_str(), headers, payload)
            .map_err(S3Error::network)?;
        Ok(sign(signable, &params)
            .map_err(S3Error::network)?
            .into_parts()
            .0)
    }
}

/// The `host` header a URL is signed with.
pub fn host_header(url: &url::Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published presigned-URL example (S3 API reference, "Authenticating Requests:
    /// Using Query Parameters").
    #[test]
    fn the_aws_presign_example() {
        let signer = Signer::new(
            Credentials::new(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "test",
            ),
            "us-east-1".into(),
        );
        let url = url::Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let host = host_header(&url);
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        let ins = signer
            .sign(
                "GET",
                &url,
                std::iter::once(("host", host.as_str())),
                SignableBody::UnsignedPayload,
                Placement::Query(Duration::from_secs(86_400)),
                time,
            )
            .unwrap();
        let sig = ins
            .params()
            .iter()
            .find(|(k, _)| *k == "X-Amz-Signature")
            .map(|(_, v)| v.to_string());
        assert_eq!(
            sig.as_deref(),
            Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        );
    }

    #[test]
    fn host_keeps_a_port() {
        let u = url::Url::parse("http://127.0.0.1:3900/b/k").unwrap();
        assert_eq!(host_header(&u), "127.0.0.1:3900");
    }
}
