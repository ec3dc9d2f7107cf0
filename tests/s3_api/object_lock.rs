//! Object Lock: buckets created with lock, default retention, GOVERNANCE
//! (bypassable) and COMPLIANCE (never) retention, legal hold, and the errors.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
    ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule,
    VersioningConfiguration,
};

use crate::common::{bucket_name, client, sdk_err, Req, Server};

fn in_days(days: i64) -> DateTime {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    DateTime::from_secs(secs + days * 86_400)
}

#[tokio::test]
async fn retention_legal_hold_and_defaults() {
    let server = Server::start().await;
    let s3 = client(&server);
    let bucket = bucket_name("lock");
    s3.create_bucket().bucket(&bucket).object_lock_enabled_for_bucket(true).send().await.expect("create locked bucket");
    let v = s3.get_bucket_versioning().bucket(&bucket).send().await.expect("versioning");
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let suspend = s3
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build())
        .send()
        .await;
    assert_eq!(sdk_err(suspend), (409, Some("InvalidBucketState".into())));
    let cfg = s3.get_object_lock_configuration().bucket(&bucket).send().await.expect("lock config");
    let enabled = cfg.object_lock_configuration().and_then(|c| c.object_lock_enabled().cloned());
    assert_eq!(enabled, Some(ObjectLockEnabled::Enabled));

    // GOVERNANCE: a version cannot be deleted unless the request bypasses it.
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("gov")
        .body(b"governed".to_vec().into())
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_days(1))
        .send()
        .await
        .expect("put with retention");
    let gov = put.version_id().expect("version").to_string();
    let r = s3.get_object_retention().bucket(&bucket).key("gov").send().await.expect("retention");
    assert_eq!(r.retention().and_then(|r| r.mode().cloned()), Some(ObjectLockRetentionMode::Governance));
    let head = s3.head_object().bucket(&bucket).key("gov").send().await.expect("head");
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let denied = s3.delete_object().bucket(&bucket).key("gov").version_id(&gov).send().await;
    assert_eq!(sdk_err(denied), (403, Some("AccessDenied".into())));
    // Deleting without a version id only adds a delete marker: allowed.
    s3.delete_object().bucket(&bucket).key("gov").send().await.expect("delete marker");
    s3.delete_object()
        .bucket(&bucket)
        .key("gov")
        .version_id(&gov)
        .bypass_governance_retention(true)
        .send()
        .await
        .expect("bypass governance");

    // COMPLIANCE: never deleted early, never shortened; extending is fine.
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("comp")
        .body(b"complied".to_vec().into())
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_days(2))
        .send()
        .await
        .expect("put compliance");
    let comp = put.version_id().expect("version").to_string();
    let denied =
        s3.delete_object().bucket(&bucket).key("comp").version_id(&comp).bypass_governance_retention(true).send().await;
    assert_eq!(sdk_err(denied), (403, Some("AccessDenied".into())));
    let retention = |days| {
        ObjectLockRetention::builder()
            .mode(ObjectLockRetentionMode::Compliance)
            .retain_until_date(in_days(days))
            .build()
    };
    let shorten = s3.put_object_retention().bucket(&bucket).key("comp").retention(retention(1)).send().await;
    assert_eq!(sdk_err(shorten), (403, Some("AccessDenied".into())));
    s3.put_object_retention().bucket(&bucket).key("comp").retention(retention(3)).send().await.expect("extend");

    // Legal hold: no retention, but no delete either until it is lifted.
    let put = s3.put_object().bucket(&bucket).key("held").body(b"x".to_vec().into()).send().await.expect("put");
    let held = put.version_id().expect("version").to_string();
    let hold = |on: bool| {
        ObjectLockLegalHold::builder()
            .status(if on { ObjectLockLegalHoldStatus::On } else { ObjectLockLegalHoldStatus::Off })
            .build()
    };
    s3.put_object_legal_hold().bucket(&bucket).key("held").legal_hold(hold(true)).send().await.expect("hold on");
    let got = s3.get_object_legal_hold().bucket(&bucket).key("held").send().await.expect("get hold");
    assert_eq!(got.legal_hold().and_then(|h| h.status().cloned()), Some(ObjectLockLegalHoldStatus::On));
    let denied = s3.delete_object().bucket(&bucket).key("held").version_id(&held).send().await;
    assert_eq!(sdk_err(denied), (403, Some("AccessDenied".into())));
    s3.put_object_legal_hold().bucket(&bucket).key("held").legal_hold(hold(false)).send().await.expect("hold off");
    s3.delete_object().bucket(&bucket).key("held").version_id(&held).send().await.expect("delete after hold");

    // Default retention applies to new versions that ask for none.
    let rule = ObjectLockRule::builder()
        .default_retention(DefaultRetention::builder().mode(ObjectLockRetentionMode::Governance).days(1).build())
        .build();
    s3.put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).rule(rule).build(),
        )
        .send()
        .await
        .expect("default retention");
    let put = s3.put_object().bucket(&bucket).key("defaulted").body(b"d".to_vec().into()).send().await.expect("put");
    let r = s3
        .get_object_retention()
        .bucket(&bucket)
        .key("defaulted")
        .version_id(put.version_id().expect("version"))
        .send()
        .await
        .expect("retention from default");
    assert_eq!(r.retention().and_then(|r| r.mode().cloned()), Some(ObjectLockRetentionMode::Governance));
}

#[tokio::test]
async fn lock_errors() {
    let server = Server::start().await;
    let s3 = client(&server);
    let bucket = bucket_name("nolock");
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    let missing = s3.get_object_lock_configuration().bucket(&bucket).send().await;
    assert_eq!(sdk_err(missing), (404, Some("ObjectLockConfigurationNotFoundError".into())));
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(b"x".to_vec().into())
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_days(1))
        .send()
        .await;
    assert_eq!(sdk_err(put), (400, Some("InvalidRequest".into())));
    let enable = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
    let path = format!("/{bucket}?object-lock");
    Req::new(&server, "PUT", &path).body(enable).send().await.assert_error(409, "InvalidBucketState");

    let locked = bucket_name("lock-errors");
    s3.create_bucket().bucket(&locked).object_lock_enabled_for_bucket(true).send().await.expect("locked bucket");
    let path = format!("/{locked}?object-lock");
    let both = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>";
    Req::new(&server, "PUT", &path).body(both).send().await.assert_error(400, "MalformedXML");
    let zero = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>";
    Req::new(&server, "PUT", &path).body(zero).send().await.assert_error(400, "InvalidArgument");
    let past = s3
        .put_object()
        .bucket(&locked)
        .key("k")
        .body(b"x".to_vec().into())
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_days(-1))
        .send()
        .await;
    assert_eq!(sdk_err(past), (400, Some("InvalidArgument".into())));
    let only_mode = Req::new(&server, "PUT", &format!("/{locked}/k"))
        .header("x-amz-object-lock-mode", "GOVERNANCE")
        .header("content-md5", "HUXZLQLMuI/KZ5KDcJPcOA==")
        .body("x")
        .send()
        .await;
    only_mode.assert_error(400, "InvalidArgument");
    s3.put_object().bucket(&locked).key("plain").body(b"x".to_vec().into()).send().await.expect("put");
    let none = s3.get_object_retention().bucket(&locked).key("plain").send().await;
    assert_eq!(sdk_err(none), (404, Some("NoSuchObjectLockConfiguration".into())));
}
