//! Kubernetes label selectors (`app=web,tier in (a,b),!legacy`), read with
//! the grammar and the error messages of apimachinery's `labels.Parse`,
//! which kustomize uses for `labelSelector` and `annotationSelector`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Ident,
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    In,
    NotIn,
    Open,
    Close,
    Comma,
    Error,
}

const SPECIAL: &[u8] = b"=!(),><";

fn symbol(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::Close,
        "," => Tok::Comma,
        "!" => Tok::Bang,
        "==" => Tok::DoubleEq,
        "=" => Tok::Eq,
        ">" => Tok::Gt,
        "<" => Tok::Lt,
        "!=" => Tok::NotEq,
        "(" => Tok::Open,
        "in" => Tok::In,
        "notin" => Tok::NotIn,
        _ => return None,
    })
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if i >= b.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        if SPECIAL.contains(&b[i]) {
            // The longest run of symbols that still names an operator.
            let start = i;
            let mut best: Option<(Tok, usize)> = None;
            while i < b.len() && SPECIAL.contains(&b[i]) {
                match symbol(&s[start..=i]) {
                    Some(t) => best = Some((t, i + 1)),
                    None if best.is_some() => break,
                    None => {}
                }
                i += 1;
            }
            match best {
                Some((t, end)) => {
                    out.push((t, s[start..end].to_string()));
                    i = end;
                }
                None => out.push((
                    Tok::Error,
                    format!("error expected: keyword found '{}'", &s[start..i]),
                )),
            }
            continue;
        }
        let start = i;
        while i < b.len()
            && !SPECIAL.contains(&b[i])
            && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n')
        {
            i += 1;
        }
        let word = &s[start..i];
        let tok = match word {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Ident,
        };
        out.push((tok, word.to_string()));
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Exists,
    NotExists,
    Eq,
    NotEq,
    In,
    NotIn,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

struct Parser {
    toks: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    /// The next token; in a value position `in` and `notin` are words.
    fn peek(&self, values: bool) -> (Tok, &str) {
        let (t, lit) = self
            .toks
            .get(self.pos)
            .map_or((Tok::End, ""), |(t, l)| (*t, l.as_str()));
        match t {
            Tok::In | Tok::NotIn if values => (Tok::Ident, lit),
            _ => (t, lit),
        }
    }

    fn next(&mut self, values: bool) -> (Tok, String) {
        let (t, lit) = self.peek(values);
        let out = (t, lit.to_string());
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        out
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (mut t, mut key) = self.next(true);
        let negated = t == Tok::Bang;
        if negated {
            (t, key) = self.next(true);
        }
        if t != Tok::Ident {
            return Err(format!("found '{key}', expected: identifier"));
        }
        let (after, _) = self.peek(true);
        if negated || matches!(after, Tok::End | Tok::Comma) {
            return Ok(Requirement {
                key,
                op: if negated { Op::NotExists } else { Op::Exists },
                values: Vec::new(),
            });
        }
        let (t, lit) = self.next(false);
        let op = match t {
            Tok::In => Op::In,
            Tok::NotIn => Op::NotIn,
            Tok::Eq | Tok::DoubleEq => Op::Eq,
            Tok::NotEq => Op::NotEq,
            Tok::Gt => Op::Gt,
            Tok::Lt => Op::Lt,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        };
        let values = match op {
            Op::In | Op::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        match op {
            Op::In | Op::NotIn if values.is_empty() => {
                Err("for 'in', 'notin' operators, values set can't be empty".into())
            }
            Op::Gt | Op::Lt if values.iter().any(|v| v.parse::<i64>().is_err()) => {
                Err("for 'Gt', 'Lt' operators, the value must be an integer".into())
            }
            _ => Ok(Requirement { key, op, values }),
        }
    }

    fn value_set(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.next(true);
        if t != Tok::Open {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.peek(true);
        let lit = lit.to_string();
        match t {
            Tok::Close => {
                self.next(true);
                Ok(vec![String::new()])
            }
            Tok::Ident | Tok::Comma => {
                let set = self.identifiers()?;
                if self.next(true).0 != Tok::Close {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    /// A comma-separated list whose items may be empty, as a sorted set.
    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut set = std::collections::BTreeSet::new();
        loop {
            let (t, lit) = self.next(true);
            match t {
                Tok::Ident => {
                    set.insert(lit);
                    match self.peek(true) {
                        (Tok::Comma, _) => {}
                        (Tok::Close, _) => return Ok(set.into_iter().collect()),
                        (_, l) => return Err(format!("found '{l}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    match self.peek(true).0 {
                        Tok::Close => {
                            set.insert(String::new());
                            return Ok(set.into_iter().collect());
                        }
                        Tok::Comma => {
                            set.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.next(true) {
            (Tok::Ident, lit) => Ok(vec![lit]),
            (_, lit) => Err(format!("found '{lit}', expected: identifier")),
        }
    }
}

/// Parses a selector; the error is worded as Kubernetes words it.
pub fn parse(s: &str) -> Result<Vec<Requirement>, String> {
    let mut p = Parser {
        toks: lex(s),
        pos: 0,
    };
    let mut reqs = Vec::new();
    loop {
        let (t, lit) = p.peek(true);
        match t {
            Tok::Ident | Tok::Bang => {
                let r = p
                    .requirement()
                    .map_err(|e| format!("unable to parse requirement: {e}"))?;
                reqs.push(r);
                match p.next(true) {
                    (Tok::End, _) => return Ok(reqs),
                    (Tok::Comma, _) => match p.peek(true) {
                        (Tok::Ident | Tok::Bang, _) => {}
                        (_, l) => {
                            return Err(format!("found '{l}', expected: identifier after ','"));
                        }
                    },
                    (_, l) => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                }
            }
            Tok::End => return Ok(reqs),
            _ => {
                return Err(format!(
                    "found '{lit}', expected: !, identifier, or 'end of string'"
                ));
            }
        }
    }
}

/// Whether a label (or annotation) map satisfies every requirement.
pub fn matches(reqs: &[Requirement], m: &Map<String, Value>) -> bool {
    reqs.iter().all(|r| {
        let got = m.get(&r.key).and_then(Value::as_str);
        match r.op {
            Op::Exists => m.contains_key(&r.key),
            Op::NotExists => !m.contains_key(&r.key),
            Op::Eq | Op::In => got.is_some_and(|g| r.values.iter().any(|v| v == g)),
            Op::NotEq | Op::NotIn => got.is_none_or(|g| !r.values.iter().any(|v| v == g)),
            Op::Gt | Op::Lt => {
                let (Some(g), Some(v)) = (
                    got.and_then(|g| g.parse::<i64>().ok()),
                    r.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if r.op == Op::Gt { g > v } else { g < v }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn selects_as_kubernetes_does() {
        let m = labels(json!({"app": "web", "tier": "front", "rank": "5"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("tier in (front,back)", true),
            ("tier in(back)", false),
            ("tier notin (back)", true),
            ("!legacy", true),
            ("!app", false),
            ("rank>3,rank<6", true),
            ("app in (in, notin, web)", true),
            ("", true),
        ] {
            let reqs = parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(matches(&reqs, &m), want, "{sel}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused_with_kubernetes_words() {
        for (sel, want) in [
            (
                "x in (",
                "unable to parse requirement: found '', expected: ',', ')' or identifier",
            ),
            (
                "x in a",
                "unable to parse requirement: found 'a' expected: '('",
            ),
            ("a,", "found '', expected: identifier after ','"),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            ("a>b", "the value must be an integer"),
        ] {
            let err = parse(sel).err().unwrap_or_default();
            assert!(err.contains(want), "{sel}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_selector_text_makes_it_panic(s in "(\\PC|[=!(),<> ]|in|notin){0,40}") {
            if let Ok(reqs) = parse(&s) {
                let _ = matches(&reqs, &labels(json!({"in": "x", "a": "1"})));
            }
        }
    }
}
