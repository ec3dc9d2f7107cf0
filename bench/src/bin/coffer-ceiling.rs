//! `coffer-ceiling`: a trivial in-memory S3 look-alike, the upper bound any
//! server could reach on this machine's loopback. It checks no signatures and
//! stores nothing: PUT reads and discards the body, GET streams the content
//! the load generator expects for the key (size from the key, see
//! `bench::load::content`) out of a static buffer, HEAD answers the length,
//! DELETE 204, ListObjectsV2 a fixed 1000-key page, CreateBucket 200, and the
//! three multipart calls answer as if they had worked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bench::load::content::{size_from_key, PatternBody};
use bytes::Bytes;
use clap::Parser;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(Debug, Parser)]
#[command(name = "coffer-ceiling", about = "In-memory S3 stand-in: the loopback ceiling for coffer-load")]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// GET size for keys that do not carry one.
    #[arg(long, default_value = "4KiB")]
    default_size: String,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

type RespBody = Either<PatternBody, Full<Bytes>>;

const ETAG: &str = "\"00000000000000000000000000000000\"";

struct State {
    default_size: u64,
    list_page: Bytes,
}

fn list_page() -> Bytes {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Name>bucket</Name><Prefix></Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>",
    );
    for i in 0..1000 {
        xml.push_str(&format!(
            "<Contents><Key>logs/d00000/obj-{i:04}.json</Key><LastModified>2026-11-23T00:00:00.000Z</LastModified>\
             <ETag>{ETAG}</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>",
            ETAG = "&quot;00000000000000000000000000000000&quot;"
        ));
    }
    xml.push_str("<NextContinuationToken>next</NextContinuationToken></ListBucketResult>");
    Bytes::from(xml)
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<RespBody> {
    let mut resp = Response::new(Either::Right(Full::new(body.into())));
    *resp.status_mut() = status;
    resp
}

fn has_param(query: &str, name: &str) -> bool {
    query.split('&').any(|p| p == name || p.starts_with(&format!("{name}=")))
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<RespBody>, Infallible> {
    let path = req.uri().path().trim_start_matches('/').to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    // Read and discard whatever body came, frame by frame.
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return Ok(full(StatusCode::BAD_REQUEST, "body read failed"));
        }
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) if !k.is_empty() => (b, Some(k)),
        _ => (path.trim_end_matches('/'), None),
    };
    if bucket.is_empty() {
        return Ok(full(StatusCode::OK, "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>"));
    }
    let resp = match (method, key) {
        (Method::PUT, None) => full(StatusCode::OK, ""),
        (Method::GET, None) => {
            let mut r = full(StatusCode::OK, state.list_page.clone());
            r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
            r
        }
        (Method::PUT, Some(_)) => {
            let mut r = full(StatusCode::OK, "");
            r.headers_mut().insert(http::header::ETAG, http::HeaderValue::from_static(ETAG));
            r
        }
        (Method::POST, Some(k)) if has_param(&query, "uploads") => full(
            StatusCode::OK,
            format!(
                "<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{k}</Key>\
                 <UploadId>ceiling-upload</UploadId></InitiateMultipartUploadResult>"
            ),
        ),
        (Method::POST, Some(k)) if has_param(&query, "uploadId") => full(
            StatusCode::OK,
            format!(
                "<CompleteMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{k}</Key>\
                 <ETag>&quot;00000000000000000000000000000000-1&quot;</ETag></CompleteMultipartUploadResult>"
            ),
        ),
        (Method::GET | Method::HEAD, Some(k)) => {
            let size = size_from_key(k).unwrap_or(state.default_size);
            let mut r = Response::new(Either::Left(PatternBody::new(k, 0, size)));
            r.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(size));
            r.headers_mut().insert(http::header::ETAG, http::HeaderValue::from_static(ETAG));
            r
        }
        (Method::DELETE, _) => full(StatusCode::NO_CONTENT, ""),
        _ => full(StatusCode::METHOD_NOT_ALLOWED, "<Error><Code>MethodNotAllowed</Code></Error>"),
    };
    Ok(resp)
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("coffer-ceiling: accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let default_size = match bench::load::units::parse_size(&args.default_size) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("coffer-ceiling: --default-size: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coffer-ceiling: tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("coffer-ceiling: bind {}: {e}", args.listen);
                return std::process::ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(addr) => println!("coffer-ceiling listening on http://{addr}"),
            Err(e) => eprintln!("coffer-ceiling: local address: {e}"),
        }
        // Warm the pattern before the first request.
        let _ = bench::load::content::pattern();
        serve(listener, Arc::new(State { default_size, list_page: list_page() })).await;
        std::process::ExitCode::SUCCESS
    })
}
