//! Sticky-session cookies: the opaque values of `AWSALB`, `AWSALBAPP-0` and `AWSALBTG` (sealed
//! with ChaCha20-Poly1305 under a key made when the process starts), reading them from a
//! request's `Cookie` headers and writing the `Set-Cookie` lines ALB sends.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

/// `AWSALB`: target stickiness (lb_cookie).
pub const LB: &str = "AWSALB";
/// `AWSALBCORS`: the same value with `SameSite=None; Secure`.
pub const LB_CORS: &str = "AWSALBCORS";
/// `AWSALBTG`: group stickiness of a weighted forward.
pub const TG: &str = "AWSALBTG";
pub const TG_CORS: &str = "AWSALBTGCORS";
/// `AWSALBAPP-0` .. `-3`: app_cookie stickiness.
pub const APP: [&str; 4] = ["AWSALBAPP-0", "AWSALBAPP-1", "AWSALBAPP-2", "AWSALBAPP-3"];

/// What a sticky cookie pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// 0: lb_cookie, 1: app_cookie, 2: target group.
    pub kind: u8,
    /// The target group (or the weighted action's group slot for `AWSALBTG`).
    pub group: u32,
    pub addr: SocketAddr,
}

impl Pin {
    pub const LB: u8 = 0;
    pub const APP: u8 = 1;
    pub const GROUP: u8 = 2;
}

/// Seals and opens sticky cookie values.
pub struct Codec {
    /// None only if ring refused the key (it accepts every 32-byte key): nothing opens then.
    key: Option<LessSafeKey>,
}

impl Codec {
    /// A codec with a fresh random key (cookies from another process do not open).
    pub fn new() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self::with_key(bytes)
    }

    pub fn with_key(bytes: [u8; 32]) -> Self {
        Self {
            key: UnboundKey::new(&CHACHA20_POLY1305, &bytes)
                .ok()
                .map(LessSafeKey::new),
        }
    }

    /// The cookie value for `pin`: base64 of nonce ‖ sealed(kind, group, ip, port).
    pub fn seal(&self, pin: &Pin) -> String {
        let mut plain = vec![pin.kind];
        plain.extend_from_slice(&pin.group.to_be_bytes());
        match pin.addr.ip() {
            IpAddr::V4(ip) => {
                plain.push(4);
                plain.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                plain.push(6);
                plain.extend_from_slice(&ip.octets());
            }
        }
        plain.extend_from_slice(&pin.addr.port().to_be_bytes());
        let Some(key) = &self.key else {
            return String::new();
        };
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::assume_unique_for_key(nonce_bytes);
        if key
            .seal_in_place_append_tag(nonce, Aad::empty(), &mut plain)
            .is_err()
        {
            return String::new();
        }
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&plain);
        STANDARD_NO_PAD.encode(out)
    }

    /// The pin a cookie value holds; None when it is garbled, URL-encoded or from elsewhere.
    pub fn open(&self, value: &str) -> Option<Pin> {
        let raw = STANDARD_NO_PAD.decode(value.trim_end_matches('=')).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .as_ref()?
            .open_in_place(nonce, Aad::empty(), &mut sealed)
            .ok()?;
        let (&kind, rest) = plain.split_first()?;
        let group = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        let rest = rest.get(4..)?;
        let (&family, rest) = rest.split_first()?;
        let (ip, rest): (IpAddr, &[u8]) = match family {
            4 => (
                Ipv4Addr::from(<[u8; 4]>::try_from(rest.get(..4)?).ok()?).into(),
                rest.get(4..)?,
            ),
            6 => (
                Ipv6Addr::from(<[u8; 16]>::try_from(rest.get(..16)?).ok()?).into(),
                rest.get(16..)?,
            ),
            _ => return None,
        };
        let port = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?);
        Some(Pin {
            kind,
            group,
            addr: SocketAddr::new(ip, port),
        })
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

/// The first value of cookie `name` in the request's `Cookie` headers.
pub fn find<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Whether a response's `Set-Cookie` headers set cookie `name`.
pub fn response_sets(h: &HeaderMap, name: &str) -> bool {
    h.get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .any(|(k, _)| k.trim() == name)
}

/// A `Set-Cookie` value: `NAME=VALUE; Expires=<HTTP date>; Path=/`, plus `SameSite=None; Secure`
/// for the CORS twins.
pub fn set_cookie(
    name: &str,
    value: &str,
    now: SystemTime,
    duration: Duration,
    cors: bool,
) -> String {
    let expires = httpdate::fmt_http_date(now + duration);
    let mut s = format!("{name}={value}; Expires={expires}; Path=/");
    if cors {
        s.push_str("; SameSite=None; Secure");
    }
    s
}

/// Appends the cookie and its CORS twin to a response.
pub fn append_pair(h: &mut HeaderMap, names: (&str, &str), value: &str, duration: Duration) {
    let now = SystemTime::now();
    for (name, cors) in [(names.0, false), (names.1, true)] {
        if let Ok(v) = HeaderValue::from_str(&set_cookie(name, value, now, duration, cors)) {
            h.append(http::header::SET_COOKIE, v);
        }
    }
}

/// Appends `AWSALBAPP-0` with the value and `AWSALBAPP-1..3` emptied (`_remove_`), as ALB does.
pub fn append_app(h: &mut HeaderMap, value: &str, duration: Duration) {
    let now = SystemTime::now();
    for (i, name) in APP.iter().enumerate() {
        let v = if i == 0 { value } else { "_remove_" };
        if let Ok(v) = HeaderValue::from_str(&set_cookie(name, v, now, duration, false)) {
            h.append(http::header::SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(kind: u8, group: u32, addr: &str) -> Pin {
        Pin {
            kind,
            group,
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn round_trips() {
        let c = Codec::with_key([1; 32]);
        for p in [
            pin(Pin::LB, 0, "127.0.0.1:9101"),
            pin(Pin::APP, 7, "[::1]:80"),
            pin(Pin::GROUP, 2, "0.0.0.0:0"),
        ] {
            let v = c.seal(&p);
            assert!(
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
                "{v}"
            );
            assert_eq!(c.open(&v), Some(p));
        }
    }

    #[test]
    fn values_are_opaque_and_fresh() {
        let c = Codec::with_key([1; 32]);
        let p = pin(Pin::LB, 0, "127.0.0.1:9101");
        let (a, b) = (c.seal(&p), c.seal(&p));
        assert_ne!(a, b);
        assert!(!a.contains("9101") && !a.contains("127"));
    }

    #[test]
    fn garbage_does_not_open() {
        let c = Codec::with_key([1; 32]);
        let good = c.seal(&pin(Pin::LB, 0, "127.0.0.1:9101"));
        let url_encoded = good.replace('+', "%2B").replace('/', "%2F") + "%3D";
        let mut flipped = good.clone().into_bytes();
        flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
        let other_key = Codec::with_key([2; 32]).seal(&pin(Pin::LB, 0, "127.0.0.1:9101"));
        let cases = [
            "",
            "garbage",
            "AAAA",
            &url_encoded,
            &String::from_utf8(flipped).unwrap(),
            &other_key,
            &good[..good.len() - 3],
        ];
        for v in cases {
            assert_eq!(c.open(v), None, "{v}");
        }
    }

    #[test]
    fn finds_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("a=1; AWSALB=xyz; AWSALBCORS=abc"),
        );
        h.append("cookie", HeaderValue::from_static("session=\"s1\""));
        let cases = [
            ("AWSALB", Some("xyz")),
            ("AWSALBCORS", Some("abc")),
            ("session", Some("s1")),
            ("AWSALBTG", None),
            ("a", Some("1")),
        ];
        for (name, want) in cases {
            assert_eq!(find(&h, name), want, "{name}");
        }
    }

    #[test]
    fn set_cookie_lines() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            set_cookie("AWSALB", "v", now, Duration::from_secs(86_400), false),
            "AWSALB=v; Expires=Wed, 15 Nov 2023 22:13:20 GMT; Path=/"
        );
        assert_eq!(
            set_cookie("AWSALBCORS", "v", now, Duration::from_secs(60), true),
            "AWSALBCORS=v; Expires=Tue, 14 Nov 2023 22:14:20 GMT; Path=/; SameSite=None; Secure"
        );
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("sid=1; Path=/"));
        assert!(response_sets(&h, "sid"));
        assert!(!response_sets(&h, "Path"));
        append_app(&mut h, "v", Duration::from_secs(1));
        assert_eq!(h.get_all("set-cookie").iter().count(), 5);
    }
}
