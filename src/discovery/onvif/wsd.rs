//! WS-Discovery (the 2005/04 draft ONVIF uses) as plain functions: the Probe camvault sends
//! and the Hello, Bye and ProbeMatches it reads. The socket side is in `probe.rs`.

use super::xml::{self, Node};

pub const MULTICAST: std::net::Ipv4Addr = std::net::Ipv4Addr::new(239, 255, 255, 250);
pub const PORT: u16 = 3702;

/// A device as it announces itself, keyed by its endpoint reference (a `urn:uuid:`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    pub urn: String,
    pub types: Vec<String>,
    pub scopes: Vec<String>,
    /// Where its device service answers (`http://192.168.1.20/onvif/device_service`).
    pub xaddrs: Vec<String>,
}

impl Endpoint {
    /// An ONVIF camera (or an untyped answer that points at an ONVIF device service).
    pub fn is_camera(&self) -> bool {
        self.types
            .iter()
            .any(|t| t.ends_with("NetworkVideoTransmitter"))
            || self.xaddrs.iter().any(|x| x.contains("/onvif/"))
    }

    /// The value of an `onvif://www.onvif.org/<kind>/<value>` scope, percent-decoded.
    pub fn scope(&self, kind: &str) -> Option<String> {
        let prefix = format!("onvif://www.onvif.org/{kind}/");
        self.scopes
            .iter()
            .find_map(|s| s.strip_prefix(&prefix))
            .map(|v| {
                url::form_urlencoded::parse(format!("v={v}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Hello(Endpoint),
    Bye(String),
    ProbeMatches(Vec<Endpoint>),
    /// Someone else's Probe, or anything else on the group.
    Other,
}

/// A Probe for `types` (`Some("dn:NetworkVideoTransmitter")`, or `None` for any device).
pub fn probe(message_id: &str, types: Option<&str>) -> String {
    let types = types
        .map(|t| format!("<d:Types>{t}</d:Types>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:w=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" \
xmlns:dn=\"http://www.onvif.org/ver10/network/wsdl\">\
<e:Header><w:MessageID>{message_id}</w:MessageID>\
<w:To e:mustUnderstand=\"true\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>\
<w:Action e:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>\
</e:Header><e:Body><d:Probe>{types}</d:Probe></e:Body></e:Envelope>"
    )
}

fn words(node: &Node, name: &str) -> Vec<String> {
    node.child(name)
        .map(|n| n.text.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn endpoint(node: &Node) -> Option<Endpoint> {
    let urn = node
        .child("EndpointReference")?
        .text_of("Address")?
        .trim()
        .to_string();
    Some(Endpoint {
        urn,
        types: words(node, "Types"),
        scopes: words(node, "Scopes"),
        xaddrs: words(node, "XAddrs"),
    })
}

/// Reads one datagram. Anything that is not XML is an error; XML that is not a Hello, Bye
/// or ProbeMatches is `Other`.
pub fn parse(datagram: &[u8]) -> Result<Message, String> {
    let root = xml::parse(datagram)?;
    let body = root.child("Body").ok_or("no SOAP Body")?;
    if let Some(h) = body.child("Hello") {
        return endpoint(h)
            .map(Message::Hello)
            .ok_or_else(|| "Hello without an endpoint address".into());
    }
    if let Some(b) = body.child("Bye") {
        let urn = b
            .child("EndpointReference")
            .and_then(|e| e.text_of("Address"))
            .ok_or("Bye without an endpoint address")?;
        return Ok(Message::Bye(urn));
    }
    if let Some(m) = body.child("ProbeMatches") {
        let mut found = Vec::new();
        m.find_all("ProbeMatch", &mut found);
        return Ok(Message::ProbeMatches(
            found.into_iter().filter_map(endpoint).collect(),
        ));
    }
    Ok(Message::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATCHES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<SOAP-ENV:Header><wsa:RelatesTo>uuid:1</wsa:RelatesTo></SOAP-ENV:Header>
<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>
<wsa:EndpointReference><wsa:Address>urn:uuid:2419d68a-2dd2-21b2-a205-ec:71:db:aa:bb:cc</wsa:Address></wsa:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Front%20Door onvif://www.onvif.org/hardware/IPC-T1 onvif://www.onvif.org/MAC/ec:71:db:aa:bb:cc</d:Scopes>
<d:XAddrs>http://192.168.1.20/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>
<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    #[test]
    fn a_camera_answers_a_probe() {
        let Message::ProbeMatches(m) = parse(MATCHES.as_bytes()).unwrap() else {
            panic!("not matches");
        };
        assert_eq!(m.len(), 1);
        let cam = &m[0];
        assert_eq!(
            cam.urn,
            "urn:uuid:2419d68a-2dd2-21b2-a205-ec:71:db:aa:bb:cc"
        );
        assert!(cam.is_camera());
        assert_eq!(cam.scope("name").as_deref(), Some("Front Door"));
        assert_eq!(cam.scope("hardware").as_deref(), Some("IPC-T1"));
        assert_eq!(cam.scope("MAC").as_deref(), Some("ec:71:db:aa:bb:cc"));
        assert_eq!(cam.xaddrs.len(), 2);
    }

    #[test]
    fn hello_bye_and_our_own_probe() {
        let hello = MATCHES
            .replace("<d:ProbeMatches><d:ProbeMatch>", "<d:Hello>")
            .replace("</d:ProbeMatch></d:ProbeMatches>", "</d:Hello>");
        assert!(matches!(parse(hello.as_bytes()), Ok(Message::Hello(e)) if e.is_camera()));
        let bye = "<e:Envelope xmlns:e=\"s\" xmlns:a=\"a\" xmlns:d=\"d\"><e:Body><d:Bye><a:EndpointReference><a:Address>urn:uuid:9</a:Address></a:EndpointReference></d:Bye></e:Body></e:Envelope>";
        assert_eq!(parse(bye.as_bytes()), Ok(Message::Bye("urn:uuid:9".into())));
        let own = probe("uuid:5", Some("dn:NetworkVideoTransmitter"));
        assert_eq!(parse(own.as_bytes()), Ok(Message::Other));
        assert!(parse(b"\x00\x01garbage").is_err());
    }
}
