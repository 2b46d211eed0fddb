//! Template values modelled on the Go types Sprig and text/template produce, and Go's `fmt`
//! formatting of them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::TplError;

/// Nesting beyond this while formatting is refused (maps can be made to contain themselves).
const MAX_NESTING: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKind {
    Int,
    Int64,
    Uint8,
}

/// Element type of a Go slice or map: `interface{}`, `string` or `int`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    Any,
    Str,
    Int,
}

pub type MapRef = Rc<RefCell<BTreeMap<Vec<u8>, Value>>>;
type WeakMap = std::rc::Weak<RefCell<BTreeMap<Vec<u8>, Value>>>;

thread_local! {
    /// Every map made during a render. `set` can make a map contain itself; emptying them all
    /// when the render ends breaks such cycles so nothing leaks.
    static MAPS: RefCell<Vec<WeakMap>> =
        const { RefCell::new(Vec::new()) };
}

/// Runs a render and then empties the maps it made.
pub fn with_map_cleanup<T>(f: impl FnOnce() -> T) -> T {
    let mark = MAPS.with(|m| m.borrow().len());
    let out = f();
    let made: Vec<_> = MAPS.with(|m| m.borrow_mut().split_off(mark));
    for weak in made {
        if let Some(m) = weak.upgrade() {
            // Take the contents out first so dropping them cannot re-enter the borrow.
            let contents = std::mem::take(&mut *m.borrow_mut());
            drop(contents);
        }
    }
    out
}

#[derive(Debug, Clone)]
pub enum Value {
    /// A nil interface or a missing map entry (Go's invalid reflect.Value).
    Nil,
    Bool(bool),
    Int(i64, IntKind),
    Float(f64),
    Str(Rc<[u8]>),
    /// A slice; the flag marks Go's nil slice, which prints as `[]` but encodes as JSON `null`.
    List(Rc<Vec<Value>>, Elem, bool),
    Map(MapRef, Elem),
}

impl Value {
    pub fn str(b: impl AsRef<[u8]>) -> Value {
        Value::Str(Rc::from(b.as_ref()))
    }

    pub fn int(i: i64) -> Value {
        Value::Int(i, IntKind::Int)
    }

    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(v), Elem::Any, false)
    }

    pub fn str_list(v: Vec<Vec<u8>>) -> Value {
        Value::List(
            Rc::new(v.into_iter().map(Value::str).collect()),
            Elem::Str,
            false,
        )
    }

    pub fn nil_list(elem: Elem) -> Value {
        Value::List(Rc::new(Vec::new()), elem, true)
    }

    pub fn map(m: BTreeMap<Vec<u8>, Value>, elem: Elem) -> Value {
        let m = Rc::new(RefCell::new(m));
        MAPS.with(|maps| maps.borrow_mut().push(Rc::downgrade(&m)));
        Value::Map(m, elem)
    }

    /// The Go type name, for messages and `typeOf`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_, IntKind::Int) => "int",
            Value::Int(_, IntKind::Int64) => "int64",
            Value::Int(_, IntKind::Uint8) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_, Elem::Any, _) => "[]interface {}",
            Value::List(_, Elem::Str, _) => "[]string",
            Value::List(_, Elem::Int, _) => "[]int",
            Value::Map(_, Elem::Str) => "map[string]string",
            Value::Map(_, _) => "map[string]interface {}",
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_, IntKind::Int) => "int",
            Value::Int(_, IntKind::Int64) => "int64",
            Value::Int(_, IntKind::Uint8) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(..) => "slice",
            Value::Map(..) => "map",
        }
    }

    /// Go's `isTrue`: the zero value of any type is false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i, _) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l, ..) => !l.is_empty(),
            Value::Map(m, _) => !m.borrow().is_empty(),
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Output of formatting, with a size limit so no template can exhaust memory.
pub struct Out {
    pub buf: Vec<u8>,
}

pub const MAX_OUTPUT: usize = 16 << 20;

impl Out {
    pub fn new() -> Self {
        Out { buf: Vec::new() }
    }
    pub fn push(&mut self, b: &[u8]) -> Result<(), TplError> {
        if self.buf.len() + b.len() > MAX_OUTPUT {
            return Err(TplError::limit());
        }
        self.buf.extend_from_slice(b);
        Ok(())
    }
}

/// `fmt.Sprint(v)` (the `%v` verb), as text/template prints a value.
pub fn sprint_value(v: &Value) -> Result<Vec<u8>, TplError> {
    let mut out = Out::new();
    fmt_v(&mut out, v, 0, false)?;
    Ok(out.buf)
}

fn fmt_v(out: &mut Out, v: &Value, depth: usize, sharp: bool) -> Result<(), TplError> {
    if depth > MAX_NESTING {
        return Err(TplError::nested());
    }
    match v {
        Value::Nil => out.push(b"<nil>"),
        Value::Bool(b) => out.push(if *b { b"true" } else { b"false" }),
        Value::Int(i, _) => out.push(i.to_string().as_bytes()),
        Value::Float(f) => out.push(format_float(*f, 'g', None).as_bytes()),
        Value::Str(s) => {
            if sharp {
                out.push(quote_go(s).as_bytes())
            } else {
                out.push(s)
            }
        }
        Value::List(l, ..) => {
            out.push(b"[")?;
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b" ")?;
                }
                fmt_v(out, e, depth + 1, sharp)?;
            }
            out.push(b"]")
        }
        Value::Map(m, _) => {
            out.push(b"map[")?;
            for (i, (k, e)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(b" ")?;
                }
                out.push(k)?;
                out.push(b":")?;
                fmt_v(out, e, depth + 1, sharp)?;
            }
            out.push(b"]")
        }
    }
}

/// `strconv.FormatFloat(f, fmt, prec, 64)` for fmt in `e`, `f`, `g` (upper-case variants by
/// the caller); `prec` None is the shortest representation.
pub fn format_float(f: f64, verb: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative();
    let a = f.abs();
    // Decimal digits and decimal-point position: value = 0.d1d2... * 10^dp.
    let digits_for = |sig: Option<usize>| -> (Vec<u8>, i32) {
        let s = match sig {
            Some(p) => format!("{:.*e}", p.saturating_sub(1), a),
            None => format!("{a:e}"),
        };
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while d.len() > 1 && d.last() == Some(&b'0') {
            d.pop();
        }
        if d == b"0" {
            return (d, 1);
        }
        (d, exp + 1)
    };
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    match verb {
        'e' => {
            let p = prec.map(|p| p + 1);
            let (d, dp) = digits_for(p);
            let frac_len = match prec {
                Some(p) => p,
                None => d.len() - 1,
            };
            fmt_e(&mut s, &d, dp, frac_len);
        }
        'f' => {
            let body = match prec {
                Some(p) => format!("{a:.p$}"),
                None => {
                    let (d, dp) = digits_for(None);
                    let frac = (d.len() as i32 - dp).max(0) as usize;
                    format!("{a:.frac$}")
                }
            };
            s.push_str(&body);
        }
        _ => {
            let (p, shortest) = match prec {
                Some(0) => (Some(1), false),
                Some(p) => (Some(p), false),
                None => (None, true),
            };
            let (d, dp) = digits_for(p);
            let mut eprec = p.unwrap_or(d.len()) as i32;
            if eprec > d.len() as i32 && d.len() as i32 >= dp {
                eprec = d.len() as i32;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                let mut pr = p.unwrap_or(d.len());
                if pr > d.len() {
                    pr = d.len();
                }
                fmt_e(&mut s, &d, dp, pr.saturating_sub(1));
            } else {
                let mut pr = p.unwrap_or(d.len()) as i32;
                if pr > dp {
                    pr = d.len() as i32;
                }
                fmt_f(&mut s, &d, dp, (pr - dp).max(0) as usize);
            }
        }
    }
    s
}

/// `strconv.FormatFloat(f, 'b', -1, 64)`: mantissa `p` binary exponent.
fn binary_float(f: f64) -> String {
    let bits = f.to_bits();
    let neg = if bits >> 63 == 1 { "-" } else { "" };
    let e = ((bits >> 52) & 0x7ff) as i64;
    let mut m = bits & ((1 << 52) - 1);
    let exp = if e == 0 {
        -1074
    } else {
        m |= 1 << 52;
        e - 1075
    };
    format!("{neg}{m}p{}{exp}", if exp >= 0 { "+" } else { "" })
}

/// `strconv.FormatFloat(f, 'x', prec, 64)`.
fn hex_float(f: f64, prec: Option<usize>) -> String {
    if !f.is_finite() {
        return format_float(f, 'g', None);
    }
    let mut s = String::new();
    if f.is_sign_negative() {
        s.push('-');
    }
    let a = f.abs();
    let (mut mant, mut exp) = if a == 0.0 {
        (0u64, 0i32)
    } else {
        let bits = a.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32;
        let m = bits & ((1 << 52) - 1);
        if e == 0 {
            // Subnormal: normalise so the leading 1 sits at bit 52.
            let shift = m.leading_zeros() as i32 - 11;
            (m << shift, -1022 - shift)
        } else {
            (m | (1 << 52), e - 1023)
        }
    };
    // mant has the leading 1 at bit 52: 13 hex digits of fraction.
    if let Some(p) = prec.filter(|p| *p < 13) {
        let drop = 4 * (13 - p as u32);
        let half = 1u64 << (drop - 1);
        let rem = mant & ((1u64 << drop) - 1);
        mant >>= drop;
        if rem > half || (rem == half && mant & 1 == 1) {
            mant += 1;
        }
        if mant >> (4 * p as u32) >= 2 {
            mant >>= 1;
            exp += 1;
        }
        mant <<= drop;
    }
    let lead = mant >> 52;
    let mut frac = format!("{:013x}", mant & ((1 << 52) - 1));
    match prec {
        None => {
            while frac.ends_with('0') {
                frac.pop();
            }
        }
        Some(p) => {
            frac.truncate(p.min(13));
            while frac.len() < p {
                frac.push('0');
            }
        }
    }
    s.push_str("0x");
    s.push_str(&lead.to_string());
    if !frac.is_empty() {
        s.push('.');
        s.push_str(&frac);
    }
    s.push('p');
    s.push(if exp < 0 { '-' } else { '+' });
    if exp.abs() < 10 {
        s.push('0');
    }
    s.push_str(&exp.abs().to_string());
    s
}

fn fmt_e(s: &mut String, d: &[u8], dp: i32, frac: usize) {
    s.push(d[0] as char);
    if frac > 0 {
        s.push('.');
        for i in 1..=frac {
            s.push(*d.get(i).unwrap_or(&b'0') as char);
        }
    }
    let exp = if d == b"0" { 0 } else { dp - 1 };
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
}

fn fmt_f(s: &mut String, d: &[u8], dp: i32, frac: usize) {
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(*d.get(i).unwrap_or(&b'0') as char);
        }
    } else {
        s.push('0');
    }
    if frac > 0 {
        s.push('.');
        for i in 0..frac as i32 {
            let j = dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                *d.get(j as usize).unwrap_or(&b'0')
            };
            s.push(c as char);
        }
    }
}

/// Decodes one UTF-8 sequence as Go does: invalid bytes yield U+FFFD with width 1.
pub fn decode_rune(b: &[u8]) -> (char, usize) {
    let n = match b.first() {
        None => return ('\u{FFFD}', 0),
        Some(x) if *x < 0x80 => return (*x as char, 1),
        Some(x) if *x >= 0xF0 => 4,
        Some(x) if *x >= 0xE0 => 3,
        Some(x) if *x >= 0xC2 => 2,
        _ => return ('\u{FFFD}', 1),
    };
    match b.get(..n).and_then(|s| std::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().unwrap_or('\u{FFFD}'), n),
        None => ('\u{FFFD}', 1),
    }
}

/// Iterates runes Go-style, yielding (rune, byte width, valid).
pub fn runes(b: &[u8]) -> impl Iterator<Item = (char, usize, bool)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= b.len() {
            return None;
        }
        let (c, w) = decode_rune(&b[i..]);
        let valid = !(c == '\u{FFFD}' && w == 1);
        i += w;
        Some((c, w, valid))
    })
}

fn is_print(c: char) -> bool {
    super::text::is_print(c)
}

/// `strconv.Quote`.
pub fn quote_go(s: &[u8]) -> String {
    quote_with(s, '"', false)
}

pub fn quote_with(s: &[u8], q: char, ascii_only: bool) -> String {
    let mut out = String::new();
    out.push(q);
    let mut i = 0;
    while i < s.len() {
        let (c, w) = decode_rune(&s[i..]);
        if c == '\u{FFFD}' && w == 1 {
            out.push_str(&format!("\\x{:02x}", s[i]));
            i += 1;
            continue;
        }
        i += w;
        escape_rune(&mut out, c, q, ascii_only);
    }
    out.push(q);
    out
}

pub fn escape_rune(out: &mut String, c: char, q: char, ascii_only: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if (c as u32) < 0x80 && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &[u8], args: &[Value]) -> Result<Vec<u8>, TplError> {
    let mut out = Out::new();
    let mut argi = 0;
    let mut i = 0;
    let f = format;
    while i < f.len() {
        if f[i] != b'%' {
            let j = f[i..]
                .iter()
                .position(|b| *b == b'%')
                .map_or(f.len(), |p| i + p);
            out.push(&f[i..j])?;
            i = j;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < f.len() {
            match f[i] {
                b'-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                b'+' => spec.plus = true,
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = !spec.minus,
                _ => break,
            }
            i += 1;
        }
        // Width.
        if i < f.len() && f[i] == b'*' {
            i += 1;
            match args.get(argi) {
                Some(Value::Int(n, _)) => {
                    let n = (*n).clamp(-1_000_000, 1_000_000);
                    if n < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(n.unsigned_abs() as usize);
                }
                _ => out.push(b"%!(BADWIDTH)")?,
            }
            argi += 1;
        } else {
            let (n, j) = parse_num(f, i);
            spec.width = n;
            i = j;
        }
        if i < f.len() && f[i] == b'.' {
            i += 1;
            if i < f.len() && f[i] == b'*' {
                i += 1;
                match args.get(argi) {
                    Some(Value::Int(n, _)) if *n >= 0 => {
                        spec.prec = Some((*n).min(1_000_000) as usize)
                    }
                    _ => out.push(b"%!(BADPREC)")?,
                }
                argi += 1;
            } else {
                let (n, j) = parse_num(f, i);
                spec.prec = Some(n.unwrap_or(0));
                i = j;
            }
        }
        if spec.width.is_some_and(|w| w > 1_000_000) || spec.prec.is_some_and(|p| p > 1_000_000) {
            return Err(TplError::limit());
        }
        if i >= f.len() {
            out.push(b"%!(NOVERB)")?;
            break;
        }
        let (verb, w) = decode_rune(&f[i..]);
        i += w;
        if verb == '%' {
            out.push(b"%")?;
            continue;
        }
        if verb == 'T' {
            match args.get(argi) {
                Some(a) => {
                    pad(&mut out, a.type_name().as_bytes(), &spec, Zero::Plain)?;
                    argi += 1;
                }
                None => out.push(b"%!T(MISSING)")?,
            }
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push(format!("%!{verb}(MISSING)").as_bytes())?;
            continue;
        };
        argi += 1;
        if verb == 'v' {
            // `%+v` and `%#v` move the flags aside (struct fields, Go syntax).
            spec.plus = false;
            if spec.sharp {
                spec.sharp = false;
                let b = go_syntax(arg, 0)?;
                pad(&mut out, &b, &spec, Zero::Plain)?;
                continue;
            }
        }
        fmt_arg(&mut out, arg, verb, &spec, 0)?;
    }
    if argi < args.len() {
        out.push(b"%!(EXTRA ")?;
        for (k, a) in args[argi..].iter().enumerate() {
            if k > 0 {
                out.push(b", ")?;
            }
            if matches!(a, Value::Nil) {
                out.push(b"<nil>")?;
            } else {
                out.push(a.type_name().as_bytes())?;
                out.push(b"=")?;
                fmt_v(&mut out, a, 0, false)?;
            }
        }
        out.push(b")")?;
    }
    Ok(out.buf)
}

/// `%#v`: Go-syntax representation.
fn go_syntax(v: &Value, depth: usize) -> Result<Vec<u8>, TplError> {
    if depth > MAX_NESTING {
        return Err(TplError::nested());
    }
    Ok(match v {
        Value::Nil if depth == 0 => b"<nil>".to_vec(),
        Value::Nil => b"interface {}(nil)".to_vec(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Int(i, IntKind::Uint8) => format!("0x{i:x}").into_bytes(),
        Value::Int(i, _) => i.to_string().into_bytes(),
        Value::Float(f) => format_float(*f, 'g', None).into_bytes(),
        Value::Str(s) => quote_go(s).into_bytes(),
        Value::List(_, _, true) => format!("{}(nil)", v.type_name()).into_bytes(),
        Value::List(l, _, _) => {
            let mut out = v.type_name().as_bytes().to_vec();
            out.push(b'{');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend(go_syntax(e, depth + 1)?);
            }
            out.push(b'}');
            out
        }
        Value::Map(m, _) => {
            let mut out = v.type_name().as_bytes().to_vec();
            out.push(b'{');
            for (i, (k, e)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend(quote_go(k).into_bytes());
                out.push(b':');
                out.extend(go_syntax(e, depth + 1)?);
            }
            out.push(b'}');
            out
        }
    })
}

fn parse_num(f: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < f.len() && f[i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add((f[i] - b'0') as usize);
        i += 1;
    }
    (if i > start { Some(n) } else { None }, i)
}

#[derive(Default, Clone)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// How the `0` flag pads: after a sign (numbers), plainly (text), or not at all.
#[derive(Clone, Copy, PartialEq)]
enum Zero {
    Sign,
    Plain,
    Off,
}

fn pad(out: &mut Out, body: &[u8], spec: &Spec, zero: Zero) -> Result<(), TplError> {
    let n = String::from_utf8_lossy(body).chars().count();
    let w = spec.width.unwrap_or(0);
    if n >= w {
        return out.push(body);
    }
    let fill = w - n;
    if spec.minus {
        out.push(body)?;
        out.push(&vec![b' '; fill])
    } else if spec.zero && zero != Zero::Off {
        // Zero padding goes after a sign.
        let (sign, rest) = match body.first() {
            Some(b'-' | b'+' | b' ') if zero == Zero::Sign => body.split_at(1),
            _ => (&body[..0], body),
        };
        out.push(sign)?;
        out.push(&vec![b'0'; fill])?;
        out.push(rest)
    } else {
        out.push(&vec![b' '; fill])?;
        out.push(body)
    }
}

/// `%!verb(type=value)`, the value formatted with `%v` under the same flags, as Go does.
fn bad_verb(out: &mut Out, verb: char, arg: &Value, spec: &Spec) -> Result<(), TplError> {
    out.push(format!("%!{verb}(").as_bytes())?;
    if matches!(arg, Value::Nil) {
        out.push(b"<nil>")?;
    } else {
        out.push(arg.type_name().as_bytes())?;
        out.push(b"=")?;
        fmt_arg(out, arg, 'v', spec, 1)?;
    }
    out.push(b")")
}

fn fmt_arg(
    out: &mut Out,
    arg: &Value,
    verb: char,
    spec: &Spec,
    depth: usize,
) -> Result<(), TplError> {
    if depth > MAX_NESTING {
        return Err(TplError::nested());
    }
    match arg {
        Value::Nil => match verb {
            // A nil element of a slice or map prints as <nil> whatever the verb.
            _ if depth > 0 => pad(out, b"<nil>", spec, Zero::Plain),
            'v' => pad(out, b"<nil>", spec, Zero::Plain),
            _ => bad_verb(out, verb, arg, spec),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(out, if *b { b"true" } else { b"false" }, spec, Zero::Plain),
            _ => bad_verb(out, verb, arg, spec),
        },
        Value::Int(n, _) => fmt_int(out, *n, verb, spec, arg),
        Value::Float(x) => {
            if verb == 'b' {
                let s = binary_float(*x);
                return pad(out, s.as_bytes(), spec, Zero::Sign);
            }
            if verb == 'x' || verb == 'X' {
                let mut s = hex_float(*x, spec.prec);
                if verb == 'X' {
                    s = s.to_uppercase();
                }
                if !s.starts_with('-') && spec.plus {
                    s.insert(0, '+');
                }
                return pad(
                    out,
                    s.as_bytes(),
                    spec,
                    if x.is_finite() { Zero::Sign } else { Zero::Off },
                );
            }
            let (v, upper) = match verb {
                'v' | 'g' => ('g', false),
                'G' => ('g', true),
                'e' => ('e', false),
                'E' => ('e', true),
                'f' | 'F' => ('f', false),
                _ => return bad_verb(out, verb, arg, spec),
            };
            let prec = if v == 'g' {
                spec.prec
            } else {
                Some(spec.prec.unwrap_or(6))
            };
            let mut s = format_float(*x, v, prec);
            if upper {
                s = s.to_uppercase();
            }
            if !s.starts_with('-') && (spec.plus || spec.space) && !x.is_nan() {
                s.insert(0, if spec.plus { '+' } else { ' ' });
            } else if s == "+Inf" && !spec.plus {
                s = if spec.space {
                    " Inf".into()
                } else {
                    "Inf".into()
                };
            }
            pad(
                out,
                s.as_bytes(),
                spec,
                if x.is_finite() { Zero::Sign } else { Zero::Off },
            )
        }
        Value::Str(s) => fmt_str(out, s, verb, spec, arg),
        Value::List(l, ..) => {
            if matches!(
                verb,
                'x' | 'X' | 's' | 'q' | 'v' | 'd' | 'o' | 'b' | 'c' | 'f' | 'e' | 'g' | 't' | 'U'
            ) {
                out.push(b"[")?;
                for (k, e) in l.iter().enumerate() {
                    if k > 0 {
                        out.push(b" ")?;
                    }
                    fmt_arg(out, e, verb, spec, depth + 1)?;
                }
                out.push(b"]")
            } else {
                bad_verb(out, verb, arg, spec)
            }
        }
        Value::Map(m, _) => {
            out.push(b"map[")?;
            for (k, (key, e)) in m.borrow().iter().enumerate() {
                if k > 0 {
                    out.push(b" ")?;
                }
                fmt_arg(out, &Value::str(key), verb, spec, depth + 1)?;
                out.push(b":")?;
                fmt_arg(out, e, verb, spec, depth + 1)?;
            }
            out.push(b"]")
        }
    }
}

fn fmt_int(out: &mut Out, n: i64, verb: char, spec: &Spec, arg: &Value) -> Result<(), TplError> {
    let neg = n < 0;
    let m = n.unsigned_abs();
    let (digits, prefix) = match verb {
        'v' | 'd' => (m.to_string(), ""),
        'x' => (format!("{m:x}"), "0x"),
        'X' => (format!("{m:X}"), "0X"),
        'o' => (format!("{m:o}"), "0"),
        'O' => (format!("{m:o}"), "0o"),
        'b' => (format!("{m:b}"), ""),
        'c' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            return pad(out, c.to_string().as_bytes(), spec, Zero::Plain);
        }
        'q' => {
            let c = u32::try_from(n)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let mut s = String::from("'");
            escape_rune(&mut s, c, '\'', spec.plus);
            s.push('\'');
            return pad(out, s.as_bytes(), spec, Zero::Plain);
        }
        'U' => {
            let s = format!("U+{:04X}", n as u64);
            return pad(out, s.as_bytes(), spec, Zero::Plain);
        }
        _ => return bad_verb(out, verb, arg, spec),
    };
    let mut digits = digits;
    if let Some(p) = spec.prec {
        if p == 0 && n == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    } else if spec.plus {
        s.push('+');
    } else if spec.space {
        s.push(' ');
    }
    if (spec.sharp || verb == 'O') && (verb != 'o' || !digits.starts_with('0')) {
        s.push_str(prefix);
    }
    s.push_str(&digits);
    pad(
        out,
        s.as_bytes(),
        spec,
        if spec.prec.is_none() {
            Zero::Sign
        } else {
            Zero::Off
        },
    )
}

fn fmt_str(out: &mut Out, s: &[u8], verb: char, spec: &Spec, arg: &Value) -> Result<(), TplError> {
    let trunc = |s: &[u8]| -> Vec<u8> {
        match spec.prec {
            Some(p) => {
                let mut end = 0;
                for (k, (_, w, _)) in runes(s).enumerate() {
                    if k == p {
                        break;
                    }
                    end += w;
                }
                s[..end].to_vec()
            }
            None => s.to_vec(),
        }
    };
    match verb {
        'v' if spec.sharp => pad(out, quote_go(s).as_bytes(), spec, Zero::Plain),
        'v' | 's' => pad(out, &trunc(s), spec, Zero::Plain),
        'q' => {
            let t = trunc(s);
            let q = if spec.sharp
                && !t.contains(&b'`')
                && std::str::from_utf8(&t)
                    .is_ok_and(|x| x.chars().all(|c| c == '\t' || !c.is_control()))
            {
                format!("`{}`", String::from_utf8_lossy(&t))
            } else {
                quote_with(&t, '"', spec.plus)
            };
            pad(out, q.as_bytes(), spec, Zero::Plain)
        }
        'x' | 'X' => {
            let t = match spec.prec {
                Some(p) => s[..p.min(s.len())].to_vec(),
                None => s.to_vec(),
            };
            let mut h = String::new();
            for (k, b) in t.iter().enumerate() {
                if spec.space && k > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || k == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    h.push_str(&format!("{b:02x}"));
                } else {
                    h.push_str(&format!("{b:02X}"));
                }
            }
            pad(out, h.as_bytes(), spec, Zero::Plain)
        }
        _ => bad_verb(out, verb, arg, spec),
    }
}

/// Values nest as deep as a template makes them (a loop can wrap a list in a list many times);
/// dropping them iteratively keeps deep nesting from exhausting the stack.
impl Drop for Value {
    fn drop(&mut self) {
        let mut stack = Vec::new();
        take_children(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            take_children(&mut v, &mut stack);
        }
    }
}

fn take_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(rc, ..) => {
            if let Some(items) = Rc::get_mut(rc) {
                stack.append(items);
            }
        }
        Value::Map(rc, _) if Rc::strong_count(rc) == 1 => {
            if let Ok(mut m) = rc.try_borrow_mut() {
                stack.extend(std::mem::take(&mut *m).into_values());
            }
        }
        _ => {}
    }
}
