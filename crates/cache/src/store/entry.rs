//! A stored response and its binary encoding (used by the disk tier).

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

use crate::freshness::Freshness;
use crate::vary::VarySpec;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A response.
    Response,
    /// A marker under a primary key saying "the response varies on [`CachedResponse::vary`]";
    /// the variants live under [`crate::vary::variant_key`]s.
    VaryMarker,
}

/// One stored response: status, headers, the whole body, its freshness and its variant.
/// Shared as `Arc<CachedResponse>` between the tiers and every viewer it is served to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedResponse {
    pub status: StatusCode,
    /// The headers as stored (the caller strips hop-by-hop fields, `Age`, and the fields of
    /// qualified `private`/`no-cache` before storing).
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it was stored, how long it is fresh, and what may be done when it is stale.
    pub freshness: Freshness,
    pub kind: EntryKind,
    /// The response's `Vary`.
    pub vary: VarySpec,
    /// The secondary key of the request it answered (empty without `Vary`).
    pub secondary_key: String,
}

/// A per-entry estimate of bookkeeping bytes, so that many tiny entries still count. The memory
/// tier's real cost beyond body, key and headers is below it (about 80 to 125 bytes for a small
/// object: `docs/performance.md`, "Cache index overhead per object").
const ENTRY_OVERHEAD: u64 = 256;

impl CachedResponse {
    /// A response entry without variant information (set by [`crate::store::insert_response`]).
    pub fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        freshness: Freshness,
    ) -> CachedResponse {
        CachedResponse {
            status,
            headers,
            body,
            freshness,
            kind: EntryKind::Response,
            vary: VarySpec::None,
            secondary_key: String::new(),
        }
    }

    /// A Vary marker for `vary`.
    pub fn vary_marker(vary: VarySpec, freshness: Freshness) -> CachedResponse {
        CachedResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            freshness,
            kind: EntryKind::VaryMarker,
            vary,
            secondary_key: String::new(),
        }
    }

    /// The bytes this entry is charged for in a byte-bounded tier: body, headers, key and a
    /// fixed overhead.
    pub fn weight(&self, key_len: usize) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        let extra =
            self.secondary_key.len() + self.vary.names().iter().map(String::len).sum::<usize>();
        (self.body.len() + headers + key_len + extra) as u64 + ENTRY_OVERHEAD
    }

    /// Encodes everything but the body.
    pub fn encode_meta(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(256);
        put_u16(&mut w, self.status.as_u16());
        w.push(match self.kind {
            EntryKind::Response => 0,
            EntryKind::VaryMarker => 1,
        });
        let f = &self.freshness;
        put_duration(&mut w, f.lifetime);
        put_duration(&mut w, f.initial_age);
        let rt = f
            .response_time
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        put_duration(&mut w, rt);
        put_duration(&mut w, f.stale_while_revalidate);
        match f.stale_if_error {
            None => w.push(0),
            Some(d) => {
                w.push(1);
                put_duration(&mut w, d);
            }
        }
        w.push(u8::from(f.must_revalidate) | (u8::from(f.no_cache) << 1));
        match &self.vary {
            VarySpec::None => w.push(0),
            VarySpec::Any => w.push(1),
            VarySpec::Headers(names) => {
                w.push(2);
                put_u32(&mut w, names.len() as u32);
                for n in names {
                    put_bytes(&mut w, n.as_bytes());
                }
            }
        }
        put_bytes(&mut w, self.secondary_key.as_bytes());
        put_u32(&mut w, self.headers.len() as u32);
        for (k, v) in &self.headers {
            put_bytes(&mut w, k.as_str().as_bytes());
            put_bytes(&mut w, v.as_bytes());
        }
        w
    }

    /// Decodes [`Self::encode_meta`] output plus the body; `None` when malformed.
    pub fn decode(meta: &[u8], body: Bytes) -> Option<CachedResponse> {
        let mut r = Reader(meta);
        let status = StatusCode::from_u16(r.u16()?).ok()?;
        let kind = match r.u8()? {
            0 => EntryKind::Response,
            1 => EntryKind::VaryMarker,
            _ => return None,
        };
        let lifetime = r.duration()?;
        let initial_age = r.duration()?;
        let response_time = UNIX_EPOCH.checked_add(r.duration()?)?;
        let stale_while_revalidate = r.duration()?;
        let stale_if_error = match r.u8()? {
            0 => None,
            1 => Some(r.duration()?),
            _ => return None,
        };
        let flags = r.u8()?;
        let vary = match r.u8()? {
            0 => VarySpec::None,
            1 => VarySpec::Any,
            2 => {
                let n = r.u32()?;
                let mut names = Vec::new();
                for _ in 0..n {
                    names.push(String::from_utf8(r.bytes()?.to_vec()).ok()?);
                }
                VarySpec::Headers(names)
            }
            _ => return None,
        };
        let secondary_key = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        let n = r.u32()?;
        let mut headers = HeaderMap::new();
        for _ in 0..n {
            let name = HeaderName::from_bytes(r.bytes()?).ok()?;
            let value = HeaderValue::from_bytes(r.bytes()?).ok()?;
            headers.append(name, value);
        }
        if !r.0.is_empty() {
            return None;
        }
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
                must_revalidate: flags & 1 != 0,
                no_cache: flags & 2 != 0,
            },
            kind,
            vary,
            secondary_key,
        })
    }
}

fn put_u16(w: &mut Vec<u8>, v: u16) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_duration(w: &mut Vec<u8>, d: Duration) {
    w.extend_from_slice(&d.as_secs().to_le_bytes());
    w.extend_from_slice(&d.subsec_nanos().to_le_bytes());
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    put_u32(w, b.len() as u32);
    w.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2)?.try_into().ok().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }
    fn duration(&mut self) -> Option<Duration> {
        let secs = self.u64()?;
        let nanos = self.u32()?;
        (nanos < 1_000_000_000).then(|| Duration::new(secs, nanos))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(body: &'static [u8]) -> CachedResponse {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        CachedResponse::new(
            StatusCode::OK,
            headers,
            Bytes::from_static(body),
            Freshness {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::from_millis(1500),
                response_time: UNIX_EPOCH + Duration::new(1_700_000_000, 123),
                stale_while_revalidate: Duration::from_secs(5),
                stale_if_error: Some(Duration::from_secs(7)),
                must_revalidate: true,
                no_cache: false,
            },
        )
    }

    #[test]
    fn round_trip() {
        let mut e = sample(b"hello");
        assert_eq!(
            CachedResponse::decode(&e.encode_meta(), e.body.clone()),
            Some(e.clone())
        );
        e.vary = VarySpec::Headers(vec!["accept-encoding".into()]);
        e.secondary_key = "accept-encoding:gzip\n".into();
        e.freshness.stale_if_error = None;
        e.freshness.no_cache = true;
        assert_eq!(
            CachedResponse::decode(&e.encode_meta(), e.body.clone()),
            Some(e.clone())
        );
        let m = CachedResponse::vary_marker(VarySpec::Any, e.freshness);
        assert_eq!(
            CachedResponse::decode(&m.encode_meta(), Bytes::new()),
            Some(m)
        );
    }

    #[test]
    fn malformed_meta_is_none() {
        let e = sample(b"hello");
        let meta = e.encode_meta();
        for cut in 0..meta.len() {
            assert_eq!(
                CachedResponse::decode(&meta[..cut], Bytes::new()),
                None,
                "cut at {cut}"
            );
        }
        let mut longer = meta.clone();
        longer.push(0);
        assert_eq!(CachedResponse::decode(&longer, Bytes::new()), None);
        let mut bad_kind = meta;
        bad_kind[2] = 9;
        assert_eq!(CachedResponse::decode(&bad_kind, Bytes::new()), None);
    }

    #[test]
    fn weight_counts_body_headers_and_key() {
        let e = sample(b"0123456789");
        assert!(e.weight(5) >= 10 + 5 + ENTRY_OVERHEAD);
        assert!(sample(b"").weight(0) >= ENTRY_OVERHEAD);
    }
}
