//! The request body as the S3 handlers receive it.
//!
//! A handler that answers before it has read the whole body (an error, a
//! refusal such as 503 `SlowDown`) drops the body with the rest of it still
//! on the way. Left to hyper, the connection would then be closed at once, and
//! a client still sending gets a broken pipe or a reset instead of the
//! answer. So an unfinished body, when dropped, is read on and discarded in
//! the background, up to [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`]: a client
//! sending no more than that finishes its request and reads the response.
//! Past either bound the body is let go and the connection closes. (The
//! response also says `Connection: close`, see `server::serve_s3`.) A client
//! that sent `Expect: 100-continue` has sent no body yet and is not asked for
//! it: hyper sends the 100 only when the body is read, so nothing is drained.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

/// Bytes of an unfinished body read and discarded after an early answer, at most.
pub const DRAIN_MAX_BYTES: u64 = 16 << 20;
/// How long an unfinished body is read on after an early answer, at most.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

pub struct RequestBody {
    inner: Option<Incoming>,
    /// Read to its end (or to an error), or never sent (100-continue): nothing to drain.
    finished: bool,
}

impl RequestBody {
    pub fn new(body: Incoming, headers: &http::HeaderMap) -> RequestBody {
        let expects_continue = headers
            .get(http::header::EXPECT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
        RequestBody { inner: Some(body), finished: expects_continue }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(inner).poll_frame(cx);
        match polled {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finished = true,
            // Reading has begun: a 100-continue client now sends its body.
            _ => self.finished = false,
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(Incoming::size_hint).unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else { return };
        if self.finished || body.is_end_stream() {
            return;
        }
        // Outside a runtime (never in the server) the body is just let go.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(body));
        }
    }
}

/// Reads `body` to its end and discards it, within the bounds.
async fn drain(mut body: Incoming) {
    let read_on = async {
        let mut left = DRAIN_MAX_BYTES;
        while let Some(Ok(frame)) = body.frame().await {
            let len = frame.data_ref().map_or(0, |d| d.len() as u64);
            let Some(rest) = left.checked_sub(len) else { return };
            left = rest;
        }
    };
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, read_on).await;
}
