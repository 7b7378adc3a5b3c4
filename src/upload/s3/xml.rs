//! The XML documents of multipart uploads, read and written as plain functions.

use serde::Deserialize;

use super::S3Error;
use crate::upload::plan::{self, ServerPart};

#[derive(Deserialize)]
struct InitiateXml {
    #[serde(rename = "UploadId")]
    upload_id: String,
}

#[derive(Deserialize)]
struct PartXml {
    #[serde(rename = "PartNumber")]
    number: i64,
    /// Some servers leave it out; the store's own ETag for the part is used then.
    #[serde(rename = "ETag", default)]
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

#[derive(Deserialize)]
struct CompleteXml {
    #[serde(rename = "ETag", default)]
    etag: String,
    #[serde(rename = "ChecksumCRC32C", default)]
    crc32c: Option<String>,
}

/// CompleteMultipartUpload's answer: the object's ETag and, where the server gives it, its
/// CRC32C (all a key that may write but not read has to verify by).
pub fn completed(text: &str) -> (String, Option<String>) {
    quick_xml::de::from_str::<CompleteXml>(text)
        .map_or((String::new(), None), |x| (x.etag, x.crc32c))
}

fn bad(what: &str, e: impl std::fmt::Display) -> S3Error {
    S3Error::network(format!("bad {what} answer: {e}"))
}

/// CreateMultipartUpload's answer: the UploadId.
pub fn upload_id(text: &str) -> Result<String, S3Error> {
    let x: InitiateXml =
        quick_xml::de::from_str(text).map_err(|e| bad("CreateMultipartUpload", e))?;
    Ok(x.upload_id)
}

/// One page of ListParts: the parts, and the marker of the next page if there is one.
pub fn parts_page(text: &str) -> Result<(Vec<ServerPart>, Option<String>), S3Error> {
    let x: ListPartsXml = quick_xml::de::from_str(text).map_err(|e| bad("ListParts", e))?;
    let parts = x
        .parts
        .into_iter()
        .map(|p| ServerPart {
            number: p.number,
            etag: p.etag,
            size: p.size,
            crc32c: p.crc32c,
        })
        .collect();
    Ok((parts, x.next.filter(|_| x.truncated)))
}

/// One page of ListMultipartUploads: (key, upload id) pairs, and the next markers.
pub type UploadsPage = (Vec<(String, String)>, Option<(String, String)>);

pub fn uploads_page(text: &str) -> Result<UploadsPage, S3Error> {
    let x: ListUploadsXml =
        quick_xml::de::from_str(text).map_err(|e| bad("ListMultipartUploads", e))?;
    let next = match (x.truncated, x.next_key, x.next_upload) {
        (true, Some(k), Some(u)) => Some((k, u)),
        _ => None,
    };
    Ok((
        x.uploads
            .into_iter()
            .map(|u| (u.key, u.upload_id))
            .collect(),
        next,
    ))
}

/// CompleteMultipartUpload's body: each part's number and ETag, and its CRC32C when the
/// upload was created with that algorithm.
pub fn complete(parts: &[(i64, String, u32)], with_crc: bool) -> String {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag, crc) in parts {
        xml += &format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag>",
            escape(etag)
        );
        if with_crc {
            xml += &format!(
                "<ChecksumCRC32C>{}</ChecksumCRC32C>",
                plan::crc32c_b64(*crc)
            );
        }
        xml += "</Part>";
    }
    xml + "</CompleteMultipartUpload>"
}

/// ETags are quoted strings; a server could put anything in them.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parts_pages() {
        let page = r#"<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>
            <Part><PartNumber>1</PartNumber><ETag>"a"</ETag><Size>5</Size><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>
            <Part><PartNumber>2</PartNumber><ETag>"b"</ETag><Size>6</Size></Part></ListPartsResult>"#;
        let (parts, next) = parts_page(page).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].crc32c.as_deref(), Some("AAAAAA=="));
        assert_eq!(parts[1].crc32c, None);
        assert_eq!(next.as_deref(), Some("2"));
        let last = "<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>";
        assert_eq!(parts_page(last).unwrap(), (vec![], None));
    }

    #[test]
    fn a_part_without_an_etag_is_read() {
        let page = "<ListPartsResult><Part><PartNumber>1</PartNumber><Size>5</Size></Part></ListPartsResult>";
        let (parts, _) = parts_page(page).unwrap();
        assert_eq!((parts[0].number, parts[0].etag.as_str()), (1, ""));
    }

    #[test]
    fn list_uploads_and_initiate() {
        let page = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key><UploadId>u</UploadId></Upload></ListMultipartUploadsResult>";
        assert_eq!(
            uploads_page(page).unwrap(),
            (vec![("k".to_string(), "u".to_string())], None)
        );
        let init = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>xyz</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(upload_id(init).unwrap(), "xyz");
        assert!(upload_id("<nope/>").is_err());
    }

    #[test]
    fn complete_answer() {
        let x = "<CompleteMultipartUploadResult><Key>k</Key><ETag>\"e-2\"</ETag><ChecksumCRC32C>AAAAAA==-2</ChecksumCRC32C></CompleteMultipartUploadResult>";
        assert_eq!(
            completed(x),
            ("\"e-2\"".to_string(), Some("AAAAAA==-2".to_string()))
        );
        assert_eq!(completed("garbage"), (String::new(), None));
    }

    #[test]
    fn complete_document() {
        let xml = complete(&[(1, "\"e1\"".into(), 0)], true);
        assert_eq!(
            xml,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag><ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part></CompleteMultipartUpload>"
        );
        assert!(!complete(&[(1, "e".into(), 0)], false).contains("Checksum"));
    }
}
