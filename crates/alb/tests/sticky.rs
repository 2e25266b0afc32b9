//! Sticky sessions over real sockets: `AWSALB`/`AWSALBCORS` pin and re-pin, garbled cookies
//! re-pick, `AWSALBAPP-*` follows the application's cookie, `AWSALBTG` pins weighted groups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::net::SocketAddr;

async fn lb(targets: &[&Target], stickiness: &str) -> (Alb, SocketAddr) {
    checked_lb(targets, &format!("stickiness = {stickiness}")).await
}

#[tokio::test]
async fn lb_cookie_pins_and_repins_when_the_target_goes_unhealthy() {
    let (a, b) = (target("a").await, target("b").await);
    let (alb, addr) = lb(
        &[&a, &b],
        r#"{ type = "lb_cookie", cookie_duration = 3600 }"#,
    )
    .await;

    let first = get(addr, "/").await;
    let pinned = first.name();
    let lb_cookie = set_cookies(&first, "AWSALB");
    let cors = set_cookies(&first, "AWSALBCORS");
    assert_eq!((lb_cookie.len(), cors.len()), (1, 1), "{:?}", first.headers);
    assert!(
        lb_cookie[0].contains("; Expires=") && lb_cookie[0].ends_with("; Path=/"),
        "{}",
        lb_cookie[0]
    );
    assert!(
        cors[0].ends_with("; Path=/; SameSite=None; Secure"),
        "{}",
        cors[0]
    );
    let cookie = cookie_pair(&first, "AWSALB");

    // Every request with the cookie goes to the same target, and gets the cookie again.
    for _ in 0..10 {
        let r = send(addr, "GET", "/", &[("cookie", &cookie)]).await;
        assert_eq!(r.name(), pinned);
        assert_eq!(
            set_cookies(&r, "AWSALB").len(),
            1,
            "re-issued on every response"
        );
    }
    // AWSALBCORS alone pins too.
    let cors_pair = cookie_pair(&first, "AWSALBCORS");
    assert_eq!(
        send(addr, "GET", "/", &[("cookie", &cors_pair)])
            .await
            .name(),
        pinned
    );

    // The pinned target fails its checks: the next request re-picks, and the new cookie pins there.
    let (gone, other) = if pinned == "a" { (&a, "b") } else { (&b, "a") };
    gone.set_healthy(false);
    alb.tier.check_now().await;
    alb.tier.check_now().await;
    let r = send(addr, "GET", "/", &[("cookie", &cookie)]).await;
    assert_eq!(r.name(), other);
    let repinned = cookie_pair(&r, "AWSALB");
    assert_ne!(repinned, cookie);
    gone.set_healthy(true);
    alb.tier.check_now().await;
    alb.tier.check_now().await;
    for _ in 0..4 {
        assert_eq!(
            send(addr, "GET", "/", &[("cookie", &repinned)])
                .await
                .name(),
            other,
            "the new pin holds after recovery"
        );
    }
}

#[tokio::test]
async fn garbled_or_url_encoded_cookies_re_pick() {
    let (a, b) = (target("a").await, target("b").await);
    let (_alb, addr) = lb(&[&a, &b], r#"{ type = "lb_cookie" }"#).await;
    let first = get(addr, "/").await;
    let good = cookie_pair(&first, "AWSALB");
    let encoded = good.replace('+', "%2B").replace('/', "%2F") + "%3D";
    let mut names = Vec::new();
    for bad in [
        "AWSALB=garbage",
        "AWSALB=",
        encoded.as_str(),
        "AWSALB=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = send(addr, "GET", "/", &[("cookie", bad)]).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            set_cookies(&r, "AWSALB").len(),
            1,
            "a fresh cookie for {bad}"
        );
        names.push(r.name());
    }
    assert!(
        names.contains(&"a".to_string()) && names.contains(&"b".to_string()),
        "re-picked by round robin: {names:?}"
    );
}

#[tokio::test]
async fn app_cookie_follows_the_application() {
    let (a, b) = (target("a").await, target("b").await);
    let (_alb, addr) = lb(
        &[&a, &b],
        r#"{ type = "app_cookie", cookie_name = "session", cookie_duration = 600 }"#,
    )
    .await;
    // Without the app's cookie: no AWSALBAPP, plain round robin.
    let plain = get(addr, "/").await;
    assert!(set_cookies(&plain, "AWSALBAPP-0").is_empty());
    // The app sets `session`: the balancer adds AWSALBAPP-0 (and empties -1..-3).
    let login = get(addr, "/login").await;
    assert_eq!(
        set_cookies(&login, "session").len(),
        1,
        "the app's own cookie passes through"
    );
    assert_eq!(set_cookies(&login, "AWSALBAPP-0").len(), 1);
    assert!(set_cookies(&login, "AWSALBAPP-1")[0].starts_with("AWSALBAPP-1=_remove_"));
    let pinned = login.name();
    let cookie = format!("session=s1; {}", cookie_pair(&login, "AWSALBAPP-0"));
    for _ in 0..6 {
        assert_eq!(
            send(addr, "GET", "/", &[("cookie", &cookie)]).await.name(),
            pinned
        );
    }
}

#[tokio::test]
async fn group_stickiness_pins_weighted_groups() {
    let (a, b) = (target("a").await, target("b").await);
    let l = bind().await;
    let port = l.local_addr().unwrap().port();
    let toml = format!(
        r#"
[[load_balancer]]
name = "web"
[[load_balancer.listener]]
port = {port}
[load_balancer.listener.default_action]
type = "forward"
forward = {{ target_group = [{{ name = "ga", weight = 1 }}, {{ name = "gb", weight = 1 }}], stickiness = {{ enabled = true, duration = 600 }} }}

[[target_group]]
name = "ga"
targets = ["{}"]
health_check = {{ enabled = false }}

[[target_group]]
name = "gb"
targets = ["{}"]
health_check = {{ enabled = false }}
"#,
        a.addr, b.addr
    );
    let _alb = alb(&toml, vec![("web", l)]).await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let first = get(addr, "/").await;
    assert_eq!(set_cookies(&first, "AWSALBTG").len(), 1);
    assert!(set_cookies(&first, "AWSALBTGCORS")[0].ends_with("SameSite=None; Secure"));
    let cookie = cookie_pair(&first, "AWSALBTG");
    for _ in 0..8 {
        assert_eq!(
            send(addr, "GET", "/", &[("cookie", &cookie)]).await.name(),
            first.name()
        );
    }
    // Without the cookie, the weights split 1:1.
    let names: Vec<String> = futures_util::future::join_all((0..4).map(|_| get(addr, "/")))
        .await
        .iter()
        .map(Resp::name)
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "a").count(), 2, "{names:?}");
    // An invalid cookie still routes by weight.
    assert_eq!(
        send(addr, "GET", "/", &[("cookie", "AWSALBTG=bad%2Bvalue")])
            .await
            .status,
        200
    );
}
