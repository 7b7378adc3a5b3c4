//! Removing secrets from URLs before they are shown anywhere.

use url::Url;

use super::Secret;

/// Query parameter names whose values are credentials on common cameras and services
/// (Dahua/Hikvision `?user=..&password=..`, signed URLs, tokens).
const SECRET_PARAMS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "key",
    "token",
    "secret",
    "auth",
    "sig",
    "signature",
    "streamkey",
    "stream_key",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// The URL with its password, RTMP stream key and credential-like query values replaced by
/// `***`. A string that does not parse as a URL is hidden entirely: it may be anything.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "<unparseable URL, hidden>".to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(Secret::MASK));
    }
    let rtmp = matches!(url.scheme(), "rtmp" | "rtmps");
    if rtmp {
        // rtmp://host/app/KEY: everything after the application name is the stream key.
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        if segments.len() >= 2 {
            url.set_path(&format!("/{}/{}", segments[0], Secret::MASK));
        }
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = rtmp || SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                let v = if secret {
                    Secret::MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // `Url` percent-encodes the mask; show it plainly.
    url.to_string().replace("%2A%2A%2A", Secret::MASK)
}

/// The secret parts of a URL (password, credential query values, RTMP stream key), each in
/// the forms it may be printed in, for scrubbing free text such as ffmpeg's stderr.
pub fn url_secrets(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(url) = Url::parse(raw) else {
        return vec![raw.to_string()];
    };
    // A secret of one or two characters cannot be scrubbed from free text by itself (every
    // `a` would go): it is scrubbed in the places a URL puts it, with what surrounds it.
    let mut push = |value: &str, before: &str, after: &str| {
        if value.len() >= 3 {
            out.push(value.to_string());
        } else if !value.is_empty() {
            out.push(format!("{before}{value}{after}"));
        }
    };
    if let Some(p) = url.password() {
        push(p, ":", "@");
        if let Ok(decoded) = percent_decode(p) {
            push(&decoded, ":", "@");
        }
    }
    for (k, v) in url.query_pairs() {
        if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) {
            push(&v, "=", "");
        }
    }
    if matches!(url.scheme(), "rtmp" | "rtmps")
        && let Some(key) = url.path_segments().and_then(|s| s.skip(1).last())
    {
        push(key, "/", "");
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
}

/// `text` with every secret replaced by `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut t = text.to_string();
    for s in secrets {
        if t.contains(s.as_str()) {
            t = t.replace(s.as_str(), Secret::MASK);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::{redact_url, scrub, url_secrets};

    #[test]
    fn scrubs_free_text() {
        let s = url_secrets("rtsp://admin:p%40ss99@10.0.0.2/x?password=qq123");
        let line = "Input #0, rtsp, from 'rtsp://admin:p%40ss99@10.0.0.2/x': p@ss99 qq123";
        let out = scrub(line, &s);
        assert!(
            !out.contains("p%40ss99") && !out.contains("p@ss99") && !out.contains("qq123"),
            "{out}"
        );
        assert_eq!(url_secrets("rtmp://h/live2/KEY-123"), ["KEY-123"]);
    }

    #[test]
    fn short_secrets_are_scrubbed_in_place() {
        let s = url_secrets("rtsp://admin:ab@10.0.0.2/x?password=q");
        assert!(!s.is_empty(), "a short password is still a secret");
        let text = "Opening rtsp://admin:ab@10.0.0.2/x?password=q: a bad stab at abc";
        let out = scrub(text, &s);
        assert!(
            !out.contains(":ab@") && !out.contains("password=q:"),
            "{out}"
        );
        assert!(
            out.ends_with("a bad stab at abc"),
            "the rest is intact: {out}"
        );
    }

    #[test]
    fn hides_passwords_and_keeps_the_rest() {
        assert_eq!(
            redact_url("rtsp://admin:s3cr%40t@192.168.0.20:554/Preview_01_main"),
            "rtsp://admin:***@192.168.0.20:554/Preview_01_main"
        );
        assert_eq!(
            redact_url("mqtts://camvault:pw@broker.lan:8883"),
            "mqtts://camvault:***@broker.lan:8883"
        );
        assert_eq!(
            redact_url("rtsp://10.0.0.9/stream1"),
            "rtsp://10.0.0.9/stream1"
        );
    }

    #[test]
    fn hides_rtmp_stream_keys() {
        assert_eq!(
            redact_url("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl"),
            "rtmp://a.rtmp.youtube.com/live2/***"
        );
        let r = redact_url("rtmps://live.example.com/app/key?token=zzz");
        assert!(!r.contains("key?") && !r.contains("zzz"), "{r}");
    }

    #[test]
    fn hides_credential_query_values() {
        let r = redact_url("rtsp://10.0.0.3/cam/realmonitor?channel=1&user=admin&password=xyz");
        assert!(r.contains("channel=1") && !r.contains("xyz"), "{r}");
    }

    #[test]
    fn unparseable_is_hidden() {
        assert!(!redact_url("rtsp//user:pw@host").contains("pw"));
    }
}
