//! Accept loops for the S3 and admin listeners, per-request spans and
//! request ids, timeouts, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::access;
use crate::auth;
use crate::config::Config;
use crate::credentials::Credentials;
use crate::error::{ApiError, S3ErrorCode};
use crate::handlers::{self, RequestContext};
use crate::iam::{self, IamAuthorizer, Identities};
use crate::response::{self, Body};
use crate::router::{parse_query, Endpoint, Route};
use storage_engine::Engine;

/// An owner as responses show it: the installation's own account (the
/// state's `owner`) or a bucket's owner: canonical user id, display name and
/// 12-digit account id.
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: String,
    pub display_name: String,
    pub account_id: String,
}

/// What every request handler can reach.
pub struct AppState {
    pub config: Arc<Config>,
    pub engine: Engine,
    /// Root, users and their keys: the credential store of every request.
    pub identities: Identities,
    /// Who may call the IAM API (default: root only).
    pub iam_authorizer: Arc<dyn IamAuthorizer>,
    pub owner: Owner,
    /// Parsed bucket and identity policies, shared across requests.
    pub policies: Arc<crate::access::PolicyCache>,
    /// Server-wide Block Public Access (config file, or as set through the admin API).
    pub account_public_access_block: crate::access::AccountPublicAccessBlock,
    pub metrics: crate::metrics::Metrics,
    pub ops: crate::ops::Ops,
    /// Shutting down or handing over: responses carry `Connection: close`, so
    /// that clients and proxies stop reusing connections before they close.
    pub draining: AtomicBool,
    /// The access log (one JSON line per request), when configured.
    pub access_log: crate::audit::AccessLog,
    /// Server-side encryption: the keyring and the settings.
    pub sse: crate::sse::Encryption,
    /// The lifecycle day (from the configuration).
    pub lifecycle_clock: crate::lifecycle::Clock,
    /// Starts a lifecycle pass at once (a configuration was put).
    pub lifecycle_wake: tokio::sync::Notify,
    ready: AtomicBool,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        engine: Engine,
        identities: Identities,
        account_public_access_block: crate::access::AccountPublicAccessBlock,
    ) -> std::io::Result<Self> {
        let id = identities.account_canonical_id().to_string();
        let account_id = identities.account_id().to_string();
        let policies = Arc::new(crate::access::PolicyCache::default());
        let ops = crate::ops::Ops::new(&config.data_dir, config.scrub_interval);
        let sse = crate::sse::Encryption::load(&config, &account_id)?;
        Ok(AppState {
            access_log: crate::audit::AccessLog::start(&config.access_log)?,
            draining: AtomicBool::new(false),
            lifecycle_clock: config.lifecycle_clock,
            lifecycle_wake: tokio::sync::Notify::new(),
            sse,
            metrics: crate::metrics::Metrics::new(),
            ops,
            config,
            engine,
            identities,
            iam_authorizer: Arc::new(crate::access::IamPolicyAuthorizer::new(policies.clone())),
            owner: Owner { id, display_name: "root".into(), account_id },
            policies,
            account_public_access_block,
            ready: AtomicBool::new(false),
        })
    }

    /// The caller an (active) access key belongs to, with its parsed policies.
    pub fn caller_for_key(&self, access_key_id: &str) -> Option<crate::access::Caller> {
        let identity = self.identities.identity_for_key(access_key_id)?;
        Some(crate::access::Caller::from_identity(&identity, &self.policies))
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

fn new_request_id() -> String {
    use rand::Rng;
    let value: u64 = rand::rng().random();
    format!("{value:016X}")
}

/// Serves one S3 request: route, authenticate, dispatch, and turn any error
/// into the S3 error document. Never fails at the hyper level.
pub async fn serve_s3(
    state: Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let request_id = new_request_id();
    // A span per request costs a visible share of a small request at the
    // default level, so it is a debug one; a failed request's error line names
    // the request itself.
    let span = tracing::debug_span!("request", id = %request_id, method = %req.method(), path = %req.uri().path());
    async move {
        let head = req.method() == Method::HEAD;
        let resource = req.uri().path().to_string();
        let started = std::time::Instant::now();
        let bytes_in = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let declares_body = bytes_in > 0 || req.headers().contains_key(http::header::TRANSFER_ENCODING);
        let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
        let method = req.method().clone();
        // What only the access log needs, read before the request is consumed (and only when it is on).
        let audit = state.access_log.enabled().then(|| {
            let user_agent =
                req.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
            let client = crate::access::ClientInfo::resolve(peer, req.headers(), &state.config.trusted_proxies).addr;
            (user_agent, client)
        });
        let mut facts = Facts::default();
        let (op, result) = dispatch(&state, req, &request_id, peer, &mut facts).await;
        let mut error_code = None;
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                error_code = Some(err.code.as_str());
                if err.status().is_server_error() {
                    tracing::error!(op, request_id = %request_id, method = %method, path = %resource, error = %err, "request failed");
                } else {
                    tracing::debug!(op, code = err.code.as_str(), message = %err.message, "request rejected");
                }
                response::error_response(&err, &resource, &request_id, head)
            }
        };
        // A request answered with its body unread or half read may leave more
        // of that body than is drained (`request_body`); hyper then closes
        // the connection after the response without saying so, and a client
        // that pooled it would send its next request into a closed socket.
        let body_may_be_unread = declares_body && !response.status().is_success();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", value.clone());
            headers.insert("x-amz-id-2", value);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static("Coffer"));
        if state.draining.load(Ordering::Relaxed) || body_may_be_unread {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        // A browser's actual request (success or error) gets the CORS headers its origin is allowed.
        if let (Some(origin), Some(bucket)) = (origin.as_deref(), facts.bucket.as_deref()) {
            if method != Method::OPTIONS {
                // Rules already loaded with the bucket; read them only for a request refused before that.
                let rules = match facts.cors.take() {
                    Some(rules) => rules,
                    None => match state.engine.get_bucket(bucket).await {
                        Ok(info) => crate::handlers::attrs::BucketAttrs::decode(&info.attrs).ok().and_then(|a| a.cors),
                        Err(_) => None,
                    },
                };
                crate::cors::decorate(rules.as_deref(), Some(origin), &method, response.headers_mut());
            }
        }
        let bytes_out = if head {
            0
        } else {
            response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .or_else(|| http_body::Body::size_hint(response.body()).exact())
                .unwrap_or(0)
        };
        state.metrics.observe_request(op, response.status().as_u16(), started.elapsed(), bytes_in, bytes_out);
        // Per request, so debug: the access log (`--access-log`) is the record of requests.
        tracing::debug!(
            op,
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        );
        if let Some((user_agent, client)) = audit {
            state.access_log.record(&crate::audit::AccessRecord {
                time: crate::xml::iso8601_ms(crate::ops::now_ms()),
                request_id: &request_id,
                principal: facts.principal.as_deref().unwrap_or("anonymous"),
                user: facts.user.as_deref(),
                operation: op,
                bucket: facts.bucket.as_deref(),
                key: facts.key.as_deref(),
                status: response.status().as_u16(),
                error_code,
                bytes_in,
                bytes_out,
                duration_ms: started.elapsed().as_millis() as u64,
                client: client.to_string(),
                user_agent: user_agent.as_deref(),
            });
        }
        Ok(response)
    }
    .instrument(span)
    .await
}

/// What the access log records of a request, filled in as it is dispatched.
#[derive(Debug, Default)]
struct Facts {
    principal: Option<String>,
    user: Option<String>,
    bucket: Option<String>,
    key: Option<String>,
    /// The bucket's CORS rules as authorization loaded them (`Some` once loaded).
    cors: Option<Option<Vec<crate::cors::Rule>>>,
}

async fn dispatch(
    state: &AppState,
    req: Request<Incoming>,
    request_id: &str,
    peer: SocketAddr,
    facts: &mut Facts,
) -> (&'static str, Result<Response<Body>, ApiError>) {
    let (parts, body) = req.into_parts();
    let body = crate::request_body::RequestBody::new(body, &parts.headers);
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
    if let Some(bucket) = crate::router::bucket_from_host(host, state.config.website_domain.as_deref()) {
        return ("Website", Ok(crate::website::serve::serve(state, &parts, &bucket, peer, request_id).await));
    }
    if parts.method == Method::OPTIONS {
        // CORS preflight: answered from the bucket's rules, without authentication.
        let bucket = crate::router::bucket_from_host(host, state.config.domain.as_deref()).or_else(|| {
            parts.uri.path().trim_start_matches('/').split('/').next().filter(|b| !b.is_empty()).map(str::to_string)
        });
        facts.bucket = bucket.clone();
        let attrs = match &bucket {
            Some(b) => match state.engine.get_bucket(b).await {
                Ok(info) => crate::handlers::attrs::BucketAttrs::decode(&info.attrs).ok(),
                Err(e) => return ("PreflightRequest", Err(e.into())),
            },
            None => None,
        };
        return ("PreflightRequest", crate::cors::preflight(&parts.headers, attrs.as_ref()));
    }
    if iam::api::is_iam_request(&parts) {
        let svc = iam::api::IamService {
            identities: &state.identities,
            authorizer: state.iam_authorizer.as_ref(),
            region: &state.config.region,
            body_timeout: Duration::from_millis(state.config.body_idle_timeout_ms),
        };
        let (op, response) = iam::api::handle(&svc, &parts, body, request_id).await;
        return (op, Ok(response));
    }
    let query = parse_query(parts.uri.query());
    let route =
        match Route::resolve(&parts.method, parts.uri.path(), &query, &parts.headers, state.config.domain.as_deref()) {
            Ok(route) => route,
            Err(err) => return ("Unknown", Err(err)),
        };
    let op = route.endpoint.name();
    facts.bucket = route.bucket.clone();
    facts.key = route.key.clone();
    if route.endpoint == Endpoint::PostObject {
        // A browser form: authenticated by its signed policy, not by the request's headers.
        let bucket = route.bucket.clone().unwrap_or_default();
        return (op, crate::post_object::handle(state, &parts, body, &bucket, peer).await);
    }
    let host_bucket = crate::router::bucket_from_host(
        parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()),
        state.config.domain.as_deref(),
    );
    let v2 = match state.config.signature_v2 {
        true => auth::SigV2::Accepted { vhost_bucket: host_bucket.as_deref() },
        false => auth::SigV2::Refused,
    };
    let authenticated = match auth::authenticate(&parts, &state.identities, &state.config.region, v2, SystemTime::now())
    {
        Ok(a) => a,
        Err(err) => return (op, Err(err)),
    };
    if let auth::Principal::AccessKey { access_key_id } = &authenticated.principal {
        facts.principal = Some(access_key_id.clone());
    }
    let access = match access::authorize(state, &parts, &query, &route, &authenticated.principal, peer).await {
        Ok(access) => access,
        Err(err) => return (op, Err(err)),
    };
    if !access.caller.display_name.is_empty() {
        facts.user = Some(access.caller.display_name.clone());
    }
    if parts.headers.contains_key(http::header::ORIGIN) {
        facts.cors = Some(access.bucket.as_ref().and_then(|b| b.attrs.cors.clone()));
    }
    let endpoint = route.endpoint;
    let ctx = RequestContext { state, parts: &parts, query: &query, route, payload: authenticated.payload, access };
    let result = handlers::handle(&ctx, body).await;
    (op, hide_missing_keys(&ctx, endpoint, result))
}

/// As AWS: a caller who may not list the bucket learns nothing about which
/// keys exist, so a missing key is `AccessDenied` for it rather than `NoSuchKey`.
fn hide_missing_keys(
    ctx: &RequestContext<'_>,
    endpoint: Endpoint,
    result: Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, ApiError> {
    match result {
        Err(err)
            if err.code == S3ErrorCode::NoSuchKey
                && matches!(endpoint, Endpoint::GetObject | Endpoint::HeadObject | Endpoint::GetObjectAcl)
                && !ctx.access.may_learn_missing(ctx.key()) =>
        {
            Err(ApiError::access_denied())
        }
        other => other,
    }
}

/// Serves the admin listener: health checks (no token), then metrics and the
/// admin API (bearer token, see `ops`).
async fn serve_admin(state: Arc<AppState>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (status, text) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/health/live") => (StatusCode::OK, "live\n"),
        (&Method::GET, "/health/ready") if state.ready.load(Ordering::SeqCst) => (StatusCode::OK, "ready\n"),
        (&Method::GET, "/health/ready") => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => return Ok(crate::ops::serve_admin_api(state, req).await),
    };
    let mut response = Response::new(response::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

/// Which service a listener runs.
#[derive(Clone, Copy, Debug)]
pub enum Listener {
    S3,
    Admin,
}

/// Accepts connections until `shutdown` resolves, then waits (bounded) for
/// in-flight connections to finish.
/// How long a draining listener waits for clients to close their connections.
const DRAIN_LINGER: Duration = Duration::from_secs(2);

pub async fn run_listener(
    listener: TcpListener,
    kind: Listener,
    state: Arc<AppState>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let open_connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let header_timeout = Duration::from_millis(state.config.header_read_timeout_ms);
    // The S3 listener serves at most `max_connections` at once; further
    // clients wait in the kernel's accept queue until one closes. The admin
    // listener is never held up by S3 load.
    let slots = match kind {
        Listener::S3 => {
            state.metrics.s3_connections_limit.set(state.config.max_connections as i64);
            Some(Arc::new(tokio::sync::Semaphore::new(state.config.max_connections)))
        }
        Listener::Admin => None,
    };
    loop {
        let slot = match &slots {
            Some(slots) => tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => Some(slot),
                    Err(_) => break, // never closed
                },
                _ = shutdown.changed() => break,
            },
            None => None,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let counted = slot.map(|slot| {
                    state.metrics.s3_connections_open.inc();
                    (slot, state.clone())
                });
                let state = state.clone();
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true).max_buf_size(64 * 1024);
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move {
                        match kind {
                            Listener::S3 => serve_s3(state, req, peer).await,
                            Listener::Admin => serve_admin(state, req).await,
                        }
                    }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                let open = open_connections.clone();
                open.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                    if let Some((_slot, state)) = counted {
                        state.metrics.s3_connections_open.dec();
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // Let clients finish with their connections: each answer now says
    // `Connection: close`, so a proxy's idle connection is closed by the proxy
    // after its next request instead of by us while it may be sending one.
    // Whatever is still open after the linger is closed gracefully.
    let linger = Instant::now() + DRAIN_LINGER;
    while open_connections.load(Ordering::Relaxed) > 0 && Instant::now() < linger {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let grace = Duration::from_millis(state.config.shutdown_grace_ms);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(?kind, "in-flight requests did not finish within the shutdown grace period");
    }
}

/// A server whose listeners are bound and serving.
pub struct RunningServer {
    pub s3_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// Duplicates of the listening sockets, handed to a successor process.
    listener_fds: Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>,
    state: Arc<AppState>,
    engine: Engine,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Binds both listeners and starts serving; in-process users (benchmarks)
    /// get the addresses back and stop the server with [`RunningServer::shutdown`].
    /// Identities are loaded from the engine, with `credentials` as the root user.
    pub async fn start(config: Arc<Config>, engine: Engine, credentials: Credentials) -> std::io::Result<Self> {
        let identities = Identities::load(&config, engine.clone(), credentials).await?;
        Self::start_with_identities(config, engine, identities).await
    }

    pub async fn start_with_identities(
        config: Arc<Config>,
        engine: Engine,
        identities: Identities,
    ) -> std::io::Result<Self> {
        // Listening sockets handed over by a predecessor (or by systemd socket
        // activation), else bound here.
        let (s3, admin) = match inherited_listeners()? {
            Some((s3, admin)) => {
                tracing::info!("serving on inherited listening sockets");
                (s3, admin)
            }
            None => (TcpListener::bind(config.listen).await?, TcpListener::bind(config.admin_listen).await?),
        };
        use std::os::fd::AsFd;
        let listener_fds = Some((s3.as_fd().try_clone_to_owned()?, admin.as_fd().try_clone_to_owned()?));
        let s3_addr: SocketAddr = s3.local_addr()?;
        let admin_addr: SocketAddr = admin.local_addr()?;
        let account_bpa =
            crate::access::AccountPublicAccessBlock::load(&engine, config.account_public_access_block).await?;
        let state = Arc::new(AppState::new(config, engine.clone(), identities, account_bpa)?);
        let (stop, rx) = tokio::sync::watch::channel(false);
        let tasks = vec![
            tokio::spawn(run_listener(s3, Listener::S3, state.clone(), rx.clone())),
            tokio::spawn(run_listener(admin, Listener::Admin, state.clone(), rx.clone())),
        ];
        let background = vec![
            tokio::spawn(crate::ops::scrubber(state.clone(), rx.clone())),
            tokio::spawn(crate::ops::healer(state.clone(), rx.clone())),
            tokio::spawn(crate::lifecycle::worker::run(state.clone(), rx)),
        ];
        if state.config.admin_token.is_none() {
            tracing::warn!("no admin token configured (COFFER_ADMIN_TOKEN): the admin API and /metrics answer 401");
        }
        state.set_ready(true);
        Ok(RunningServer { s3_addr, admin_addr, listener_fds, state, engine, stop, tasks, background })
    }

    /// Stops accepting, lets in-flight requests finish (bounded by the
    /// configured grace period) and flushes the engine.
    /// Starts a new `coffer server` with the same arguments on the same
    /// listening sockets (zero-downtime restart or upgrade): it opens the data
    /// directory as soon as this process has released it, while connections
    /// wait in the sockets' queues. The caller then shuts this process down.
    pub fn spawn_successor(&self) -> std::io::Result<std::process::Child> {
        use command_fds::{CommandFdExt, FdMapping};
        let (s3, admin) = self.listener_fds.as_ref().ok_or_else(|| std::io::Error::other("no listening sockets"))?;
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.args(std::env::args_os().skip(1))
            .env("LISTEN_FDS", "2")
            .env("COFFER_HANDOVER", "1")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS_FIRST_FD")
            .fd_mappings(vec![
                FdMapping { parent_fd: s3.try_clone()?, child_fd: 3 },
                FdMapping { parent_fd: admin.try_clone()?, child_fd: 4 },
            ])
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        cmd.spawn()
    }

    pub async fn shutdown(self) -> std::io::Result<()> {
        self.state.set_ready(false);
        self.state.draining.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // A scrub or heal pass in progress is cut short: a scrub resumes from the
        // cursor saved after its last batch, a heal pass starts over.
        for task in self.background {
            task.abort();
            let _ = task.await;
        }
        self.engine.shutdown().await.map_err(|err| {
            tracing::error!(error = %err, "engine shutdown failed");
            std::io::Error::other(err.to_string())
        })
    }
}

/// Runs the server until SIGTERM/SIGINT, printing the listener addresses,
/// then shuts down gracefully.
/// The listening sockets passed by a predecessor or systemd (`LISTEN_FDS`): S3 first, admin second.
fn inherited_listeners() -> std::io::Result<Option<(TcpListener, TcpListener)>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() < 2 {
        return Ok(None);
    }
    let (Some(s3), Some(admin)) = (fds.take_tcp_listener(0)?, fds.take_tcp_listener(1)?) else {
        return Err(std::io::Error::other("LISTEN_FDS: the first two descriptors must be TCP listening sockets"));
    };
    s3.set_nonblocking(true)?;
    admin.set_nonblocking(true)?;
    Ok(Some((TcpListener::from_std(s3)?, TcpListener::from_std(admin)?)))
}

pub async fn run(config: Arc<Config>, engine: Engine, credentials: Credentials) -> std::io::Result<()> {
    let server = RunningServer::start(config, engine, credentials).await?;
    println!("coffer: S3 API listening on http://{}", server.s3_addr);
    println!("coffer: admin listening on http://{}", server.admin_addr);
    tracing::info!(s3_addr = %server.s3_addr, admin_addr = %server.admin_addr, "serving");
    // SIGHUP: reopen the access log (after logrotate moved it).
    let state = server.state.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reopening the access log");
                state.access_log.reopen();
            }
        }
    });
    println!("coffer: serving as pid {}", std::process::id());
    loop {
        match wait_for_signal().await {
            Signal::Stop => break,
            Signal::Handover => match server.spawn_successor() {
                Ok(child) => {
                    println!("coffer: handing over to pid {}", child.id());
                    tracing::info!(successor = child.id(), "handing the listening sockets over, draining");
                    break;
                }
                Err(err) => tracing::error!(error = %err, "cannot start a successor; still serving"),
            },
        }
    }
    tracing::info!("shutting down");
    server.shutdown().await
}

enum Signal {
    /// SIGTERM or SIGINT: drain and exit.
    Stop,
    /// SIGUSR2: start a successor on the same sockets, then drain and exit.
    Handover,
}

async fn wait_for_signal() -> Signal {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut usr2) = match (signal(SignalKind::terminate()), signal(SignalKind::user_defined2())) {
        (Ok(t), Ok(u)) => (t, u),
        (Err(err), _) | (_, Err(err)) => {
            tracing::error!(error = %err, "cannot install signal handlers");
            let _ = tokio::signal::ctrl_c().await;
            return Signal::Stop;
        }
    };
    tokio::select! {
        _ = term.recv() => Signal::Stop,
        _ = tokio::signal::ctrl_c() => Signal::Stop,
        _ = usr2.recv() => Signal::Handover,
    }
}
