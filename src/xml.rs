//! S3 XML: a small writer for responses and typed parsers for request bodies.
//!
//! Response documents are built with [`XmlWriter`], which escapes every text
//! node. Request bodies are parsed with quick-xml's serde support into the
//! AWS-named types below; anything that does not parse is `MalformedXML`.

use quick_xml::escape::escape;
use serde::Deserialize;

use crate::error::ApiError;

pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds an XML document into a string.
pub struct XmlWriter {
    out: String,
    stack: Vec<&'static str>,
}

impl XmlWriter {
    /// Starts a document whose root element carries the S3 namespace.
    pub fn new(root: &'static str) -> Self {
        Self::with_namespace(root, S3_XMLNS)
    }

    /// Starts a document whose root element carries namespace `xmlns` (e.g. IAM's).
    pub fn with_namespace(root: &'static str, xmlns: &str) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push('<');
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(xmlns);
        out.push_str("\">");
        XmlWriter { out, stack: vec![root] }
    }

    /// Starts a document whose root element has no namespace (as AWS's `<Error>`).
    pub fn new_plain(root: &'static str) -> Self {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push('>');
        XmlWriter { out, stack: vec![root] }
    }

    pub fn open(&mut self, name: &'static str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.stack.push(name);
        self
    }

    /// Opens an element with attributes (values escaped).
    pub fn open_with_attrs(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        for (attr, value) in attrs {
            self.out.push(' ');
            self.out.push_str(attr);
            self.out.push_str("=\"");
            self.out.push_str(&escape(*value));
            self.out.push('"');
        }
        self.out.push('>');
        self.stack.push(name);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
        }
        self
    }

    /// `<name>text</name>`, escaped.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.out.push_str(&escape(value));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Escaped text directly inside the current element.
    pub fn inner_text(&mut self, value: &str) -> &mut Self {
        self.out.push_str(&escape(value));
        self
    }

    pub fn opt_text(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }

    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

/// A request document type and the name its root element must have.
pub trait RequestDocument: for<'de> Deserialize<'de> {
    const ROOT: &'static str;
}

/// Checks that `text` is one well-formed element named `root` (namespace
/// prefixes ignored), with every start tag closed.
fn check_document(text: &str, root: &str) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut seen_root = false;
    loop {
        match reader.read_event() {
            Err(_) => return false,
            Ok(Event::Eof) => return seen_root && depth == 0,
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    if seen_root || e.local_name().as_ref() != root {
                        return false;
                    }
                    seen_root = true;
                }
                depth += 1;
            }
            Ok(Event::Empty(e)) => {
                if depth == 0 {
                    if seen_root || e.local_name().as_ref() != root {
                        return false;
                    }
                    seen_root = true;
                }
            }
            Ok(Event::End(_)) => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Ok(Event::Text(t)) if depth == 0 => {
                if !AsRef::<str>::as_ref(&t).trim().is_empty() {
                    return false;
                }
            }
            Ok(_) => {}
        }
    }
}

/// Parses a request body into `T`, mapping any failure to `MalformedXML`.
pub fn parse<T: RequestDocument>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::malformed_xml())?;
    if !check_document(text, T::ROOT) {
        return Err(ApiError::malformed_xml());
    }
    quick_xml::de::from_str(text).map_err(|_| ApiError::malformed_xml())
}

impl RequestDocument for CreateBucketConfiguration {
    const ROOT: &'static str = "CreateBucketConfiguration";
}

impl RequestDocument for Delete {
    const ROOT: &'static str = "Delete";
}

impl RequestDocument for CompleteMultipartUpload {
    const ROOT: &'static str = "CompleteMultipartUpload";
}

/// `<CreateBucketConfiguration>`.
#[derive(Debug, Deserialize)]
#[serde(rename = "CreateBucketConfiguration")]
pub struct CreateBucketConfiguration {
    #[serde(rename = "LocationConstraint")]
    pub location_constraint: Option<String>,
}

/// `<Delete>` of DeleteObjects.
#[derive(Debug, Deserialize)]
#[serde(rename = "Delete")]
pub struct Delete {
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ObjectIdentifier {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId")]
    pub version_id: Option<String>,
}

/// `<CompleteMultipartUpload>`.
#[derive(Debug, Deserialize)]
#[serde(rename = "CompleteMultipartUpload")]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32")]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    pub checksum_sha256: Option<String>,
}

impl CompletedPart {
    /// The part checksum the client listed for `algorithm`, if any.
    pub fn checksum(&self, algorithm: crate::checksum::ChecksumAlgorithm) -> Option<&str> {
        use crate::checksum::ChecksumAlgorithm as A;
        match algorithm {
            A::Crc32 => self.checksum_crc32.as_deref(),
            A::Crc32c => self.checksum_crc32c.as_deref(),
            A::Crc64Nvme => self.checksum_crc64nvme.as_deref(),
            A::Sha1 => self.checksum_sha1.as_deref(),
            A::Sha256 => self.checksum_sha256.as_deref(),
        }
    }
}

/// ISO 8601 with milliseconds, as S3 writes `LastModified` in XML.
pub fn iso8601_ms(ms: u64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_escapes_and_closes() {
        let mut w = XmlWriter::new("ListBucketResult");
        w.text("Name", "b").open("Contents").text("Key", "a<&>\"'b").close();
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Contents><Key>a&lt;&amp;&gt;&quot;&apos;b</Key></Contents></ListBucketResult>"
        );
    }

    #[test]
    fn delete_parses_with_namespace_and_quiet() {
        let d: Delete = parse(
            br#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>"#,
        )
        .expect("parses");
        assert_eq!(d.objects.len(), 2);
        assert_eq!(d.objects[1].key, "b&c");
        assert_eq!(d.quiet, Some(true));
    }

    #[test]
    fn garbage_is_malformed() {
        for body in [
            &b"not xml"[..],
            b"<Delete><Object><Key>a</Key>",
            b"\xff\xfe",
            b"",
            b"<Other/>",
            b"<Delete><Object><Key>a</Kez></Object></Delete>",
            b"<Delete></Delete><Delete></Delete>",
        ] {
            let err = parse::<Delete>(body).expect_err("malformed");
            assert_eq!(err.code, crate::error::S3ErrorCode::MalformedXML);
        }
    }

    #[test]
    fn create_bucket_configuration() {
        let c: CreateBucketConfiguration = parse(
            b"<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>",
        )
        .expect("parses");
        assert_eq!(c.location_constraint.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_369_353_600_123), "2013-05-24T00:00:00.123Z");
    }

    proptest::proptest! {
        /// Request-body parsers never panic, whatever the bytes.
        #[test]
        fn parsers_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse::<Delete>(&body);
            let _ = parse::<CreateBucketConfiguration>(&body);
            let _ = parse::<CompleteMultipartUpload>(&body);
        }

        /// Near-valid documents (valid structure, arbitrary text) never panic either.
        #[test]
        fn near_valid_documents_never_panic(key in ".{0,64}", quiet in ".{0,8}") {
            let doc = format!("<Delete><Object><Key>{key}</Key></Object><Quiet>{quiet}</Quiet></Delete>");
            let _ = parse::<Delete>(doc.as_bytes());
        }
    }
}
