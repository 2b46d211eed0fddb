//! Execution of a parsed template, following Go's text/template `exec.go` semantics.

use std::collections::BTreeMap;

use super::TplError;
use super::funcs::{self, FnError, Param, Sig};
use super::parse::{Arg, Branch, Cmd, Node, Number, Pipe};
use super::value::{Elem, IntKind, Out, Value, sprint_value};

/// Evaluation steps allowed per template; bounds nested `range` loops.
const MAX_STEPS: u64 = 5_000_000;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub struct Exec {
    vars: Vec<(String, Value)>,
    out: Out,
    steps: u64,
}

pub fn execute(nodes: &[Node], data: Value) -> Result<Vec<u8>, TplError> {
    let mut ex = Exec {
        vars: vec![("$".to_string(), data.clone())],
        out: Out::new(),
        steps: 0,
    };
    ex.walk_list(&data, nodes)?;
    Ok(ex.out.buf)
}

impl Exec {
    fn step(&mut self, pos: usize) -> Result<(), TplError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(TplError::at(
                pos,
                "template takes too many steps to execute",
            ));
        }
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, TplError> {
        for n in nodes {
            match self.walk(dot, n)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> Result<Flow, TplError> {
        match node {
            Node::Text(t) => self.out.push(t.as_bytes())?,
            Node::Action(pipe) => {
                self.step(pipe.pos)?;
                let v = self.pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print(&v, pipe.pos)?;
                }
            }
            Node::If(b) | Node::With(b) => {
                let mark = self.vars.len();
                self.step(b.pos)?;
                let v = self.pipeline(dot, &b.pipe)?;
                let flow = if v.truth() {
                    if matches!(node, Node::With(_)) {
                        self.walk_list(&v, &b.list)?
                    } else {
                        self.walk_list(dot, &b.list)?
                    }
                } else if let Some(e) = &b.else_list {
                    self.walk_list(dot, e)?
                } else {
                    Flow::Normal
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range { branch } => {
                let mark = self.vars.len();
                self.range(dot, branch)?;
                self.vars.truncate(mark);
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, v: &Value, pos: usize) -> Result<(), TplError> {
        match v {
            Value::Nil => self.out.push(b"<no value>"),
            Value::Str(s) => self.out.push(s),
            v => {
                let b = sprint_value(v).map_err(|e| e.with_pos(pos))?;
                self.out.push(&b)
            }
        }
    }

    fn range(&mut self, dot: &Value, b: &Branch) -> Result<(), TplError> {
        self.step(b.pos)?;
        let v = self.pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let decl = &b.pipe;
        let mut items: Vec<(Value, Option<Vec<u8>>)> = Vec::new();
        let map = match &v {
            Value::List(l, ..) => {
                for (i, _) in l.iter().enumerate() {
                    items.push((Value::int(i as i64), None));
                }
                None
            }
            Value::Map(m, _) => {
                for k in m.borrow().keys() {
                    items.push((Value::str(k), Some(k.clone())));
                }
                Some(m.clone())
            }
            Value::Int(n, _) => {
                if decl.decl.len() > 1 {
                    return Err(TplError::at(
                        b.pos,
                        "can't use an integer to iterate over more than one variable",
                    ));
                }
                for i in 0..(*n).max(0) {
                    self.step(b.pos)?;
                    items.push((Value::Int(i, IntKind::Int), None));
                }
                None
            }
            Value::Nil => None,
            other => {
                return Err(TplError::at(
                    b.pos,
                    format!(
                        "range can't iterate over a value of type {}",
                        other.type_name()
                    ),
                ));
            }
        };
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                self.walk_list(dot, e)?;
            }
            return Ok(());
        }
        for (index, key) in items {
            self.step(b.pos)?;
            let elem = match (&v, &key) {
                (Value::List(l, ..), _) => match &index {
                    Value::Int(i, _) => l.get(*i as usize).cloned().unwrap_or(Value::Nil),
                    _ => Value::Nil,
                },
                (_, Some(k)) => map
                    .as_ref()
                    .and_then(|m| m.borrow().get(k).cloned())
                    .unwrap_or(Value::Nil),
                _ => index.clone(),
            };
            if !decl.decl.is_empty() {
                if decl.is_assign {
                    let first = if decl.decl.len() > 1 {
                        index.clone()
                    } else {
                        elem.clone()
                    };
                    self.set_var(&decl.decl[0], first, b.pos)?;
                } else {
                    self.set_top(1, elem.clone());
                }
            }
            if decl.decl.len() > 1 {
                if decl.is_assign {
                    self.set_var(&decl.decl[1], elem.clone(), b.pos)?;
                } else {
                    self.set_top(2, index.clone());
                }
            }
            let flow = self.walk_list(&elem, &b.list)?;
            self.vars.truncate(mark);
            match flow {
                Flow::Break => break,
                Flow::Continue | Flow::Normal => {}
            }
        }
        Ok(())
    }

    fn set_top(&mut self, n: usize, v: Value) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn set_var(&mut self, name: &str, v: Value, pos: usize) -> Result<(), TplError> {
        for slot in self.vars.iter_mut().rev() {
            if slot.0 == name {
                slot.1 = v;
                return Ok(());
            }
        }
        Err(TplError::at(pos, format!("undefined variable: {name}")))
    }

    fn var(&self, name: &str, pos: usize) -> Result<Value, TplError> {
        for slot in self.vars.iter().rev() {
            if slot.0 == name {
                return Ok(slot.1.clone());
            }
        }
        Err(TplError::at(pos, format!("undefined variable: {name}")))
    }

    fn pipeline(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, TplError> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let v = self.command(dot, cmd, value.take())?;
            value = Some(v);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone(), pipe.pos)?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(&mut self, dot: &Value, cmd: &Cmd, fin: Option<Value>) -> Result<Value, TplError> {
        self.step(cmd.pos)?;
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        let has_args = !rest.is_empty() || fin.is_some();
        match first {
            Arg::Field(pos, fields) => self.field_chain(dot.clone(), fields, *pos, has_args),
            Arg::Chain(pos, inner, fields) => {
                if matches!(**inner, Arg::Nil(_)) {
                    return Err(TplError::at(*pos, "indirection through explicit nil"));
                }
                let recv = self.eval_arg(dot, Param::Any, inner)?;
                self.field_chain(recv, fields, *pos, has_args)
            }
            Arg::Ident(pos, name) => self.call(dot, name, *pos, rest, fin),
            Arg::Pipe(pos, p) => {
                if has_args {
                    return Err(TplError::at(*pos, "can't give argument to non-function"));
                }
                self.nested(dot, p)
            }
            Arg::Var(pos, name, fields) => {
                let v = self.var(name, *pos)?;
                if fields.is_empty() {
                    if has_args {
                        return Err(TplError::at(
                            *pos,
                            format!("can't give argument to non-function {name}"),
                        ));
                    }
                    return Ok(v);
                }
                self.field_chain(v, fields, *pos, has_args)
            }
            Arg::Nil(pos) => Err(TplError::at(*pos, "nil is not a command")),
            other => {
                if has_args {
                    return Err(TplError::at(
                        other.pos(),
                        "can't give argument to non-function",
                    ));
                }
                self.eval_arg(dot, Param::Any, other)
            }
        }
    }

    /// A parenthesised pipeline; as in Go, its declarations stay visible afterwards.
    fn nested(&mut self, dot: &Value, p: &Pipe) -> Result<Value, TplError> {
        self.pipeline(dot, p)
    }

    fn field_chain(
        &mut self,
        mut recv: Value,
        fields: &[String],
        pos: usize,
        has_args: bool,
    ) -> Result<Value, TplError> {
        for (i, f) in fields.iter().enumerate() {
            let last = i + 1 == fields.len();
            recv = match &recv {
                Value::Nil => return Ok(Value::Nil),
                Value::Map(m, _) => {
                    if last && has_args {
                        return Err(TplError::at(
                            pos,
                            format!("{f} is not a method but has arguments"),
                        ));
                    }
                    m.borrow().get(f.as_bytes()).cloned().unwrap_or(Value::Nil)
                }
                other => {
                    return Err(TplError::at(
                        pos,
                        format!("can't evaluate field {f} in type {}", other.type_name()),
                    ));
                }
            };
        }
        Ok(recv)
    }

    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        pos: usize,
        args: &[Arg],
        fin: Option<Value>,
    ) -> Result<Value, TplError> {
        if name == "and" || name == "or" {
            return self.and_or(dot, name == "or", pos, args, fin);
        }
        let sig: Sig = funcs::signature(name)
            .ok_or_else(|| TplError::at(pos, format!("function {name:?} not defined")))?;
        let n = args.len() + usize::from(fin.is_some());
        let fixed = sig.params.len();
        if sig.variadic.is_some() {
            if n < fixed {
                return Err(TplError::at(
                    pos,
                    format!("wrong number of args for {name}: want at least {fixed} got {n}"),
                ));
            }
        } else if n != fixed {
            return Err(TplError::at(
                pos,
                format!("wrong number of args for {name}: want {fixed} got {n}"),
            ));
        }
        let param_at = |i: usize| -> Param {
            if i < fixed {
                sig.params[i]
            } else {
                sig.variadic.unwrap_or(Param::Any)
            }
        };
        let mut argv = Vec::with_capacity(n);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, param_at(i), a)?);
        }
        if let Some(f) = fin {
            argv.push(validate(f, param_at(args.len()), pos)?);
        }
        funcs::call(name, argv).map_err(|e| match e {
            FnError::Msg(m) => TplError::at(pos, format!("error calling {name}: {m}")),
            FnError::Unsupported(m) => TplError::unsupported(pos, m),
            FnError::Limit => TplError::limit().with_pos(pos),
        })
    }

    fn and_or(
        &mut self,
        dot: &Value,
        is_or: bool,
        pos: usize,
        args: &[Arg],
        fin: Option<Value>,
    ) -> Result<Value, TplError> {
        let n = args.len() + usize::from(fin.is_some());
        if n < 1 {
            let name = if is_or { "or" } else { "and" };
            return Err(TplError::at(
                pos,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut last = Value::Nil;
        for a in args {
            let v = self.eval_arg(dot, Param::Val, a)?;
            if v.truth() == is_or {
                return Ok(v);
            }
            last = v;
        }
        if let Some(f) = fin {
            return Ok(f);
        }
        Ok(last)
    }

    fn eval_arg(&mut self, dot: &Value, p: Param, a: &Arg) -> Result<Value, TplError> {
        self.step(a.pos())?;
        let pos = a.pos();
        match a {
            Arg::Dot(_) => validate(dot.clone(), p, pos),
            Arg::Nil(_) => match p {
                Param::Any | Param::AnyMap | Param::Val => Ok(Value::Nil),
                _ => Err(TplError::at(
                    pos,
                    format!("cannot assign nil to {}", p.go_type()),
                )),
            },
            Arg::Field(_, fields) => {
                let v = self.field_chain(dot.clone(), fields, pos, false)?;
                validate(v, p, pos)
            }
            Arg::Var(_, name, fields) => {
                let v = self.var(name, pos)?;
                let v = if fields.is_empty() {
                    v
                } else {
                    self.field_chain(v, fields, pos, false)?
                };
                validate(v, p, pos)
            }
            Arg::Chain(_, inner, fields) => {
                if matches!(**inner, Arg::Nil(_)) {
                    return Err(TplError::at(pos, "indirection through explicit nil"));
                }
                let recv = self.eval_arg(dot, Param::Any, inner)?;
                let v = self.field_chain(recv, fields, pos, false)?;
                validate(v, p, pos)
            }
            Arg::Pipe(_, pipe) => {
                let v = self.nested(dot, pipe)?;
                validate(v, p, pos)
            }
            Arg::Ident(_, name) => {
                let v = self.call(dot, name, pos, &[], None)?;
                validate(v, p, pos)
            }
            Arg::Bool(_, b) => match p {
                Param::Bool | Param::Any | Param::Val => Ok(Value::Bool(*b)),
                _ => Err(TplError::at(
                    pos,
                    format!("expected {}; found {b}", p.go_type()),
                )),
            },
            Arg::Str(_, s) => match p {
                Param::Str | Param::Any | Param::Val => Ok(Value::str(s)),
                _ => Err(TplError::at(
                    pos,
                    format!("expected {}; found quoted string", p.go_type()),
                )),
            },
            Arg::Number(_, n) => match p {
                Param::Int => match n.int {
                    Some(i) => Ok(Value::int(i)),
                    None => Err(TplError::at(
                        pos,
                        "expected integer; found a non-integer number",
                    )),
                },
                Param::Any | Param::Val => ideal(n, pos),
                _ => Err(TplError::at(
                    pos,
                    format!("expected {}; found a number", p.go_type()),
                )),
            },
        }
    }
}

/// Go's `idealConstant`: float syntax gives float64, anything else int.
fn ideal(n: &Number, pos: usize) -> Result<Value, TplError> {
    if n.float_syntax && !n.is_char {
        return Ok(Value::Float(n.float.unwrap_or(0.0)));
    }
    match n.int {
        Some(i) => Ok(Value::int(i)),
        None => Err(TplError::at(pos, "number overflows int")),
    }
}

/// Go's `validateType`: may the value be passed as this parameter type?
fn validate(v: Value, p: Param, pos: usize) -> Result<Value, TplError> {
    let ok = match (&v, p) {
        (_, Param::Any | Param::Val) => true,
        (Value::Nil, Param::AnyMap) => true,
        (Value::Nil, _) => {
            return Err(TplError::at(
                pos,
                format!("invalid value; expected {}", p.go_type()),
            ));
        }
        (Value::Str(_), Param::Str) => true,
        (Value::Int(_, IntKind::Int), Param::Int) => true,
        (Value::Bool(_), Param::Bool) => true,
        (Value::Map(_, Elem::Any), Param::AnyMap) => true,
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(TplError::at(
            pos,
            format!(
                "wrong type for value; expected {}; got {}",
                p.go_type(),
                v.type_name()
            ),
        ))
    }
}

/// The template's dot: items as Go strings.
pub fn data_value(items: &BTreeMap<String, Vec<u8>>) -> Value {
    let m = items
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), Value::str(v)))
        .collect();
    Value::map(m, Elem::Str)
}
