//! Virtual-hosted-style addressing (`--domain`): `BUCKET.DOMAIN[:port]`.

use crate::common::sdk::{client, vhost_client};
use crate::common::server::DOMAIN;
use crate::common::{bucket_name, xml_all, Req, Server, ServerOptions};

async fn server() -> Server {
    Server::start_with(ServerOptions { domain: Some(DOMAIN.to_string()), ..ServerOptions::default() }).await
}

#[tokio::test]
async fn sdk_virtual_hosted_style() {
    let server = server().await;
    let vhost = vhost_client(&server);
    let path = client(&server);
    let bucket = bucket_name("vhost");

    vhost.create_bucket().bucket(&bucket).send().await.expect("create (virtual-hosted)");
    vhost
        .put_object()
        .bucket(&bucket)
        .key("dir/hello world.txt")
        .body(b"hello via vhost".to_vec().into())
        .send()
        .await
        .expect("put (virtual-hosted)");
    let got = vhost.get_object().bucket(&bucket).key("dir/hello world.txt").send().await.expect("get (virtual-hosted)");
    assert_eq!(&got.body.collect().await.expect("body").into_bytes()[..], b"hello via vhost");

    // Path style reaches the same bucket on the same server.
    let got = path.get_object().bucket(&bucket).key("dir/hello world.txt").send().await.expect("get (path)");
    assert_eq!(&got.body.collect().await.expect("body").into_bytes()[..], b"hello via vhost");

    let listing = vhost.list_objects_v2().bucket(&bucket).prefix("dir/").send().await.expect("list (virtual-hosted)");
    let keys: Vec<&str> = listing.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/hello world.txt"]);
    vhost.head_bucket().bucket(&bucket).send().await.expect("head bucket (virtual-hosted)");
    vhost.delete_object().bucket(&bucket).key("dir/hello world.txt").send().await.expect("delete (virtual-hosted)");
    vhost.delete_bucket().bucket(&bucket).send().await.expect("delete bucket (virtual-hosted)");
    let err = path.head_bucket().bucket(&bucket).send().await.expect_err("bucket is gone");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
}

#[tokio::test]
async fn raw_host_header_addressing() {
    let server = server().await;
    let bucket = bucket_name("vhost-raw");
    let port = server.s3_addr.port();
    let bucket_host = format!("{bucket}.{DOMAIN}:{port}");

    Req::new(&server, "PUT", "/").host(&bucket_host).send().await.assert_status(200);
    Req::new(&server, "PUT", "/a%20b/c.txt").host(&bucket_host).body("raw vhost").send().await.assert_status(200);
    let get = Req::new(&server, "GET", "/a%20b/c.txt").host(&bucket_host).send().await;
    get.assert_status(200);
    assert_eq!(&get.body[..], b"raw vhost");

    // Without the port, and with upper-case letters in the host name.
    let get = Req::new(&server, "GET", "/a%20b/c.txt").host(format!("{bucket}.{}", DOMAIN.to_uppercase())).send().await;
    get.assert_status(200);

    // Bucket listing on the bucket host.
    let list = Req::new(&server, "GET", "/?list-type=2").host(&bucket_host).send().await;
    list.assert_status(200);
    assert_eq!(xml_all(&list.text(), "Key"), ["a b/c.txt"]);

    // The bare domain is the service endpoint: ListBuckets.
    let buckets = Req::new(&server, "GET", "/").host(format!("{DOMAIN}:{port}")).send().await;
    buckets.assert_status(200);
    assert!(xml_all(&buckets.text(), "Name").contains(&bucket), "{}", buckets.text());

    // Path style on 127.0.0.1 keeps working on the same server.
    let get = Req::new(&server, "GET", &format!("/{bucket}/a%20b/c.txt")).send().await;
    get.assert_status(200);
    assert_eq!(&get.body[..], b"raw vhost");

    // A bucket host for a bucket that does not exist.
    let resp = Req::new(&server, "GET", "/x").host(format!("no-such-bucket-zz.{DOMAIN}:{port}")).send().await;
    resp.assert_error(404, "NoSuchBucket");
}
