//! Which names each HTTPS listener's certificate covers, and the TLS server configs: configured
//! PEM files first (chosen by SNI), else a certificate from the local CA for every name that
//! points at the listener.

use edgeway_config::{parse_listen_url, CertificateFiles, Config, Distribution, LoadBalancer};
use edgeway_http::ca::{load_certified_key, LocalCa};
use edgeway_http::tls::{server_config, SniResolver};
use std::sync::Arc;

fn push(names: &mut Vec<String>, n: &str) {
    let n = n.trim_end_matches('.').to_ascii_lowercase();
    if !n.is_empty() && !names.contains(&n) {
        names.push(n);
    }
}

fn alias_records(cfg: &Config, want: impl Fn(&edgeway_config::Alias) -> bool) -> Vec<String> {
    cfg.zones
        .iter()
        .flat_map(|z| z.records.iter())
        .filter(|r| r.alias.as_ref().is_some_and(&want))
        .map(|r| r.name.clone())
        .collect()
}

/// Names a distribution answers to: its aliases, records that alias to it, localhost, its IPs.
pub fn distribution_names(cfg: &Config, d: &Distribution) -> Vec<String> {
    let mut names = Vec::new();
    for a in &d.aliases {
        push(&mut names, a);
    }
    for r in alias_records(cfg, |a| a.distribution.as_deref() == Some(d.id.as_str())) {
        push(&mut names, &r);
    }
    push(&mut names, "localhost");
    for l in &d.listen {
        if let Ok((_, addr)) = parse_listen_url(l) {
            push(&mut names, &addr.ip().to_string());
        }
    }
    names
}

/// Names a load balancer answers to: records that alias to it, localhost, its bind address.
pub fn load_balancer_names(cfg: &Config, lb: &LoadBalancer) -> Vec<String> {
    let mut names = Vec::new();
    for r in alias_records(cfg, |a| {
        a.load_balancer.as_deref() == Some(lb.name.as_str())
    }) {
        push(&mut names, &r);
    }
    push(&mut names, "localhost");
    push(&mut names, &lb.bind_address);
    names
}

/// A TLS config: the configured certificates (the first is the default), else one issued by the CA.
pub fn tls_config(
    ca: &LocalCa,
    configured: &[&CertificateFiles],
    names: &[String],
    h2: bool,
    ssl_policy: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut resolver = SniResolver::new();
    for c in configured {
        let key = load_certified_key(&c.cert_file, &c.key_file).map_err(|e| e.to_string())?;
        let cert_names = names_in(&key);
        resolver.add(&cert_names, key);
    }
    if configured.is_empty() {
        let key = ca
            .issue(names)
            .map_err(|e| format!("cannot issue a certificate for {names:?}: {e}"))?;
        resolver.add(names, key);
    }
    server_config(resolver, h2, ssl_policy).map_err(|e| format!("TLS config: {e}"))
}

/// The DNS names in a certificate's subject alternative names (used for SNI choice).
fn names_in(key: &rustls::sign::CertifiedKey) -> Vec<String> {
    let Some(cert) = key.cert.first() else {
        return Vec::new();
    };
    dns_names_from_der(cert.as_ref())
}

/// Scans DER for dNSName entries ([2] IMPLICIT IA5String inside subjectAltName): a small,
/// bounded walk that never panics; good enough to pick certificates by SNI.
fn dns_names_from_der(der: &[u8]) -> Vec<String> {
    // subjectAltName OID 2.5.29.17 = 06 03 55 1D 11
    let oid = [0x06, 0x03, 0x55, 0x1d, 0x11];
    let Some(pos) = der.windows(oid.len()).position(|w| w == oid) else {
        return Vec::new();
    };
    let mut i = pos + oid.len();
    // Optional critical BOOLEAN, then OCTET STRING wrapping a SEQUENCE of GeneralName.
    if der.get(i) == Some(&0x01) {
        i += 3;
    }
    let Some((body, _)) = tlv(der, i, 0x04) else {
        return Vec::new();
    };
    let Some((seq_start, seq_end)) = tlv(der, body, 0x30) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut j = seq_start;
    while j < seq_end.min(der.len()) {
        let tag = der[j];
        let Some((len, hdr)) = der_len(der, j + 1) else {
            break;
        };
        let start = j + 1 + hdr;
        let end = start + len;
        if tag == 0x82 {
            if let Some(bytes) = der.get(start..end) {
                if let Ok(s) = std::str::from_utf8(bytes) {
                    out.push(s.to_ascii_lowercase());
                }
            }
        }
        j = end;
    }
    out
}

fn der_len(der: &[u8], i: usize) -> Option<(usize, usize)> {
    let first = *der.get(i)?;
    if first < 0x80 {
        return Some((first as usize, 1));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for k in 0..n {
        len = (len << 8) | *der.get(i + 1 + k)? as usize;
    }
    Some((len, 1 + n))
}

/// At `i`, a TLV with `tag`: (content start, content end).
fn tlv(der: &[u8], i: usize, tag: u8) -> Option<(usize, usize)> {
    if *der.get(i)? != tag {
        return None;
    }
    let (len, hdr) = der_len(der, i + 1)?;
    let start = i + 1 + hdr;
    Some((start, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dns_names_from_an_issued_certificate() {
        let ca = LocalCa::ephemeral().expect("ca");
        let key = ca
            .issue(&["a.example".into(), "*.b.example".into(), "127.0.0.1".into()])
            .expect("issue");
        assert_eq!(
            names_in(&key),
            vec!["a.example".to_string(), "*.b.example".to_string()]
        );
    }
}
