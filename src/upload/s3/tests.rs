//! The URLs each addressing style builds.

use super::*;

fn s3(endpoint: &str, bucket: &str, addressing: Addressing) -> S3 {
    let cfg = UploadConfig {
        endpoint: Some(endpoint.into()),
        bucket: Some(bucket.into()),
        addressing,
        ..UploadConfig::default()
    };
    S3::new(
        &cfg,
        Limiter::new(None),
        crate::base::clock::system(),
        Arc::new(AtomicI64::new(0)),
        0,
    )
    .unwrap()
}

#[test]
fn addressing_styles() {
    let aws = "https://s3.eu-west-1.amazonaws.com";
    let u = s3(aws, "footage", Addressing::Auto).url(Some("a b/c+d.mp4"), &[]);
    assert_eq!(
        u.as_str(),
        "https://footage.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd.mp4"
    );
    let dotted = s3(aws, "cam.footage", Addressing::Auto).url(Some("k"), &[]);
    assert_eq!(
        dotted.as_str(),
        "https://s3.eu-west-1.amazonaws.com/cam.footage/k"
    );
    let garage = s3("http://127.0.0.1:3900", "b", Addressing::Auto);
    assert_eq!(
        garage.url(None, &[("uploads", String::new())]).as_str(),
        "http://127.0.0.1:3900/b?uploads="
    );
    let forced = s3("http://minio.lan:9000", "b", Addressing::Virtual).url(Some("k"), &[]);
    assert_eq!(forced.as_str(), "http://b.minio.lan:9000/k");
    let path = s3(aws, "footage", Addressing::Path).url(Some("k"), &[]);
    assert_eq!(
        path.as_str(),
        "https://s3.eu-west-1.amazonaws.com/footage/k"
    );
}
