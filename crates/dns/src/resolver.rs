//! The resolver the edge uses for origin names: edgeway's own DNS tier (or the system's), with a
//! small cache that respects TTLs.

use crate::client::query;
use crate::error::DnsError;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Longest time an answer is reused, whatever its TTL.
const MAX_CACHE_TTL: u32 = 60;
/// How long a system-resolver answer is reused (getaddrinfo gives no TTL).
const SYSTEM_CACHE_TTL: u32 = 10;
/// Cached names kept before the cache is pruned.
const MAX_CACHE_ENTRIES: usize = 4096;
/// Most CNAME hops (and re-queries for out-of-zone targets) followed.
const MAX_HOPS: usize = 8;
/// Time per name server per question.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolves host names to addresses. Cheap to clone: clones share the cache.
#[derive(Clone, Debug)]
pub struct Resolver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Asked in order; empty means the system resolver.
    nameservers: Vec<SocketAddr>,
    timeout: Duration,
    cache: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    addrs: Vec<IpAddr>,
    expires: Instant,
}

impl Resolver {
    /// A resolver asking `nameservers` in order (the next one when one times out, fails or
    /// refuses). An empty list means the system resolver.
    pub fn new(nameservers: Vec<SocketAddr>) -> Self {
        Self {
            inner: Arc::new(Inner {
                nameservers,
                timeout: DEFAULT_TIMEOUT,
                cache: Mutex::default(),
            }),
        }
    }

    /// A resolver using the system's (`getaddrinfo`, through `tokio::net::lookup_host`).
    pub fn system() -> Self {
        Self::new(Vec::new())
    }

    /// The same name servers with another per-question timeout (default 2 s); a fresh cache.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                nameservers: self.inner.nameservers.clone(),
                timeout,
                cache: Mutex::default(),
            }),
        }
    }

    /// The name servers asked, in order (empty: the system resolver).
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.inner.nameservers
    }

    /// The addresses of `host`: an IP literal (also `[::1]`) is returned as is; otherwise A records,
    /// or AAAA records when there are no A records, following CNAMEs. Answers are cached for their
    /// smallest TTL, at most 60 s.
    pub async fn lookup_ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let key = bare.trim_end_matches('.').to_ascii_lowercase();
        if key.is_empty() {
            return Err(DnsError::InvalidName(host.to_string()));
        }
        if let Some(addrs) = self.cached(&key) {
            return Ok(addrs);
        }
        let (addrs, ttl) = if self.inner.nameservers.is_empty() {
            (self.system_lookup(&key).await?, SYSTEM_CACHE_TTL)
        } else {
            self.resolve(&key).await?
        };
        self.store(key, &addrs, ttl);
        Ok(addrs)
    }

    fn cached(&self, key: &str) -> Option<Vec<IpAddr>> {
        let cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.addrs.clone())
    }

    fn store(&self, key: String, addrs: &[IpAddr], ttl: u32) {
        let ttl = ttl.min(MAX_CACHE_TTL);
        if ttl == 0 {
            return;
        }
        let now = Instant::now();
        let mut cache = self.inner.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHE_ENTRIES {
            cache.retain(|_, e| e.expires > now);
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Entry {
                addrs: addrs.to_vec(),
                expires: now + Duration::from_secs(u64::from(ttl)),
            },
        );
    }

    async fn system_lookup(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let found = tokio::time::timeout(self.inner.timeout, tokio::net::lookup_host((host, 0)))
            .await
            .map_err(|_| DnsError::Timeout(host.to_string()))?
            .map_err(|e| DnsError::Io(format!("{host} (system resolver)"), e))?;
        let mut addrs: Vec<IpAddr> = Vec::new();
        for a in found {
            if !addrs.contains(&a.ip()) {
                addrs.push(a.ip());
            }
        }
        if addrs.is_empty() {
            return Err(DnsError::NoAddresses(host.to_string()));
        }
        Ok(addrs)
    }

    /// A, then AAAA, following CNAMEs (re-asking for targets the answer did not cover).
    async fn resolve(&self, host: &str) -> Result<(Vec<IpAddr>, u32), DnsError> {
        let mut name = host.to_string();
        let mut ttl = MAX_CACHE_TTL;
        for _ in 0..MAX_HOPS {
            let mut moved = false;
            for rtype in [RecordType::A, RecordType::AAAA] {
                let answer = self.ask(host, &name, rtype).await?;
                let chase = Chase::of(&answer, &name, rtype);
                ttl = ttl.min(chase.ttl);
                if chase.looped {
                    return Err(DnsError::CnameLoop(host.to_string()));
                }
                if !chase.addrs.is_empty() {
                    return Ok((chase.addrs, ttl));
                }
                if chase.end != name {
                    name = chase.end;
                    moved = true;
                    break;
                }
            }
            if !moved {
                return Err(DnsError::NoAddresses(host.to_string()));
            }
        }
        Err(DnsError::CnameLoop(host.to_string()))
    }

    /// One question to the name servers in order; NOERROR answers come back, NXDOMAIN is final,
    /// anything else moves on to the next server.
    async fn ask(&self, host: &str, name: &str, rtype: RecordType) -> Result<Message, DnsError> {
        let mut last = DnsError::Timeout(host.to_string());
        for server in &self.inner.nameservers {
            match query(*server, name, rtype, self.inner.timeout).await {
                Ok(m) => match m.response_code {
                    ResponseCode::NoError => return Ok(m),
                    ResponseCode::NXDomain => return Err(DnsError::NxDomain(host.to_string())),
                    ResponseCode::Refused => last = DnsError::Refused(host.to_string()),
                    other => {
                        last = DnsError::ServerFailure {
                            name: host.to_string(),
                            rcode: crate::wire::packet::rcode_label(other).to_string(),
                        }
                    }
                },
                Err(e) if e.is_retryable() => {
                    tracing::debug!(%server, "DNS lookup of {name}: {e}");
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

/// The addresses an answer gives for a name, after its CNAME chain.
#[derive(Debug, PartialEq)]
struct Chase {
    addrs: Vec<IpAddr>,
    /// Where the CNAME chain ends (the name itself without CNAMEs), as a key.
    end: String,
    /// The smallest TTL of the records used.
    ttl: u32,
    looped: bool,
}

impl Chase {
    fn of(msg: &Message, name: &str, rtype: RecordType) -> Chase {
        let mut end = name.to_string();
        let mut ttl = MAX_CACHE_TTL;
        let mut looped = true;
        for _ in 0..MAX_HOPS * 2 {
            let next = msg.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if same(&r.name, &end) => Some((key(&c.0), r.ttl)),
                _ => None,
            });
            match next {
                Some((target, t)) => {
                    end = target;
                    ttl = ttl.min(t);
                }
                None => {
                    looped = false;
                    break;
                }
            }
        }
        let mut addrs = Vec::new();
        for r in msg.answers.iter().filter(|r| same(&r.name, &end)) {
            let ip = match (&r.data, rtype) {
                (RData::A(a), RecordType::A) => IpAddr::V4(a.0),
                (RData::AAAA(a), RecordType::AAAA) => IpAddr::V6(a.0),
                _ => continue,
            };
            ttl = ttl.min(r.ttl);
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
        Chase {
            addrs,
            end,
            ttl,
            looped,
        }
    }
}

fn key(name: &Name) -> String {
    crate::zone::key_of_name(name)
}

fn same(name: &Name, key_: &str) -> bool {
    key(name) == key_
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::Record;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap_or_default()
    }

    fn msg(records: Vec<Record>) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.answers = records;
        m
    }

    #[test]
    fn chases_cnames_in_the_answer() {
        let m = msg(vec![
            Record::from_rdata(
                n("WWW.example.com."),
                300,
                RData::CNAME(CNAME(n("example.com."))),
            ),
            Record::from_rdata(n("example.com."), 30, RData::A(A::new(127, 0, 0, 1))),
            Record::from_rdata(n("other.com."), 30, RData::A(A::new(127, 0, 0, 9))),
        ]);
        let c = Chase::of(&m, "www.example.com", RecordType::A);
        assert_eq!(
            c,
            Chase {
                addrs: vec![IpAddr::from([127, 0, 0, 1])],
                end: "example.com".into(),
                ttl: 30,
                looped: false
            }
        );
        // A CNAME out of the answer: the end is where to ask next.
        let m = msg(vec![Record::from_rdata(
            n("a.example.com."),
            300,
            RData::CNAME(CNAME(n("b.example.net."))),
        )]);
        let c = Chase::of(&m, "a.example.com", RecordType::A);
        assert_eq!(
            (c.addrs.len(), c.end.as_str(), c.looped),
            (0, "b.example.net", false)
        );
        let m = msg(vec![
            Record::from_rdata(n("a."), 300, RData::CNAME(CNAME(n("b.")))),
            Record::from_rdata(n("b."), 300, RData::CNAME(CNAME(n("a.")))),
        ]);
        assert!(Chase::of(&m, "a", RecordType::A).looped);
    }

    #[tokio::test]
    async fn literals_skip_the_network() {
        let r = Resolver::new(vec![]);
        assert_eq!(
            r.lookup_ip("127.0.0.1").await.ok(),
            Some(vec![IpAddr::from([127, 0, 0, 1])])
        );
        assert_eq!(
            r.lookup_ip("[::1]").await.ok(),
            Some(vec![IpAddr::from(std::net::Ipv6Addr::LOCALHOST)])
        );
        assert!(matches!(
            r.lookup_ip("").await,
            Err(DnsError::InvalidName(_))
        ));
    }

    #[tokio::test]
    async fn system_resolver_finds_localhost() {
        let addrs = Resolver::system()
            .lookup_ip("localhost")
            .await
            .unwrap_or_default();
        assert!(
            addrs.iter().all(IpAddr::is_loopback) && !addrs.is_empty(),
            "{addrs:?}"
        );
    }
}
