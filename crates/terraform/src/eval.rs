//! Evaluating a Terraform configuration's expressions: variables (defaults, `-var`, tfvars),
//! locals, references between resources and data sources, local modules with inputs and outputs,
//! `count`/`for_each`, `dynamic` blocks, templates, operators and the common functions.
//!
//! What only AWS knows (ids, ARNs, DNS names) evaluates to a *marker*: the string
//! `${ADDRESS.ATTRIBUTE}` (e.g. `${aws_lb.frontend.dns_name}`), which the translator maps back to
//! the edgeway object it stands for.

use crate::funcs::{self, elements, kind, sorted, to_bool, to_f64, to_str};
use crate::source::{self, Attr, Block, Body, Loc};
use hcl::expr::{BinaryOperator, Operation, TemplateExpr, TraversalOperator, UnaryOperator};
use hcl::template::{Directive, Element, Template};
use hcl::{Expression, Map, ObjectKey, Value};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A module's source: its blocks, by kind.
#[derive(Debug, Default)]
pub struct ModuleSrc {
    pub dir: PathBuf,
    pub variables: Vec<Block>,
    pub locals: Vec<Attr>,
    pub resources: Vec<Block>,
    pub data: Vec<Block>,
    pub modules: Vec<Block>,
    pub outputs: Vec<Block>,
    /// `terraform`, `provider`, `moved`, ... (not translated).
    pub other: Vec<Block>,
}

impl ModuleSrc {
    pub fn load(path: &Path) -> Result<Self, String> {
        let files = source::read_module(path)?;
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut m = ModuleSrc {
            dir,
            ..Default::default()
        };
        for f in files {
            for b in f.body.blocks {
                match b.ident.as_str() {
                    "variable" => m.variables.push(b),
                    "locals" => m.locals.extend(b.body.attrs),
                    "resource" => m.resources.push(b),
                    "data" => m.data.push(b),
                    "module" => m.modules.push(b),
                    "output" => m.outputs.push(b),
                    _ => m.other.push(b),
                }
            }
        }
        Ok(m)
    }

    fn find(&self, data: bool, rtype: &str, name: &str) -> Option<&Block> {
        let list = if data { &self.data } else { &self.resources };
        list.iter()
            .find(|b| b.labels.len() == 2 && b.labels[0] == rtype && b.labels[1] == name)
    }
}

/// Which instance of a `count`/`for_each` resource or module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    None,
    Int(i64),
    Str(String),
}

impl Key {
    /// `""`, `[0]` or `["k"]`, as in Terraform addresses.
    pub fn suffix(&self) -> String {
        match self {
            Key::None => String::new(),
            Key::Int(i) => format!("[{i}]"),
            Key::Str(s) => format!("[{s:?}]"),
        }
    }
    /// `""`, `-0` or `-k`, for edgeway names.
    pub fn name_suffix(&self) -> String {
        match self {
            Key::None => String::new(),
            Key::Int(i) => format!("-{i}"),
            Key::Str(s) => format!("-{s}"),
        }
    }
}

/// What `count.index`, `each.*` and local names (for expressions, dynamic iterators) mean here.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub inst: usize,
    pub count: Option<i64>,
    pub each: Option<(Value, Value)>,
    pub vars: Vec<(String, Value)>,
}

impl Scope {
    fn module(inst: usize) -> Self {
        Scope {
            inst,
            ..Default::default()
        }
    }
    fn with_var(&self, name: &str, v: Value) -> Self {
        let mut s = self.clone();
        s.vars.push((name.to_string(), v));
        s
    }
    fn for_key(inst: usize, key: &Key, each_value: Option<Value>) -> Self {
        let mut s = Scope::module(inst);
        match key {
            Key::None => {}
            Key::Int(i) if each_value.is_none() => s.count = Some(*i),
            Key::Int(i) => {
                s.each = Some((funcs::num(*i as f64), each_value.unwrap_or(Value::Null)))
            }
            Key::Str(k) => {
                s.each = Some((Value::String(k.clone()), each_value.unwrap_or(Value::Null)))
            }
        }
        s
    }
}

/// A module instance: the root, or one made by a `module` block.
pub struct Instance {
    pub src: Rc<ModuleSrc>,
    /// `module.a.module.b["k"].` (empty for the root).
    pub prefix: String,
    /// Edgeway-name prefix: `a-b-k-` (empty for the root).
    pub name_prefix: String,
    /// The parent instance and the scope the `module` block's arguments are evaluated in.
    parent: Option<(usize, Block, Scope)>,
    vars: RefCell<HashMap<String, Result<Value, String>>>,
    locals: RefCell<HashMap<String, Result<Value, String>>>,
}

/// What a marker stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// `aws_lb.frontend` (with module prefix and instance key).
    pub address: String,
    pub data: bool,
    pub rtype: String,
    pub attr: String,
    pub inst: usize,
    pub name: String,
    pub key: Key,
}

/// A resource or data source instance found in the configuration.
#[derive(Debug, Clone)]
pub struct ResourceInstance {
    pub address: String,
    pub data: bool,
    pub rtype: String,
    pub name: String,
    pub key: Key,
    pub scope: Scope,
    pub block: Block,
    /// Default edgeway name: module prefix + resource name + instance key.
    pub local_name: String,
}

/// An evaluated body: attribute values (or why they could not be evaluated), nested blocks with
/// `dynamic` blocks expanded. Consumers mark what they read, to report what they ignored.
#[derive(Debug, Clone, Default)]
pub struct EBody {
    pub attrs: Vec<EAttr>,
    pub blocks: Vec<EBlock>,
}

#[derive(Debug, Clone)]
pub struct EAttr {
    pub key: String,
    pub value: Result<Value, String>,
    pub loc: Loc,
    pub used: std::cell::Cell<bool>,
}

#[derive(Debug, Clone)]
pub struct EBlock {
    pub ident: String,
    pub labels: Vec<String>,
    pub body: EBody,
    pub loc: Loc,
    pub used: std::cell::Cell<bool>,
}

impl EBody {
    /// The body as an object value (blocks become lists of objects).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        for a in &self.attrs {
            if let Ok(v) = &a.value {
                m.insert(a.key.clone(), v.clone());
            }
        }
        for b in &self.blocks {
            let e = m
                .entry(b.ident.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(l) = e {
                l.push(b.body.to_value());
            }
        }
        Value::Object(m)
    }
}

/// Values for the root module's variables (from `-var` and tfvars files).
#[derive(Debug, Clone)]
pub enum VarValue {
    /// `-var NAME=VALUE`: a string, or an HCL expression for non-string types.
    Raw(String),
    Value(Value),
}

pub struct Evaluator {
    pub instances: RefCell<Vec<Rc<Instance>>>,
    children: RefCell<Children>,
    modules: RefCell<HashMap<PathBuf, Rc<ModuleSrc>>>,
    root_vars: HashMap<String, VarValue>,
    in_progress: RefCell<HashSet<String>>,
    pub markers: RefCell<HashMap<String, Marker>>,
    cwd: String,
}

type R = Result<Value, String>;
/// (parent instance, module call name, key) → child instance.
type Children = HashMap<(usize, String, Key), Result<usize, String>>;

fn marker_string(address: &str, attr: &str) -> String {
    format!("${{{address}.{attr}}}")
}

/// Attributes of a resource type that AWS computes and that have a fixed meaning locally.
fn static_attr(rtype: &str, attr: &str) -> Option<Value> {
    match (rtype, attr) {
        ("aws_cloudfront_distribution", "hosted_zone_id") => {
            Some(Value::String("Z2FDTNDATAQYW2".into()))
        }
        _ => None,
    }
}

impl Evaluator {
    pub fn new(root: ModuleSrc, root_vars: HashMap<String, VarValue>) -> Self {
        let root = Instance {
            src: Rc::new(root),
            prefix: String::new(),
            name_prefix: String::new(),
            parent: None,
            vars: RefCell::default(),
            locals: RefCell::default(),
        };
        Evaluator {
            instances: RefCell::new(vec![Rc::new(root)]),
            children: RefCell::default(),
            modules: RefCell::default(),
            root_vars,
            in_progress: RefCell::default(),
            markers: RefCell::default(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        }
    }

    pub fn instance(&self, i: usize) -> Option<Rc<Instance>> {
        self.instances.borrow().get(i).cloned()
    }

    fn inst(&self, i: usize) -> Result<Rc<Instance>, String> {
        self.instance(i)
            .ok_or_else(|| "internal: no such module instance".to_string())
    }

    /// Runs `f` unless `key` is already being evaluated (a reference cycle).
    fn guarded(&self, key: String, f: impl FnOnce() -> R) -> R {
        if !self.in_progress.borrow_mut().insert(key.clone()) {
            return Err(format!("{key} refers to itself"));
        }
        let r = f();
        self.in_progress.borrow_mut().remove(&key);
        r
    }

    // ---- expressions ----

    pub fn eval(&self, e: &Expression, s: &Scope) -> R {
        match e {
            Expression::Null => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b)),
            Expression::Number(n) => Ok(Value::Number(*n)),
            Expression::String(t) => Ok(Value::String(t.clone())),
            Expression::Array(items) => items
                .iter()
                .map(|x| self.eval(x, s))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Expression::Object(o) => {
                let mut m = Map::new();
                for (k, v) in o {
                    let key = match k {
                        ObjectKey::Identifier(id) => id.as_str().to_string(),
                        ObjectKey::Expression(Expression::Variable(v)) => v.as_str().to_string(),
                        ObjectKey::Expression(x) => to_str(&self.eval(x, s)?)?,
                        _ => return Err("unsupported object key".into()),
                    };
                    m.insert(key, self.eval(v, s)?);
                }
                Ok(Value::Object(m))
            }
            Expression::TemplateExpr(t) => self.template_expr(t, s),
            Expression::Variable(v) => self.variable(v.as_str(), s),
            Expression::Traversal(t) => self.traversal(&t.expr, &t.operators, s),
            Expression::FuncCall(f) => {
                let name = f.name.name.as_str();
                if !f.name.namespace.is_empty() {
                    return Err(format!("provider function {name}() is not supported"));
                }
                match name {
                    "try" => {
                        let mut last = "try: no arguments".to_string();
                        for a in &f.args {
                            match self.eval(a, s) {
                                Ok(v) => return Ok(v),
                                Err(e) => last = e,
                            }
                        }
                        Err(last)
                    }
                    "can" => Ok(Value::Bool(
                        f.args.first().is_some_and(|a| self.eval(a, s).is_ok()),
                    )),
                    _ => {
                        let mut args = f
                            .args
                            .iter()
                            .map(|a| self.eval(a, s))
                            .collect::<Result<Vec<_>, _>>()?;
                        if f.expand_final {
                            if let Some(Value::Array(last)) = args.pop() {
                                args.extend(last);
                            }
                        }
                        funcs::call(name, args)
                    }
                }
            }
            Expression::Parenthesis(x) => self.eval(x, s),
            Expression::Conditional(c) => {
                if to_bool(&self.eval(&c.cond_expr, s)?)? {
                    self.eval(&c.true_expr, s)
                } else {
                    self.eval(&c.false_expr, s)
                }
            }
            Expression::Operation(op) => self.operation(op, s),
            Expression::ForExpr(f) => {
                let coll = self.eval(&f.collection_expr, s)?;
                let pairs: Vec<(Value, Value)> = match &coll {
                    Value::Array(l) => l
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (funcs::num(i as f64), v.clone()))
                        .collect(),
                    Value::Object(m) => sorted(m)
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v))
                        .collect(),
                    Value::Null => Vec::new(),
                    other => return Err(format!("for: cannot iterate over {}", kind(other))),
                };
                let mut list = Vec::new();
                let mut map: Map<String, Value> = Map::new();
                for (k, v) in pairs {
                    let mut inner = s.with_var(f.value_var.as_str(), v);
                    if let Some(kv) = &f.key_var {
                        inner = inner.with_var(kv.as_str(), k);
                    }
                    if let Some(c) = &f.cond_expr {
                        if !to_bool(&self.eval(c, &inner)?)? {
                            continue;
                        }
                    }
                    let val = self.eval(&f.value_expr, &inner)?;
                    match &f.key_expr {
                        Some(ke) => {
                            let key = to_str(&self.eval(ke, &inner)?)?;
                            if f.grouping {
                                let e = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                                if let Value::Array(l) = e {
                                    l.push(val);
                                }
                            } else if map.insert(key.clone(), val).is_some() {
                                return Err(format!("for: duplicate key {key:?}"));
                            }
                        }
                        None => list.push(val),
                    }
                }
                Ok(if f.key_expr.is_some() {
                    Value::Object(map)
                } else {
                    Value::Array(list)
                })
            }
            _ => Err("unsupported expression".into()),
        }
    }

    fn template_expr(&self, t: &TemplateExpr, s: &Scope) -> R {
        let tpl = Template::from_expr(t).map_err(|e| format!("template: {e}"))?;
        // A template that is exactly one interpolation keeps the value's type.
        if let [Element::Interpolation(i)] = tpl.elements() {
            return self.eval(&i.expr, s);
        }
        Ok(Value::String(self.template(&tpl, s)?))
    }

    fn template(&self, tpl: &Template, s: &Scope) -> Result<String, String> {
        let mut out = String::new();
        for el in tpl.elements() {
            match el {
                Element::Literal(l) => out.push_str(l),
                Element::Interpolation(i) => out.push_str(&to_str(&self.eval(&i.expr, s)?)?),
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        if to_bool(&self.eval(&d.cond_expr, s)?)? {
                            out.push_str(&self.template(&d.true_template, s)?);
                        } else if let Some(f) = &d.false_template {
                            out.push_str(&self.template(f, s)?);
                        }
                    }
                    Directive::For(d) => {
                        let coll = self.eval(&d.collection_expr, s)?;
                        let pairs: Vec<(Value, Value)> = match &coll {
                            Value::Array(l) => l
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (funcs::num(i as f64), v.clone()))
                                .collect(),
                            Value::Object(m) => sorted(m)
                                .into_iter()
                                .map(|(k, v)| (Value::String(k), v))
                                .collect(),
                            other => {
                                return Err(format!("for: cannot iterate over {}", kind(other)))
                            }
                        };
                        for (k, v) in pairs {
                            let mut inner = s.with_var(d.value_var.as_str(), v);
                            if let Some(kv) = &d.key_var {
                                inner = inner.with_var(kv.as_str(), k);
                            }
                            out.push_str(&self.template(&d.template, &inner)?);
                        }
                    }
                },
            }
        }
        Ok(out)
    }

    fn operation(&self, op: &Operation, s: &Scope) -> R {
        match op {
            Operation::Unary(u) => {
                let v = self.eval(&u.expr, s)?;
                match u.operator {
                    UnaryOperator::Neg => Ok(funcs::num(-to_f64(&v)?)),
                    UnaryOperator::Not => Ok(Value::Bool(!to_bool(&v)?)),
                }
            }
            Operation::Binary(b) => {
                use BinaryOperator as B;
                // && and || short-circuit.
                if matches!(b.operator, B::And | B::Or) {
                    let l = to_bool(&self.eval(&b.lhs_expr, s)?)?;
                    if (b.operator == B::And && !l) || (b.operator == B::Or && l) {
                        return Ok(Value::Bool(l));
                    }
                    return Ok(Value::Bool(to_bool(&self.eval(&b.rhs_expr, s)?)?));
                }
                let l = self.eval(&b.lhs_expr, s)?;
                let r = self.eval(&b.rhs_expr, s)?;
                let eq = || match (&l, &r) {
                    (Value::Number(_), Value::Number(_)) => to_f64(&l).ok() == to_f64(&r).ok(),
                    _ => l == r,
                };
                Ok(match b.operator {
                    B::Eq => Value::Bool(eq()),
                    B::NotEq => Value::Bool(!eq()),
                    B::Less => Value::Bool(to_f64(&l)? < to_f64(&r)?),
                    B::LessEq => Value::Bool(to_f64(&l)? <= to_f64(&r)?),
                    B::Greater => Value::Bool(to_f64(&l)? > to_f64(&r)?),
                    B::GreaterEq => Value::Bool(to_f64(&l)? >= to_f64(&r)?),
                    B::Plus => funcs::num(to_f64(&l)? + to_f64(&r)?),
                    B::Minus => funcs::num(to_f64(&l)? - to_f64(&r)?),
                    B::Mul => funcs::num(to_f64(&l)? * to_f64(&r)?),
                    B::Div => {
                        let d = to_f64(&r)?;
                        if d == 0.0 {
                            return Err("division by zero".into());
                        }
                        funcs::num(to_f64(&l)? / d)
                    }
                    B::Mod => {
                        let d = to_f64(&r)?;
                        if d == 0.0 {
                            return Err("modulo by zero".into());
                        }
                        funcs::num(to_f64(&l)? % d)
                    }
                    B::And | B::Or => Value::Null,
                })
            }
        }
    }

    fn variable(&self, name: &str, s: &Scope) -> R {
        if let Some((_, v)) = s.vars.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        Err(format!("`{name}` cannot be used alone here"))
    }

    fn index(&self, v: &Value, idx: &Value) -> R {
        match v {
            Value::Array(l) => {
                let i = to_f64(idx)?;
                l.get(i as usize).cloned().ok_or_else(|| {
                    format!(
                        "index {i} is out of range (the list has {} elements)",
                        l.len()
                    )
                })
            }
            Value::Object(m) => {
                let k = to_str(idx)?;
                m.get(&k).cloned().ok_or_else(|| format!("no key {k:?}"))
            }
            other => Err(format!("cannot index {}", kind(other))),
        }
    }

    /// Applies traversal operators to a value.
    fn apply(&self, mut v: Value, ops: &[TraversalOperator], s: &Scope) -> R {
        for (i, op) in ops.iter().enumerate() {
            v = match op {
                TraversalOperator::GetAttr(a) => match &v {
                    Value::Object(m) => m
                        .get(a.as_str())
                        .cloned()
                        .ok_or_else(|| format!("no attribute `{}`", a.as_str()))?,
                    other => return Err(format!("`.{}` on {}", a.as_str(), kind(other))),
                },
                TraversalOperator::Index(e) => {
                    let idx = self.eval(e, s)?;
                    self.index(&v, &idx)?
                }
                TraversalOperator::LegacyIndex(n) => self.index(&v, &funcs::num(*n as f64))?,
                TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
                    let items = match v {
                        Value::Null => Vec::new(),
                        Value::Array(l) => l,
                        other => vec![other],
                    };
                    let rest = &ops[i + 1..];
                    return items
                        .into_iter()
                        .map(|x| self.apply(x, rest, s))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array);
                }
            };
        }
        Ok(v)
    }

    fn traversal(&self, root: &Expression, ops: &[TraversalOperator], s: &Scope) -> R {
        let Expression::Variable(var) = root else {
            let v = self.eval(root, s)?;
            return self.apply(v, ops, s);
        };
        let name = var.as_str();
        if s.vars.iter().any(|(n, _)| n == name) {
            let v = self.variable(name, s)?;
            return self.apply(v, ops, s);
        }
        let attr = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(a)) => Ok(a.as_str().to_string()),
            _ => Err(format!("`{name}` needs an attribute")),
        };
        match name {
            "var" => {
                let v = self.var(s.inst, &attr(0)?)?;
                self.apply(v, &ops[1..], s)
            }
            "local" => {
                let v = self.local(s.inst, &attr(0)?)?;
                self.apply(v, &ops[1..], s)
            }
            "count" => match (attr(0)?.as_str(), s.count) {
                ("index", Some(i)) => self.apply(funcs::num(i as f64), &ops[1..], s),
                _ => Err("count.index outside a resource with count".into()),
            },
            "each" => {
                let Some((k, v)) = &s.each else {
                    return Err("each.* outside a resource with for_each".into());
                };
                let x = match attr(0)?.as_str() {
                    "key" => k.clone(),
                    "value" => v.clone(),
                    other => return Err(format!("each.{other} does not exist")),
                };
                self.apply(x, &ops[1..], s)
            }
            "path" => {
                let inst = self.inst(s.inst)?;
                let v = match attr(0)?.as_str() {
                    "module" => inst.src.dir.display().to_string(),
                    "root" => self.inst(0)?.src.dir.display().to_string(),
                    "cwd" => self.cwd.clone(),
                    other => return Err(format!("path.{other} does not exist")),
                };
                self.apply(Value::String(v), &ops[1..], s)
            }
            "terraform" => match attr(0)?.as_str() {
                "workspace" => self.apply(Value::String("default".into()), &ops[1..], s),
                other => Err(format!("terraform.{other} is not known locally")),
            },
            "module" => self.module_ref(s, &attr(0)?, &ops[1..]),
            "data" => {
                let rtype = attr(0)?;
                self.resource_ref(s, true, &rtype, &ops[1..])
            }
            "self" => Err("`self` is only meaningful in provisioners".into()),
            rtype => self.resource_ref(s, false, rtype, ops),
        }
    }

    // ---- variables and locals ----

    fn var(&self, inst_i: usize, name: &str) -> R {
        let inst = self.inst(inst_i)?;
        if let Some(v) = inst.vars.borrow().get(name) {
            return v.clone();
        }
        let key = format!("{}var.{name}", inst.prefix);
        let r = self.guarded(key, || self.compute_var(&inst, name));
        inst.vars.borrow_mut().insert(name.to_string(), r.clone());
        r
    }

    fn compute_var(&self, inst: &Instance, name: &str) -> R {
        let decl = inst
            .src
            .variables
            .iter()
            .find(|b| b.labels.first().map(String::as_str) == Some(name));
        let Some(decl) = decl else {
            return Err(format!("no variable \"{name}\" is declared"));
        };
        let ty = decl.body.attr("type").map(|a| type_name(&a.expr));
        let given = match &inst.parent {
            None => match self.root_vars.get(name) {
                Some(VarValue::Value(v)) => Some(v.clone()),
                Some(VarValue::Raw(raw)) => Some(raw_var(raw, ty.as_deref())?),
                None => None,
            },
            Some((parent, call, scope)) => match call.body.attr(name) {
                Some(a) => Some(self.eval(
                    &a.expr,
                    &Scope {
                        inst: *parent,
                        ..scope.clone()
                    },
                )?),
                None => None,
            },
        };
        let v = match given {
            Some(v) => v,
            None => match decl.body.attr("default") {
                Some(d) => self.eval(&d.expr, &Scope::module(0))?,
                None => {
                    return Err(match &inst.parent {
                        None => format!("variable \"{name}\" has no value: pass --var {name}=VALUE or a tfvars file"),
                        Some(_) => format!("variable \"{name}\" of module {} has no value", inst.prefix.trim_end_matches('.')),
                    })
                }
            },
        };
        Ok(convert(v, ty.as_deref()))
    }

    fn local(&self, inst_i: usize, name: &str) -> R {
        let inst = self.inst(inst_i)?;
        if let Some(v) = inst.locals.borrow().get(name) {
            return v.clone();
        }
        let Some(a) = inst.src.locals.iter().find(|a| a.key == name) else {
            return Err(format!("no local value \"{name}\""));
        };
        let key = format!("{}local.{name}", inst.prefix);
        let r = self.guarded(key, || self.eval(&a.expr, &Scope::module(inst_i)));
        inst.locals.borrow_mut().insert(name.to_string(), r.clone());
        r
    }

    // ---- count / for_each ----

    /// The instances a block with `count`/`for_each` makes (one `Key::None` without).
    pub fn expand(&self, block: &Block, s: &Scope) -> Result<Vec<(Key, Option<Value>)>, String> {
        if let Some(c) = block.body.attr("count") {
            let n = to_f64(&self.eval(&c.expr, s).map_err(|e| format!("count: {e}"))?)?;
            return Ok((0..n.max(0.0) as i64)
                .map(|i| (Key::Int(i), None))
                .collect());
        }
        if let Some(f) = block.body.attr("for_each") {
            let v = self
                .eval(&f.expr, s)
                .map_err(|e| format!("for_each: {e}"))?;
            return match v {
                Value::Object(m) => Ok(sorted(&m)
                    .into_iter()
                    .map(|(k, v)| (Key::Str(k), Some(v)))
                    .collect()),
                Value::Array(l) => l
                    .iter()
                    .map(|x| to_str(x).map(|k| (Key::Str(k.clone()), Some(Value::String(k)))))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|mut v| {
                        v.sort_by_key(|a| a.0.suffix());
                        v.dedup_by(|a, b| a.0 == b.0);
                        v
                    }),
                Value::Null => Ok(Vec::new()),
                other => Err(format!("for_each over {}", kind(&other))),
            };
        }
        Ok(vec![(Key::None, None)])
    }

    // ---- modules ----

    /// The child instance of module call `call` with `key`, made on first use.
    pub fn child(
        &self,
        parent: usize,
        call: &Block,
        key: &Key,
        each_value: Option<Value>,
    ) -> Result<usize, String> {
        let name = call.labels.first().cloned().unwrap_or_default();
        let memo = (parent, name.clone(), key.clone());
        if let Some(r) = self.children.borrow().get(&memo) {
            return r.clone();
        }
        let r = self.make_child(parent, call, &name, key, each_value);
        self.children.borrow_mut().insert(memo, r.clone());
        r
    }

    fn make_child(
        &self,
        parent: usize,
        call: &Block,
        name: &str,
        key: &Key,
        each_value: Option<Value>,
    ) -> Result<usize, String> {
        let p = self.inst(parent)?;
        let source = call.body.attr("source").ok_or("module without `source`")?;
        let source = to_str(&self.eval(&source.expr, &Scope::module(parent))?)?;
        if !(source.starts_with("./") || source.starts_with("../")) {
            return Err(format!(
                "module source {source:?} is not a local path; its resources are not imported"
            ));
        }
        let dir = normalize(&p.src.dir.join(&source));
        let canon = dir
            .canonicalize()
            .map_err(|e| format!("module source {source:?}: {e}"))?;
        let cached = self.modules.borrow().get(&canon).cloned();
        let src = match cached {
            Some(m) => m,
            None => {
                let m = Rc::new(ModuleSrc::load(&dir)?);
                self.modules.borrow_mut().insert(canon, m.clone());
                m
            }
        };
        let scope = Scope::for_key(parent, key, each_value);
        let inst = Instance {
            src,
            prefix: format!("{}module.{name}{}.", p.prefix, key.suffix()),
            name_prefix: format!("{}{name}{}-", p.name_prefix, key.name_suffix()),
            parent: Some((parent, call.clone(), scope)),
            vars: RefCell::default(),
            locals: RefCell::default(),
        };
        let mut all = self.instances.borrow_mut();
        all.push(Rc::new(inst));
        Ok(all.len() - 1)
    }

    fn module_ref(&self, s: &Scope, name: &str, ops: &[TraversalOperator]) -> R {
        let inst = self.inst(s.inst)?;
        let Some(call) = inst
            .src
            .modules
            .iter()
            .find(|b| b.labels.first().map(String::as_str) == Some(name))
        else {
            return Err(format!("no module \"{name}\""));
        };
        let keys = self.expand(call, &Scope::module(s.inst))?;
        let outputs_of = |k: &Key, ev: Option<Value>| -> R {
            let child = self.child(s.inst, call, k, ev)?;
            self.outputs(child)
        };
        if keys.len() == 1 && keys[0].0 == Key::None {
            let v = outputs_of(&Key::None, None)?;
            return self.apply(v, ops, s);
        }
        let is_count = call.body.attr("count").is_some();
        let mut list = Vec::new();
        let mut map = Map::new();
        for (k, ev) in keys {
            let v = outputs_of(&k, ev)?;
            match &k {
                Key::Str(ks) if !is_count => {
                    map.insert(ks.clone(), v);
                }
                _ => list.push(v),
            }
        }
        let v = if is_count {
            Value::Array(list)
        } else {
            Value::Object(map)
        };
        self.apply(v, ops, s)
    }

    /// A module instance's outputs as an object (outputs that fail are left out).
    fn outputs(&self, child: usize) -> R {
        let inst = self.inst(child)?;
        let mut m = Map::new();
        let mut first_err = None;
        for o in &inst.src.outputs {
            let (Some(name), Some(v)) = (o.labels.first(), o.body.attr("value")) else {
                continue;
            };
            let key = format!("{}output.{name}", inst.prefix);
            match self.guarded(key, || self.eval(&v.expr, &Scope::module(child))) {
                Ok(val) => {
                    m.insert(name.clone(), val);
                }
                Err(e) => {
                    first_err.get_or_insert(format!("output {name}: {e}"));
                }
            }
        }
        if m.is_empty() {
            if let Some(e) = first_err {
                return Err(e);
            }
        }
        Ok(Value::Object(m))
    }

    // ---- resources ----

    fn resource_ref(&self, s: &Scope, data: bool, rtype: &str, ops: &[TraversalOperator]) -> R {
        let Some(TraversalOperator::GetAttr(name)) = ops.first() else {
            return Err(format!("`{rtype}` is not a variable or resource reference"));
        };
        let name = name.as_str();
        let inst = self.inst(s.inst)?;
        let kind_word = if data { "data source" } else { "resource" };
        let Some(block) = inst.src.find(data, rtype, name) else {
            return Err(format!(
                "no {kind_word} {}{rtype}.{name}",
                if data { "data." } else { "" }
            ));
        };
        let ops = &ops[1..];
        let expanded = block.body.attr("count").is_some() || block.body.attr("for_each").is_some();
        if !expanded {
            return self.instance_ref(s.inst, data, block, &Key::None, None, ops, s);
        }
        let keys = self.expand(block, &Scope::module(s.inst))?;
        match ops.first() {
            Some(TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_)) => {
                let idx = match &ops[0] {
                    TraversalOperator::Index(e) => self.eval(e, s)?,
                    TraversalOperator::LegacyIndex(n) => funcs::num(*n as f64),
                    _ => Value::Null,
                };
                let want = match &idx {
                    Value::Number(_) => Key::Int(to_f64(&idx)? as i64),
                    other => Key::Str(to_str(other)?),
                };
                let (k, ev) = keys
                    .into_iter()
                    .find(|(k, _)| *k == want)
                    .ok_or_else(|| format!("{rtype}.{name} has no instance {}", want.suffix()))?;
                self.instance_ref(s.inst, data, block, &k, ev, &ops[1..], s)
            }
            Some(TraversalOperator::AttrSplat | TraversalOperator::FullSplat) => keys
                .into_iter()
                .map(|(k, ev)| self.instance_ref(s.inst, data, block, &k, ev, &ops[1..], s))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => {
                let is_count = block.body.attr("count").is_some();
                let mut list = Vec::new();
                let mut map = Map::new();
                for (k, ev) in keys {
                    let v = self.instance_ref(s.inst, data, block, &k, ev, &[], s)?;
                    match &k {
                        Key::Str(ks) if !is_count => {
                            map.insert(ks.clone(), v);
                        }
                        _ => list.push(v),
                    }
                }
                let v = if is_count {
                    Value::Array(list)
                } else {
                    Value::Object(map)
                };
                self.apply(v, ops, s)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn instance_ref(
        &self,
        inst: usize,
        data: bool,
        block: &Block,
        key: &Key,
        ev: Option<Value>,
        ops: &[TraversalOperator],
        s: &Scope,
    ) -> R {
        let (rtype, name) = (&block.labels[0], &block.labels[1]);
        let prefix = self.inst(inst)?.prefix.clone();
        let address = format!(
            "{prefix}{}{rtype}.{name}{}",
            if data { "data." } else { "" },
            key.suffix()
        );
        let scope = Scope::for_key(inst, key, ev);
        let marker = |attr: &str| -> Value {
            let m = marker_string(&address, attr);
            self.markers.borrow_mut().insert(
                m.clone(),
                Marker {
                    address: address.clone(),
                    data,
                    rtype: rtype.clone(),
                    attr: attr.to_string(),
                    inst,
                    name: name.clone(),
                    key: key.clone(),
                },
            );
            Value::String(m)
        };
        match ops.first() {
            Some(TraversalOperator::GetAttr(a)) => {
                let a = a.as_str();
                let v = if let Some(at) = block.body.attr(a) {
                    self.guarded(format!("{address}.{a}"), || self.eval(&at.expr, &scope))?
                } else if block.body.blocks.iter().any(|b| {
                    b.ident == a
                        || (b.ident == "dynamic" && b.labels.first().map(String::as_str) == Some(a))
                }) {
                    let body = self.eval_body(&block.body, &scope);
                    match body.to_value() {
                        Value::Object(mut m) => {
                            m.swap_remove(a).unwrap_or(Value::Array(Vec::new()))
                        }
                        _ => Value::Array(Vec::new()),
                    }
                } else if let Some(v) = static_attr(rtype, a) {
                    v
                } else if a == "fqdn" && rtype == "aws_route53_record" {
                    block
                        .body
                        .attr("name")
                        .map(|n| self.eval(&n.expr, &scope))
                        .transpose()?
                        .unwrap_or(Value::Null)
                } else {
                    marker(a)
                };
                self.apply(v, &ops[1..], s)
            }
            _ => {
                // The whole object: arguments, nested blocks and the computed attributes.
                let mut v = self.guarded(address.clone(), || {
                    Ok(self.eval_body(&block.body, &scope).to_value())
                })?;
                if let Value::Object(m) = &mut v {
                    for a in [
                        "id",
                        "arn",
                        "dns_name",
                        "domain_name",
                        "zone_id",
                        "hosted_zone_id",
                    ] {
                        if !m.contains_key(a) {
                            m.insert(
                                a.to_string(),
                                static_attr(rtype, a).unwrap_or_else(|| marker(a)),
                            );
                        }
                    }
                }
                self.apply(v, ops, s)
            }
        }
    }

    /// Every resource and data source instance, through local modules (warnings for what
    /// could not be expanded).
    pub fn all_resources(&self, warn: &mut Vec<(Loc, String, String)>) -> Vec<ResourceInstance> {
        let mut out = Vec::new();
        self.collect(0, &mut out, warn);
        out
    }

    fn collect(
        &self,
        inst_i: usize,
        out: &mut Vec<ResourceInstance>,
        warn: &mut Vec<(Loc, String, String)>,
    ) {
        let Ok(inst) = self.inst(inst_i) else { return };
        for (data, list) in [(true, &inst.src.data), (false, &inst.src.resources)] {
            for b in list.iter() {
                if b.labels.len() != 2 {
                    continue;
                }
                let (rtype, name) = (&b.labels[0], &b.labels[1]);
                let base = format!(
                    "{}{}{rtype}.{name}",
                    inst.prefix,
                    if data { "data." } else { "" }
                );
                match self.expand(b, &Scope::module(inst_i)) {
                    Ok(keys) => {
                        for (k, ev) in keys {
                            out.push(ResourceInstance {
                                address: format!("{base}{}", k.suffix()),
                                data,
                                rtype: rtype.clone(),
                                name: name.clone(),
                                scope: Scope::for_key(inst_i, &k, ev),
                                local_name: format!(
                                    "{}{name}{}",
                                    inst.name_prefix,
                                    k.name_suffix()
                                ),
                                key: k,
                                block: b.clone(),
                            });
                        }
                    }
                    Err(e) => {
                        warn.push((b.loc.clone(), base, format!("{e}; the resource is skipped")))
                    }
                }
            }
        }
        for call in &inst.src.modules {
            let name = call.labels.first().cloned().unwrap_or_default();
            let addr = format!("{}module.{name}", inst.prefix);
            let keys = match self.expand(call, &Scope::module(inst_i)) {
                Ok(k) => k,
                Err(e) => {
                    warn.push((
                        call.loc.clone(),
                        addr,
                        format!("{e}; the module is skipped"),
                    ));
                    continue;
                }
            };
            for (k, ev) in keys {
                match self.child(inst_i, call, &k, ev) {
                    Ok(c) => self.collect(c, out, warn),
                    Err(e) => {
                        let loc = call
                            .body
                            .attr("source")
                            .map_or(call.loc.clone(), |a| a.loc.clone());
                        warn.push((loc, format!("{addr}.source"), e));
                    }
                }
            }
        }
    }

    // ---- bodies ----

    /// Evaluates a body: attributes (meta-arguments excluded) and nested blocks, with `dynamic`
    /// blocks expanded.
    pub fn eval_body(&self, body: &Body, s: &Scope) -> EBody {
        let mut out = EBody::default();
        for a in &body.attrs {
            if matches!(
                a.key.as_str(),
                "count" | "for_each" | "depends_on" | "provider" | "lifecycle"
            ) {
                continue;
            }
            out.attrs.push(EAttr {
                key: a.key.clone(),
                value: self.eval(&a.expr, s),
                loc: a.loc.clone(),
                used: Default::default(),
            });
        }
        for b in &body.blocks {
            if b.ident == "lifecycle"
                || b.ident == "timeouts"
                || b.ident == "provisioner"
                || b.ident == "connection"
            {
                continue;
            }
            if b.ident == "dynamic" {
                out.blocks.extend(self.expand_dynamic(b, s));
                continue;
            }
            out.blocks.push(EBlock {
                ident: b.ident.clone(),
                labels: b.labels.clone(),
                body: self.eval_body(&b.body, s),
                loc: b.loc.clone(),
                used: Default::default(),
            });
        }
        out
    }

    fn expand_dynamic(&self, b: &Block, s: &Scope) -> Vec<EBlock> {
        let name = b.labels.first().cloned().unwrap_or_default();
        let iterator = match b.body.attr("iterator").map(|a| &a.expr) {
            Some(Expression::Variable(v)) => v.as_str().to_string(),
            _ => name.clone(),
        };
        let content = b.body.blocks("content").next();
        let items = b.body.attr("for_each").map(|a| self.eval(&a.expr, s));
        let (Some(content), Some(items)) = (content, items) else {
            return vec![bad_block(
                &name,
                b,
                "a dynamic block needs for_each and content",
            )];
        };
        let pairs: Vec<(Value, Value)> = match items {
            Ok(Value::Array(l)) => l
                .into_iter()
                .enumerate()
                .map(|(i, v)| (funcs::num(i as f64), v))
                .collect(),
            Ok(Value::Object(m)) => sorted(&m)
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect(),
            Ok(Value::Null) => Vec::new(),
            Ok(other) => {
                return vec![bad_block(
                    &name,
                    b,
                    &format!("dynamic for_each over {}", kind(&other)),
                )]
            }
            Err(e) => return vec![bad_block(&name, b, &format!("dynamic for_each: {e}"))],
        };
        pairs
            .into_iter()
            .map(|(k, v)| {
                let mut it = Map::new();
                it.insert("key".to_string(), k);
                it.insert("value".to_string(), v);
                let inner = s.with_var(&iterator, Value::Object(it));
                EBlock {
                    ident: name.clone(),
                    labels: Vec::new(),
                    body: self.eval_body(&content.body, &inner),
                    loc: content.loc.clone(),
                    used: Default::default(),
                }
            })
            .collect()
    }

    /// Evaluates an expression written as text in the root module (for tests and tools).
    pub fn eval_text(&self, expr: &str) -> R {
        let body = hcl::parse(&format!("v = {expr}\n"))
            .map_err(|e| format!("cannot parse {expr:?}: {e}"))?;
        let attr = body
            .attributes()
            .next()
            .ok_or_else(|| format!("cannot parse {expr:?}"))?;
        self.eval(attr.expr(), &Scope::module(0))
    }

    /// The marker `v` is (the whole string), if it is one.
    pub fn marker(&self, v: &str) -> Option<Marker> {
        self.markers.borrow().get(v).cloned()
    }

    /// Markers inside `v` (for strings like `dualstack.${aws_lb.x.dns_name}`).
    pub fn markers_in(&self, v: &str) -> Vec<Marker> {
        let m = self.markers.borrow();
        m.iter()
            .filter(|(k, _)| v.contains(k.as_str()))
            .map(|(_, x)| x.clone())
            .collect()
    }
}

/// A block whose `for_each` failed: an attribute-less block carrying the error.
fn bad_block(name: &str, b: &Block, why: &str) -> EBlock {
    EBlock {
        ident: name.to_string(),
        labels: Vec::new(),
        body: EBody {
            attrs: vec![EAttr {
                key: "for_each".into(),
                value: Err(why.to_string()),
                loc: b.loc.clone(),
                used: Default::default(),
            }],
            blocks: Vec::new(),
        },
        loc: b.loc.clone(),
        used: Default::default(),
    }
}

/// `string`, `number`, `list(string)`, ... from a `type =` expression.
fn type_name(e: &Expression) -> String {
    match e {
        Expression::Variable(v) => v.as_str().to_string(),
        Expression::FuncCall(f) => f.name.name.as_str().to_string(),
        _ => "any".into(),
    }
}

/// A `-var` value: raw for primitive types, parsed as an expression for collections.
fn raw_var(raw: &str, ty: Option<&str>) -> R {
    let complex = matches!(ty, Some("list" | "map" | "set" | "object" | "tuple"))
        || (ty.is_none_or(|t| t == "any") && (raw.starts_with('[') || raw.starts_with('{')));
    if !complex {
        return Ok(Value::String(raw.to_string()));
    }
    let body =
        hcl::parse(&format!("v = {raw}")).map_err(|e| format!("cannot parse {raw:?}: {e}"))?;
    let attr = body
        .attributes()
        .next()
        .ok_or_else(|| format!("cannot parse {raw:?}"))?;
    let ev = Evaluator::new(ModuleSrc::default(), HashMap::new());
    ev.eval(attr.expr(), &Scope::default())
}

/// Converts a value to the declared primitive type where that is lossless.
fn convert(v: Value, ty: Option<&str>) -> Value {
    match (ty, &v) {
        (Some("number"), Value::String(s)) => s.trim().parse::<f64>().map(funcs::num).unwrap_or(v),
        (Some("bool"), Value::String(s)) if s == "true" || s == "false" => Value::Bool(s == "true"),
        (Some("string"), Value::Number(_) | Value::Bool(_)) => {
            to_str(&v).map(Value::String).unwrap_or(v)
        }
        (Some("set"), Value::Array(l)) => {
            funcs::call("toset", vec![Value::Array(l.clone())]).unwrap_or(v)
        }
        _ => v,
    }
}

/// Reads a `.tfvars` file (HCL attributes).
pub fn read_tfvars(path: &Path) -> Result<HashMap<String, VarValue>, String> {
    let shown = source::display_path(path);
    let src = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let body = source::parse(&shown, &src)?;
    let ev = Evaluator::new(ModuleSrc::default(), HashMap::new());
    let mut out = HashMap::new();
    for a in body.attrs {
        let v = ev
            .eval(&a.expr, &Scope::default())
            .map_err(|e| format!("{}: {}: {e}", a.loc, a.key))?;
        out.insert(a.key, VarValue::Value(v));
    }
    Ok(out)
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some_and(|n| n != "..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `elements` for callers outside.
pub fn list_of(v: &Value) -> Result<Vec<Value>, String> {
    elements(v)
}
