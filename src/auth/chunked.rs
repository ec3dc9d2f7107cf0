//! The `aws-chunked` content encoding: an incremental decoder that verifies
//! chunk signatures (and the trailer signature) as the bytes arrive.
//!
//! Wire format: `hex-size[;chunk-signature=sig]\r\n data \r\n` repeated, a
//! final `0[;chunk-signature=sig]\r\n`, then trailing headers `name:value\r\n`
//! (with `x-amz-trailer-signature:sig\r\n` when signed) and an empty line.
//!
//! The decoder is sans-I/O: [`ChunkedDecoder::next_data`] consumes input
//! buffers and hands back the decoded data as zero-copy slices. Memory is
//! bounded by one header or trailer line (`MAX_LINE_BYTES`), the trailer
//! section (`MAX_TRAILER_BYTES`); data is never buffered. A chunk's signature
//! is checked as soon as its last byte arrived, before that byte is returned,
//! so at most one chunk of unverified data has been handed on; callers must
//! discard everything on any error (they do: an upload commits only after the
//! stream ended without error).

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::{canonical, signatures_equal, ChunkSigningContext};
use crate::error::{ApiError, S3ErrorCode};

/// The largest chunk accepted (the SDKs send 64 KiB to 1 MiB).
pub const DEFAULT_MAX_CHUNK_BYTES: u64 = 16 * 1024 * 1024;
/// The longest chunk header or trailer line.
pub const MAX_LINE_BYTES: usize = 4096;
/// The largest trailer section.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line.
    Header,
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// Expecting the `\r\n` after a chunk's data; `seen` bytes of it read.
    DataEnd { seen: u8 },
    /// Reading trailing header lines after the final chunk.
    Trailer,
    /// The empty line after the trailers was read.
    Done,
}

/// An incremental, verifying aws-chunked decoder.
pub struct ChunkedDecoder {
    state: State,
    signing: Option<ChunkSigningContext>,
    /// The trailer section is expected to carry headers (`...-TRAILER` mode).
    trailer_mode: bool,
    previous_signature: String,
    chunk_signature: Option<String>,
    chunk_hasher: Sha256,
    line: Vec<u8>,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
    trailer_bytes: usize,
    decoded_bytes: u64,
    max_chunk_bytes: u64,
}

fn malformed(detail: &str) -> ApiError {
    ApiError::new(S3ErrorCode::InvalidRequest, format!("The aws-chunked request body is malformed: {detail}."))
}

fn incomplete() -> ApiError {
    ApiError::new(S3ErrorCode::IncompleteBody, "The request body terminated unexpectedly")
}

fn chunk_signature_mismatch() -> ApiError {
    ApiError::new(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

impl ChunkedDecoder {
    /// A decoder; `signing` present means every chunk must be signed
    /// (chained from its seed signature), `trailer_mode` that trailing
    /// headers may follow the final chunk.
    pub fn new(signing: Option<ChunkSigningContext>, trailer_mode: bool, max_chunk_bytes: u64) -> Self {
        let previous_signature = signing.as_ref().map(|s| s.seed_signature.clone()).unwrap_or_default();
        ChunkedDecoder {
            state: State::Header,
            signing,
            trailer_mode,
            previous_signature,
            chunk_signature: None,
            chunk_hasher: Sha256::new(),
            line: Vec::new(),
            trailers: Vec::new(),
            trailer_signature: None,
            trailer_bytes: 0,
            decoded_bytes: 0,
            max_chunk_bytes,
        }
    }

    /// Decoded data bytes so far.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }

    /// The trailing headers received (names lowercase, values trimmed),
    /// without the trailer signature.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// The value of trailing header `name` (lowercase).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the whole encoded body was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes `input` until a piece of decoded data is available (returned,
    /// a slice of `input`) or `input` is empty (`Ok(None)`: feed more).
    pub fn next_data(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, ApiError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    if let Some(line) = self.take_line(input)? {
                        if self.state == State::Header {
                            self.on_header_line(&line)?;
                        } else {
                            self.on_trailer_line(&line)?;
                        }
                    }
                }
                State::Data { remaining } => {
                    let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(input.len());
                    let piece = input.split_to(n);
                    self.chunk_hasher.update(&piece);
                    self.decoded_bytes += n as u64;
                    let remaining = remaining - n as u64;
                    if remaining == 0 {
                        self.end_of_chunk_data()?;
                        self.state = State::DataEnd { seen: 0 };
                    } else {
                        self.state = State::Data { remaining };
                    }
                    return Ok(Some(piece));
                }
                State::DataEnd { seen } => {
                    let expected = b"\r\n"[usize::from(seen)];
                    if input[0] != expected {
                        return Err(malformed("chunk data is not followed by CRLF"));
                    }
                    let _ = input.split_to(1);
                    self.state = if seen == 0 { State::DataEnd { seen: 1 } } else { State::Header };
                }
                State::Done => return Err(malformed("data after the end of the body")),
            }
        }
        Ok(None)
    }

    /// Called at the end of the encoded body: everything must have arrived.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        match self.state {
            State::Done => Ok(()),
            // The final empty line is missing but every trailer line was
            // complete: accepted (the trailer checks still apply).
            State::Trailer if self.line.is_empty() => self.end_of_trailers(),
            _ => Err(incomplete()),
        }
    }

    /// Appends input up to and including the next `\n` to the line buffer;
    /// returns the completed line without its line ending.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Vec<u8>>, ApiError> {
        let limit = MAX_LINE_BYTES.saturating_sub(self.line.len());
        let newline = input.iter().take(limit).position(|&b| b == b'\n');
        let Some(pos) = newline else {
            if input.len() >= limit {
                return Err(malformed("a chunk header or trailer line is too long"));
            }
            self.line.extend_from_slice(input);
            let _ = input.split_to(input.len());
            return Ok(None);
        };
        self.line.extend_from_slice(&input[..pos]);
        let _ = input.split_to(pos + 1);
        let mut line = std::mem::take(&mut self.line);
        let had_cr = line.last() == Some(&b'\r');
        if had_cr {
            line.pop();
        } else if self.state == State::Header {
            return Err(malformed("a chunk header does not end with CRLF"));
        }
        Ok(Some(line))
    }

    fn on_header_line(&mut self, line: &[u8]) -> Result<(), ApiError> {
        let line = std::str::from_utf8(line).map_err(|_| malformed("a chunk header is not ASCII"))?;
        let mut parts = line.split(';');
        let size_text = parts.next().unwrap_or("").trim();
        if size_text.is_empty() || size_text.len() > 16 || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("a chunk size is not a hexadecimal number"));
        }
        let size =
            u64::from_str_radix(size_text, 16).map_err(|_| malformed("a chunk size is not a hexadecimal number"))?;
        if size > self.max_chunk_bytes {
            return Err(malformed(&format!(
                "a chunk of {size} bytes exceeds the limit of {} bytes",
                self.max_chunk_bytes
            )));
        }
        let mut signature = None;
        for ext in parts {
            let (name, value) = ext.split_once('=').unwrap_or((ext, ""));
            if name.trim() == "chunk-signature" && signature.replace(value.trim().to_owned()).is_some() {
                return Err(malformed("a chunk has two signatures"));
            }
        }
        if self.signing.is_some() {
            if signature.is_none() {
                return Err(malformed("a chunk has no chunk-signature"));
            }
            self.chunk_signature = signature;
        }
        self.chunk_hasher = Sha256::new();
        if size == 0 {
            self.end_of_chunk_data()?;
            self.state = State::Trailer;
        } else {
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    /// Verifies the signature of the chunk whose data was just hashed.
    fn end_of_chunk_data(&mut self) -> Result<(), ApiError> {
        let Some(signing) = &self.signing else { return Ok(()) };
        let hasher = std::mem::replace(&mut self.chunk_hasher, Sha256::new());
        let chunk_hash = hex::encode(hasher.finalize().as_slice());
        let expected = signing.chunk_signature(&self.previous_signature, &chunk_hash);
        let provided = self.chunk_signature.take().unwrap_or_default();
        if !signatures_equal(&expected, &provided) {
            tracing::debug!(decoded_bytes = self.decoded_bytes, "aws-chunked chunk signature mismatch");
            return Err(chunk_signature_mismatch());
        }
        self.previous_signature = expected;
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), ApiError> {
        if line.is_empty() {
            return self.end_of_trailers();
        }
        self.trailer_bytes += line.len();
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(ApiError::new(S3ErrorCode::MalformedTrailerError, "The trailing headers are too large."));
        }
        let line = std::str::from_utf8(line).map_err(|_| malformed_trailer())?;
        let (name, value) = line.split_once(':').ok_or_else(malformed_trailer)?;
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(malformed_trailer());
        }
        let value = value.trim().to_owned();
        if name == TRAILER_SIGNATURE {
            if self.trailer_signature.replace(value).is_some() {
                return Err(malformed_trailer());
            }
        } else {
            if self.trailer_signature.is_some() || self.trailers.iter().any(|(n, _)| *n == name) {
                return Err(malformed_trailer());
            }
            self.trailers.push((name, value));
        }
        Ok(())
    }

    fn end_of_trailers(&mut self) -> Result<(), ApiError> {
        if !self.trailer_mode && !self.trailers.is_empty() {
            return Err(malformed("trailing headers were sent but x-amz-content-sha256 declares none"));
        }
        if let (Some(signing), true) = (&self.signing, self.trailer_mode) {
            match self.trailer_signature.take() {
                Some(provided) => {
                    let canonical = canonical::canonical_trailers(&self.trailers);
                    let expected = signing.trailer_signature(&self.previous_signature, &canonical);
                    if !signatures_equal(&expected, &provided) {
                        tracing::debug!("aws-chunked trailer signature mismatch");
                        return Err(chunk_signature_mismatch());
                    }
                    self.previous_signature = expected;
                }
                // Trailing headers in a signed stream must be signed.
                None if !self.trailers.is_empty() => return Err(malformed_trailer()),
                None => {}
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

fn malformed_trailer() -> ApiError {
    ApiError::new(
        S3ErrorCode::MalformedTrailerError,
        "The request contained trailing data that was not well-formed or did not conform to our published schema.",
    )
}

/// Test support: encodes `chunks` as aws-chunked, signing when `signing`
/// is given, followed by `trailers` (signed in signed mode when
/// `sign_trailer`).
#[cfg(test)]
pub(crate) fn encode(
    signing: Option<&ChunkSigningContext>,
    chunks: &[&[u8]],
    trailers: &[(&str, &str)],
    sign_trailer: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = signing.map(|s| s.seed_signature.clone()).unwrap_or_default();
    let all: Vec<&[u8]> = chunks.iter().copied().filter(|c| !c.is_empty()).chain(std::iter::once(&b""[..])).collect();
    for chunk in all {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if let Some(s) = signing {
            let sig = s.chunk_signature(&prev, &canonical::sha256_hex(chunk));
            out.extend_from_slice(format!(";chunk-signature={sig}").as_bytes());
            prev = sig;
        }
        out.extend_from_slice(b"\r\n");
        if !chunk.is_empty() {
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
    }
    for (n, v) in trailers {
        out.extend_from_slice(format!("{n}:{v}\r\n").as_bytes());
    }
    if let (Some(s), true) = (signing, sign_trailer) {
        let owned: Vec<(String, String)> = trailers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let sig = s.trailer_signature(&prev, &canonical::canonical_trailers(&owned));
        out.extend_from_slice(format!("{TRAILER_SIGNATURE}:{sig}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    fn aws_context() -> ChunkSigningContext {
        let day = crate::auth::parse_amz_date("20130524T000000Z").unwrap();
        let key = aws_sigv4::sign::v4::generate_signing_key(SECRET, day, "us-east-1", "s3");
        ChunkSigningContext::new(
            key.as_ref().to_vec(),
            "20130524T000000Z".into(),
            "20130524/us-east-1/s3/aws4_request".into(),
            SEED.into(),
        )
    }

    /// Feeds `encoded` in pieces split at `cuts`; returns the decoded data.
    fn decode_split(dec: &mut ChunkedDecoder, encoded: &[u8], cuts: &[usize]) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c > 0 && c < encoded.len()).collect();
        bounds.sort_unstable();
        bounds.dedup();
        bounds.push(encoded.len());
        for end in bounds {
            let mut input = Bytes::copy_from_slice(&encoded[start..end]);
            while let Some(piece) = dec.next_data(&mut input)? {
                out.extend_from_slice(&piece);
            }
            start = end;
        }
        dec.finish()?;
        Ok(out)
    }

    fn decode_all(signing: Option<ChunkSigningContext>, trailer: bool, encoded: &[u8]) -> Result<Vec<u8>, ApiError> {
        decode_split(&mut ChunkedDecoder::new(signing, trailer, DEFAULT_MAX_CHUNK_BYTES), encoded, &[])
    }

    #[test]
    fn aws_chunk_signature_vectors() {
        let ctx = aws_context();
        let c1 = ctx.chunk_signature(SEED, &canonical::sha256_hex(&[b'a'; 65536]));
        assert_eq!(c1, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
        let c2 = ctx.chunk_signature(&c1, &canonical::sha256_hex(&[b'a'; 1024]));
        assert_eq!(c2, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
        let c3 = ctx.chunk_signature(&c2, canonical::EMPTY_SHA256_HEX);
        assert_eq!(c3, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
    }

    #[test]
    fn aws_example_body_decodes() {
        let ctx = aws_context();
        let encoded = encode(Some(&ctx), &[&[b'a'; 65536], &[b'a'; 1024]], &[], false);
        // The documented Content-Length of the example.
        assert_eq!(encoded.len(), 66824);
        let text = String::from_utf8_lossy(&encoded[..90]).into_owned();
        assert!(text
            .starts_with("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"));
        let data = decode_all(Some(ctx), false, &encoded).unwrap();
        assert_eq!(data, vec![b'a'; 66560]);
    }

    #[test]
    fn every_split_position_signed_with_trailer() {
        let ctx = aws_context();
        let chunks: [&[u8]; 3] = [b"hello ", b"aws-chunked ", b"world"];
        let encoded = encode(Some(&ctx), &chunks, &[("x-amz-checksum-crc32", "AAAAAA==")], true);
        for cut in 0..=encoded.len() {
            let mut dec = ChunkedDecoder::new(Some(ctx.clone()), true, DEFAULT_MAX_CHUNK_BYTES);
            let data = decode_split(&mut dec, &encoded, &[cut]).unwrap();
            assert_eq!(data, b"hello aws-chunked world");
            assert_eq!(dec.trailer("x-amz-checksum-crc32"), Some("AAAAAA=="));
        }
        // One byte at a time.
        let all_cuts: Vec<usize> = (0..encoded.len()).collect();
        let mut dec = ChunkedDecoder::new(Some(ctx), true, DEFAULT_MAX_CHUNK_BYTES);
        assert_eq!(decode_split(&mut dec, &encoded, &all_cuts).unwrap(), b"hello aws-chunked world");
        assert_eq!(dec.decoded_bytes(), 23);
    }

    #[test]
    fn every_split_position_unsigned_trailer() {
        let encoded = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:sK4Y7A==\r\n\r\n";
        for cut in 0..=encoded.len() {
            for cut2 in cut..=encoded.len() {
                let mut dec = ChunkedDecoder::new(None, true, DEFAULT_MAX_CHUNK_BYTES);
                assert_eq!(decode_split(&mut dec, encoded, &[cut, cut2]).unwrap(), b"hello world");
                assert_eq!(dec.trailers(), &[("x-amz-checksum-crc32".to_owned(), "sK4Y7A==".to_owned())]);
            }
        }
    }

    #[test]
    fn signed_without_trailer_and_unsigned_variants() {
        let ctx = aws_context();
        let encoded = encode(Some(&ctx), &[b"abc"], &[], false);
        assert_eq!(decode_all(Some(ctx.clone()), false, &encoded).unwrap(), b"abc");
        // Signed-trailer mode with no trailers and no trailer signature.
        assert_eq!(decode_all(Some(ctx.clone()), true, &encoded).unwrap(), b"abc");
        // Empty body.
        let empty = encode(Some(&ctx), &[], &[], false);
        assert_eq!(decode_all(Some(ctx), false, &empty).unwrap(), b"");
        assert_eq!(decode_all(None, true, b"0\r\n\r\n").unwrap(), b"");
        // Missing final empty line after complete trailer lines: accepted.
        assert_eq!(decode_all(None, true, b"1\r\nz\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n").unwrap(), b"z");
        assert_eq!(decode_all(None, true, b"1\r\nz\r\n0\r\n").unwrap(), b"z");
        // Unknown chunk extensions are ignored in unsigned mode.
        assert_eq!(decode_all(None, true, b"1;foo=bar\r\nz\r\n0\r\n\r\n").unwrap(), b"z");
        // Uppercase hex sizes.
        let body = [b"A\r\n".as_slice(), &[b'q'; 10], b"\r\n0\r\n\r\n"].concat();
        assert_eq!(decode_all(None, true, &body).unwrap(), vec![b'q'; 10]);
    }

    #[test]
    fn bad_chunk_signatures_are_rejected() {
        let ctx = aws_context();
        let mut encoded = encode(Some(&ctx), &[b"hello", b"world"], &[], false);
        // Flip one data byte: the first chunk's signature no longer matches.
        let pos = encoded.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        assert_eq!(encoded[pos], b'h');
        encoded[pos] = b'H';
        let err = decode_all(Some(ctx.clone()), false, &encoded).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);

        // Chunks reordered: the chain breaks.
        let a = encode(Some(&ctx), &[b"one"], &[], false);
        let b = encode(Some(&ctx), &[b"two"], &[], false);
        let first_a = &a[..a.windows(2).position(|w| w == b"\r\n").unwrap() + 2 + 3 + 2];
        let first_b = &b[..b.windows(2).position(|w| w == b"\r\n").unwrap() + 2 + 3 + 2];
        let mut spliced = first_a.to_vec();
        spliced.extend_from_slice(first_b);
        let err = decode_all(Some(ctx.clone()), false, &spliced).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);

        // A chunk without a signature in signed mode.
        let err = decode_all(Some(ctx.clone()), false, b"3\r\nabc\r\n").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);

        // Wrong trailer signature.
        let mut t = encode(Some(&ctx), &[b"abc"], &[("x-amz-checksum-crc32", "AAAAAA==")], true);
        let sig_pos = t.windows(24).position(|w| w == b"x-amz-trailer-signature:").unwrap() + 24;
        t[sig_pos] = if t[sig_pos] == b'0' { b'1' } else { b'0' };
        let err = decode_all(Some(ctx.clone()), true, &t).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);

        // Trailers in signed-trailer mode without a signature.
        let t = encode(Some(&ctx), &[b"abc"], &[("x-amz-checksum-crc32", "AAAAAA==")], false);
        let err = decode_all(Some(ctx.clone()), true, &t).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedTrailerError);

        // Trailers in a mode that declares none.
        let err = decode_all(Some(ctx), false, &t).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn malformed_framing() {
        let cases: &[(&[u8], S3ErrorCode)] = &[
            (b"", S3ErrorCode::IncompleteBody),
            (b"5\r\nhel", S3ErrorCode::IncompleteBody),
            (b"5\r\nhello", S3ErrorCode::IncompleteBody),
            (b"5\r\nhello\r\n", S3ErrorCode::IncompleteBody),
            (b"5\r\nhelloXX0\r\n\r\n", S3ErrorCode::InvalidRequest),
            (b"5\nhello\r\n0\r\n\r\n", S3ErrorCode::InvalidRequest),
            (b"zz\r\n", S3ErrorCode::InvalidRequest),
            (b"+5\r\nhello\r\n0\r\n\r\n", S3ErrorCode::InvalidRequest),
            (b"\r\n", S3ErrorCode::InvalidRequest),
            (b"11111111111111111\r\n", S3ErrorCode::InvalidRequest),
            (b"ffffffffffffffff\r\n", S3ErrorCode::InvalidRequest),
            (b"0\r\n\r\nextra", S3ErrorCode::InvalidRequest),
            (b"0\r\nno-colon\r\n\r\n", S3ErrorCode::MalformedTrailerError),
            (b"0\r\nx-amz-checksum-crc32:A\r\nx-amz-checksum-crc32:B\r\n\r\n", S3ErrorCode::MalformedTrailerError),
            (b"0\r\nx-amz-checksum-crc32:AAAA", S3ErrorCode::IncompleteBody),
        ];
        for (body, code) in cases {
            let err = decode_all(None, true, body).unwrap_err();
            assert_eq!(err.code, *code, "{:?}", String::from_utf8_lossy(body));
        }
        // A header line that never ends is cut off at the line limit.
        let long = vec![b'1'; MAX_LINE_BYTES + 10];
        assert_eq!(decode_all(None, true, &long).unwrap_err().code, S3ErrorCode::InvalidRequest);
        // A chunk larger than the limit.
        let mut dec = ChunkedDecoder::new(None, true, 4);
        assert_eq!(
            decode_split(&mut dec, b"5\r\nhello\r\n0\r\n\r\n", &[]).unwrap_err().code,
            S3ErrorCode::InvalidRequest
        );
        // Trailer section too large.
        let mut big = b"0\r\n".to_vec();
        for i in 0..1000 {
            big.extend_from_slice(format!("x-amz-meta-{i}:{}\r\n", "v".repeat(30)).as_bytes());
        }
        assert_eq!(decode_all(None, true, &big).unwrap_err().code, S3ErrorCode::MalformedTrailerError);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
            let mut dec = ChunkedDecoder::new(None, true, 1 << 20);
            let _ = decode_split(&mut dec, &data, &[cut]);
            let mut dec = ChunkedDecoder::new(Some(aws_context()), true, 1 << 20);
            let _ = decode_split(&mut dec, &data, &[cut]);
        }

        #[test]
        fn random_splits_decode_the_same(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
            signed in any::<bool>(),
        ) {
            let ctx = aws_context();
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let signing = signed.then_some(&ctx);
            let encoded = encode(signing, &refs, &[("x-amz-checksum-crc32c", "AAAAAA==")], true);
            let mut dec = ChunkedDecoder::new(signing.cloned(), true, DEFAULT_MAX_CHUNK_BYTES);
            let data = decode_split(&mut dec, &encoded, &cuts).unwrap();
            prop_assert_eq!(data, chunks.concat());
            prop_assert_eq!(dec.trailer("x-amz-checksum-crc32c"), Some("AAAAAA=="));
        }

        #[test]
        fn mutated_signed_bodies_never_decode_silently(pos in 0usize..200, byte in any::<u8>()) {
            let ctx = aws_context();
            let encoded = encode(Some(&ctx), &[b"some data here", b"and more"], &[], false);
            let pos = pos % encoded.len();
            prop_assume!(encoded[pos] != byte);
            let mut mutated = encoded.clone();
            mutated[pos] = byte;
            let mut dec = ChunkedDecoder::new(Some(ctx), false, DEFAULT_MAX_CHUNK_BYTES);
            if let Ok(data) = decode_split(&mut dec, &mutated, &[]) {
                // Only case-insensitive hex in a size may change harmlessly.
                prop_assert_eq!(data, b"some data hereand more".to_vec());
            }
        }
    }
}
