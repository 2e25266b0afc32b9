//! The `Range` request header (RFC 9110 §14.2), single byte ranges only.

/// What to send for a `Range` header against a representation of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Ignore the header and send everything with 200 (absent, malformed, other units, several ranges).
    Full,
    /// Send bytes `start..=end` with 206.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decide how to answer `Range: {header}` for a representation of `len` bytes.
pub fn evaluate(header: Option<&str>, len: u64) -> RangeOutcome {
    let Some(header) = header else {
        return RangeOutcome::Full;
    };
    let Some(set) = strip_unit(header.trim()) else {
        return RangeOutcome::Full;
    };
    if set.contains(',') {
        // Several ranges: allowed to answer with the whole representation.
        return RangeOutcome::Full;
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return RangeOutcome::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => {
            let Some(suffix) = parse_digits(last) else {
                return RangeOutcome::Full;
            };
            if suffix == 0 || len == 0 {
                return RangeOutcome::Unsatisfiable;
            }
            RangeOutcome::Partial {
                start: len.saturating_sub(suffix),
                end: len - 1,
            }
        }
        // bytes=a- or bytes=a-b.
        (false, _) => {
            let Some(start) = parse_digits(first) else {
                return RangeOutcome::Full;
            };
            let end = if last.is_empty() {
                None
            } else {
                match parse_digits(last) {
                    Some(end) if end >= start => Some(end),
                    _ => return RangeOutcome::Full,
                }
            };
            if start >= len {
                return RangeOutcome::Unsatisfiable;
            }
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            RangeOutcome::Partial { start, end }
        }
        (true, true) => RangeOutcome::Full,
    }
}

/// The range set after `bytes=` (unit name is case-insensitive); `None` for other units.
fn strip_unit(header: &str) -> Option<&str> {
    let (unit, set) = header.split_once('=')?;
    unit.trim().eq_ignore_ascii_case("bytes").then_some(set)
}

/// ASCII digits only (no sign, no spaces); `None` on overflow.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::{Full, Partial, Unsatisfiable};
    use super::*;

    #[test]
    fn table() {
        let cases: &[(Option<&str>, u64, RangeOutcome)] = &[
            (None, 100, Full),
            (Some("bytes=0-9"), 100, Partial { start: 0, end: 9 }),
            (Some("bytes=90-"), 100, Partial { start: 90, end: 99 }),
            (Some("bytes=-10"), 100, Partial { start: 90, end: 99 }),
            (Some("bytes=-1000"), 100, Partial { start: 0, end: 99 }),
            (Some("bytes=50-1000"), 100, Partial { start: 50, end: 99 }),
            (Some("Bytes = 1-1"), 100, Partial { start: 1, end: 1 }),
            (Some("bytes=99-99"), 100, Partial { start: 99, end: 99 }),
            (Some("bytes=100-"), 100, Unsatisfiable),
            (Some("bytes=100-200"), 100, Unsatisfiable),
            (Some("bytes=-0"), 100, Unsatisfiable),
            (Some("bytes=0-"), 0, Unsatisfiable),
            (Some("bytes=-5"), 0, Unsatisfiable),
            (Some("bytes=9-0"), 100, Full),
            (Some("bytes=0-1,5-6"), 100, Full),
            (Some("items=0-1"), 100, Full),
            (Some("bytes=-"), 100, Full),
            (Some("bytes=a-b"), 100, Full),
            (Some("bytes=+1-2"), 100, Full),
            (Some("bytes=0-99999999999999999999999"), 100, Full),
            (Some("bytes"), 100, Full),
            (Some(""), 100, Full),
        ];
        for (header, len, want) in cases {
            assert_eq!(evaluate(*header, *len), *want, "{header:?} against {len}");
        }
    }
}
