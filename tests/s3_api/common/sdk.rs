//! `aws_sdk_s3::Client`s pointed at a test server, with the SDK's default
//! checksum behaviour, and helpers to assert on its errors.

use std::net::SocketAddr;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;

use super::server::{Server, ServerOptions, ACCESS_KEY, REGION, SECRET_KEY};
use super::util::bucket_name;

fn base_config(endpoint: String) -> aws_sdk_s3::config::Builder {
    config_with(endpoint, ACCESS_KEY, SECRET_KEY)
}

fn config_with(endpoint: String, access_key: &str, secret_key: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "coffer-e2e"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        // Deterministic: one attempt, the error the server gave is the error we see.
        .retry_config(RetryConfig::disabled())
}

/// Path-style client for `server`.
pub fn client(server: &Server) -> Client {
    Client::from_conf(base_config(server.endpoint()).force_path_style(true).build())
}

/// Path-style client for `server` with another user's credentials.
pub fn client_with(server: &Server, access_key: &str, secret_key: &str) -> Client {
    Client::from_conf(config_with(server.endpoint(), access_key, secret_key).force_path_style(true).build())
}

/// Virtual-hosted-style client: the SDK addresses `BUCKET.DOMAIN:PORT`; an
/// interceptor sends the (already signed) request to 127.0.0.1 with that Host
/// header, so no DNS is involved.
pub fn vhost_client(server: &Server) -> Client {
    let domain = server.domain.clone().expect("server started with --domain");
    let endpoint = format!("http://{domain}:{}", server.s3_addr.port());
    Client::from_conf(
        base_config(endpoint).force_path_style(false).interceptor(ToLoopback { addr: server.s3_addr }).build(),
    )
}

#[derive(Debug)]
struct ToLoopback {
    addr: SocketAddr,
}

impl Intercept for ToLoopback {
    fn name(&self) -> &'static str {
        "ToLoopback"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri: http::Uri = request.uri().parse()?;
        let authority = uri.authority().ok_or("request URI has an authority")?.to_string();
        let path_query = uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_else(|| "/".into());
        let _previous = request.headers_mut().insert("host", authority);
        request.set_uri(format!("http://{}{}", self.addr, path_query))?;
        Ok(())
    }
}

/// Status and S3 error code of a failed SDK call; panics if it succeeded.
#[track_caller]
pub fn sdk_err<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (u16, Option<String>) {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or_else(|| panic!("no response: {e:?}"));
            (status, e.code().map(str::to_string))
        }
    }
}

/// Asserts that an SDK call failed with `status` and `code`.
#[track_caller]
pub fn expect_sdk_err<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    status: u16,
    code: &str,
) {
    let got = sdk_err(result);
    assert_eq!(got, (status, Some(code.to_string())), "expected {status} {code}");
}

/// One server, one SDK client and one fresh bucket: the usual test setup.
pub struct Ctx {
    pub server: Server,
    pub s3: Client,
    pub bucket: String,
}

impl Ctx {
    pub async fn new(tag: &str) -> Ctx {
        Ctx::with_options(tag, ServerOptions::default()).await
    }

    pub async fn with_options(tag: &str, options: ServerOptions) -> Ctx {
        let server = Server::start_with(options).await;
        let s3 = client(&server);
        let bucket = bucket_name(tag);
        s3.create_bucket().bucket(&bucket).send().await.expect("create test bucket");
        Ctx { server, s3, bucket }
    }

    pub async fn put(&self, key: &str, data: impl Into<Vec<u8>>) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
        let data: Vec<u8> = data.into();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(data.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"))
    }

    pub async fn get_bytes(&self, key: &str) -> Vec<u8> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        out.body.collect().await.expect("read body").into_bytes().to_vec()
    }

    /// True if HEAD finds the key; false on 404 (any other error panics).
    pub async fn exists(&self, key: &str) -> bool {
        match self.s3.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => true,
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => false,
            Err(e) => panic!("head {key}: {e:?}"),
        }
    }

    /// Asserts that the key does not exist, by HEAD and by listing.
    pub async fn assert_absent(&self, key: &str) {
        assert!(!self.exists(key).await, "{key:?} must not exist");
        let keys = self.list_keys(key).await;
        assert!(!keys.iter().any(|k| k == key), "{key:?} must not be listed; listing: {keys:?}");
    }

    /// Every key under `prefix` (ListObjectsV2, all pages).
    pub async fn list_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.clone())
                .send()
                .await
                .expect("list objects");
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            if out.is_truncated() == Some(true) {
                token = Some(out.next_continuation_token().expect("truncated listing has a token").to_string());
            } else {
                return keys;
            }
        }
    }

    /// `/bucket/encoded-key` (path style).
    pub fn path(&self, key: &str) -> String {
        format!("/{}/{}", self.bucket, super::util::enc_key(key))
    }
}
