//! CloudFront path patterns: `*` is any run of characters (including `/`), `?` exactly one,
//! case-sensitive, a leading `/` optional. Also used for legacy cookie name wildcards.

/// A compiled `path_pattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(String);

impl PathPattern {
    /// `images/*` and `/images/*` are the same pattern.
    pub fn new(p: &str) -> Self {
        if p.starts_with('/') || p.starts_with('*') {
            Self(p.to_string())
        } else {
            Self(format!("/{p}"))
        }
    }

    /// Whether `path` (no query string) matches.
    pub fn matches(&self, path: &str) -> bool {
        glob(&self.0, path)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Glob match over bytes: `*` any run (also empty), `?` exactly one byte, everything else literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was and the text position it is currently standing in for.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "/", true),
            ("*", "/a/b/c", true),
            ("/images/*", "/images/a.jpg", true),
            ("images/*", "/images/a.jpg", true),
            ("images/*", "/images/", true),
            ("images/*", "/images", false),
            ("/images/*.jpg", "/images/a/b/c.jpg", true),
            ("/images/*.jpg", "/images/a.png", false),
            ("*.jpg", "/LOGO.JPG", false),
            ("*.jpg", "/logo.jpg", true),
            ("/a?c", "/abc", true),
            ("/a?c", "/ac", false),
            ("/a?c", "/abbc", false),
            ("/api/*", "/API/x", false),
            ("/exact", "/exact", true),
            ("/exact", "/exact/", false),
            ("/*/b/*", "/a/b/c", true),
            ("/*/b/*", "/a/c/d", false),
            ("/a**b", "/ab", true),
        ];
        for (p, path, want) in cases {
            assert_eq!(PathPattern::new(p).matches(path), *want, "{p} vs {path}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob("session*", "session_id"));
        assert!(glob("a?", "ab"));
        assert!(!glob("a?", "a"));
        assert!(glob("", ""));
        assert!(!glob("", "x"));
    }
}
