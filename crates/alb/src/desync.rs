//! Desync mitigation (pure): each request is classified Compliant, Acceptable, Ambiguous or
//! Severe with ALB's reason codes, and `desync_mitigation_mode` decides what happens to it.
//! hyper has already refused what it cannot parse (bare CR, NUL, spaces in the URI, differing
//! Content-Lengths, Transfer-Encoding without a final `chunked`) with its own 400; this sees the
//! rest.

use http::{HeaderMap, Method};

/// ALB's classes, least to most dangerous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Compliant,
    Acceptable,
    Ambiguous,
    Severe,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "Compliant",
            Self::Acceptable => "Acceptable",
            Self::Ambiguous => "Ambiguous",
            Self::Severe => "Severe",
        }
    }
}

/// A classification and its reason code (None for Compliant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub class: Class,
    pub reason: Option<&'static str>,
}

/// `desync_mitigation_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Monitor,
    Defensive,
    Strictest,
}

impl Mode {
    pub fn from_config(s: &str) -> Self {
        match s {
            "monitor" => Self::Monitor,
            "strictest" => Self::Strictest,
            _ => Self::Defensive,
        }
    }
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Forward,
    /// Forward, then close the client connection.
    ForwardThenClose,
    /// Answer 400 and close the connection.
    Block,
}

/// ALB's table: monitor lets everything through; defensive blocks Severe and closes after
/// Ambiguous; strictest blocks anything not Compliant.
pub fn verdict(mode: Mode, class: Class) -> Verdict {
    match (mode, class) {
        (_, Class::Compliant) | (Mode::Monitor, _) => Verdict::Forward,
        (Mode::Strictest, _) | (Mode::Defensive, Class::Severe) => Verdict::Block,
        (Mode::Defensive, Class::Ambiguous) => Verdict::ForwardThenClose,
        (Mode::Defensive, Class::Acceptable) => Verdict::Forward,
    }
}

/// Classifies a request by its method, raw request target and headers.
pub fn classify(method: &Method, target: &str, h: &HeaderMap) -> Classification {
    let mut worst = Classification {
        class: Class::Compliant,
        reason: None,
    };
    let mut note = |class: Class, reason: &'static str| {
        if class > worst.class {
            worst = Classification {
                class,
                reason: Some(reason),
            };
        }
    };
    // One pass over the target: a forbidden byte (which decides alone), a control byte, a space.
    let (mut bad_uri, mut control, mut space) = (false, false, false);
    for b in target.bytes() {
        if b == 0 || b == b'\r' {
            bad_uri = true;
            break;
        }
        control |= b < 0x20 || b == 0x7f;
        space |= b == b' ';
    }
    if bad_uri {
        note(Class::Severe, "BadUri");
    } else if control {
        note(Class::Ambiguous, "AmbiguousUri");
    } else if space {
        note(Class::Acceptable, "SpaceInUri");
    }
    // Whether Content-Length / Transfer-Encoding are there at all (most requests have neither:
    // then their checks below have nothing to look at).
    let (mut has_cl, mut has_te) = (false, false);
    for (name, value) in h {
        has_cl |= name == http::header::CONTENT_LENGTH;
        has_te |= name == http::header::TRANSFER_ENCODING;
        // One pass over the value: a forbidden byte, only blanks, or a non-compliant byte.
        let (mut bad, mut blank, mut odd) = (false, true, false);
        for &b in value.as_bytes() {
            if b == 0 || b == b'\r' || b == b'\n' {
                bad = true;
                break;
            }
            if b != b' ' && b != b'\t' {
                blank = false;
                odd |= !b.is_ascii_graphic();
            }
        }
        if bad {
            note(Class::Severe, "BadHeader");
        } else if blank {
            note(Class::Ambiguous, "EmptyHeader");
        } else if odd {
            note(Class::Acceptable, "NonCompliantHeader");
        }
        let n = name.as_str();
        // `contentlength` has 13 letters: shorter names cannot squash to either.
        if n.len() >= 13 && n != "transfer-encoding" && n != "content-length" {
            // Compared without building the squashed name.
            let squashed = n.bytes().filter(u8::is_ascii_alphanumeric);
            if squashed.clone().eq(*b"transferencoding") || squashed.eq(*b"contentlength") {
                note(Class::Ambiguous, "SuspiciousHeader");
            }
        }
    }
    let tokens = |present: bool, name: http::header::HeaderName| -> Vec<&str> {
        if !present {
            return Vec::new();
        }
        h.get_all(name)
            .iter()
            .flat_map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or("?").split(','))
            .map(str::trim)
            .collect()
    };
    let lengths = tokens(has_cl, http::header::CONTENT_LENGTH);
    let te = tokens(has_te, http::header::TRANSFER_ENCODING);
    if lengths
        .iter()
        .any(|l| l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()))
    {
        note(Class::Severe, "BadContentLength");
    } else if lengths.len() > 1 {
        if lengths.windows(2).all(|w| w[0] == w[1]) {
            note(Class::Ambiguous, "DuplicateContentLength");
        } else {
            note(Class::Severe, "MultipleContentLength");
        }
    }
    if te.iter().any(|t| {
        t.is_empty()
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        note(Class::Severe, "BadTransferEncoding");
    } else if te
        .iter()
        .filter(|t| t.eq_ignore_ascii_case("chunked"))
        .count()
        > 1
    {
        note(Class::Severe, "MultipleTransferEncodingChunked");
    }
    if !te.is_empty() && !lengths.is_empty() {
        note(Class::Ambiguous, "BothTeClPresent");
    }
    if method == Method::GET || method == Method::HEAD {
        if !te.is_empty() {
            note(Class::Ambiguous, "UndefinedTransferEncodingSemantics");
        }
        if lengths.iter().any(|l| l.bytes().any(|b| b != b'0')) {
            note(Class::Ambiguous, "UndefinedContentLengthSemantics");
        } else if !lengths.is_empty() {
            note(Class::Acceptable, "GetHeadZeroContentLength");
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn classifies() {
        use Class::*;
        let get = Method::GET;
        let post = Method::POST;
        let cases: Vec<(&Method, &str, Vec<(&str, &[u8])>, Class, Option<&str>)> = vec![
            (&get, "/", vec![("host", b"a.com")], Compliant, None),
            (&post, "/", vec![("content-length", b"5")], Compliant, None),
            (
                &post,
                "/",
                vec![("transfer-encoding", b"chunked")],
                Compliant,
                None,
            ),
            (
                &post,
                "/",
                vec![("transfer-encoding", b"chunked"), ("content-length", b"5")],
                Ambiguous,
                Some("BothTeClPresent"),
            ),
            (
                &post,
                "/",
                vec![("content-length", b"5"), ("content-length", b"5")],
                Ambiguous,
                Some("DuplicateContentLength"),
            ),
            (
                &post,
                "/",
                vec![("content-length", b"5"), ("content-length", b"6")],
                Severe,
                Some("MultipleContentLength"),
            ),
            (
                &post,
                "/",
                vec![("content-length", b"5, 6")],
                Severe,
                Some("MultipleContentLength"),
            ),
            (
                &post,
                "/",
                vec![("content-length", b"-1")],
                Severe,
                Some("BadContentLength"),
            ),
            (
                &post,
                "/",
                vec![("transfer-encoding", b"chunked, chunked")],
                Severe,
                Some("MultipleTransferEncodingChunked"),
            ),
            (
                &post,
                "/",
                vec![("transfer-encoding", b"chunked;x")],
                Severe,
                Some("BadTransferEncoding"),
            ),
            (
                &get,
                "/",
                vec![("content-length", b"0")],
                Acceptable,
                Some("GetHeadZeroContentLength"),
            ),
            (
                &get,
                "/",
                vec![("content-length", b"3")],
                Ambiguous,
                Some("UndefinedContentLengthSemantics"),
            ),
            (
                &get,
                "/",
                vec![("transfer-encoding", b"chunked")],
                Ambiguous,
                Some("UndefinedTransferEncodingSemantics"),
            ),
            (
                &get,
                "/",
                vec![("x-a", b"caf\xc3\xa9")],
                Acceptable,
                Some("NonCompliantHeader"),
            ),
            (
                &get,
                "/",
                vec![("x-a", b"")],
                Ambiguous,
                Some("EmptyHeader"),
            ),
            (
                &get,
                "/",
                vec![("transfer_encoding", b"chunked")],
                Ambiguous,
                Some("SuspiciousHeader"),
            ),
            (&get, "/a b", vec![], Acceptable, Some("SpaceInUri")),
            (&get, "/a\x01", vec![], Ambiguous, Some("AmbiguousUri")),
            (&get, "/a\r", vec![], Severe, Some("BadUri")),
        ];
        for (m, target, h, class, reason) in cases {
            let got = classify(m, target, &headers(&h));
            assert_eq!(
                (got.class, got.reason),
                (class, reason),
                "{m} {target:?} {h:?}"
            );
        }
    }

    #[test]
    fn verdicts() {
        use Class::*;
        use Verdict::*;
        let cases = [
            (Mode::Monitor, Severe, Forward),
            (Mode::Monitor, Ambiguous, Forward),
            (Mode::Defensive, Compliant, Forward),
            (Mode::Defensive, Acceptable, Forward),
            (Mode::Defensive, Ambiguous, ForwardThenClose),
            (Mode::Defensive, Severe, Block),
            (Mode::Strictest, Compliant, Forward),
            (Mode::Strictest, Acceptable, Block),
            (Mode::Strictest, Ambiguous, Block),
            (Mode::Strictest, Severe, Block),
        ];
        for (mode, class, want) in cases {
            assert_eq!(verdict(mode, class), want, "{mode:?} {class:?}");
        }
        assert_eq!(Mode::from_config("x"), Mode::Defensive);
    }
}
