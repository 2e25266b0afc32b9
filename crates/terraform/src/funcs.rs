//! The Terraform functions the importer evaluates, over hcl-rs values.

use hcl::{Map, Number, Value};

pub fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A value as Terraform converts it to a string (numbers and bools too).
pub fn to_str(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("a null value where a string is needed".into()),
        Value::Array(_) => Err("a list where a string is needed".into()),
        Value::Object(_) => Err("an object where a string is needed".into()),
    }
}

pub fn to_f64(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("{} is not a number", kind(other))),
    }
}

pub fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(format!("{} is not a bool", kind(other))),
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The elements of a list, set or tuple (a map's values, by key).
pub fn elements(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::Object(m) => Ok(sorted(m).into_iter().map(|(_, v)| v).collect()),
        Value::Null => Ok(Vec::new()),
        other => Err(format!("{} is not a collection", kind(other))),
    }
}

/// A map's entries in Terraform's iteration order (keys sorted).
pub fn sorted(m: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        return Err(format!(
            "{name}() takes {} arguments, got {}",
            if min == max {
                min.to_string()
            } else {
                format!("{min}-{max}")
            },
            args.len()
        ));
    }
    Ok(())
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

/// `toset`: unique elements; strings sorted as Terraform orders a set of strings.
fn set(v: Vec<Value>) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    if out.iter().all(|x| matches!(x, Value::String(_))) {
        out.sort_by_key(|x| to_str(x).unwrap_or_default());
    }
    Value::Array(out)
}

/// `format` verbs: `%s %d %v %q %f %t %%` (flags and widths are not supported).
fn format(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = spec.chars().peekable();
    let mut n = 0usize;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = it.next() else {
            return Err("format: a lone % at the end".into());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let v = args
            .get(n)
            .ok_or_else(|| format!("format: not enough arguments for {spec:?}"))?;
        n += 1;
        match verb {
            's' | 'v' => out.push_str(&to_str(v)?),
            'd' => out.push_str(&format!("{}", to_f64(v)? as i64)),
            'f' => out.push_str(&format!("{:.6}", to_f64(v)?)),
            't' => out.push_str(&to_bool(v)?.to_string()),
            'q' => out.push_str(&format!("{:?}", to_str(v)?)),
            other => return Err(format!("format: verb %{other} is not supported")),
        }
    }
    Ok(out)
}

/// Calls the function `name` (with the arguments evaluated).
pub fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let a = &args;
    let s = |i: usize| to_str(arg(a, i));
    Ok(match name {
        "format" => {
            arity(name, a, 1, usize::MAX)?;
            Value::String(format(&s(0)?, &a[1..])?)
        }
        "formatlist" => {
            arity(name, a, 1, usize::MAX)?;
            let spec = s(0)?;
            let len = a[1..]
                .iter()
                .filter_map(|v| v.as_array().map(Vec::len))
                .max()
                .unwrap_or(0);
            let mut out = Vec::new();
            for i in 0..len {
                let row: Vec<Value> = a[1..]
                    .iter()
                    .map(|v| {
                        v.as_array()
                            .map_or(v.clone(), |l| l.get(i).cloned().unwrap_or(Value::Null))
                    })
                    .collect();
                out.push(Value::String(format(&spec, &row)?));
            }
            Value::Array(out)
        }
        "join" => {
            arity(name, a, 2, usize::MAX)?;
            let sep = s(0)?;
            let mut parts = Vec::new();
            for l in &a[1..] {
                for v in elements(l)? {
                    parts.push(to_str(&v)?);
                }
            }
            Value::String(parts.join(&sep))
        }
        "split" => {
            arity(name, a, 2, 2)?;
            let (sep, text) = (s(0)?, s(1)?);
            Value::Array(
                text.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        "lookup" => {
            arity(name, a, 2, 3)?;
            let key = s(1)?;
            match arg(a, 0) {
                Value::Object(m) => match (m.get(&key), a.get(2)) {
                    (Some(v), _) => v.clone(),
                    (None, Some(d)) => d.clone(),
                    (None, None) => return Err(format!("lookup: no key {key:?} and no default")),
                },
                other => return Err(format!("lookup: {} is not a map", kind(other))),
            }
        }
        "concat" => {
            let mut out = Vec::new();
            for l in a {
                match l {
                    Value::Array(v) => out.extend(v.iter().cloned()),
                    other => return Err(format!("concat: {} is not a list", kind(other))),
                }
            }
            Value::Array(out)
        }
        "merge" => {
            let mut out = Map::new();
            for m in a {
                match m {
                    Value::Object(o) => {
                        for (k, v) in o {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                    Value::Null => {}
                    other => return Err(format!("merge: {} is not a map", kind(other))),
                }
            }
            Value::Object(out)
        }
        "tolist" => {
            arity(name, a, 1, 1)?;
            Value::Array(elements(arg(a, 0))?)
        }
        "toset" => {
            arity(name, a, 1, 1)?;
            set(elements(arg(a, 0))?)
        }
        "distinct" => {
            arity(name, a, 1, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for x in elements(arg(a, 0))? {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
            Value::Array(out)
        }
        "tomap" => {
            arity(name, a, 1, 1)?;
            match arg(a, 0) {
                Value::Object(_) => arg(a, 0).clone(),
                other => return Err(format!("tomap: {} is not a map", kind(other))),
            }
        }
        "tostring" => Value::String(s(0)?),
        "tonumber" => num(to_f64(arg(a, 0))?),
        "tobool" => Value::Bool(to_bool(arg(a, 0))?),
        "length" => {
            arity(name, a, 1, 1)?;
            let n = match arg(a, 0) {
                Value::String(t) => t.chars().count(),
                Value::Array(v) => v.len(),
                Value::Object(m) => m.len(),
                other => return Err(format!("length: {} has no length", kind(other))),
            };
            num(n as f64)
        }
        "keys" => match arg(a, 0) {
            Value::Object(m) => Value::Array(
                sorted(m)
                    .into_iter()
                    .map(|(k, _)| Value::String(k))
                    .collect(),
            ),
            other => return Err(format!("keys: {} is not a map", kind(other))),
        },
        "values" => Value::Array(elements(arg(a, 0))?),
        "element" => {
            arity(name, a, 2, 2)?;
            let l = elements(arg(a, 0))?;
            if l.is_empty() {
                return Err("element: empty list".into());
            }
            let i = to_f64(arg(a, 1))? as usize;
            l[i % l.len()].clone()
        }
        "contains" => {
            arity(name, a, 2, 2)?;
            Value::Bool(elements(arg(a, 0))?.contains(arg(a, 1)))
        }
        "flatten" => {
            fn flat(v: &Value, out: &mut Vec<Value>) {
                match v {
                    Value::Array(l) => l.iter().for_each(|x| flat(x, out)),
                    other => out.push(other.clone()),
                }
            }
            let mut out = Vec::new();
            flat(arg(a, 0), &mut out);
            Value::Array(out)
        }
        "compact" => Value::Array(
            elements(arg(a, 0))?
                .into_iter()
                .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                .collect(),
        ),
        "coalesce" => a
            .iter()
            .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .cloned()
            .ok_or("coalesce: every argument is null or empty")?,
        "coalescelist" => a
            .iter()
            .find(|v| v.as_array().is_some_and(|l| !l.is_empty()))
            .cloned()
            .unwrap_or(Value::Array(Vec::new())),
        "zipmap" => {
            let (k, v) = (elements(arg(a, 0))?, elements(arg(a, 1))?);
            let mut m = Map::new();
            for (k, v) in k.iter().zip(v) {
                m.insert(to_str(k)?, v);
            }
            Value::Object(m)
        }
        "range" => {
            let nums: Vec<f64> = a.iter().map(to_f64).collect::<Result<_, _>>()?;
            let (start, end, step) = match nums.as_slice() {
                [e] => (0.0, *e, 1.0),
                [s, e] => (*s, *e, if s <= e { 1.0 } else { -1.0 }),
                [s, e, st] => (*s, *e, *st),
                _ => return Err("range() takes 1-3 arguments".into()),
            };
            if step == 0.0 {
                return Err("range: step 0".into());
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
                out.push(num(x));
                x += step;
                if out.len() > 10_000 {
                    return Err("range: too many elements".into());
                }
            }
            Value::Array(out)
        }
        "lower" => Value::String(s(0)?.to_lowercase()),
        "upper" => Value::String(s(0)?.to_uppercase()),
        "title" => Value::String(
            s(0)?
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map_or(String::new(), |f| {
                        f.to_uppercase().collect::<String>() + c.as_str()
                    })
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "trimspace" => Value::String(s(0)?.trim().to_string()),
        "trimprefix" => Value::String(
            s(0)?
                .strip_prefix(s(1)?.as_str())
                .map(str::to_string)
                .unwrap_or(s(0)?),
        ),
        "trimsuffix" => Value::String(
            s(0)?
                .strip_suffix(s(1)?.as_str())
                .map(str::to_string)
                .unwrap_or(s(0)?),
        ),
        "trim" => {
            let cut = s(1)?;
            Value::String(s(0)?.trim_matches(|c| cut.contains(c)).to_string())
        }
        "replace" => {
            arity(name, a, 3, 3)?;
            let (t, from, to) = (s(0)?, s(1)?, s(2)?);
            if from.len() > 2 && from.starts_with('/') && from.ends_with('/') {
                return Err("replace: regular expressions are not supported".into());
            }
            Value::String(t.replace(&from, &to))
        }
        "substr" => {
            let t: Vec<char> = s(0)?.chars().collect();
            let off = to_f64(arg(a, 1))? as i64;
            let len = to_f64(arg(a, 2))? as i64;
            let start = if off < 0 {
                (t.len() as i64 + off).max(0) as usize
            } else {
                (off as usize).min(t.len())
            };
            let end = if len < 0 {
                t.len()
            } else {
                (start + len as usize).min(t.len())
            };
            Value::String(t[start..end].iter().collect())
        }
        "startswith" => Value::Bool(s(0)?.starts_with(&s(1)?)),
        "endswith" => Value::Bool(s(0)?.ends_with(&s(1)?)),
        "strcontains" => Value::Bool(s(0)?.contains(&s(1)?)),
        "min" | "max" => {
            let nums: Vec<f64> = a.iter().map(to_f64).collect::<Result<_, _>>()?;
            let it = nums.into_iter();
            let r = if name == "min" {
                it.fold(f64::INFINITY, f64::min)
            } else {
                it.fold(f64::NEG_INFINITY, f64::max)
            };
            if r.is_infinite() {
                return Err(format!("{name}: no arguments"));
            }
            num(r)
        }
        "abs" => num(to_f64(arg(a, 0))?.abs()),
        "ceil" => num(to_f64(arg(a, 0))?.ceil()),
        "floor" => num(to_f64(arg(a, 0))?.floor()),
        "jsonencode" => Value::String(serde_json::to_string(arg(a, 0)).map_err(|e| e.to_string())?),
        "one" => {
            let l = elements(arg(a, 0))?;
            match l.len() {
                0 => Value::Null,
                1 => l[0].clone(),
                _ => return Err("one: more than one element".into()),
            }
        }
        "reverse" => Value::Array(elements(arg(a, 0))?.into_iter().rev().collect()),
        "sort" => {
            let mut l: Vec<String> = elements(arg(a, 0))?
                .iter()
                .map(to_str)
                .collect::<Result<_, _>>()?;
            l.sort();
            Value::Array(l.into_iter().map(Value::String).collect())
        }
        "slice" => {
            let l = elements(arg(a, 0))?;
            let (from, to) = (to_f64(arg(a, 1))? as usize, to_f64(arg(a, 2))? as usize);
            if from > to || to > l.len() {
                return Err("slice: index out of range".into());
            }
            Value::Array(l[from..to].to_vec())
        }
        "index" => {
            let l = elements(arg(a, 0))?;
            let i = l
                .iter()
                .position(|v| v == arg(a, 1))
                .ok_or("index: not in the list")?;
            num(i as f64)
        }
        other => {
            return Err(format!(
                "function {other}() is not supported by the importer"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn format_verbs() {
        assert_eq!(
            call("format", vec![st("%s-%d-%%"), st("a"), num(3.0)]).ok(),
            Some(st("a-3-%"))
        );
        assert!(call("format", vec![st("%s")]).is_err());
    }

    #[test]
    fn sets_sort_strings_and_drop_duplicates() {
        let l = Value::Array(vec![st("b"), st("a"), st("b")]);
        assert_eq!(
            call("toset", vec![l]).ok(),
            Some(Value::Array(vec![st("a"), st("b")]))
        );
    }

    #[test]
    fn lookup_with_and_without_default() {
        let mut m = Map::new();
        m.insert("a".to_string(), st("1"));
        let m = Value::Object(m);
        assert_eq!(call("lookup", vec![m.clone(), st("a")]).ok(), Some(st("1")));
        assert_eq!(
            call("lookup", vec![m.clone(), st("b"), st("d")]).ok(),
            Some(st("d"))
        );
        assert!(call("lookup", vec![m, st("b")]).is_err());
    }

    #[test]
    fn unknown_functions_say_so() {
        let e = call("cidrsubnet", vec![]).err().unwrap_or_default();
        assert!(e.contains("not supported"), "{e}");
    }
}
