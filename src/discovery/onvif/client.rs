//! Asking one found camera what it is and where its streams are: its clock first (to sign
//! with its time, not ours), then, with credentials, its model, media service, profiles and
//! stream URIs. Every failure is kept as the camera's `error`, never with the password.

use std::time::Duration;

use chrono::Utc;

use super::soap::{self, Credentials, Media};
use super::wsd::Endpoint;
use super::xml::Node;
use crate::config::Secret;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stream {
    pub profile: String,
    pub name: String,
    /// As the camera gives it; any user or password in it is masked.
    pub uri: String,
    /// The URI without user or password: what a found camera is recorded from (the
    /// `[discovery]` credentials go in when it starts).
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OnvifCamera {
    pub urn: String,
    pub name: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub mac: Option<String>,
    /// The host of its device service.
    pub address: Option<String>,
    pub xaddr: Option<String>,
    /// Camera clock minus ours, when it told.
    pub clock_offset_s: Option<i64>,
    pub media: Option<Media>,
    pub streams: Vec<Stream>,
    pub error: Option<String>,
}

/// At most this many profiles are asked for a URI (cameras have 2–3).
const MAX_PROFILES: usize = 4;

async fn call(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    creds: Option<&Credentials<'_>>,
) -> Result<Node, String> {
    let envelope = soap::envelope(body, creds);
    let resp = http
        .post(url)
        .header("Content-Type", "application/soap+xml; charset=utf-8")
        .body(envelope)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| format!("{}", e.without_url()))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    match soap::body(&bytes) {
        Ok(b) if status.is_success() => Ok(b),
        Ok(_) => Err(format!("HTTP {status}")),
        Err(reason) => Err(if status.is_success() {
            reason
        } else {
            format!("HTTP {status}: {reason}")
        }),
    }
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.host_str().map(str::to_string)
}

/// The device service to talk to: the first http(s) XAddr on an IPv4 host.
fn device_service(ep: &Endpoint) -> Option<String> {
    ep.xaddrs
        .iter()
        .find(|x| {
            url::Url::parse(x).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && matches!(
                        u.host(),
                        Some(url::Host::Ipv4(_)) | Some(url::Host::Domain(_))
                    )
            })
        })
        .cloned()
}

pub async fn describe(
    http: &reqwest::Client,
    ep: &Endpoint,
    creds: Option<(&str, &Secret)>,
) -> OnvifCamera {
    let xaddr = device_service(ep);
    let mut cam = OnvifCamera {
        urn: ep.urn.clone(),
        name: ep.scope("name"),
        manufacturer: None,
        model: ep.scope("hardware"),
        mac: ep.scope("MAC").or_else(|| ep.scope("mac")),
        address: xaddr.as_deref().and_then(host_of),
        xaddr: xaddr.clone(),
        clock_offset_s: None,
        media: None,
        streams: Vec::new(),
        error: None,
    };
    let Some(device) = xaddr else {
        cam.error = Some("no http device service address".into());
        return cam;
    };
    // The clock needs no credentials, and a camera that lost its time (no RTC, no NTP)
    // refuses tokens dated by ours.
    match call(http, &device, &soap::get_system_date_and_time(), None).await {
        Ok(b) => match soap::system_date_and_time(&b) {
            Ok(t) => cam.clock_offset_s = Some((t - Utc::now()).num_seconds()),
            Err(e) => tracing::debug!(urn = %ep.urn, error = %e, "camera clock unreadable"),
        },
        Err(e) => tracing::debug!(urn = %ep.urn, error = %e, "GetSystemDateAndTime"),
    }
    let Some((user, password)) = creds else {
        cam.error = Some("no ONVIF credentials: set [discovery] onvif_username".into());
        return cam;
    };
    if let Err(e) = ask_streams(http, &device, user, password, &mut cam).await {
        cam.error = Some(e);
    }
    cam
}

async fn ask_streams(
    http: &reqwest::Client,
    device: &str,
    user: &str,
    password: &Secret,
    cam: &mut OnvifCamera,
) -> Result<(), String> {
    let offset = chrono::Duration::seconds(cam.clock_offset_s.unwrap_or(0));
    let sign = || {
        let mut nonce = [0u8; 16];
        if let Ok(b) = crate::base::random::bytes(16) {
            nonce.copy_from_slice(&b);
        }
        Credentials {
            username: user,
            password,
            camera_now: Utc::now() + offset,
            nonce,
        }
    };
    if let Ok(b) = call(http, device, &soap::get_device_information(), Some(&sign())).await {
        let info = soap::device_information(&b);
        cam.manufacturer = info.manufacturer;
        cam.model = info.model.or(cam.model.take());
    }
    // Cameras without GetServices answer media calls on the device service itself.
    let (media, url) = match call(http, device, &soap::get_services(), Some(&sign())).await {
        Ok(b) => soap::media_service(&b).unwrap_or((Media::Media1, device.to_string())),
        Err(_) => (Media::Media1, device.to_string()),
    };
    let mut attempts = vec![(media, url.clone())];
    if media == Media::Media2 {
        attempts.push((Media::Media1, device.to_string()));
    }
    let mut last = String::new();
    for (media, url) in attempts {
        let profiles = match call(http, &url, &soap::get_profiles(media), Some(&sign())).await {
            Ok(b) => soap::profiles(&b),
            Err(e) => {
                last = format!("GetProfiles: {e}");
                continue;
            }
        };
        for (token, name) in profiles.into_iter().take(MAX_PROFILES) {
            match call(
                http,
                &url,
                &soap::get_stream_uri(media, &token),
                Some(&sign()),
            )
            .await
            {
                Ok(b) => {
                    if let Some(uri) = soap::stream_uri(&b) {
                        let source =
                            crate::discovery::auto::without_credentials(&uri).unwrap_or_default();
                        cam.streams.push(Stream {
                            profile: token,
                            name,
                            uri: crate::config::redact_url(&uri),
                            source,
                        });
                    }
                }
                Err(e) => last = format!("GetStreamUri: {e}"),
            }
        }
        if !cam.streams.is_empty() {
            cam.media = Some(media);
            return Ok(());
        }
    }
    Err(if last.is_empty() {
        "no stream URIs".into()
    } else {
        last
    })
}
