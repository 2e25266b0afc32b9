//! HTTP/1.1 on the wire for the viewer side: request heads parsed with `httparse` into `http`
//! types whose values share the read buffer, and response heads written with the framing
//! RFC 9112 §6 asks for, the way hyper's server writes them (so the switch is invisible).

use crate::request_body::RequestBody;
use crate::wire::has_token;
use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, Version};
use std::mem::MaybeUninit;

/// The most header fields a request edgeway parses itself may have (hyper's default); more go
/// to hyper, which answers them.
const MAX_HEADERS: usize = 100;
/// hyper's longest request target.
const MAX_TARGET: usize = u16::MAX as usize - 1;

/// Where a field's name and value lie in the head.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// What a request means for its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub head: bool,
    pub http10: bool,
    /// Whether the request lets the connection carry another one.
    pub keep_alive: bool,
}

/// What the front of the read buffer holds.
#[derive(Debug)]
// Returned once per request and taken apart at once: boxing the request would cost an
// allocation a request for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    /// Not a whole head yet.
    Partial,
    Request(Request<RequestBody>, Facts),
    /// Content, an upgrade, `Expect`, CONNECT, or anything malformed: hyper serves the connection
    /// from here on, starting with these bytes.
    Hyper,
}

/// Whether a field name is `want` (lower case), ignoring case.
fn is(name: &str, want: &str) -> bool {
    name.len() == want.len() && name.as_bytes().eq_ignore_ascii_case(want.as_bytes())
}

fn lists(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Parses the request head at the front of `buf`. A request edgeway serves itself is split off
/// `buf`; on `Hyper`, `buf` is left whole. `spans` is scratch space kept by the connection, and
/// `spare` the header map of its last response (emptied), which the request's fields reuse.
pub(crate) fn parse_request(
    buf: &mut BytesMut,
    spans: &mut Vec<Span>,
    spare: &mut Option<HeaderMap>,
) -> Parsed {
    spans.clear();
    let (len, method, target, http10, keep_alive) = {
        // Uninitialized slots: no 3 KiB of empty fields written before every parse.
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut r = httparse::Request::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut r,
            buf,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(_) => return Parsed::Hyper,
        };
        let Some(method) = r.method.and_then(|m| Method::from_bytes(m.as_bytes()).ok()) else {
            return Parsed::Hyper;
        };
        let path = r.path.unwrap_or_default();
        if method == Method::CONNECT || path.len() > MAX_TARGET {
            return Parsed::Hyper;
        }
        let http10 = r.version != Some(1);
        let (mut close, mut keep, mut length) = (false, false, false);
        let base = buf.as_ptr() as usize;
        let at = |s: &[u8]| {
            let start = s.as_ptr() as usize - base;
            (start as u32, (start + s.len()) as u32)
        };
        for f in r.headers.iter() {
            let name = f.name;
            if is(name, "content-length") {
                // Only a single `Content-Length: 0`; repeats go to hyper, which folds equal ones
                // and refuses differing ones.
                if f.value != b"0" || length {
                    return Parsed::Hyper;
                }
                length = true;
            } else if is(name, "transfer-encoding") || is(name, "upgrade") || is(name, "expect") {
                return Parsed::Hyper;
            } else if is(name, "connection") {
                close |= lists(f.value, b"close");
                keep |= lists(f.value, b"keep-alive");
            }
            spans.push(Span {
                name: at(name.as_bytes()),
                value: at(f.value),
            });
        }
        let keep_alive = !close && (!http10 || keep);
        (len, method, at(path.as_bytes()), http10, keep_alive)
    };
    if buf.len() > u32::MAX as usize {
        return Parsed::Hyper;
    }
    let head = buf.split_to(len).freeze();
    let Some(req) = build(&head, method, target, spans, http10, spare.take()) else {
        // A field or target `http` refuses: give the bytes back for hyper to answer.
        let mut whole = BytesMut::with_capacity(head.len() + buf.len());
        whole.extend_from_slice(&head);
        whole.extend_from_slice(buf);
        *buf = whole;
        return Parsed::Hyper;
    };
    let facts = Facts {
        head: req.method() == Method::HEAD,
        http10,
        keep_alive,
    };
    Parsed::Request(req, facts)
}

fn slice(head: &Bytes, (start, end): (u32, u32)) -> Bytes {
    head.slice(start as usize..end as usize)
}

fn build(
    head: &Bytes,
    method: Method,
    target: (u32, u32),
    spans: &[Span],
    http10: bool,
    spare: Option<HeaderMap>,
) -> Option<Request<RequestBody>> {
    let uri = Uri::from_maybe_shared(slice(head, target)).ok()?;
    // Room for what the tiers add (X-Forwarded-*, X-Amzn-Trace-Id, Via) without a regrow.
    let mut headers = spare.unwrap_or_default();
    headers.reserve(spans.len() + 6);
    for s in spans {
        let name = crate::header_names::parse(&head[s.name.0 as usize..s.name.1 as usize]).ok()?;
        let value = HeaderValue::from_maybe_shared(slice(head, s.value)).ok()?;
        headers.append(name, value);
    }
    let mut req = Request::new(RequestBody::empty());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = if http10 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    *req.headers_mut() = headers;
    Some(req)
}

/// What the response body is known to be before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// Already at its end.
    Empty,
    Known(u64),
    Unknown,
}

/// How the response body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoder {
    Length(u64),
    Chunked,
    /// Until the connection closes (HTTP/1.0, unknown length).
    Close,
}

/// Writes the response head into `out` and says how its body is framed and whether the
/// connection stays open after it. `keep_alive`: whether the request and the server allow it.
pub(crate) fn encode_head(
    out: &mut BytesMut,
    status: StatusCode,
    headers: &HeaderMap,
    body: BodyLength,
    req: Facts,
    mut keep_alive: bool,
) -> (Encoder, bool) {
    // A final 1xx cannot be sent (hyper answers 500 the same way).
    let status = if status.is_informational() {
        return encode_head(
            out,
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            BodyLength::Empty,
            req,
            false,
        );
    } else {
        status
    };
    if !req.http10 && status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(if req.http10 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        out.extend_from_slice(status.as_str().as_bytes());
        out.extend_from_slice(b" ");
        out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let says_close = has_token(headers, &CONNECTION, "close");
    keep_alive &= !says_close;
    let no_content = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let can_body = !req.head && !no_content;
    let can_chunk = can_body && !req.http10;
    let mut encoder = Encoder::Length(0);
    let mut wrote_len = false;
    let mut wrote_date = false;
    let mut last_te: Option<&HeaderValue> = None;
    for (name, value) in headers {
        if *name == CONTENT_LENGTH {
            match body {
                BodyLength::Known(n) if !wrote_len => encoder = Encoder::Length(n),
                BodyLength::Unknown if !wrote_len => match parse_length(value) {
                    Some(n) => encoder = Encoder::Length(n),
                    None => continue,
                },
                // A response to HEAD says the length of what GET would send.
                BodyLength::Empty if req.head && !wrote_len => {}
                _ => continue,
            }
            wrote_len = true;
        } else if *name == TRANSFER_ENCODING {
            if !can_chunk {
                continue;
            }
            wrote_len = true;
            encoder = Encoder::Chunked;
            last_te = Some(value);
        } else if *name == DATE {
            wrote_date = true;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(te) = last_te {
        // `chunked` must be the last coding.
        if !te
            .as_bytes()
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
    }
    if !wrote_len {
        encoder = match body {
            BodyLength::Unknown if can_chunk => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Encoder::Chunked
            }
            BodyLength::Unknown => Encoder::Close,
            BodyLength::Empty | BodyLength::Known(0) => {
                if !req.head && !no_content {
                    out.extend_from_slice(b"content-length: 0\r\n");
                }
                Encoder::Length(0)
            }
            BodyLength::Known(n) => {
                if !no_content {
                    out.extend_from_slice(b"content-length: ");
                    out.extend_from_slice(itoa(n, &mut [0u8; 20]));
                    out.extend_from_slice(b"\r\n");
                }
                Encoder::Length(n)
            }
        };
    }
    if !can_body {
        encoder = Encoder::Length(0);
    }
    if encoder == Encoder::Close && can_body {
        keep_alive = false;
    }
    if req.http10 {
        // An HTTP/1.0 client that asked to keep the connection is told it is kept.
        if keep_alive && !has_token(headers, &CONNECTION, "keep-alive") {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
    } else if !keep_alive && !says_close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    if !wrote_date {
        out.extend_from_slice(b"date: ");
        crate::date::extend(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (encoder, keep_alive)
}

fn parse_length(v: &HeaderValue) -> Option<u64> {
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// `n` in decimal, written into the end of `buf`.
pub(crate) fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(wire: &str) -> (Parsed, BytesMut) {
        let mut buf = BytesMut::from(wire.as_bytes());
        let p = parse_request(&mut buf, &mut Vec::new(), &mut None);
        (p, buf)
    }

    #[test]
    fn request_heads() {
        let (p, rest) = parse(
            "GET /a?b=c HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nX-A: y\r\ncookie: b=2\r\n\r\nGET /next",
        );
        let Parsed::Request(req, facts) = p else {
            panic!("{p:?}")
        };
        assert_eq!(&rest[..], b"GET /next");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri(), "/a?b=c");
        assert_eq!(req.version(), Version::HTTP_11);
        assert_eq!(req.headers()["host"], "x");
        let cookies: Vec<_> = req.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(
            facts,
            Facts {
                head: false,
                http10: false,
                keep_alive: true
            }
        );
        let rows: &[(&str, bool, bool)] = &[
            ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, false),
            (
                "HEAD / HTTP/1.1\r\nConnection: x, Close\r\n\r\n",
                false,
                false,
            ),
            ("GET / HTTP/1.0\r\n\r\n", true, false),
            (
                "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                true,
                true,
            ),
            (
                "DELETE / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                false,
                true,
            ),
        ];
        for (wire, http10, keep_alive) in rows {
            let Parsed::Request(_, f) = parse(wire).0 else {
                panic!("{wire}")
            };
            assert_eq!((f.http10, f.keep_alive), (*http10, *keep_alive), "{wire}");
        }
    }

    #[test]
    fn hyper_takes_what_edgeway_does_not_serve_and_gets_every_byte() {
        for wire in [
            "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nbad header line\r\n\r\n",
            "GET / HTTP/1.1\r\nx: \x01\r\n\r\n",
            "DELETE / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        ] {
            let (p, rest) = parse(wire);
            assert!(matches!(p, Parsed::Hyper), "{wire}: {p:?}");
            assert_eq!(&rest[..], wire.as_bytes());
        }
        assert!(matches!(
            parse("GET / HTTP/1.1\r\nHost: x\r\n").0,
            Parsed::Partial
        ));
    }

    fn head(
        status: u16,
        headers: &[(&str, &str)],
        body: BodyLength,
        req: Facts,
    ) -> (String, Encoder, bool) {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut out = BytesMut::new();
        let (enc, keep) = encode_head(
            &mut out,
            StatusCode::from_u16(status).unwrap(),
            &map,
            body,
            req,
            req.keep_alive,
        );
        let text = String::from_utf8(out.to_vec()).unwrap();
        // The date varies: cut it out.
        let at = text.find("date: ").unwrap();
        let text = format!("{}{}", &text[..at], &text[at + 6 + 29 + 2..]);
        (text, enc, keep)
    }

    const GET: Facts = Facts {
        head: false,
        http10: false,
        keep_alive: true,
    };

    #[test]
    fn response_heads() {
        assert_eq!(
            head(200, &[("x-a", "1")], BodyLength::Known(5), GET),
            (
                "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\n\r\n".into(),
                Encoder::Length(5),
                true
            )
        );
        assert_eq!(
            head(404, &[("content-length", "7")], BodyLength::Unknown, GET),
            (
                "HTTP/1.1 404 Not Found\r\ncontent-length: 7\r\n\r\n".into(),
                Encoder::Length(7),
                true
            )
        );
        assert_eq!(
            head(200, &[], BodyLength::Unknown, GET),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".into(),
                Encoder::Chunked,
                true
            )
        );
        assert_eq!(
            head(200, &[], BodyLength::Empty, GET),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".into(),
                Encoder::Length(0),
                true
            )
        );
        let head_req = Facts { head: true, ..GET };
        assert_eq!(
            head(200, &[("content-length", "9")], BodyLength::Empty, head_req),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n".into(),
                Encoder::Length(0),
                true
            )
        );
        assert_eq!(
            head(304, &[("etag", "\"a\"")], BodyLength::Empty, GET),
            (
                "HTTP/1.1 304 Not Modified\r\netag: \"a\"\r\n\r\n".into(),
                Encoder::Length(0),
                true
            )
        );
        assert_eq!(
            head(200, &[("connection", "close")], BodyLength::Known(1), GET),
            (
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n".into(),
                Encoder::Length(1),
                false
            )
        );
        let closing = Facts {
            keep_alive: false,
            ..GET
        };
        assert_eq!(
            head(200, &[], BodyLength::Known(1), closing),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n".into(),
                Encoder::Length(1),
                false
            )
        );
        let old = Facts {
            http10: true,
            ..GET
        };
        assert_eq!(
            head(200, &[], BodyLength::Unknown, old),
            ("HTTP/1.0 200 OK\r\n\r\n".into(), Encoder::Close, false)
        );
        assert_eq!(
            head(
                200,
                &[("transfer-encoding", "gzip")],
                BodyLength::Unknown,
                GET
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
                    .into(),
                Encoder::Chunked,
                true
            )
        );
        assert_eq!(
            head(103, &[], BodyLength::Empty, GET).0,
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn decimal() {
        for n in [0u64, 7, 10, 1234, u64::MAX] {
            assert_eq!(itoa(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
