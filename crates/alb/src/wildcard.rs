//! ALB wildcard patterns: `*` matches any run of characters (also none), `?` exactly one. Host,
//! header and query patterns compare case-insensitively; path patterns case-sensitively. Query
//! patterns may escape a literal `*`, `?` or `\` with `\`.

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Byte(u8),
    One,
    Any,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    toks: Vec<Tok>,
    case_insensitive: bool,
}

impl Wildcard {
    /// `case_insensitive`: compare ASCII letters without case. `escapes`: `\x` is a literal `x`.
    pub fn new(pattern: &str, case_insensitive: bool, escapes: bool) -> Self {
        let mut toks = Vec::with_capacity(pattern.len());
        let mut bytes = pattern.bytes();
        while let Some(b) = bytes.next() {
            let t = match b {
                b'\\' if escapes => match bytes.next() {
                    Some(n) => Tok::Byte(n),
                    None => Tok::Byte(b'\\'),
                },
                b'*' => Tok::Any,
                b'?' => Tok::One,
                _ => Tok::Byte(b),
            };
            if t == Tok::Any && toks.last() == Some(&Tok::Any) {
                continue;
            }
            toks.push(match t {
                Tok::Byte(b) if case_insensitive => Tok::Byte(b.to_ascii_lowercase()),
                t => t,
            });
        }
        Self {
            toks,
            case_insensitive,
        }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.as_bytes();
        let eq = |p: u8, t: u8| {
            if self.case_insensitive {
                p == t.to_ascii_lowercase()
            } else {
                p == t
            }
        };
        let (mut p, mut t) = (0usize, 0usize);
        // Where to resume after the last `*`: (pattern index after it, text index it covers to).
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.toks.get(p) {
                Some(Tok::Any) => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Some(Tok::One) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                Some(Tok::Byte(b)) if eq(*b, text[t]) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, st)) => {
                    p = sp;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            }
        }
        self.toks[p..].iter().all(|t| *t == Tok::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (pattern, case-insensitive, escapes, text, matches)
        let cases: &[(&str, bool, bool, &str, bool)] = &[
            ("/img/*", false, false, "/img/a.jpg", true),
            ("/img/*", false, false, "/img/", true),
            ("/img/*", false, false, "/img", false),
            ("/img/*", false, false, "/IMG/a.jpg", false),
            ("/a?c", false, false, "/abc", true),
            ("/a?c", false, false, "/ac", false),
            ("*", false, false, "", true),
            ("", false, false, "", true),
            ("", false, false, "x", false),
            ("*.example.com", true, false, "test.example.com", true),
            ("*.example.com", true, false, "TEST.Example.COM", true),
            ("*.example.com", true, false, "example.com", false),
            ("a*b*c", false, false, "aXXbYYbZc", true),
            ("a*b*c", false, false, "aXXbYYbZ", false),
            ("*ab", false, false, "aab", true),
            ("**x", false, false, "yx", true),
            ("v\\*", true, true, "v*", true),
            ("v\\*", true, true, "vx", false),
            ("v\\*", true, false, "v\\x", true),
            ("Val?E", true, true, "valUe", true),
        ];
        for (pat, ci, esc, text, want) in cases {
            assert_eq!(
                Wildcard::new(pat, *ci, *esc).matches(text),
                *want,
                "{pat} vs {text}"
            );
        }
    }
}
