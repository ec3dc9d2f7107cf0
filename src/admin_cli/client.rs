//! A small IAM query client for `coffer admin`: builds the form body, signs
//! it with SigV4 for service `iam` (through `aws-sigv4`, as SDKs do: no
//! `x-amz-content-sha256` header), sends it with hyper, and reads the XML
//! answer into a tree.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

const FORM_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Where and as whom to call.
pub struct IamClient {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub region: String,
}

/// A failed call: an IAM error answer, or a transport/protocol problem.
#[derive(Debug)]
pub enum CallError {
    Iam { status: u16, code: String, message: String },
    Other(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Iam { status, code, message } => write!(f, "{code}: {message} (HTTP {status})"),
            CallError::Other(m) => f.write_str(m),
        }
    }
}

/// An XML element: name, text, children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the descendant at `path` (`"User/UserName"`), or "".
    pub fn get(&self, path: &str) -> String {
        let mut node = self;
        for part in path.split('/') {
            match node.child(part) {
                Some(n) => node = n,
                None => return String::new(),
            }
        }
        node.text.clone()
    }

    /// The `member` children of the element at `path`.
    pub fn members(&self, path: &str) -> Vec<&Node> {
        let mut node = self;
        for part in path.split('/') {
            match node.child(part) {
                Some(n) => node = n,
                None => return Vec::new(),
            }
        }
        node.children.iter().filter(|c| c.name == "member").collect()
    }
}

/// Parses a document into its root element.
pub fn parse_xml(text: &str) -> Result<Node, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    loop {
        match reader.read_event().map_err(|e| format!("bad XML in the answer: {e}"))? {
            Event::Start(e) => {
                stack.push(Node { name: AsRef::<str>::as_ref(&e.local_name()).to_owned(), ..Default::default() })
            }
            Event::Empty(e) => {
                let node = Node { name: AsRef::<str>::as_ref(&e.local_name()).to_owned(), ..Default::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let raw = AsRef::<str>::as_ref(&t).to_owned();
                    let text = quick_xml::escape::unescape(&raw).map(|c| c.into_owned()).unwrap_or(raw);
                    top.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = AsRef::<str>::as_ref(&r).to_owned();
                    let text =
                        quick_xml::escape::unescape(&format!("&{name};")).map(|c| c.into_owned()).unwrap_or_default();
                    top.text.push_str(&text);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced XML in the answer")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Eof => return Err("the answer ended early".into()),
            _ => {}
        }
    }
}

impl IamClient {
    /// Calls `action` with `params`; returns the `<XxxResult>` element (empty for actions without one).
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Node, CallError> {
        let mut body = format!("Action={action}&Version=2010-05-08");
        for (name, value) in params {
            body.push('&');
            body.push_str(&utf8_percent_encode(name, FORM_ENCODE).to_string());
            body.push('=');
            body.push_str(&utf8_percent_encode(value, FORM_ENCODE).to_string());
        }
        let uri: http::Uri = self.endpoint.parse().map_err(|e| CallError::Other(format!("bad endpoint URL: {e}")))?;
        let host = uri
            .authority()
            .map(|a| a.to_string())
            .ok_or_else(|| CallError::Other("endpoint URL has no host".into()))?;
        let url = format!("{}/", self.endpoint.trim_end_matches('/'));
        let mut req = http::Request::builder()
            .method("POST")
            .uri(&url)
            .header("host", &host)
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| CallError::Other(e.to_string()))?;
        let identity = aws_credential_types::Credentials::new(
            &self.access_key_id,
            self.secret.as_str(),
            None,
            None,
            "coffer-admin",
        )
        .into();
        let signing_params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("iam")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CallError::Other(format!("signing: {e}")))?
            .into();
        let headers = [("host", host.as_str()), ("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let signable = SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
            .map_err(|e| CallError::Other(format!("signing: {e}")))?;
        let (instructions, _) =
            sign(signable, &signing_params).map_err(|e| CallError::Other(format!("signing: {e}")))?.into_parts();
        instructions.apply_to_request_http1x(&mut req);

        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let response = client.request(req).await.map_err(|e| CallError::Other(format!("cannot reach {url}: {e}")))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::Other(format!("reading the answer: {e}")))?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let root = parse_xml(&text).map_err(|e| CallError::Other(format!("HTTP {status}: {e}")))?;
        if root.name == "ErrorResponse" {
            return Err(CallError::Iam { status, code: root.get("Error/Code"), message: root.get("Error/Message") });
        }
        if root.name == "Error" {
            return Err(CallError::Iam { status, code: root.get("Code"), message: root.get("Message") });
        }
        Ok(root.child(&format!("{action}Result")).cloned().unwrap_or_default())
    }
}
