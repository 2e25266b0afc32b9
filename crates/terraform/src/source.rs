//! Reading `.tf` files: HCL parsed with positions (hcl-edit's spans), kept as a small tree of
//! blocks and attributes whose expressions are hcl-rs expressions, each with `file:line:col`.

use hcl::edit::Span;
use hcl::Expression;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Where something is written: the file as the user named it, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Rc<str>,
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// An attribute: `key = expr`.
#[derive(Debug, Clone)]
pub struct Attr {
    pub key: String,
    pub expr: Expression,
    pub loc: Loc,
}

/// A block: `ident "label" ... { body }`.
#[derive(Debug, Clone)]
pub struct Block {
    pub ident: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub loc: Loc,
}

/// A block's body, in file order.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub attrs: Vec<Attr>,
    pub blocks: Vec<Block>,
}

impl Body {
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.key == key)
    }
    pub fn blocks<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.ident == ident)
    }
}

/// One parsed file.
#[derive(Debug, Clone)]
pub struct File {
    pub path: PathBuf,
    pub body: Body,
}

/// Maps byte offsets to line:col.
struct Lines {
    file: Rc<str>,
    starts: Vec<usize>,
    src: String,
}

impl Lines {
    fn new(file: Rc<str>, src: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file,
            starts,
            src: src.to_string(),
        }
    }
    fn loc(&self, offset: usize) -> Loc {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self
            .src
            .get(start..offset.min(self.src.len()))
            .map_or(1, |s| s.chars().count() + 1);
        Loc {
            file: self.file.clone(),
            line,
            col,
        }
    }
    fn at(&self, span: Option<std::ops::Range<usize>>) -> Loc {
        self.loc(span.map_or(0, |s| s.start))
    }
}

/// Parses HCL text; `display` names the file in locations and errors.
pub fn parse(display: &str, src: &str) -> Result<Body, String> {
    let body = hcl::edit::parser::parse_body(src).map_err(|e| {
        let l = e.location();
        format!("{display}:{}:{}: {}", l.line(), l.column(), e.message())
    })?;
    let lines = Lines::new(Rc::from(display), src);
    Ok(convert(&body, &lines))
}

fn convert(body: &hcl::edit::structure::Body, lines: &Lines) -> Body {
    let mut out = Body::default();
    for s in body.iter() {
        match s {
            hcl::edit::structure::Structure::Attribute(a) => out.attrs.push(Attr {
                key: a.key.as_str().to_string(),
                expr: Expression::from(a.value.clone()),
                loc: lines.at(a.key.span().or_else(|| a.span())),
            }),
            hcl::edit::structure::Structure::Block(b) => out.blocks.push(Block {
                ident: b.ident.as_str().to_string(),
                labels: b.labels.iter().map(|l| l.as_str().to_string()).collect(),
                body: convert(&b.body, lines),
                loc: lines.at(b.ident.span().or_else(|| b.span())),
            }),
        }
    }
    out
}

/// How to show `path` in messages: relative to the current directory when it is under it.
pub fn display_path(path: &Path) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    shown
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The `.tf` files of a module directory (or the one file named), sorted by name.
pub fn read_module(path: &Path) -> Result<Vec<File>, String> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let rd = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "tf"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        let shown = display_path(&f);
        match std::fs::read_to_string(&f) {
            Ok(src) => match parse(&shown, &src) {
                Ok(body) => out.push(File { path: f, body }),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(format!("{shown}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let src = "# c\nresource \"a\" \"b\" {\n  x = 1\n  inner {\n    y = \"z\"\n  }\n}\n";
        let b = parse("m.tf", src).unwrap_or_default();
        let r = &b.blocks[0];
        assert_eq!(r.loc.to_string(), "m.tf:2:1");
        assert_eq!(r.labels, vec!["a", "b"]);
        assert_eq!(r.body.attrs[0].loc.to_string(), "m.tf:3:3");
        assert_eq!(r.body.blocks[0].body.attrs[0].loc.to_string(), "m.tf:5:5");
    }

    #[test]
    fn syntax_errors_name_the_place() {
        let e = parse("bad.tf", "resource \"a\" {\n  x = \n}\n")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("bad.tf:"), "{e}");
    }
}
