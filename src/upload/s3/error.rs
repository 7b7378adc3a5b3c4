//! What an S3 server's refusal means: the error as the server named it, and whether retrying
//! can help. Classified by the S3 code, not by which server answered.

use serde::Deserialize;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct S3Error {
    /// HTTP status; 0 when the request never got an answer.
    pub status: u16,
    pub code: String,
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorXml {
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

impl S3Error {
    fn describe(&self) -> String {
        match self.status {
            0 => format!("network: {}", self.message),
            s if self.code.is_empty() => format!("HTTP {s}: {}", self.message),
            s => format!("HTTP {s} {}: {}", self.code, self.message),
        }
    }

    pub fn network(e: impl std::fmt::Display) -> S3Error {
        S3Error {
            status: 0,
            code: String::new(),
            message: e.to_string(),
        }
    }

    /// A request that got no answer, with every cause in the chain (refused, unknown CA,
    /// name not found, timeout), so `queue` and `status` say what went wrong.
    pub fn transport(e: reqwest::Error) -> S3Error {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "transfer failed"
        };
        let mut message = kind.to_string();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = source {
            message += &format!(": {s}");
            source = s.source();
        }
        if message.contains("UnknownIssuer") || message.contains("unknown issuer") {
            message += " (unknown CA: trust it with upload.ca_file)";
        }
        S3Error {
            status: 0,
            code: String::new(),
            message,
        }
    }

    /// The uploader could not be set up (an endpoint that is no URL, no TLS stack).
    pub fn setup(e: impl std::fmt::Display) -> S3Error {
        S3Error {
            status: 0,
            code: "InvalidConfiguration".into(),
            message: e.to_string(),
        }
    }

    /// An error answer: the XML `<Error>` document when there is one, else the start of the
    /// body as the message.
    pub fn from_answer(status: u16, text: &str) -> S3Error {
        let parsed: Option<ErrorXml> = quick_xml::de::from_str(text).ok();
        let (code, mut message) = parsed.map_or_else(
            || (String::new(), text.chars().take(200).collect()),
            |e| (e.code, e.message),
        );
        // A HEAD's error, or a proxy's, has no body: the status line is all there is.
        if message.trim().is_empty() {
            message = http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("(no reason given)")
                .to_string();
        }
        if status == 400 && message.contains("x-amz-checksum") {
            message += " (this server refuses checksum headers: set upload.checksum = \"md5\")";
        }
        S3Error {
            status,
            code,
            message,
        }
    }

    /// CompleteMultipartUpload may answer 200 and still report an error in its body.
    pub fn in_body(text: &str) -> Option<S3Error> {
        if !text.contains("<Error>") {
            return None;
        }
        let e: ErrorXml = quick_xml::de::from_str(text).unwrap_or(ErrorXml {
            code: "InternalError".into(),
            message: text.to_string(),
        });
        Some(S3Error {
            status: 200,
            code: e.code,
            message: e.message,
        })
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
                | "InvalidConfiguration"
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

    /// The request itself is wrong for this server: credentials, bucket, storage class or an
    /// argument. Retried only briefly (some servers refuse a good signature now and then),
    /// then the job fails with the reason.
    pub fn is_config_error(&self) -> bool {
        matches!(
            self.code.as_str(),
            "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "AccessDenied"
                | "AuthorizationHeaderMalformed"
                | "InvalidStorageClass"
                | "InvalidArgument"
                | "NoSuchBucket"
                | "InvalidBucketName"
                | "InvalidRequest"
        ) || matches!(self.status, 401 | 403) && self.code != "RequestTimeTooSkewed"
    }

    pub fn is_no_such_upload(&self) -> bool {
        self.code == "NoSuchUpload" || (self.status == 404 && self.code.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_document_gives_code_and_message() {
        let e = S3Error::from_answer(
            403,
            "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>",
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("AccessDenied", "no")
        );
        assert!(e.is_permanent() && !e.is_retryable());
        assert_eq!(e.to_string(), "HTTP 403 AccessDenied: no");
    }

    #[test]
    fn a_body_without_xml_is_the_message() {
        let e = S3Error::from_answer(502, "Bad Gateway");
        assert_eq!(e.message, "Bad Gateway");
        assert!(e.is_retryable() && !e.is_permanent());
    }

    #[test]
    fn an_empty_answer_gives_the_reason_phrase() {
        assert_eq!(
            S3Error::from_answer(403, "").to_string(),
            "HTTP 403: Forbidden"
        );
    }

    #[test]
    fn a_refused_checksum_header_names_the_setting() {
        let e = S3Error::from_answer(400, "Unsupported header 'x-amz-checksum-crc32c'");
        assert!(e.message.contains("upload.checksum = \"md5\""));
    }

    #[test]
    fn classification() {
        let e = |status, code: &str| S3Error {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(e(403, "SignatureDoesNotMatch").is_retryable());
        assert!(!e(403, "SignatureDoesNotMatch").is_permanent());
        assert!(!e(403, "RequestTimeTooSkewed").is_permanent());
        assert!(e(404, "NoSuchBucket").is_permanent());
        assert!(e(404, "NoSuchUpload").is_no_such_upload());
        assert!(e(404, "").is_no_such_upload());
        assert!(S3Error::network("refused").is_retryable());
        assert!(S3Error::setup("bad url").is_permanent());
    }

    #[test]
    fn an_error_inside_a_200() {
        assert!(S3Error::in_body("<CompleteMultipartUploadResult/>").is_none());
        let e = S3Error::in_body("<Error><Code>InternalError</Code><Message>x</Message></Error>")
            .unwrap();
        assert_eq!((e.status, e.code.as_str()), (200, "InternalError"));
    }
}
