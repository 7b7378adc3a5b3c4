//! The few ONVIF calls camvault makes, as plain functions: each request's envelope (signed
//! with a WS-UsernameToken digest when there are credentials) and each answer's reading.
//! Written by hand against the ONVIF Core, Media and Media2 specifications; no WSDL code.

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use sha1::{Digest, Sha1};

use super::xml::{self, Node};
use crate::config::Secret;

pub const DEVICE_NS: &str = "http://www.onvif.org/ver10/device/wsdl";
pub const MEDIA1_NS: &str = "http://www.onvif.org/ver10/media/wsdl";
pub const MEDIA2_NS: &str = "http://www.onvif.org/ver20/media/wsdl";

/// Who to sign as, and the camera's clock (WS-Security timestamps are checked against it).
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a Secret,
    pub camera_now: DateTime<Utc>,
    /// 16 random bytes.
    pub nonce: [u8; 16],
}

/// The `PasswordDigest`: Base64(SHA-1(nonce + created + password)).
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn security(c: &Credentials<'_>) -> String {
    let created = c.camera_now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "<s:Header><wsse:Security s:mustUnderstand=\"1\" \
xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\" \
xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">\
<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>\
<wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest\">{digest}</wsse:Password>\
<wsse:Nonce EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">{nonce}</wsse:Nonce>\
<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>",
        user = escape(c.username),
        digest = password_digest(&c.nonce, &created, c.password.expose()),
        nonce = b64.encode(c.nonce),
    )
}

/// A request envelope around `body`.
pub fn envelope(body: &str, creds: Option<&Credentials<'_>>) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:tds=\"{DEVICE_NS}\" xmlns:trt=\"{MEDIA1_NS}\" xmlns:tr2=\"{MEDIA2_NS}\" \
xmlns:tt=\"http://www.onvif.org/ver10/schema\">{header}<s:Body>{body}</s:Body></s:Envelope>",
        header = creds.map(security).unwrap_or_default(),
    )
}

pub fn get_system_date_and_time() -> String {
    "<tds:GetSystemDateAndTime/>".into()
}

pub fn get_device_information() -> String {
    "<tds:GetDeviceInformation/>".into()
}

pub fn get_services() -> String {
    "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>".into()
}

/// Which media service a camera offers; Media2 is asked first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    Media2,
    Media1,
}

pub fn get_profiles(media: Media) -> String {
    match media {
        Media::Media2 => "<tr2:GetProfiles/>".into(),
        Media::Media1 => "<trt:GetProfiles/>".into(),
    }
}

pub fn get_stream_uri(media: Media, profile: &str) -> String {
    let p = escape(profile);
    match media {
        Media::Media2 => format!(
            "<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol><tr2:ProfileToken>{p}</tr2:ProfileToken></tr2:GetStreamUri>"
        ),
        Media::Media1 => format!(
            "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>\
<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>\
<trt:ProfileToken>{p}</trt:ProfileToken></trt:GetStreamUri>"
        ),
    }
}

/// An answer's Body, or the camera's fault reason.
pub fn body(bytes: &[u8]) -> Result<Node, String> {
    let root = xml::parse(bytes)?;
    let body = root.child("Body").ok_or("no SOAP Body in the answer")?;
    if let Some(fault) = body.child("Fault") {
        let reason = fault
            .text_of("Text")
            .or_else(|| fault.text_of("faultstring"))
            .or_else(|| fault.find("Subcode").and_then(|s| s.text_of("Value")))
            .unwrap_or_else(|| "SOAP fault".into());
        return Err(reason);
    }
    Ok(body.clone())
}

/// The camera's UTC clock from GetSystemDateAndTimeResponse.
pub fn system_date_and_time(body: &Node) -> Result<DateTime<Utc>, String> {
    let utc = body.find("UTCDateTime").ok_or("no UTCDateTime")?;
    let num = |parent: &str, name: &str| -> Result<u32, String> {
        utc.child(parent)
            .and_then(|p| p.text_of(name))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("no {parent}/{name}"))
    };
    let (h, m, s) = (
        num("Time", "Hour")?,
        num("Time", "Minute")?,
        num("Time", "Second")?,
    );
    NaiveDate::from_ymd_opt(
        num("Date", "Year")? as i32,
        num("Date", "Month")?,
        num("Date", "Day")?,
    )
    .and_then(|d| d.and_hms_opt(h, m, s))
    .map(|t| t.and_utc())
    .ok_or_else(|| "not a valid date and time".into())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub serial: Option<String>,
}

pub fn device_information(body: &Node) -> DeviceInfo {
    DeviceInfo {
        manufacturer: body.text_of("Manufacturer"),
        model: body.text_of("Model"),
        firmware: body.text_of("FirmwareVersion"),
        serial: body.text_of("SerialNumber"),
    }
}

/// The media service to use and where it answers, from GetServicesResponse.
pub fn media_service(body: &Node) -> Option<(Media, String)> {
    let mut services = Vec::new();
    body.find_all("Service", &mut services);
    let addr = |ns: &str| {
        services
            .iter()
            .find(|s| s.text_of("Namespace").as_deref() == Some(ns))
            .and_then(|s| s.text_of("XAddr"))
    };
    addr(MEDIA2_NS)
        .map(|a| (Media::Media2, a))
        .or_else(|| addr(MEDIA1_NS).map(|a| (Media::Media1, a)))
}

/// (token, name) of each profile in GetProfilesResponse.
pub fn profiles(body: &Node) -> Vec<(String, String)> {
    let mut found = Vec::new();
    body.find_all("Profiles", &mut found);
    found
        .into_iter()
        .filter_map(|p| {
            let token = p.attr("token")?.to_string();
            let name = p.child("Name").map(|n| n.text.clone()).unwrap_or_default();
            Some((token, name))
        })
        .collect()
}

pub fn stream_uri(body: &Node) -> Option<String> {
    body.text_of("Uri")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_the_ws_security_example() {
        // OASIS UsernameToken Profile 1.0's worked example.
        let nonce = base64::engine::general_purpose::STANDARD
            .decode("LKqI6G/AikKCQrN0zqZFlg==")
            .unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
    }

    #[test]
    fn answers_are_read() {
        let b = |inner: &str| {
            body(
                format!("<s:Envelope xmlns:s=\"x\"><s:Body>{inner}</s:Body></s:Envelope>")
                    .as_bytes(),
            )
        };
        let t = b("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Time><tt:Hour>7</tt:Hour><tt:Minute>5</tt:Minute><tt:Second>9</tt:Second></tt:Time><tt:Date><tt:Year>2019</tt:Year><tt:Month>3</tt:Month><tt:Day>1</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>").unwrap();
        assert_eq!(
            system_date_and_time(&t).unwrap().to_rfc3339(),
            "2019-03-01T07:05:09+00:00"
        );
        let s = b(&format!("<tds:GetServicesResponse><tds:Service><tds:Namespace>{DEVICE_NS}</tds:Namespace><tds:XAddr>http://c/d</tds:XAddr></tds:Service><tds:Service><tds:Namespace>{MEDIA1_NS}</tds:Namespace><tds:XAddr>http://c/m1</tds:XAddr></tds:Service></tds:GetServicesResponse>")).unwrap();
        assert_eq!(
            media_service(&s),
            Some((Media::Media1, "http://c/m1".into()))
        );
        let p = b("<trt:GetProfilesResponse><trt:Profiles token=\"main\" fixed=\"true\"><tt:Name>Main</tt:Name></trt:Profiles><trt:Profiles token=\"sub\"><tt:Name>Sub</tt:Name></trt:Profiles></trt:GetProfilesResponse>").unwrap();
        assert_eq!(
            profiles(&p),
            vec![("main".into(), "Main".into()), ("sub".into(), "Sub".into())]
        );
        let u = b("<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://c:554/main</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse>").unwrap();
        assert_eq!(stream_uri(&u).as_deref(), Some("rtsp://c:554/main"));
        let f = b(
            "<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang=\"en\">Sender not Authorized</s:Text></s:Reason></s:Fault>",
        );
        assert_eq!(f.unwrap_err(), "Sender not Authorized");
    }
}
