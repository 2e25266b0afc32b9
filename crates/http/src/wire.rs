//! HTTP/1.1 on the wire for the upstream fast path (requests without a body): the request head
//! written in one buffer, the response head parsed with `httparse` into `http` types whose values
//! share one buffer, and the response body's framing decided as RFC 9112 §6.3 says.

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{
    request, response, HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Version,
};

/// The most header fields an upstream response may have.
const MAX_HEADERS: usize = 128;
/// The largest upstream response head accepted (502 beyond).
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes the connection.
    Close,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub parts: response::Parts,
    pub framing: Framing,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Whether `name`'s values list `token` (comma-separated, case-insensitive).
pub(crate) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Methods whose requests are expected to carry content: an empty one is sent as
/// `Content-Length: 0` (RFC 9110 §8.6).
fn expects_content(m: &Method) -> bool {
    !matches!(
        *m,
        Method::GET
            | Method::HEAD
            | Method::DELETE
            | Method::OPTIONS
            | Method::TRACE
            | Method::CONNECT
    )
}

/// Writes the head of a request without content: origin-form target, `Host` first (from the
/// request, else `host`), the other fields as given except framing fields.
pub(crate) fn encode_request(
    parts: &request::Parts,
    host: Option<&HeaderValue>,
    out: &mut BytesMut,
) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(if target.is_empty() {
        b"/"
    } else {
        target.as_bytes()
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(h) = parts.headers.get(HOST).or(host) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &parts.headers {
        if name == HOST || name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if expects_content(&parts.method) {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses a response head from the front of `buf`, skipping interim (1xx) responses. `Ok(None)`:
/// not all of it has arrived yet. The head's fields go into `reuse` (cleared first; the request's
/// own header map, whose allocation is no longer needed once the response begins), and their
/// values are slices of the head split off `buf`, without a copy.
pub(crate) fn parse_head(
    buf: &mut BytesMut,
    method: &Method,
    reuse: &mut HeaderMap,
) -> Result<Option<Head>, String> {
    loop {
        let Some(line) = parse_one(buf)? else {
            if buf.len() > MAX_HEAD {
                return Err(format!("response head larger than {MAX_HEAD} bytes"));
            }
            return Ok(None);
        };
        let status = line.status;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(
                    "101 Switching Protocols to a request that asked for no upgrade".into(),
                );
            }
            let _ = buf.split_to(line.len);
            continue;
        }
        let shared = buf.split_to(line.len).freeze();
        let mut headers = std::mem::take(reuse);
        headers.clear();
        // Room for what the tiers add (Via, X-Cache, X-Amz-Cf-*, Age, cookies) without a regrow.
        headers.reserve(line.fields.len() + 8);
        let mut add = |name: HeaderName, f: &Field| {
            let value = HeaderValue::from_maybe_shared(shared.slice(f.value.0..f.value.1))
                .map_err(|_| format!("invalid value in {name}"))?;
            headers.append(name, value);
            Ok::<(), String>(())
        };
        // The names of a head shaped like a recent one are known already.
        match crate::head_shape::with_names(&shared, &line.fields, |n, f| add(n.clone(), f)) {
            Some(done) => done?,
            None => {
                let mut names = Vec::with_capacity(line.fields.len());
                for f in &line.fields {
                    let name = crate::header_names::parse(&shared[f.name.0..f.name.1])
                        .map_err(|_| "invalid header name".to_string())?;
                    names.push(name.clone());
                    add(name, f)?;
                }
                crate::head_shape::keep(&shared, &line.fields, names);
            }
        }
        let (mut head, ()) = Response::new(()).into_parts();
        head.status = status;
        head.version = line.version;
        head.headers = headers;
        let framing = framing(method, status, &head.headers)?;
        // Transfer-Encoding with Content-Length is a framing conflict: read it, then close.
        let conflict = head.headers.contains_key(TRANSFER_ENCODING)
            && head.headers.contains_key(CONTENT_LENGTH);
        let keep_alive = framing != Framing::Close
            && !conflict
            && if head.version == Version::HTTP_11 {
                !has_token(&head.headers, &CONNECTION, "close")
            } else {
                has_token(&head.headers, &CONNECTION, "keep-alive")
            };
        return Ok(Some(Head {
            parts: head,
            framing,
            keep_alive,
        }));
    }
}

/// Where a field's name and value lie in a head.
pub(crate) struct Field {
    pub(crate) name: (usize, usize),
    pub(crate) value: (usize, usize),
}

/// A parsed status line and where its fields lie.
struct Line {
    status: StatusCode,
    version: Version,
    fields: Vec<Field>,
    /// The head's length in bytes.
    len: usize,
}

/// One head at the front of `buf`, or `None` when it has not all arrived.
fn parse_one(buf: &BytesMut) -> Result<Option<Line>, String> {
    // Uninitialized slots: no 4 KiB of empty headers written before every parse.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut r, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("invalid response head: {e}")),
    };
    let code = r.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| format!("invalid status code {code}"))?;
    let version = if r.version == Some(1) {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let base = buf.as_ptr() as usize;
    let at = |s: &[u8]| {
        let start = s.as_ptr() as usize - base;
        (start, start + s.len())
    };
    let fields = r
        .headers
        .iter()
        .map(|f| Field {
            name: at(f.name.as_bytes()),
            value: at(f.value),
        })
        .collect();
    Ok(Some(Line {
        status,
        version,
        fields,
        len,
    }))
}

/// RFC 9112 §6.3: how the body of a response to `method` with `status` is delimited.
fn framing(method: &Method, status: StatusCode, h: &HeaderMap) -> Result<Framing, String> {
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if let Some(last) = h.get_all(TRANSFER_ENCODING).iter().next_back() {
        let chunked_last = last
            .as_bytes()
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        return Ok(if chunked_last {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    let mut length: Option<u64> = None;
    for v in h.get_all(CONTENT_LENGTH) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Err("invalid Content-Length".into());
            }
            let n = part.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if length.is_some_and(|l| l != n) {
                return Err("differing Content-Length values".into());
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn head(wire: &str, method: Method) -> Result<Option<Head>, String> {
        parse_head(
            &mut BytesMut::from(wire.as_bytes()),
            &method,
            &mut HeaderMap::new(),
        )
    }

    #[test]
    fn request_heads() {
        let (mut parts, ()) = http::Request::get("http://o.example:8080/a/b?c=d")
            .header("x-one", "1")
            .header("content-length", "5")
            .header("x-one", "2")
            .body(())
            .unwrap()
            .into_parts();
        let mut out = BytesMut::new();
        encode_request(
            &parts,
            Some(&HeaderValue::from_static("o.example:8080")),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out.to_vec()).unwrap(),
            "GET /a/b?c=d HTTP/1.1\r\nhost: o.example:8080\r\nx-one: 1\r\nx-one: 2\r\n\r\n"
        );
        parts.method = Method::POST;
        parts
            .headers
            .insert(HOST, HeaderValue::from_static("viewer.example"));
        let mut out = BytesMut::new();
        encode_request(&parts, Some(&HeaderValue::from_static("ignored")), &mut out);
        assert_eq!(
            String::from_utf8(out.to_vec()).unwrap(),
            "POST /a/b?c=d HTTP/1.1\r\nhost: viewer.example\r\nx-one: 1\r\nx-one: 2\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn response_heads_and_framing() {
        let h = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
            Method::GET,
        )
        .unwrap()
        .unwrap();
        assert_eq!(h.parts.status, 200);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.parts.headers["x-a"], "b");

        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Method::GET,
        );
        assert_eq!(h.unwrap().unwrap().framing, Framing::Chunked);
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Method::GET,
        );
        let h = h.unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        // Both: Transfer-Encoding wins and the connection is not reused.
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            Method::GET,
        );
        let h = h.unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = head("HTTP/1.1 200 OK\r\n\r\n", Method::GET)
            .unwrap()
            .unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", Method::HEAD);
        assert_eq!(h.unwrap().unwrap().framing, Framing::Empty);
        let h = head(
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            Method::GET,
        );
        assert_eq!(h.unwrap().unwrap().framing, Framing::Empty);
        let h = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n",
            Method::GET,
        );
        assert_eq!(h.unwrap().unwrap().framing, Framing::Length(7));
        let h = head(
            "HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 1\r\n\r\n",
            Method::GET,
        );
        assert!(!h.unwrap().unwrap().keep_alive);
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", Method::GET);
        assert!(!h.unwrap().unwrap().keep_alive);
        let h = head(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
            Method::GET,
        );
        assert!(h.unwrap().unwrap().keep_alive);
    }

    #[test]
    fn heads_shaped_like_a_recent_one_parse_the_same() {
        let fields = |h: &Head| -> Vec<(String, String)> {
            h.parts
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                .collect()
        };
        let heads = [
            "HTTP/1.1 200 OK\r\nServer: s\r\nSet-Cookie: a=1\r\nX-Odd: y\r\nSet-Cookie: b=2\r\nContent-Length: 1\r\n\r\n",
            // Same names, other values; then other cases, fewer and more fields.
            "HTTP/1.1 200 OK\r\nServer: t\r\nSet-Cookie: c=3\r\nX-Odd: z\r\nSet-Cookie: d=4\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nSERVER: t\r\nset-cookie: c=3\r\nx-odd: z\r\nSet-Cookie: d=4\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nServer: t\r\nSet-Cookie: c=3\r\nX-Odd: z\r\nSet-Cookie: d=4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nServer: t\r\nSet-Cookie: c=3\r\nX-Odd: z\r\nSet-Cookie: d=4\r\nContent-Length: 2\r\nX-More: m\r\n\r\n",
        ];
        for wire in heads {
            // The first parse keeps the shape, the second takes its names from it.
            let first = head(wire, Method::GET).unwrap().unwrap();
            let second = head(wire, Method::GET).unwrap().unwrap();
            assert_eq!(fields(&first), fields(&second), "{wire:?}");
            assert_eq!(first.framing, second.framing);
            let want: Vec<(String, String)> = wire
                .split("\r\n")
                .skip(1)
                .filter_map(|l| l.split_once(": "))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                .collect();
            let mut got = fields(&second);
            let mut want_sorted = want.clone();
            got.sort();
            want_sorted.sort();
            assert_eq!(got, want_sorted, "{wire:?}");
            let cookies: Vec<_> = second.parts.headers.get_all("set-cookie").iter().collect();
            assert_eq!(cookies.len(), 2, "{wire:?}");
        }
        // A value that is not a field value fails the same either way.
        let bad = "HTTP/1.1 200 OK\r\nServer: t\r\nSet-Cookie: c=3\r\nX-Odd: \x7f\r\nSet-Cookie: d=4\r\nContent-Length: 2\r\n\r\n";
        assert!(head(bad, Method::GET).is_err());
    }

    #[test]
    fn interim_responses_are_skipped() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nrest"[..]);
        let h = parse_head(&mut buf, &Method::GET, &mut HeaderMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(h.parts.status, 204);
        assert_eq!(&buf[..], b"rest");
    }

    #[test]
    fn partial_and_bad_heads() {
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le", Method::GET)
            .unwrap()
            .is_none());
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            "NOTHTTP\r\n\r\n",
        ] {
            assert!(head(bad, Method::GET).is_err(), "{bad:?}");
        }
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}", "v".repeat(MAX_HEAD));
        assert!(head(&huge, Method::GET).is_err());
    }
}
