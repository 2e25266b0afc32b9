//! `protocol_version = "HTTP2"` target groups: HTTP/2 viewers reach the targets over HTTP/2
//! (prior knowledge on cleartext), HTTP/1.1 viewers get 464.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::test]
async fn http2_groups_speak_http2_to_their_targets() {
    let t = target("h2").await;
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
default_action = {{ type = "forward", target_group = "app" }}
[[target_group]]
name = "app"
protocol_version = "HTTP2"
targets = ["{}"]
"#,
        t.addr
    );
    let _alb = alb(&toml, vec![("web", l)]).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();

    // An HTTP/1.1 viewer: 464.
    assert_eq!(get(addr, "/x").await.status, 464);

    // An HTTP/2 viewer (prior knowledge): forwarded over HTTP/2.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut s, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!("http://shop.test:{port}/y"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = s.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["version"], "HTTP/2.0", "{v}");
    assert_eq!(t.hits(), 1);
}
