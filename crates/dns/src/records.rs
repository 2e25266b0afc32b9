//! Config record sets (`[[zone.record]]`) to wire records.

use crate::authority::AliasAddresses;
use crate::zone::key_of;
use edgeway_config::Record as ConfigRecord;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::IpAddr;

/// TTL of a record set without `ttl` (Route 53 requires one; Terraform examples use 300).
pub(crate) const DEFAULT_TTL: u32 = 300;
/// TTL of alias answers (what Route 53 answers for an ELB or CloudFront alias).
pub(crate) const ALIAS_TTL: u32 = 60;

/// The owner key of a record named `name` in zone `zone` (both keys), the way the Terraform
/// provider reads it: empty or `@` is the apex, a name already ending in the zone is taken as is,
/// anything else is relative to the zone.
pub(crate) fn owner_key(zone: &str, name: &str) -> String {
    let n = key_of(name);
    if n.is_empty() || n == "@" {
        zone.to_string()
    } else if crate::zone::is_within(&n, zone) {
        n
    } else {
        format!("{n}.{zone}")
    }
}

/// A fully qualified wire name from a key or a record value.
pub(crate) fn fqdn(name: &str) -> Result<Name, String> {
    let trimmed = name.trim().trim_end_matches('.');
    let mut n = Name::from_ascii(if trimmed.is_empty() { "." } else { trimmed })
        .map_err(|e| format!("{name:?} is not a domain name: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

/// The wire records of one config record set at `owner`, with its record type.
pub(crate) fn build(
    rec: &ConfigRecord,
    owner: &Name,
    aliases: &dyn AliasAddresses,
) -> Result<(RecordType, Vec<Record>), String> {
    let kind = rec.kind.trim().to_ascii_uppercase();
    let rtype: RecordType = kind
        .parse()
        .map_err(|_| format!("unknown record type {:?}", rec.kind))?;
    if let Some(alias) = &rec.alias {
        let want_v4 = match rtype {
            RecordType::A => true,
            RecordType::AAAA => false,
            _ => return Err(format!("alias records must be A or AAAA, not {kind}")),
        };
        let records = aliases
            .addresses(alias)
            .into_iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) if want_v4 => Some(RData::A(A(v4))),
                IpAddr::V6(v6) if !want_v4 => Some(RData::AAAA(AAAA(v6))),
                _ => None,
            })
            .map(|data| Record::from_rdata(owner.clone(), ALIAS_TTL, data))
            .collect();
        return Ok((rtype, records));
    }
    let ttl = rec.ttl.unwrap_or(DEFAULT_TTL);
    let mut out = Vec::with_capacity(rec.records.len());
    for value in &rec.records {
        let data = rdata(rtype, value).map_err(|e| format!("{kind} value {value:?}: {e}"))?;
        out.push(Record::from_rdata(owner.clone(), ttl, data));
    }
    if rtype == RecordType::CNAME && out.len() > 1 {
        return Err("a CNAME record set has exactly one value".into());
    }
    Ok((rtype, out))
}

/// Parses one value of a record set in Route 53's text format.
pub(crate) fn rdata(rtype: RecordType, value: &str) -> Result<RData, String> {
    let v = value.trim();
    let fields: Vec<&str> = v.split_whitespace().collect();
    let num = |i: usize| -> Result<u32, String> {
        fields
            .get(i)
            .ok_or_else(|| format!("missing field {}", i + 1))?
            .parse::<u32>()
            .map_err(|e| e.to_string())
    };
    let name = |i: usize| -> Result<Name, String> {
        fqdn(
            fields
                .get(i)
                .ok_or_else(|| format!("missing field {}", i + 1))?,
        )
    };
    Ok(match rtype {
        RecordType::A => RData::A(A(v.parse().map_err(|e| format!("{e}"))?)),
        RecordType::AAAA => RData::AAAA(AAAA(v.parse().map_err(|e| format!("{e}"))?)),
        RecordType::CNAME => RData::CNAME(CNAME(name(0)?)),
        RecordType::NS => RData::NS(NS(name(0)?)),
        RecordType::PTR => RData::PTR(PTR(name(0)?)),
        RecordType::MX => RData::MX(MX::new(u16_of(num(0)?)?, name(1)?)),
        RecordType::SRV => RData::SRV(SRV::new(
            u16_of(num(0)?)?,
            u16_of(num(1)?)?,
            u16_of(num(2)?)?,
            name(3)?,
        )),
        RecordType::SOA => RData::SOA(SOA::new(
            name(0)?,
            name(1)?,
            num(2)?,
            i32_of(num(3)?)?,
            i32_of(num(4)?)?,
            i32_of(num(5)?)?,
            num(6)?,
        )),
        RecordType::TXT => {
            let strings = txt_strings(v)?;
            let refs: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
            RData::TXT(TXT::from_bytes(refs))
        }
        other => return Err(format!("record type {other} is not supported")),
    })
}

fn u16_of(n: u32) -> Result<u16, String> {
    u16::try_from(n).map_err(|_| format!("{n} is over 65535"))
}

fn i32_of(n: u32) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("{n} is too large"))
}

/// The character-strings of a TXT value: Route 53's quoted form (`"a" "b"`, with `\"` and `\\`
/// escapes), or Terraform's bare form where `""` separates strings. Strings over 255 bytes are
/// split into 255-byte pieces, as Route 53 requires them to be.
pub(crate) fn txt_strings(value: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if value.starts_with('"') && value.ends_with('"') && value.len() >= 2 {
        let mut chars = value.chars();
        loop {
            match chars.next() {
                None => break,
                Some(c) if c.is_whitespace() => continue,
                Some('"') => {
                    let mut s = String::new();
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => s.extend(chars.next()),
                            '"' => {
                                closed = true;
                                break;
                            }
                            c => s.push(c),
                        }
                    }
                    if !closed {
                        return Err("unterminated quoted string".into());
                    }
                    parts.push(s.into_bytes());
                }
                Some(c) => return Err(format!("unexpected {c:?} outside quotes")),
            }
        }
    } else {
        parts.extend(value.split("\"\"").map(|s| s.as_bytes().to_vec()));
    }
    let mut out = Vec::new();
    for p in parts {
        if p.is_empty() {
            out.push(p);
        } else {
            out.extend(p.chunks(255).map(<[u8]>::to_vec));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_follow_terraform() {
        for (name, want) in [
            ("", "example.com"),
            ("@", "example.com"),
            ("example.com", "example.com"),
            ("Example.COM.", "example.com"),
            ("www", "www.example.com"),
            ("www.example.com", "www.example.com"),
            ("www.example.com.", "www.example.com"),
            ("*.example.com", "*.example.com"),
        ] {
            assert_eq!(owner_key("example.com", name), want, "{name}");
        }
    }

    #[test]
    fn values_parse() {
        let ok = [
            (RecordType::A, "192.0.2.1", "192.0.2.1"),
            (RecordType::AAAA, "2001:db8::1", "2001:db8::1"),
            (
                RecordType::CNAME,
                "target.example.net",
                "target.example.net.",
            ),
            (RecordType::MX, "10 mail.example.", "10 mail.example."),
            (RecordType::NS, "ns1.example.org.", "ns1.example.org."),
            (
                RecordType::SRV,
                "1 2 443 svc.example.",
                "1 2 443 svc.example.",
            ),
            (
                RecordType::SOA,
                "ns. host. 5 1 2 3 4",
                "ns. host. 5 1 2 3 4",
            ),
        ];
        for (t, v, want) in ok {
            assert_eq!(
                rdata(t, v).map(|d| d.to_string()),
                Ok(want.to_string()),
                "{t} {v}"
            );
        }
        for (t, v) in [
            (RecordType::A, "2001:db8::1"),
            (RecordType::AAAA, "1.2.3.4"),
            (RecordType::MX, "mail.example."),
            (RecordType::MX, "70000 mail."),
            (RecordType::CAA, "0 issue \"x\""),
        ] {
            assert!(rdata(t, v).is_err(), "{t} {v}");
        }
    }

    #[test]
    fn txt_forms() {
        assert_eq!(
            txt_strings("v=spf1 -all"),
            Ok(vec![b"v=spf1 -all".to_vec()])
        );
        assert_eq!(
            txt_strings("\"a b\" \"c\\\"d\""),
            Ok(vec![b"a b".to_vec(), b"c\"d".to_vec()])
        );
        assert_eq!(
            txt_strings("ab\"\"cd"),
            Ok(vec![b"ab".to_vec(), b"cd".to_vec()])
        );
        let long = "x".repeat(300);
        let parts = txt_strings(&long).unwrap_or_default();
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![255, 45]
        );
        assert!(txt_strings("\"open\\\"").is_err());
    }
}
