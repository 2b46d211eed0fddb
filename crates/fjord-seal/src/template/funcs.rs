//! Go's template builtins and the Sprig functions, by name. Messages never quote argument
//! values: they may be secret.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine;

use super::text;
use super::value::{self, Elem, IntKind, MAX_OUTPUT, Value, sprintf};

/// Largest list a function may build.
const MAX_LIST: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `interface{}`.
    Any,
    /// A builtin's `reflect.Value`: anything, including a missing value.
    Val,
    Str,
    Int,
    Bool,
    /// `map[string]interface{}`.
    AnyMap,
}

impl Param {
    pub fn go_type(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Val => "reflect.Value",
            Param::Str => "string",
            Param::Int => "int",
            Param::Bool => "bool",
            Param::AnyMap => "map[string]interface {}",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Sig {
    pub params: &'static [Param],
    pub variadic: Option<Param>,
}

pub enum FnError {
    Msg(String),
    Unsupported(String),
    Limit,
}

type R = Result<Value, FnError>;

fn msg(m: impl Into<String>) -> FnError {
    FnError::Msg(m.into())
}

use Param::{Any, AnyMap, Bool, Int, Str, Val};

const fn s(params: &'static [Param]) -> Sig {
    Sig {
        params,
        variadic: None,
    }
}

const fn v(params: &'static [Param], rest: Param) -> Sig {
    Sig {
        params,
        variadic: Some(rest),
    }
}

/// Sprig functions that exist but are refused: random, time-dependent, cryptographic key or
/// network material, and the rest not implemented.
const REFUSED: &[&str] = &[
    "ago",
    "bcrypt",
    "buildCustomCert",
    "date",
    "dateInZone",
    "dateModify",
    "date_in_zone",
    "date_modify",
    "decryptAES",
    "derivePassword",
    "duration",
    "durationRound",
    "encryptAES",
    "genCA",
    "genCAWithKey",
    "genPrivateKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "htmlDate",
    "htmlDateInZone",
    "htpasswd",
    "mustDateModify",
    "mustToDate",
    "must_date_modify",
    "now",
    "randAlpha",
    "randAlphaNum",
    "randAscii",
    "randBytes",
    "randInt",
    "randNumeric",
    "shuffle",
    "toDate",
    "unixEpoch",
    "uuidv4",
    "semver",
    "semverCompare",
    "urlParse",
    "urlJoin",
    "toDecimal",
    "call",
    "addf",
    "add1f",
    "subf",
    "mulf",
    "divf",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "chunk",
    "mustChunk",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
];

pub fn signature(name: &str) -> Option<Sig> {
    Some(match name {
        // Go builtins (and/or are handled by the executor).
        "not" | "len" => s(&[Val]),
        "index" => v(&[Val], Val),
        "print" | "println" | "urlquery" | "html" | "js" => v(&[], Any),
        "printf" => v(&[Str], Any),
        "eq" => v(&[Val], Val),
        "ne" | "lt" | "le" | "gt" | "ge" => s(&[Val, Val]),
        // Sprig strings.
        "trim" | "upper" | "lower" | "title" | "untitle" | "nospace" | "initials" | "snakecase"
        | "camelcase" | "kebabcase" | "swapcase" | "b64enc" | "b64dec" | "b32enc" | "b32dec"
        | "sha1sum" | "sha256sum" | "sha512sum" | "adler32sum" | "regexQuoteMeta" | "atoi"
        | "fromJson" | "mustFromJson" | "fail" => s(&[Str]),
        "trimAll" | "trimall" | "trimPrefix" | "trimSuffix" | "contains" | "hasPrefix"
        | "hasSuffix" | "split" | "splitList" | "regexMatch" | "mustRegexMatch" | "regexFind"
        | "mustRegexFind" => s(&[Str, Str]),
        "repeat" | "trunc" | "abbrev" | "indent" | "nindent" | "wrap" => s(&[Int, Str]),
        "substr" | "abbrevboth" => s(&[Int, Int, Str]),
        "replace"
        | "regexReplaceAll"
        | "mustRegexReplaceAll"
        | "regexReplaceAllLiteral"
        | "mustRegexReplaceAllLiteral" => s(&[Str, Str, Str]),
        "regexFindAll" | "mustRegexFindAll" | "regexSplit" | "mustRegexSplit" => {
            s(&[Str, Str, Int])
        }
        "plural" => s(&[Str, Str, Int]),
        "wrapWith" => s(&[Int, Str, Str]),
        "splitn" => s(&[Str, Int, Str]),
        "quote" | "squote" | "cat" | "list" | "tuple" | "dict" | "coalesce" | "concat" => {
            v(&[], Any)
        }
        "join" => s(&[Str, Any]),
        "default" => v(&[Any], Any),
        "empty" | "toJson" | "toPrettyJson" | "toRawJson" | "mustToJson" | "mustToPrettyJson"
        | "mustToRawJson" | "first" | "mustFirst" | "last" | "mustLast" | "rest" | "mustRest"
        | "initial" | "mustInitial" | "reverse" | "mustReverse" | "uniq" | "mustUniq"
        | "compact" | "mustCompact" | "sortAlpha" | "toString" | "toStrings" | "int" | "int64"
        | "float64" | "add1" | "kindOf" | "typeOf" => s(&[Any]),
        "ternary" => s(&[Any, Any, Bool]),
        "get" | "hasKey" | "unset" => s(&[AnyMap, Str]),
        "set" => s(&[AnyMap, Str, Any]),
        "keys" => v(&[], AnyMap),
        "values" => s(&[AnyMap]),
        "append" | "push" | "mustAppend" | "mustPush" | "prepend" | "mustPrepend" | "has"
        | "mustHas" => s(&[Any, Any]),
        "without" | "mustWithout" => v(&[Any], Any),
        "slice" | "mustSlice" => v(&[Any], Any),
        "until" => s(&[Int]),
        "add" => v(&[], Any),
        "mul" | "max" | "biggest" | "min" => v(&[Any], Any),
        "all" | "any" | "dig" => v(&[], Any),
        "deepEqual" => s(&[Any, Any]),
        "seq" => v(&[], Int),
        "untilStep" => s(&[Int, Int, Int]),
        "pluck" => v(&[Str], AnyMap),
        "pick" | "omit" => v(&[AnyMap], Str),
        "base" | "dir" | "clean" | "ext" | "isAbs" | "osBase" | "osDir" | "osClean" | "osExt"
        | "osIsAbs" => s(&[Str]),
        "hello" => s(&[]),
        "deepCopy" | "mustDeepCopy" => s(&[Any]),
        "typeIsLike" => s(&[Str, Any]),
        "sub" | "div" | "mod" => s(&[Any, Any]),
        "kindIs" | "typeIs" => s(&[Str, Any]),
        n if REFUSED.contains(&n) => v(&[], Any),
        _ => return None,
    })
}

pub fn exists(name: &str) -> bool {
    name == "and" || name == "or" || signature(name).is_some()
}

fn bytes(v: &Value) -> &[u8] {
    v.as_bytes().unwrap_or_default()
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i, _) => *i,
        _ => 0,
    }
}

fn check_len(n: usize) -> Result<(), FnError> {
    if n > MAX_OUTPUT {
        Err(FnError::Limit)
    } else {
        Ok(())
    }
}

fn string(b: Vec<u8>) -> R {
    check_len(b.len())?;
    Ok(Value::str(b))
}

fn boolean(b: bool) -> R {
    Ok(Value::Bool(b))
}

pub fn call(name: &str, a: Vec<Value>) -> R {
    if REFUSED.contains(&name) {
        return Err(FnError::Unsupported(format!(
            "function {name:?} is not supported in templates"
        )));
    }
    match name {
        "not" => boolean(!a[0].truth()),
        "len" => match &a[0] {
            Value::Str(s) => Ok(Value::int(s.len() as i64)),
            Value::List(l, ..) => Ok(Value::int(l.len() as i64)),
            Value::Map(m, _) => Ok(Value::int(m.borrow().len() as i64)),
            Value::Nil => Err(msg("len of nil value")),
            o => Err(msg(format!("len of type {}", o.type_name()))),
        },
        "index" => index(&a[0], &a[1..]),
        "print" => string(sprint(&a, false)?),
        "println" => string(sprint(&a, true)?),
        "printf" => string(sprintf(bytes(&a[0]), &a[1..]).map_err(|_| FnError::Limit)?),
        "urlquery" => string(text::query_escape(&eval_args(&a)?)),
        "html" => string(text::html_escape(&eval_args(&a)?)),
        "js" => string(text::js_escape(&eval_args(&a)?)),
        "eq" => {
            if a.len() < 2 {
                return Err(msg("missing argument for comparison"));
            }
            for b in &a[1..] {
                if compare_eq(&a[0], b)? {
                    return boolean(true);
                }
            }
            boolean(false)
        }
        "ne" => boolean(!compare_eq(&a[0], &a[1])?),
        "lt" => boolean(compare_lt(&a[0], &a[1])?),
        "le" => boolean(compare_lt(&a[0], &a[1])? || compare_eq(&a[0], &a[1])?),
        "gt" => boolean(!(compare_lt(&a[0], &a[1])? || compare_eq(&a[0], &a[1])?)),
        "ge" => boolean(!compare_lt(&a[0], &a[1])?),

        "trim" => string(text::trim_space(bytes(&a[0])).to_vec()),
        "trimAll" | "trimall" => string(text::trim_cutset(bytes(&a[1]), bytes(&a[0]))),
        "trimPrefix" => {
            let (p, s) = (bytes(&a[0]), bytes(&a[1]));
            string(s.strip_prefix(p).unwrap_or(s).to_vec())
        }
        "trimSuffix" => {
            let (p, s) = (bytes(&a[0]), bytes(&a[1]));
            string(s.strip_suffix(p).unwrap_or(s).to_vec())
        }
        "upper" => string(text::map_runes(bytes(&a[0]), text::to_upper)),
        "lower" => string(text::map_runes(bytes(&a[0]), text::to_lower)),
        "title" => string(text::title(bytes(&a[0]))),
        "untitle" => string(text::untitle(bytes(&a[0]))),
        "swapcase" => string(text::swapcase(bytes(&a[0]))),
        "nospace" => string(text::nospace(bytes(&a[0]))),
        "initials" => string(text::initials(bytes(&a[0]))),
        "snakecase" => string(text::lower_case_words(bytes(&a[0]), '_')),
        "kebabcase" => string(text::lower_case_words(bytes(&a[0]), '-')),
        "camelcase" => string(text::pascal_case(bytes(&a[0]))),
        "repeat" => {
            let (n, s) = (int(&a[0]), bytes(&a[1]));
            if n < 0 {
                return Err(msg("strings: negative Repeat count"));
            }
            check_len((n as usize).saturating_mul(s.len()))?;
            string(s.repeat(n as usize))
        }
        "substr" => {
            let (start, end, s) = (int(&a[0]), int(&a[1]), bytes(&a[2]));
            let oob = || msg("runtime error: slice bounds out of range");
            let l = s.len() as i64;
            let r = if start < 0 {
                if end < 0 || end > l {
                    return Err(oob());
                }
                &s[..end as usize]
            } else if end < 0 || end > l {
                if start > l {
                    return Err(oob());
                }
                &s[start as usize..]
            } else {
                if start > end {
                    return Err(oob());
                }
                &s[start as usize..end as usize]
            };
            string(r.to_vec())
        }
        "trunc" => {
            let (c, s) = (int(&a[0]), bytes(&a[1]));
            let l = s.len() as i64;
            let r = if c < 0 && l + c > 0 {
                &s[(l + c) as usize..]
            } else if c >= 0 && l > c {
                &s[..c as usize]
            } else {
                s
            };
            string(r.to_vec())
        }
        "abbrev" => {
            let (w, s) = (int(&a[0]), bytes(&a[1]));
            if w < 4 {
                return string(s.to_vec());
            }
            string(text::abbreviate(s, 0, w).unwrap_or_default())
        }
        "abbrevboth" => {
            let (l, r, s) = (int(&a[0]), int(&a[1]), bytes(&a[2]));
            if r < 4 || l > 0 && r < 7 {
                return string(s.to_vec());
            }
            string(text::abbreviate(s, l, r).unwrap_or_default())
        }
        "contains" => boolean(text::find(bytes(&a[1]), bytes(&a[0])).is_some()),
        "hasPrefix" => boolean(bytes(&a[1]).starts_with(bytes(&a[0]))),
        "hasSuffix" => boolean(bytes(&a[1]).ends_with(bytes(&a[0]))),
        "quote" => {
            let mut parts = Vec::new();
            for x in a.iter().filter(|x| !matches!(x, Value::Nil)) {
                parts.push(value::quote_go(&strval(x)?).into_bytes());
            }
            string(parts.join(&b' '))
        }
        "squote" => {
            let mut parts = Vec::new();
            for x in a.iter().filter(|x| !matches!(x, Value::Nil)) {
                let mut p = vec![b'\''];
                p.extend(value::sprint_value(x).map_err(|_| FnError::Limit)?);
                p.push(b'\'');
                parts.push(p);
            }
            string(parts.join(&b' '))
        }
        "cat" => {
            let mut parts = Vec::new();
            for x in a.iter().filter(|x| !matches!(x, Value::Nil)) {
                parts.push(value::sprint_value(x).map_err(|_| FnError::Limit)?);
            }
            string(parts.join(&b' '))
        }
        "indent" | "nindent" => {
            let (n, s) = (int(&a[0]), bytes(&a[1]));
            if n < 0 {
                return Err(msg("strings: negative Repeat count"));
            }
            let lines = s.iter().filter(|b| **b == b'\n').count() + 1;
            check_len((n as usize).saturating_mul(lines).saturating_add(s.len()))?;
            let pad = vec![b' '; n as usize];
            let mut out = Vec::new();
            if name == "nindent" {
                out.push(b'\n');
            }
            out.extend_from_slice(&pad);
            for &b in s {
                out.push(b);
                if b == b'\n' {
                    out.extend_from_slice(&pad);
                }
            }
            string(out)
        }
        "replace" => {
            let (old, new, src) = (bytes(&a[0]), bytes(&a[1]), bytes(&a[2]));
            string(text::replace(src, old, new)?)
        }
        "plural" => Ok(if int(&a[2]) == 1 {
            a[0].clone()
        } else {
            a[1].clone()
        }),
        "wrap" => string(text::wrap_custom(bytes(&a[1]), int(&a[0]), b"", false)?),
        "wrapWith" => string(text::wrap_custom(
            bytes(&a[2]),
            int(&a[0]),
            bytes(&a[1]),
            true,
        )?),

        "b64enc" => string(
            base64::engine::general_purpose::STANDARD
                .encode(bytes(&a[0]))
                .into_bytes(),
        ),
        "b64dec" => string(match text::b64_decode(bytes(&a[0])) {
            Ok(b) => b,
            Err(e) => e.into_bytes(),
        }),
        "b32enc" => string(text::b32_encode(bytes(&a[0])).into_bytes()),
        "b32dec" => string(match text::b32_decode(bytes(&a[0])) {
            Ok(b) => b,
            Err(e) => e.into_bytes(),
        }),
        "sha1sum" => {
            use sha1::Digest;
            string(text::hex(&sha1::Sha1::digest(bytes(&a[0]))).into_bytes())
        }
        "sha256sum" => {
            use sha2::Digest;
            string(text::hex(&sha2::Sha256::digest(bytes(&a[0]))).into_bytes())
        }
        "sha512sum" => {
            use sha2::Digest;
            string(text::hex(&sha2::Sha512::digest(bytes(&a[0]))).into_bytes())
        }
        "adler32sum" => string(text::adler32(bytes(&a[0])).to_string().into_bytes()),

        "default" => {
            let given = a.get(1);
            match given {
                Some(g) if !empty(g) => Ok(g.clone()),
                _ => Ok(a[0].clone()),
            }
        }
        "empty" => boolean(empty(&a[0])),
        "coalesce" => Ok(a.iter().find(|x| !empty(x)).cloned().unwrap_or(Value::Nil)),
        "ternary" => Ok(if a[2].truth() {
            a[0].clone()
        } else {
            a[1].clone()
        }),
        "toJson" | "mustToJson" => json_out(name, super::json::encode(&a[0], true, None)),
        "toRawJson" | "mustToRawJson" => json_out(name, super::json::encode(&a[0], false, None)),
        "toPrettyJson" | "mustToPrettyJson" => {
            json_out(name, super::json::encode(&a[0], true, Some("  ")))
        }
        "fromJson" => Ok(super::json::decode(bytes(&a[0])).unwrap_or(Value::Nil)),
        "mustFromJson" => super::json::decode(bytes(&a[0])).ok_or_else(|| msg("invalid JSON")),

        "list" | "tuple" => list(a),
        "dict" => {
            let mut m = BTreeMap::new();
            let mut it = a.into_iter();
            while let Some(k) = it.next() {
                let key = strval(&k)?;
                m.insert(key, it.next().unwrap_or_else(|| Value::str("")));
            }
            Ok(Value::map(m, Elem::Any))
        }
        "get" => Ok(map_of(&a[0])
            .and_then(|m| m.borrow().get(bytes(&a[1])).cloned())
            .unwrap_or_else(|| Value::str(""))),
        "hasKey" => boolean(map_of(&a[0]).is_some_and(|m| m.borrow().contains_key(bytes(&a[1])))),
        "set" => match map_of(&a[0]) {
            Some(m) => {
                m.borrow_mut().insert(bytes(&a[1]).to_vec(), a[2].clone());
                Ok(a[0].clone())
            }
            None => Err(msg("assignment to entry in nil map")),
        },
        "unset" => {
            if let Some(m) = map_of(&a[0]) {
                m.borrow_mut().remove(bytes(&a[1]));
            }
            Ok(a[0].clone())
        }
        "keys" => {
            let mut out = Vec::new();
            for d in &a {
                if let Some(m) = map_of(d) {
                    out.extend(m.borrow().keys().cloned());
                }
            }
            Ok(Value::str_list(out))
        }
        "values" => Ok(Value::list(
            map_of(&a[0])
                .map(|m| m.borrow().values().cloned().collect())
                .unwrap_or_default(),
        )),
        "join" => {
            let parts = strslice(&a[1])?;
            string(parts.join(bytes(&a[0])))
        }
        "split" | "splitn" => {
            let parts = if name == "split" {
                text::split_n(bytes(&a[1]), bytes(&a[0]), -1)
            } else {
                text::split_n(bytes(&a[2]), bytes(&a[0]), int(&a[1]))
            };
            check_len(parts.len())?;
            let m = parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("_{i}").into_bytes(), Value::str(p)))
                .collect();
            Ok(Value::map(m, Elem::Str))
        }
        "splitList" => {
            let parts = text::split_n(bytes(&a[1]), bytes(&a[0]), -1);
            check_len(parts.len())?;
            Ok(Value::str_list(parts))
        }
        "toString" => string(strval(&a[0])?),
        "toStrings" => Ok(Value::str_list(strslice(&a[0])?)),
        "first" | "mustFirst" | "last" | "mustLast" => {
            let l = list_of(
                &a[0],
                if name.contains("irst") {
                    "first"
                } else {
                    "last"
                },
            )?;
            let v = if name.contains("irst") {
                l.first()
            } else {
                l.last()
            };
            Ok(v.cloned().unwrap_or(Value::Nil))
        }
        "rest" | "mustRest" | "initial" | "mustInitial" => {
            let what = if name.contains("est") {
                "rest"
            } else {
                "initial"
            };
            let l = list_of(&a[0], what)?;
            if l.is_empty() {
                return Ok(Value::nil_list(Elem::Any));
            }
            let r = if what == "rest" {
                &l[1..]
            } else {
                &l[..l.len() - 1]
            };
            list(r.to_vec())
        }
        "reverse" | "mustReverse" => {
            let l = list_of(&a[0], "reverse")?;
            list(l.iter().rev().cloned().collect())
        }
        "append" | "push" | "mustAppend" | "mustPush" => {
            let mut l = list_of(&a[0], "append")?.to_vec();
            l.push(a[1].clone());
            list(l)
        }
        "prepend" | "mustPrepend" => {
            let mut l = vec![a[1].clone()];
            l.extend(list_of(&a[0], "prepend")?.iter().cloned());
            list(l)
        }
        "concat" => {
            let mut l = Vec::new();
            for x in &a {
                match x {
                    Value::List(items, ..) => l.extend(items.iter().cloned()),
                    Value::Nil => {
                        return Err(msg(
                            "runtime error: invalid memory address or nil pointer dereference",
                        ));
                    }
                    o => return Err(msg(format!("Cannot concat type {} as list", o.kind_name()))),
                }
                check_list(l.len())?;
            }
            list(l)
        }
        "uniq" | "mustUniq" => {
            let l = list_of(&a[0], "uniq")?;
            let mut out: Vec<Value> = Vec::new();
            for x in l.iter() {
                if !out.iter().any(|y| deep_equal(x, y, 0)) {
                    out.push(x.clone());
                }
            }
            list(out)
        }
        "compact" | "mustCompact" => {
            let l = list_of(&a[0], "compact")?;
            list(l.iter().filter(|x| !empty(x)).cloned().collect())
        }
        "without" | "mustWithout" => {
            let l = list_of(&a[0], "without")?;
            list(
                l.iter()
                    .filter(|x| !a[1..].iter().any(|y| deep_equal(x, y, 0)))
                    .cloned()
                    .collect(),
            )
        }
        "has" | "mustHas" => match &a[1] {
            Value::Nil => boolean(false),
            Value::List(l, ..) => boolean(l.iter().any(|x| deep_equal(x, &a[0], 0))),
            o => Err(msg(format!("Cannot find has on type {}", o.kind_name()))),
        },
        "sortAlpha" => {
            let mut l = match &a[0] {
                Value::List(..) => strslice(&a[0])?,
                o => vec![strval(o)?],
            };
            l.sort();
            Ok(Value::str_list(l))
        }
        "slice" | "mustSlice" => {
            let l = match &a[0] {
                Value::List(l, ..) => l.clone(),
                o => {
                    return Err(msg(format!(
                        "list should be type of slice or array but {}",
                        o.kind_name()
                    )));
                }
            };
            if l.is_empty() {
                return Ok(Value::Nil);
            }
            let start = a.get(1).map_or(0, to_int64);
            let end = a.get(2).map_or(l.len() as i64, to_int64);
            if start < 0 || end < start || end as usize > l.len() {
                return Err(msg("reflect: slice index out of bounds"));
            }
            let elem = if let Value::List(_, e, _) = &a[0] {
                *e
            } else {
                Elem::Any
            };
            Ok(Value::List(
                Rc::new(l[start as usize..end as usize].to_vec()),
                elem,
                false,
            ))
        }
        "until" => {
            let n = int(&a[0]);
            check_list(n.unsigned_abs() as usize)?;
            let l: Vec<Value> = if n >= 0 {
                (0..n).map(Value::int).collect()
            } else {
                (n + 1..=0).rev().map(Value::int).collect()
            };
            Ok(Value::List(Rc::new(l), Elem::Int, false))
        }

        "atoi" => Ok(Value::int(text::atoi(bytes(&a[0])))),
        "int" => Ok(Value::int(to_int64(&a[0]))),
        "int64" => Ok(Value::Int(to_int64(&a[0]), IntKind::Int64)),
        "float64" => Ok(Value::Float(to_float64(&a[0]))),
        "add" => Ok(Value::Int(
            a.iter().fold(0i64, |s, x| s.wrapping_add(to_int64(x))),
            IntKind::Int64,
        )),
        "add1" => Ok(Value::Int(to_int64(&a[0]).wrapping_add(1), IntKind::Int64)),
        "sub" => Ok(Value::Int(
            to_int64(&a[0]).wrapping_sub(to_int64(&a[1])),
            IntKind::Int64,
        )),
        "mul" => Ok(Value::Int(
            a.iter().fold(1i64, |s, x| s.wrapping_mul(to_int64(x))),
            IntKind::Int64,
        )),
        "div" | "mod" => {
            let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
            if y == 0 {
                return Err(msg("runtime error: integer divide by zero"));
            }
            let r = if name == "div" {
                x.wrapping_div(y)
            } else {
                x.wrapping_rem(y)
            };
            Ok(Value::Int(r, IntKind::Int64))
        }
        "all" => boolean(a.iter().all(|x| !empty(x))),
        "any" => boolean(a.iter().any(|x| !empty(x))),
        "deepEqual" => boolean(deep_equal(&a[0], &a[1], 0)),
        "untilStep" => {
            let l = until_step(int(&a[0]), int(&a[1]), int(&a[2]))?;
            Ok(Value::List(
                Rc::new(l.into_iter().map(Value::int).collect()),
                Elem::Int,
                false,
            ))
        }
        "seq" => {
            let p: Vec<i64> = a.iter().map(int).collect();
            let l = match p[..] {
                [end] => {
                    let inc = if end < 1 { -1 } else { 1 };
                    until_step(1, end.saturating_add(inc), inc)?
                }
                [start, end] => {
                    let step = if end < start { -1 } else { 1 };
                    until_step(start, end.saturating_add(step), step)?
                }
                [start, step, end] => {
                    let inc = if end < start { -1 } else { 1 };
                    if end < start && step > 0 {
                        Vec::new()
                    } else {
                        until_step(start, end.saturating_add(inc), step)?
                    }
                }
                _ => Vec::new(),
            };
            let parts: Vec<String> = l.iter().map(i64::to_string).collect();
            string(parts.join(" ").into_bytes())
        }
        "pluck" => {
            let key = bytes(&a[0]);
            let mut out = Vec::new();
            for d in &a[1..] {
                if let Some(v) = map_of(d).and_then(|m| m.borrow().get(key).cloned()) {
                    out.push(v);
                }
            }
            list(out)
        }
        "pick" | "omit" => {
            let keys: Vec<&[u8]> = a[1..].iter().map(bytes).collect();
            let mut out = BTreeMap::new();
            if let Some(m) = map_of(&a[0]) {
                for (k, v) in m.borrow().iter() {
                    if keys.contains(&&k[..]) == (name == "pick") {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(Value::map(out, Elem::Any))
        }
        "dig" => {
            if a.len() < 3 {
                return Err(msg("dig needs at least three arguments"));
            }
            let bad =
                || msg("interface conversion: dig needs string keys and a map[string]interface {}");
            let mut cur = match &a[a.len() - 1] {
                v @ Value::Map(_, Elem::Any) => v.clone(),
                _ => return Err(bad()),
            };
            let def = a[a.len() - 2].clone();
            let keys = &a[..a.len() - 2];
            for (i, k) in keys.iter().enumerate() {
                let Value::Str(k) = k else { return Err(bad()) };
                let step = match &cur {
                    Value::Map(m, Elem::Any) => m.borrow().get(&k[..]).cloned(),
                    _ => return Err(bad()),
                };
                match step {
                    None => return Ok(def),
                    Some(v) if i + 1 == keys.len() => return Ok(v),
                    Some(v) => cur = v,
                }
            }
            Ok(def)
        }
        "base" | "osBase" => string(text::path_base(bytes(&a[0]))),
        "dir" | "osDir" => string(text::path_dir(bytes(&a[0]))),
        "clean" | "osClean" => string(text::path_clean(bytes(&a[0]))),
        "ext" | "osExt" => string(text::path_ext(bytes(&a[0])).to_vec()),
        "isAbs" | "osIsAbs" => boolean(bytes(&a[0]).starts_with(b"/")),
        "hello" => string(b"Hello!".to_vec()),
        "deepCopy" | "mustDeepCopy" => match &a[0] {
            Value::Nil if name == "deepCopy" => {
                Err(msg("reflect: call of reflect.Value.Type on zero Value"))
            }
            Value::Nil => Err(msg("copy: cannot copy nil")),
            v => deep_copy(v, 0),
        },
        "typeIsLike" => boolean(bytes(&a[0]) == a[1].type_name().as_bytes()),
        "max" | "biggest" => Ok(Value::Int(
            a.iter().map(to_int64).max().unwrap_or(0),
            IntKind::Int64,
        )),
        "min" => Ok(Value::Int(
            a.iter().map(to_int64).min().unwrap_or(0),
            IntKind::Int64,
        )),
        "kindOf" => string(a[0].kind_name().as_bytes().to_vec()),
        "typeOf" => string(a[0].type_name().as_bytes().to_vec()),
        "kindIs" => boolean(bytes(&a[0]) == a[1].kind_name().as_bytes()),
        "typeIs" => boolean(bytes(&a[0]) == a[1].type_name().as_bytes()),
        "fail" => Err(msg("fail was called")),

        "regexMatch" => boolean(regex(bytes(&a[0])).is_ok_and(|re| re.is_match(bytes(&a[1])))),
        "mustRegexMatch" => {
            let re = regex(bytes(&a[0]))?;
            boolean(re.is_match(bytes(&a[1])))
        }
        "regexFind" | "mustRegexFind" => {
            let re = regex(bytes(&a[0]))?;
            string(
                re.find(bytes(&a[1]))
                    .map(|m| m.as_bytes().to_vec())
                    .unwrap_or_default(),
            )
        }
        "regexFindAll" | "mustRegexFindAll" => {
            let re = regex(bytes(&a[0]))?;
            let n = int(&a[2]);
            let s = bytes(&a[1]);
            let all = text::find_all(&re, s, n);
            if all.is_empty() {
                return Ok(Value::nil_list(Elem::Str));
            }
            Ok(Value::str_list(
                all.into_iter().map(|(b, e)| s[b..e].to_vec()).collect(),
            ))
        }
        "regexReplaceAll" | "mustRegexReplaceAll" => {
            let re = regex(bytes(&a[0]))?;
            string(text::regex_replace(&re, bytes(&a[1]), bytes(&a[2]), true)?)
        }
        "regexReplaceAllLiteral" | "mustRegexReplaceAllLiteral" => {
            let re = regex(bytes(&a[0]))?;
            string(text::regex_replace(&re, bytes(&a[1]), bytes(&a[2]), false)?)
        }
        "regexSplit" | "mustRegexSplit" => {
            let re = regex(bytes(&a[0]))?;
            if int(&a[2]) == 0 {
                return Ok(Value::nil_list(Elem::Str));
            }
            let parts = text::regex_split(&re, bytes(&a[0]).is_empty(), bytes(&a[1]), int(&a[2]));
            Ok(Value::str_list(parts))
        }
        "regexQuoteMeta" => string(text::quote_meta(bytes(&a[0]))),
        other => Err(FnError::Unsupported(format!(
            "function {other:?} is not supported in templates"
        ))),
    }
}

fn deep_copy(v: &Value, depth: usize) -> R {
    if depth > 300 {
        return Err(FnError::Limit);
    }
    Ok(match v {
        Value::List(l, e, nil) => Value::List(
            Rc::new(
                l.iter()
                    .map(|x| deep_copy(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            *e,
            *nil,
        ),
        Value::Map(m, e) => {
            let mut out = BTreeMap::new();
            for (k, x) in m.borrow().iter() {
                out.insert(k.clone(), deep_copy(x, depth + 1)?);
            }
            Value::map(out, *e)
        }
        other => other.clone(),
    })
}

/// Sprig's `untilStep`.
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FnError> {
    let mut v = Vec::new();
    let mut i = start;
    if stop < start {
        if step >= 0 {
            return Ok(v);
        }
        while i > stop {
            v.push(i);
            check_list(v.len())?;
            i = match i.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        return Ok(v);
    }
    if step <= 0 {
        return Ok(v);
    }
    while i < stop {
        v.push(i);
        check_list(v.len())?;
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(v)
}

fn json_out(name: &str, r: Option<Vec<u8>>) -> R {
    match r {
        Some(b) => string(b),
        None if name.starts_with("must") => Err(msg("json: unsupported value")),
        None => string(Vec::new()),
    }
}

fn check_list(n: usize) -> Result<(), FnError> {
    if n > MAX_LIST {
        Err(FnError::Limit)
    } else {
        Ok(())
    }
}

fn list(v: Vec<Value>) -> R {
    check_list(v.len())?;
    Ok(Value::list(v))
}

fn regex(pat: &[u8]) -> Result<regex::bytes::Regex, FnError> {
    let p = std::str::from_utf8(pat).map_err(|_| msg("error parsing regexp: invalid UTF-8"))?;
    let p = text::go_regex(p);
    regex::bytes::RegexBuilder::new(&p)
        .size_limit(1 << 22)
        .build()
        .map_err(|_| msg("error parsing regexp"))
}

fn map_of(v: &Value) -> Option<&value::MapRef> {
    match v {
        Value::Map(m, _) => Some(m),
        _ => None,
    }
}

fn list_of<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], FnError> {
    match v {
        Value::List(l, ..) => Ok(l),
        Value::Nil => Err(msg(format!("Cannot find {what} on type invalid"))),
        o => Err(msg(format!("Cannot find {what} on type {}", o.kind_name()))),
    }
}

/// Sprig's `empty`.
pub fn empty(v: &Value) -> bool {
    !v.truth()
}

/// Sprig's `strval`.
pub fn strval(v: &Value) -> Result<Vec<u8>, FnError> {
    match v {
        Value::Str(s) => Ok(s.to_vec()),
        o => value::sprint_value(o).map_err(|_| FnError::Limit),
    }
}

/// Sprig's `strslice`.
fn strslice(v: &Value) -> Result<Vec<Vec<u8>>, FnError> {
    match v {
        Value::List(l, ..) => l
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(strval)
            .collect(),
        Value::Nil => Ok(Vec::new()),
        o => Ok(vec![strval(o)?]),
    }
}

/// `cast.ToInt64`: strings parse with Go's base prefixes; failures give 0.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i, _) => *i,
        // amd64's conversion yields the minimum integer for values out of range.
        Value::Float(f)
            if f.is_nan() || *f >= 9.223_372_036_854_776e18 || *f < -9.223_372_036_854_776e18 =>
        {
            i64::MIN
        }
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => text::parse_int_base0(&text::trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i, _) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => text::parse_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

fn sprint(a: &[Value], ln: bool) -> Result<Vec<u8>, FnError> {
    let mut out = Vec::new();
    for (i, x) in a.iter().enumerate() {
        if i > 0 {
            let is_str = |v: &Value| matches!(v, Value::Str(_));
            if ln || (!is_str(x) && !is_str(&a[i - 1])) {
                out.push(b' ');
            }
        }
        out.extend(value::sprint_value(x).map_err(|_| FnError::Limit)?);
        check_len(out.len())?;
    }
    if ln {
        out.push(b'\n');
    }
    Ok(out)
}

/// text/template's `evalArgs`: one string argument as is, otherwise `fmt.Sprint`.
fn eval_args(a: &[Value]) -> Result<Vec<u8>, FnError> {
    if let [Value::Str(s)] = a {
        return Ok(s.to_vec());
    }
    let a: Vec<Value> = a
        .iter()
        .map(|v| {
            if matches!(v, Value::Nil) {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    sprint(&a, false)
}

fn index(item: &Value, idx: &[Value]) -> R {
    if matches!(item, Value::Nil) {
        return Err(msg("index of untyped nil"));
    }
    let mut cur = item.clone();
    for i in idx {
        cur = match &cur {
            Value::Nil => return Err(msg("index of untyped nil")),
            Value::List(l, ..) => {
                let n = index_arg(i, l.len())?;
                match l.get(n) {
                    Some(v) => v.clone(),
                    None => return Err(msg("index out of range")),
                }
            }
            Value::Str(s) => {
                let n = index_arg(i, s.len())?;
                match s.get(n) {
                    Some(b) => Value::Int(i64::from(*b), IntKind::Uint8),
                    None => return Err(msg("index out of range")),
                }
            }
            Value::Map(m, elem) => {
                let key = match i {
                    Value::Str(k) => k,
                    Value::Nil => return Err(msg("value is nil; should be of type string")),
                    o => {
                        return Err(msg(format!(
                            "value has type {}; should be string",
                            o.type_name()
                        )));
                    }
                };
                match m.borrow().get(&key[..]) {
                    Some(v) => v.clone(),
                    None if *elem == Elem::Str => Value::str(""),
                    None => Value::Nil,
                }
            }
            o => return Err(msg(format!("can't index item of type {}", o.type_name()))),
        };
    }
    Ok(cur)
}

fn index_arg(i: &Value, len: usize) -> Result<usize, FnError> {
    match i {
        Value::Int(n, _) => {
            if *n < 0 || *n as u64 >= len as u64 {
                Err(msg("index out of range"))
            } else {
                Ok(*n as usize)
            }
        }
        Value::Nil => Err(msg("cannot index slice/array with nil")),
        o => Err(msg(format!(
            "cannot index slice/array with type {}",
            o.type_name()
        ))),
    }
}

#[derive(PartialEq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_, IntKind::Uint8) => Kind::Uint,
        Value::Int(..) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

fn compare_eq(a: &Value, b: &Value) -> Result<bool, FnError> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if ka != kb {
        if matches!(
            (&ka, &kb),
            (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int)
        ) {
            return Ok(int(a) == int(b));
        }
        if ka != Kind::Invalid && kb != Kind::Invalid {
            return Err(msg("incompatible types for comparison"));
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, _), Value::Int(y, _)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        _ => return Err(msg("non-comparable types")),
    })
}

fn compare_lt(a: &Value, b: &Value) -> Result<bool, FnError> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if matches!(ka, Kind::Invalid | Kind::Bool | Kind::Other)
        || matches!(kb, Kind::Invalid | Kind::Bool | Kind::Other)
    {
        return Err(msg("invalid type for comparison"));
    }
    if ka != kb {
        if matches!(
            (&ka, &kb),
            (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int)
        ) {
            return Ok(int(a) < int(b));
        }
        return Err(msg("incompatible types for comparison"));
    }
    Ok(match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        _ => false,
    })
}

/// `reflect.DeepEqual` for template values.
fn deep_equal(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > 300 {
        return false;
    }
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, k1), Value::Int(y, k2)) => x == y && k1 == k2,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x, e1, n1), Value::List(y, e2, n2)) => {
            if n1 != n2 {
                return false;
            }
            e1 == e2
                && x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| deep_equal(p, q, depth + 1))
        }
        (Value::Map(x, e1), Value::Map(y, e2)) => {
            if std::rc::Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            e1 == e2
                && x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w, depth + 1)))
        }
        _ => false,
    }
}
