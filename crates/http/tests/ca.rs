//! The local CA persists in its state directory, and certificates it issues after a restart
//! verify against the CA file users already trust.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use edgeway_http::ca::LocalCa;
use edgeway_http::tls::{server_config, SniResolver};
use edgeway_http::{full, serve, Body, ConnInfo, Handler, ServeOptions};
use edgeway_testkit::{get, Target};
use futures_util::future::BoxFuture;
use std::sync::Arc;

struct Ok200;
impl Handler for Ok200 {
    fn handle(
        &self,
        _r: http::Request<edgeway_http::RequestBody>,
        _c: &Arc<ConnInfo>,
    ) -> BoxFuture<'static, http::Response<Body>> {
        Box::pin(async { http::Response::new(full("ok")) })
    }
}

#[tokio::test]
async fn the_ca_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("edgeway-ca-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = LocalCa::load_or_create(&dir).unwrap();
    let pem = first.cert_pem().to_string();
    assert!(first.cert_path().is_file());
    drop(first);
    let again = LocalCa::load_or_create(&dir).unwrap();
    assert_eq!(again.cert_pem(), pem, "the same CA after a restart");

    let mut r = SniResolver::new();
    r.add(
        &["site.test".into()],
        again.issue(&["site.test".into()]).unwrap(),
    );
    let mut o = ServeOptions::new("t", &Default::default());
    o.tls = Some(server_config(r, true, None).unwrap());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(serve(l, Arc::new(Ok200), o, std::future::pending()));
    let reply = get(&Target::https(addr, "site.test", &pem), "site.test", "/")
        .await
        .unwrap();
    assert_eq!(reply.text(), "ok");
    let _ = std::fs::remove_dir_all(&dir);
}
