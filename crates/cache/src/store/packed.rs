//! The memory tier's form of an entry: one shared buffer instead of a [`CachedResponse`].
//!
//! A `CachedResponse` costs 272 bytes of struct (its `HeaderMap` alone is 96, its `Freshness`
//! 88) plus about 104 bytes per header in the `HeaderMap`'s buckets, and its header
//! values are whatever buffers they were cut from (with hyper, the origin connection's whole
//! 8 KiB read buffer). For small objects that is several times the object itself. So the memory
//! tier keeps each entry as a [`Packed`]: the weight, status, freshness, `Vary`, secondary key,
//! header names and values and (up to [`INLINE_BODY_MAX`]) the body, encoded into one
//! exact-size `Arc<[u8]>`; a larger body stays a separate [`Bytes`] (not copied). A hit unpacks
//! it into a new `CachedResponse` whose header values and body are slices of that one buffer
//! (no copy). `docs/performance.md`, "Cache index overhead per object", has the numbers.
//!
//! Layout (integers as LEB128 varints, a duration as seconds then nanoseconds):
//!
//! ```text
//! weight (CachedResponse::weight without the key)
//! status (u16, little endian) · flags (u8)
//! lifetime · initial_age · response_time since (or, flag 0x10, before) the epoch
//! · stale_while_revalidate · [stale_if_error when flag 0x08]
//! [Vary names, when flags & 0x60 == 0x40: count, then length + bytes each]
//! secondary key: length + bytes
//! headers: count, then each in map order: the name (a one-byte code for the `http` crate's
//!   standard names, else 0, length and bytes), value length, value
//! the body, when it is inline (everything up to the end)
//! ```

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

use super::{CachedResponse, EntryKind};
use crate::freshness::Freshness;
use crate::vary::VarySpec;

/// Bodies up to this size are copied into the entry's buffer; larger ones are kept as they are.
pub(crate) const INLINE_BODY_MAX: usize = 16 * 1024;

const VARY_MARKER: u8 = 0x01;
const MUST_REVALIDATE: u8 = 0x02;
const NO_CACHE: u8 = 0x04;
const STALE_IF_ERROR: u8 = 0x08;
const BEFORE_EPOCH: u8 = 0x10;
const VARY_MASK: u8 = 0x60;
const VARY_ANY: u8 = 0x20;
const VARY_HEADERS: u8 = 0x40;

/// Header names stored as a one-byte code (its index + 1; 0 is a name spelled out): every
/// standard name of the `http` crate, so that a hit clones a constant instead of parsing.
static NAMES: [HeaderName; 81] = [
    header::ACCEPT,
    header::ACCEPT_CHARSET,
    header::ACCEPT_ENCODING,
    header::ACCEPT_LANGUAGE,
    header::ACCEPT_RANGES,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
    header::ACCESS_CONTROL_REQUEST_HEADERS,
    header::ACCESS_CONTROL_REQUEST_METHOD,
    header::AGE,
    header::ALLOW,
    header::ALT_SVC,
    header::AUTHORIZATION,
    header::CACHE_CONTROL,
    header::CACHE_STATUS,
    header::CDN_CACHE_CONTROL,
    header::CONNECTION,
    header::CONTENT_DISPOSITION,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LENGTH,
    header::CONTENT_LOCATION,
    header::CONTENT_RANGE,
    header::CONTENT_SECURITY_POLICY,
    header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
    header::CONTENT_TYPE,
    header::COOKIE,
    header::DNT,
    header::DATE,
    header::ETAG,
    header::EXPECT,
    header::EXPIRES,
    header::FORWARDED,
    header::FROM,
    header::HOST,
    header::IF_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_NONE_MATCH,
    header::IF_RANGE,
    header::IF_UNMODIFIED_SINCE,
    header::LAST_MODIFIED,
    header::LINK,
    header::LOCATION,
    header::MAX_FORWARDS,
    header::ORIGIN,
    header::PRAGMA,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::PUBLIC_KEY_PINS,
    header::PUBLIC_KEY_PINS_REPORT_ONLY,
    header::RANGE,
    header::REFERER,
    header::REFERRER_POLICY,
    header::REFRESH,
    header::RETRY_AFTER,
    header::SEC_WEBSOCKET_ACCEPT,
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_VERSION,
    header::SERVER,
    header::SET_COOKIE,
    header::STRICT_TRANSPORT_SECURITY,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::USER_AGENT,
    header::UPGRADE,
    header::UPGRADE_INSECURE_REQUESTS,
    header::VARY,
    header::VIA,
    header::WARNING,
    header::WWW_AUTHENTICATE,
    header::X_CONTENT_TYPE_OPTIONS,
    header::X_DNS_PREFETCH_CONTROL,
    header::X_FRAME_OPTIONS,
    header::X_XSS_PROTECTION,
];

/// One memory-tier entry. Cloning it (what the cache does on every hit) bumps one or two
/// reference counts.
#[derive(Clone, Debug)]
pub(crate) struct Packed {
    data: Arc<[u8]>,
    /// The body when it is larger than [`INLINE_BODY_MAX`].
    body: Option<Arc<Bytes>>,
}

impl Packed {
    /// Packs `e`, whose [`CachedResponse::weight`] without the key is `weight`; `None` when a
    /// header value holds a byte `HeaderValue` refuses (one built unchecked), since it could not
    /// be unpacked again.
    pub(crate) fn new(e: &CachedResponse, weight: u64) -> Option<Packed> {
        let valid = |v: &HeaderValue| {
            v.as_bytes()
                .iter()
                .all(|&b| (b >= 32 && b != 127) || b == b'\t')
        };
        if !e.headers.values().all(valid) {
            return None;
        }
        let inline = e.body.len() <= INLINE_BODY_MAX;
        let headers: usize = e
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        let vary: usize = e.vary.names().iter().map(|n| n.len() + 2).sum();
        let mut w = Vec::with_capacity(
            64 + headers + vary + e.secondary_key.len() + if inline { e.body.len() } else { 0 },
        );
        put_varint(&mut w, weight);
        w.extend_from_slice(&e.status.as_u16().to_le_bytes());
        let f = &e.freshness;
        let (since_epoch, before_epoch) = match f.response_time.duration_since(UNIX_EPOCH) {
            Ok(d) => (d, false),
            Err(err) => (err.duration(), true),
        };
        let mut flags = 0;
        for (set, bit) in [
            (e.kind == EntryKind::VaryMarker, VARY_MARKER),
            (f.must_revalidate, MUST_REVALIDATE),
            (f.no_cache, NO_CACHE),
            (f.stale_if_error.is_some(), STALE_IF_ERROR),
            (before_epoch, BEFORE_EPOCH),
        ] {
            if set {
                flags |= bit;
            }
        }
        flags |= match e.vary {
            VarySpec::None => 0,
            VarySpec::Any => VARY_ANY,
            VarySpec::Headers(_) => VARY_HEADERS,
        };
        w.push(flags);
        for d in [
            f.lifetime,
            f.initial_age,
            since_epoch,
            f.stale_while_revalidate,
        ] {
            put_duration(&mut w, d);
        }
        if let Some(d) = f.stale_if_error {
            put_duration(&mut w, d);
        }
        if let VarySpec::Headers(names) = &e.vary {
            put_varint(&mut w, names.len() as u64);
            for n in names {
                put_bytes(&mut w, n.as_bytes());
            }
        }
        put_bytes(&mut w, e.secondary_key.as_bytes());
        put_varint(&mut w, e.headers.len() as u64);
        for (name, value) in &e.headers {
            match NAMES.iter().position(|n| n == name) {
                Some(i) => w.push(i as u8 + 1),
                None => {
                    w.push(0);
                    put_bytes(&mut w, name.as_str().as_bytes());
                }
            }
            put_bytes(&mut w, value.as_bytes());
        }
        let body = if inline {
            w.extend_from_slice(&e.body);
            None
        } else {
            Some(Arc::new(e.body.clone()))
        };
        Some(Packed {
            data: Arc::from(w),
            body,
        })
    }

    /// Is `other` this very entry (the same buffer, not only equal bytes)?
    pub(crate) fn same(&self, other: &Packed) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// The weight given to [`Packed::new`].
    pub(crate) fn weight(&self) -> u64 {
        Reader {
            data: &self.data,
            at: 0,
        }
        .varint()
        .unwrap_or(0)
    }

    /// The response again; `None` if the buffer does not decode (it always does: every field
    /// was valid when it was packed).
    pub(crate) fn unpack(&self) -> Option<CachedResponse> {
        let mut r = Reader {
            data: &self.data,
            at: 0,
        };
        r.varint()?;
        let status = StatusCode::from_u16(u16::from_le_bytes(r.take(2)?.try_into().ok()?)).ok()?;
        let flags = r.u8()?;
        let lifetime = r.duration()?;
        let initial_age = r.duration()?;
        let since_epoch = r.duration()?;
        let response_time = if flags & BEFORE_EPOCH != 0 {
            UNIX_EPOCH.checked_sub(since_epoch)?
        } else {
            UNIX_EPOCH.checked_add(since_epoch)?
        };
        let stale_while_revalidate = r.duration()?;
        let stale_if_error = if flags & STALE_IF_ERROR != 0 {
            Some(r.duration()?)
        } else {
            None
        };
        let vary = match flags & VARY_MASK {
            0 => VarySpec::None,
            VARY_ANY => VarySpec::Any,
            VARY_HEADERS => {
                let n = r.len()?;
                let mut names = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    names.push(r.string()?);
                }
                VarySpec::Headers(names)
            }
            _ => return None,
        };
        let secondary_key = r.string()?;
        // The header values are slices of one `Bytes` that owns (a reference to) the buffer.
        let shared = Bytes::from_owner(self.data.clone());
        let n = r.len()?;
        let mut headers = HeaderMap::try_with_capacity(n.min(1024)).ok()?;
        for _ in 0..n {
            let name = match r.u8()? {
                0 => HeaderName::from_bytes(r.bytes()?).ok()?,
                code => NAMES.get(usize::from(code) - 1)?.clone(),
            };
            let len = r.len()?;
            let start = r.at;
            r.take(len)?;
            let value = HeaderValue::from_maybe_shared(shared.slice(start..start + len)).ok()?;
            headers.try_append(name, value).ok()?;
        }
        let body = match &self.body {
            Some(b) if r.at == self.data.len() => Bytes::clone(b),
            Some(_) => return None,
            None => shared.slice(r.at..),
        };
        Some(CachedResponse {
            status,
            headers,
            body,
            freshness: Freshness {
                lifetime,
                initial_age,
                response_time,
                stale_while_revalidate,
                stale_if_error,
                must_revalidate: flags & MUST_REVALIDATE != 0,
                no_cache: flags & NO_CACHE != 0,
            },
            kind: if flags & VARY_MARKER != 0 {
                EntryKind::VaryMarker
            } else {
                EntryKind::Response
            },
            vary,
            secondary_key,
        })
    }

    /// Heap bytes this entry holds beyond its slot in the cache (for tests).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        // Arc<[u8]>: two counters and the bytes; a separate body: its Arc and the bytes.
        16 + self.data.len() + self.body.as_ref().map_or(0, |b| 16 + 32 + b.len())
    }
}

fn put_varint(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

fn put_duration(w: &mut Vec<u8>, d: Duration) {
    put_varint(w, d.as_secs());
    put_varint(w, u64::from(d.subsec_nanos()));
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    put_varint(w, b.len() as u64);
    w.extend_from_slice(b);
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.data.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn varint(&mut self) -> Option<u64> {
        // Most numbers here (lengths, nanoseconds, small durations) take one byte.
        let first = *self.data.get(self.at)?;
        if first < 0x80 {
            self.at += 1;
            return Some(u64::from(first));
        }
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }

    fn duration(&mut self) -> Option<Duration> {
        let secs = self.varint()?;
        let nanos = u32::try_from(self.varint()?).ok()?;
        (nanos < 1_000_000_000).then(|| Duration::new(secs, nanos))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        let b = self.bytes()?;
        std::str::from_utf8(b).ok().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sample;

    fn round_trip(e: &CachedResponse) {
        let p = Packed::new(e, 12_345).unwrap();
        assert_eq!(p.weight(), 12_345);
        let got = p.unpack().expect("unpacks");
        assert_eq!(&got, e);
        // the same order of fields and values, not only the same map
        let order = |h: &HeaderMap| -> Vec<(String, Vec<u8>)> {
            h.iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(order(&got.headers), order(&e.headers));
    }

    #[test]
    fn round_trips_every_field() {
        let mut e = sample(b"hello");
        round_trip(&e);
        e.headers.insert(
            HeaderName::from_static("x-custom-thing"),
            HeaderValue::from_bytes(b"caf\xc3\xa9 \t tab").unwrap(),
        );
        e.headers
            .append("set-cookie", HeaderValue::from_static("c=3; Path=/"));
        e.headers.insert("x-empty", HeaderValue::from_static(""));
        e.vary = VarySpec::Headers(vec!["accept-encoding".into(), "x-lang".into()]);
        e.secondary_key = "accept-encoding:gzip\nx-lang\u{1}\n".into();
        e.freshness.stale_if_error = None;
        e.freshness.no_cache = true;
        e.freshness.must_revalidate = false;
        e.freshness.lifetime = Duration::new(u64::MAX, 999_999_999);
        round_trip(&e);
        e.vary = VarySpec::Any;
        e.status = StatusCode::from_u16(599).unwrap();
        e.freshness.response_time = UNIX_EPOCH - Duration::new(5, 7);
        e.freshness.stale_if_error = Some(Duration::from_secs(u64::MAX));
        round_trip(&e);
        round_trip(&CachedResponse::vary_marker(
            VarySpec::Headers(vec!["origin".into()]),
            e.freshness,
        ));
        let mut empty = sample(b"");
        empty.headers.clear();
        round_trip(&empty);
    }

    #[test]
    fn values_that_could_not_be_rebuilt_are_not_packed() {
        let mut e = sample(b"");
        e.headers
            .insert("x-ok", HeaderValue::from_bytes(b"a\tb \x80\xff").unwrap());
        assert!(Packed::new(&e, 1).is_some());
        // `HeaderValue` refuses these bytes; only an unchecked constructor could hold them
        for bad in [b"a\x7fb".as_slice(), b"a\x01b", b"a\nb"] {
            assert!(HeaderValue::from_bytes(bad).is_err());
        }
    }

    #[test]
    fn large_bodies_are_kept_not_copied() {
        let mut e = sample(b"");
        e.body = Bytes::from(vec![7u8; INLINE_BODY_MAX + 1]);
        let p = Packed::new(&e, 1).unwrap();
        assert!(p.data.len() < 200, "{}", p.data.len());
        let got = p.unpack().unwrap();
        assert_eq!(got, e);
        assert_eq!(got.body.as_ptr(), e.body.as_ptr(), "the same buffer");
        // the largest inline body is inline
        e.body = Bytes::from(vec![7u8; INLINE_BODY_MAX]);
        let p = Packed::new(&e, 1).unwrap();
        assert!(p.body.is_none());
        assert_eq!(p.unpack().unwrap(), e);
    }

    #[test]
    fn a_damaged_buffer_is_none_not_a_panic() {
        let e = sample(b"body");
        let p = Packed::new(&e, 99).unwrap();
        for cut in 0..p.data.len() {
            let damaged = Packed {
                data: Arc::from(&p.data[..cut]),
                body: None,
            };
            // a cut inside the body is still a (shorter) response; anywhere else it is None
            if let Some(got) = damaged.unpack() {
                assert!(got.body.len() < 4, "cut at {cut}");
            }
        }
        let flipped: Vec<u8> = p.data.iter().map(|b| b ^ 0xff).collect();
        let _ = Packed {
            data: Arc::from(flipped),
            body: None,
        }
        .unpack();
    }

    #[test]
    fn packs_small_entries_in_little_more_than_their_bytes() {
        let e = sample(b"0123456789abcdef");
        let content: usize = e
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum::<usize>()
            + e.body.len();
        let p = Packed::new(&e, e.weight(0)).unwrap();
        assert!(
            p.heap_bytes() <= content + 16 + 40,
            "{} for {content} bytes of headers and body",
            p.heap_bytes()
        );
    }
}
