//! A small tree of a SOAP message, by local names (prefixes vary from camera to camera and
//! mean nothing here). Bounded: a message over 256 KiB or deeper than 64 elements is refused,
//! so a hostile answer costs little.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

const MAX_BYTES: usize = 256 * 1024;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

fn local(qname: &[u8]) -> String {
    let name = String::from_utf8_lossy(qname);
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.into_owned(),
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let v = a.unescape_value().map_err(|e| e.to_string())?;
        attrs.push((local(a.key.as_ref()), v.into_owned()));
    }
    Ok(Node {
        name: local(e.name().as_ref()),
        attrs,
        ..Default::default()
    })
}

/// The document's root element.
pub fn parse(bytes: &[u8]) -> Result<Node, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "{} bytes is too large for a SOAP answer",
            bytes.len()
        ));
    }
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Node> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("not XML: {e}"))?;
        match ev {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("XML nested too deep".into());
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => {
                let node = element(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let text = t.unescape().map_err(|e| format!("not XML: {e}"))?;
                    top.text.push_str(text.trim());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(String::from_utf8_lossy(&t).trim());
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced XML")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Eof => return Err("XML ends early".into()),
            _ => {}
        }
        buf.clear();
    }
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element of this name at any depth (this one included).
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Every element of this name at any depth, in document order.
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.find_all(name, out);
        }
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text of the first descendant named `name`, when not empty.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.find(name)
            .map(|n| n.text.clone())
            .filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_names_attributes_and_limits() {
        let doc = br#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body><a:P token="t&amp;1"><a:Name> Main </a:Name></a:P><b:Empty/></s:Body></s:Envelope>"#;
        let root = super::parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let p = root.find("P").unwrap();
        assert_eq!(p.attr("token"), Some("t&1"));
        assert_eq!(p.text_of("Name").as_deref(), Some("Main"));
        assert!(root.find("Empty").is_some());
        assert!(super::parse(b"<a><b></a>").is_err());
        assert!(super::parse(b"<a>").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(super::parse(deep.as_bytes()).is_err());
    }
}
