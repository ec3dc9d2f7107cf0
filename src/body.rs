//! Request bodies, verified while they stream.
//!
//! `verified_body` wraps the HTTP body in a `Stream` of decoded data that:
//! decodes `aws-chunked` (verifying chunk and trailer signatures), enforces
//! the size cap and an idle timeout, hashes the data (MD5 always, SHA-256
//! when the payload hash was signed, the requested additional checksum) and,
//! when the body ends, checks every declared length, hash and checksum. Any
//! failure is yielded as the stream's last item instead of the end, so a
//! consumer that commits only after `None` never stores a body that failed.
//!
//! Memory is bounded: data is passed on as it arrives (zero-copy slices of the
//! received frames); only one chunk header or trailer line is buffered.

#[cfg(test)]
mod tests;

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body::Body as _;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt as _;
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::auth::chunked::{ChunkedDecoder, DEFAULT_MAX_CHUNK_BYTES};
use crate::auth::PayloadMode;
use crate::checksum::{ChecksumAlgorithm, Checksummer};
use crate::error::{ApiError, S3ErrorCode};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a fully read and verified body was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySummary {
    pub size_bytes: u64,
    pub md5: [u8; 16],
    /// The additional checksum, verified (sent by header or trailer) or
    /// computed (only `x-amz-sdk-checksum-algorithm` was sent), base64.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// Where the expected value of the additional checksum comes from.
enum Expected {
    Header(Vec<u8>),
    /// In the trailing header of this name (lowercase).
    Trailer(&'static str),
    /// Nothing to compare: compute and report.
    Compute,
}

struct ChecksumPlan {
    algorithm: ChecksumAlgorithm,
    hasher: Checksummer,
    expected: Expected,
}

/// A request body as a stream of verified, decoded data.
pub struct VerifiedBody {
    body: UnsyncBoxBody<Bytes, BoxError>,
    idle_timeout: Duration,
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A frame arrived since the idle timer was last armed.
    idle_reset: bool,
    /// Received bytes not yet decoded.
    pending: Bytes,
    decoder: Option<ChunkedDecoder>,
    content_length: Option<u64>,
    raw_bytes: u64,
    declared_decoded_length: Option<u64>,
    max_size_bytes: u64,
    size_bytes: u64,
    md5: Md5,
    sha256: Option<(Sha256, [u8; 32])>,
    content_md5: Option<([u8; 16], String)>,
    checksum: Option<ChecksumPlan>,
    summary: Option<BodySummary>,
    finished: bool,
}

fn header_str<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}").trim())
}

fn entity_too_large(proposed: u64, max: u64) -> ApiError {
    ApiError::new(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
        .with_extra("ProposedSize", proposed.to_string())
        .with_extra("MaxSizeAllowed", max.to_string())
}

fn incomplete_content_length() -> ApiError {
    ApiError::new(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )
}

fn single_checksum_error() -> ApiError {
    ApiError::new(
        S3ErrorCode::InvalidRequest,
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
    )
}

/// Wraps a request body for streaming verification; fails at once on
/// headers that are malformed, inconsistent or declare too large a body.
pub fn verified_body<B>(
    body: B,
    headers: &http::HeaderMap,
    payload: PayloadMode,
    max_size_bytes: u64,
    idle_timeout: Duration,
) -> Result<VerifiedBody, ApiError>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let content_length = match header_str(headers, "content-length") {
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::new(S3ErrorCode::InvalidArgument, "The Content-Length header is not a valid number.")
                .with_extra("ArgumentName", "Content-Length")
        })?),
        None => None,
    };

    let aws_chunked = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|c| c.trim().eq_ignore_ascii_case("aws-chunked"));
    if aws_chunked && !matches!(payload, PayloadMode::Streaming(_)) {
        // The framing would otherwise be stored as object data.
        return Err(ApiError::new(
            S3ErrorCode::InvalidRequest,
            "Content-Encoding aws-chunked requires x-amz-content-sha256 to be STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.",
        ));
    }

    let mut decoder = None;
    let mut declared_decoded_length = None;
    let mut sha256 = None;
    let trailer_allowed = match &payload {
        PayloadMode::Streaming(mode) => {
            let declared = header_str(headers, "x-amz-decoded-content-length").ok_or_else(|| {
                ApiError::new(S3ErrorCode::MissingContentLength, "You must provide the Content-Length HTTP header.")
                    .with_extra("MissingHeaderName", "x-amz-decoded-content-length")
            })?;
            let declared = declared.parse::<u64>().map_err(|_| {
                ApiError::new(S3ErrorCode::InvalidArgument, "x-amz-decoded-content-length is not a valid number.")
                    .with_extra("ArgumentName", "x-amz-decoded-content-length")
            })?;
            if declared > max_size_bytes {
                return Err(entity_too_large(declared, max_size_bytes));
            }
            declared_decoded_length = Some(declared);
            decoder = Some(ChunkedDecoder::new(mode.chunk_signing.clone(), mode.trailer, DEFAULT_MAX_CHUNK_BYTES));
            mode.trailer
        }
        PayloadMode::Sha256(hash) => {
            sha256 = Some((<Sha256 as sha2::Digest>::new(), *hash));
            false
        }
        PayloadMode::Unsigned => false,
    };
    if decoder.is_none() {
        if let Some(len) = content_length.filter(|&len| len > max_size_bytes) {
            return Err(entity_too_large(len, max_size_bytes));
        }
    }

    let content_md5 = match header_str(headers, "content-md5") {
        Some(v) => {
            let raw = base64::engine::general_purpose::STANDARD.decode(v.as_bytes()).ok();
            let md5: [u8; 16] = raw.and_then(|r| r.try_into().ok()).ok_or_else(|| {
                ApiError::new(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified was invalid.")
                    .with_extra("Content-MD5", v.to_owned())
            })?;
            Some((md5, v.to_owned()))
        }
        None => None,
    };

    let checksum = checksum_plan(headers, trailer_allowed)?;
    let body = http_body_util::BodyExt::map_err(body, Into::into).boxed_unsync();
    Ok(VerifiedBody {
        body,
        idle_timeout,
        idle: None,
        idle_reset: false,
        pending: Bytes::new(),
        decoder,
        content_length,
        raw_bytes: 0,
        declared_decoded_length,
        max_size_bytes,
        size_bytes: 0,
        md5: Md5::new(),
        sha256,
        content_md5,
        checksum,
        summary: None,
        finished: false,
    })
}

/// Works out which additional checksum applies and where its value comes
/// from: an `x-amz-checksum-<alg>` header, a trailer named by `x-amz-trailer`,
/// or only `x-amz-sdk-checksum-algorithm` (compute it).
fn checksum_plan(headers: &http::HeaderMap, trailer_allowed: bool) -> Result<Option<ChecksumPlan>, ApiError> {
    let mut from_header: Option<(ChecksumAlgorithm, Vec<u8>)> = None;
    for (name, value) in headers {
        let Some(algorithm) = ChecksumAlgorithm::from_header_name(name.as_str()) else { continue };
        if from_header.as_ref().is_some_and(|(a, _)| *a != algorithm) {
            return Err(single_checksum_error());
        }
        let invalid = || {
            ApiError::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", algorithm.header_name()),
            )
        };
        let raw = value.to_str().ok().and_then(|v| algorithm.decode_value(v)).ok_or_else(invalid)?;
        if from_header.as_ref().is_some_and(|(_, prev)| *prev != raw) {
            return Err(invalid());
        }
        from_header = Some((algorithm, raw));
    }

    let mut from_trailer: Option<ChecksumAlgorithm> = None;
    if let Some(value) = header_str(headers, "x-amz-trailer") {
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let algorithm = ChecksumAlgorithm::from_header_name(name).ok_or_else(|| {
                ApiError::new(
                    S3ErrorCode::InvalidRequest,
                    format!("The value specified in the x-amz-trailer header is not supported: {name}"),
                )
            })?;
            if from_trailer.is_some_and(|a| a != algorithm) {
                return Err(single_checksum_error());
            }
            from_trailer = Some(algorithm);
        }
        if from_trailer.is_some() && !trailer_allowed {
            return Err(ApiError::new(
                S3ErrorCode::InvalidRequest,
                "The x-amz-trailer header requires x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.",
            ));
        }
    }
    if from_header.is_some() && from_trailer.is_some() {
        return Err(single_checksum_error());
    }

    let sdk_algorithm = match header_str(headers, "x-amz-sdk-checksum-algorithm") {
        Some(v) => Some(ChecksumAlgorithm::from_name(v).ok_or_else(|| {
            ApiError::new(S3ErrorCode::InvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
        })?),
        None => None,
    };
    let declared = from_header.as_ref().map(|(a, _)| *a).or(from_trailer);
    if let (Some(sdk), Some(declared)) = (sdk_algorithm, declared) {
        if sdk != declared {
            return Err(ApiError::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "Value for x-amz-sdk-checksum-algorithm header is invalid: it names {sdk} but the checksum sent is {declared}."
                ),
            ));
        }
    }

    let plan = match (from_header, from_trailer, sdk_algorithm) {
        (Some((algorithm, raw)), _, _) => Some((algorithm, Expected::Header(raw))),
        (None, Some(algorithm), _) => Some((algorithm, Expected::Trailer(algorithm.header_name()))),
        (None, None, Some(algorithm)) => Some((algorithm, Expected::Compute)),
        (None, None, None) => None,
    };
    Ok(plan.map(|(algorithm, expected)| ChecksumPlan { algorithm, hasher: algorithm.hasher(), expected }))
}

impl VerifiedBody {
    /// The summary, once the stream has ended with `None` (fully verified).
    pub fn summary(&self) -> Option<BodySummary> {
        self.summary.clone()
    }

    /// The additional checksum the body is verified (or computed) with, known
    /// before any data is read.
    pub fn checksum_algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum.as_ref().map(|plan| plan.algorithm)
    }

    /// Computes `algorithm` over the body when the request declared no
    /// checksum of its own; the summary then carries the value. Call before
    /// reading.
    pub fn compute_checksum(&mut self, algorithm: ChecksumAlgorithm) {
        if self.checksum.is_none() {
            self.checksum = Some(ChecksumPlan { algorithm, hasher: algorithm.hasher(), expected: Expected::Compute });
        }
    }

    /// Decoded bytes passed on so far.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    fn fail(&mut self, err: ApiError) -> Poll<Option<Result<Bytes, ApiError>>> {
        self.finished = true;
        self.pending = Bytes::new();
        Poll::Ready(Some(Err(err)))
    }

    /// Accounts for and hashes a piece of decoded data, then yields it.
    fn emit(&mut self, piece: Bytes) -> Poll<Option<Result<Bytes, ApiError>>> {
        self.size_bytes += piece.len() as u64;
        if self.size_bytes > self.max_size_bytes {
            return self.fail(entity_too_large(self.size_bytes, self.max_size_bytes));
        }
        if self.declared_decoded_length.is_some_and(|declared| self.size_bytes > declared) {
            return self.fail(ApiError::new(
                S3ErrorCode::IncompleteBody,
                "The decoded body is longer than the x-amz-decoded-content-length header says.",
            ));
        }
        self.md5.update(&piece);
        if let Some((hasher, _)) = &mut self.sha256 {
            sha2::Digest::update(hasher, &piece);
        }
        if let Some(plan) = &mut self.checksum {
            plan.hasher.update(&piece);
        }
        Poll::Ready(Some(Ok(piece)))
    }

    /// The end of the body: every check, then the summary.
    fn complete(&mut self) -> Result<BodySummary, ApiError> {
        if self.content_length.is_some_and(|cl| cl != self.raw_bytes) {
            return Err(incomplete_content_length());
        }
        if let Some(decoder) = &mut self.decoder {
            decoder.finish()?;
        }
        if self.declared_decoded_length.is_some_and(|declared| declared != self.size_bytes) {
            return Err(ApiError::new(
                S3ErrorCode::IncompleteBody,
                "The decoded body length does not match the x-amz-decoded-content-length header.",
            ));
        }
        if let Some((hasher, expected)) = self.sha256.take() {
            let computed: [u8; 32] = sha2::Digest::finalize(hasher).into();
            if computed != expected {
                return Err(ApiError::new(
                    S3ErrorCode::XAmzContentSHA256Mismatch,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
                .with_extra("ClientComputedContentSHA256", hex::encode(expected))
                .with_extra("S3ComputedContentSHA256", hex::encode(computed)));
            }
        }
        let md5: [u8; 16] = std::mem::replace(&mut self.md5, Md5::new()).finalize().into();
        if let Some((expected, sent)) = &self.content_md5 {
            if *expected != md5 {
                return Err(ApiError::new(
                    S3ErrorCode::BadDigest,
                    "The Content-MD5 you specified did not match what we received.",
                )
                .with_extra("ExpectedDigest", sent.clone())
                .with_extra("CalculatedDigest", base64::engine::general_purpose::STANDARD.encode(md5)));
            }
        }
        let checksum = match self.checksum.take() {
            None => None,
            Some(plan) => {
                let algorithm = plan.algorithm;
                let computed = plan.hasher.finalize();
                let expected = match plan.expected {
                    Expected::Header(raw) => Some(raw),
                    Expected::Trailer(name) => {
                        let value = self.decoder.as_ref().and_then(|d| d.trailer(name)).ok_or_else(|| {
                            ApiError::new(
                                S3ErrorCode::MalformedTrailerError,
                                format!("The x-amz-trailer header declared {name}, but the body carried no such trailing header."),
                            )
                        })?;
                        Some(algorithm.decode_value(value).ok_or_else(|| {
                            ApiError::new(
                                S3ErrorCode::InvalidRequest,
                                format!("Value for {name} trailing header is invalid."),
                            )
                        })?)
                    }
                    Expected::Compute => None,
                };
                if expected.is_some_and(|e| e != computed) {
                    return Err(ApiError::new(
                        S3ErrorCode::BadDigest,
                        format!("The {algorithm} you specified did not match the calculated checksum."),
                    ));
                }
                Some((algorithm, base64::engine::general_purpose::STANDARD.encode(computed)))
            }
        };
        Ok(BodySummary { size_bytes: self.size_bytes, md5, checksum })
    }

    /// Polls the idle timer; `true` when it fired.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = tokio::time::Instant::now().checked_add(self.idle_timeout) else { return false };
        match &mut self.idle {
            None => self.idle = Some(Box::pin(tokio::time::sleep_until(deadline))),
            Some(sleep) if self.idle_reset => sleep.as_mut().reset(deadline),
            Some(_) => {}
        }
        self.idle_reset = false;
        match &mut self.idle {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        }
    }
}

impl futures::Stream for VerifiedBody {
    type Item = Result<Bytes, ApiError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            if !this.pending.is_empty() {
                match &mut this.decoder {
                    Some(decoder) => match decoder.next_data(&mut this.pending) {
                        Ok(Some(piece)) => return this.emit(piece),
                        Ok(None) => {}
                        Err(err) => return this.fail(err),
                    },
                    None => {
                        let piece = std::mem::take(&mut this.pending);
                        return this.emit(piece);
                    }
                }
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.idle_reset = true;
                    if let Ok(data) = frame.into_data() {
                        this.raw_bytes += data.len() as u64;
                        if this.content_length.is_some_and(|cl| this.raw_bytes > cl) {
                            return this.fail(incomplete_content_length());
                        }
                        this.pending = data;
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    tracing::debug!(error = %err, received_bytes = this.raw_bytes, "request body ended with an error");
                    return this
                        .fail(ApiError::new(S3ErrorCode::IncompleteBody, "The request body terminated unexpectedly"));
                }
                Poll::Ready(None) => {
                    return match this.complete() {
                        Ok(summary) => {
                            this.summary = Some(summary);
                            this.finished = true;
                            Poll::Ready(None)
                        }
                        Err(err) => this.fail(err),
                    };
                }
                Poll::Pending => {
                    if this.idle_expired(cx) {
                        return this.fail(ApiError::new(
                            S3ErrorCode::RequestTimeout,
                            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
                        ));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// The Content-Encoding to store: the request's, with `aws-chunked` removed;
/// `None` if nothing is left.
pub fn stored_content_encoding(headers: &http::HeaderMap) -> Option<String> {
    let codings: Vec<&str> = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!codings.is_empty()).then(|| codings.join(", "))
}
