//! Lexing and parsing of Go text/template source into a tree, with the checks Go makes at parse
//! time: known functions, declared variables, `break`/`continue` inside `range`, balanced `end`.

use super::TplError;

/// Deepest nesting of control structures and parentheses accepted; keeps recursion bounded.
const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range { branch: Branch },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number(usize, Number),
    Str(usize, Vec<u8>),
    /// `.a.b` on dot.
    Field(usize, Vec<String>),
    /// `$x.a.b`.
    Var(usize, String, Vec<String>),
    /// A function name.
    Ident(usize, String),
    Pipe(usize, Box<Pipe>),
    /// `(pipe).a.b` or `ident.a`.
    Chain(usize, Box<Arg>, Vec<String>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, _)
            | Arg::Str(p, _)
            | Arg::Field(p, _)
            | Arg::Var(p, _, _)
            | Arg::Ident(p, _)
            | Arg::Pipe(p, _)
            | Arg::Chain(p, _, _) => *p,
        }
    }
}

/// A number constant as Go's parser classifies it.
#[derive(Debug, Clone)]
pub struct Number {
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// Go's `idealConstant` picks float64 only for float syntax (`.`, exponent) in decimal.
    pub float_syntax: bool,
    pub is_char: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(String),
    Var(String),
    Dot,
    Str(Vec<u8>),
    Char(i64),
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Space,
    Bool(bool),
    Nil,
    Kw(&'static str),
}

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    src: &'a str,
    /// Absolute offset of `src` in the template.
    base: usize,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, at: usize, msg: impl Into<String>) -> TplError {
        TplError::at(self.base + at, msg)
    }

    fn peek(&self) -> Option<char> {
        self.src[self.i..].chars().next()
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, TplError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            let start = self.i;
            let tok = if is_space(c) {
                while self.peek().is_some_and(is_space) {
                    self.i += 1;
                }
                Tok::Space
            } else if c == '(' {
                self.i += 1;
                Tok::LParen
            } else if c == ')' {
                self.i += 1;
                Tok::RParen
            } else if c == '|' {
                self.i += 1;
                Tok::Pipe
            } else if c == ',' {
                self.i += 1;
                Tok::Comma
            } else if c == '=' {
                self.i += 1;
                Tok::Assign
            } else if c == ':' {
                if self.src[self.i..].starts_with(":=") {
                    self.i += 2;
                    Tok::Declare
                } else {
                    return Err(self.err(start, "expected :="));
                }
            } else if c == '"' {
                self.quoted()?
            } else if c == '`' {
                let rest = &self.src[self.i + 1..];
                let end = rest
                    .find('`')
                    .ok_or_else(|| self.err(start, "unterminated raw quoted string"))?;
                self.i += end + 2;
                Tok::Str(rest.as_bytes()[..end].to_vec())
            } else if c == '\'' {
                self.char_const()?
            } else if c == '$' {
                self.i += 1;
                let name = self.word();
                Tok::Var(format!("${name}"))
            } else if c == '.' {
                let next = self.src[self.i + 1..].chars().next();
                if next.is_some_and(|d| d.is_ascii_digit()) {
                    self.number()?
                } else {
                    self.i += 1;
                    let name = self.word();
                    if name.is_empty() {
                        Tok::Dot
                    } else {
                        Tok::Field(name)
                    }
                }
            } else if c == '+' || c == '-' || c.is_ascii_digit() {
                self.number()?
            } else if is_alnum(c) {
                let w = self.word();
                match w.as_str() {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    _ => match KEYWORDS.iter().find(|k| **k == w) {
                        Some(k) => Tok::Kw(k),
                        None => Tok::Ident(w),
                    },
                }
            } else {
                return Err(self.err(start, "unexpected character in action"));
            };
            out.push((self.base + start, tok));
        }
        Ok(out)
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_alnum) {
            self.i += self.peek().map_or(1, char::len_utf8);
        }
        self.src[start..self.i].to_string()
    }

    fn number(&mut self) -> Result<Tok, TplError> {
        let start = self.i;
        let b = self.src.as_bytes();
        let mut j = self.i;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let mut digits = "0123456789_";
        let mut exp = b"eE".as_slice();
        if b.len() > j + 1 && b[j] == b'0' && matches!(b[j + 1], b'x' | b'X') {
            j += 2;
            digits = "0123456789abcdefABCDEF_";
            exp = b"pP";
        } else if b.len() > j + 1 && b[j] == b'0' && matches!(b[j + 1], b'o' | b'O') {
            j += 2;
            digits = "01234567_";
            exp = b"";
        } else if b.len() > j + 1 && b[j] == b'0' && matches!(b[j + 1], b'b' | b'B') {
            j += 2;
            digits = "01_";
            exp = b"";
        }
        let run = |j: &mut usize, set: &str| {
            while *j < b.len() && set.as_bytes().contains(&b[*j]) {
                *j += 1;
            }
        };
        run(&mut j, digits);
        if j < b.len() && b[j] == b'.' {
            j += 1;
            run(&mut j, digits);
        }
        if !exp.is_empty() && j < b.len() && exp.contains(&b[j]) {
            j += 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            run(&mut j, "0123456789_");
        }
        if j < b.len() && b[j] == b'i' {
            return Err(TplError::unsupported(
                self.base + start,
                "complex number constants",
            ));
        }
        self.i = j;
        if self.peek().is_some_and(is_alnum) {
            return Err(self.err(start, "bad number syntax"));
        }
        Ok(Tok::Num(self.src[start..j].to_string()))
    }

    fn quoted(&mut self) -> Result<Tok, TplError> {
        let start = self.i;
        let rest = &self.src[self.i + 1..];
        let mut end = None;
        let mut it = rest.char_indices();
        while let Some((k, c)) = it.next() {
            match c {
                '\\' if it.next().is_none() => break,
                '\\' => {}
                '\n' => break,
                '"' => {
                    end = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| self.err(start, "unterminated quoted string"))?;
        self.i += end + 2;
        let s = unquote(&rest[..end], '"')
            .ok_or_else(|| self.err(start, "invalid syntax in quoted string"))?;
        Ok(Tok::Str(s))
    }

    fn char_const(&mut self) -> Result<Tok, TplError> {
        let start = self.i;
        let rest = &self.src[self.i + 1..];
        let mut end = None;
        let mut it = rest.char_indices();
        while let Some((k, c)) = it.next() {
            match c {
                '\\' if it.next().is_none() => break,
                '\\' => {}
                '\n' => break,
                '\'' => {
                    end = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| self.err(start, "unterminated character constant"))?;
        self.i += end + 2;
        let s = unquote(&rest[..end], '\'')
            .ok_or_else(|| self.err(start, "malformed character constant"))?;
        if let [b] = s[..] {
            return Ok(Tok::Char(i64::from(b)));
        }
        let s =
            String::from_utf8(s).map_err(|_| self.err(start, "malformed character constant"))?;
        let mut cs = s.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) => Ok(Tok::Char(c as i64)),
            _ => Err(self.err(start, "malformed character constant")),
        }
    }
}

/// Go's escape sequences inside an interpreted string or character literal; byte escapes may
/// produce strings that are not UTF-8, as in Go.
fn unquote(s: &str, quote: char) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            if c == quote {
                return None;
            }
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = it.next()?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' if quote == '"' => Some(b'"'),
            '\'' if quote == '\'' => Some(b'\''),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (len, radix, is_byte) = match e {
            'x' => (2, 16, true),
            'u' => (4, 16, false),
            'U' => (8, 16, false),
            '0'..='7' => (2, 8, true),
            _ => return None,
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        for _ in 0..len {
            digits.push(it.next()?);
        }
        let v = u32::from_str_radix(&digits, radix).ok()?;
        if is_byte {
            out.push(u8::try_from(v).ok()?);
        } else {
            let c = char::from_u32(v)?;
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Some(out)
}

/// A hexadecimal float mantissa and binary exponent, without the `0x` prefix.
pub(super) fn hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let f = v * 2f64.powi(exp);
    f.is_finite().then_some(f)
}

pub fn parse_number(text: &str) -> Option<Number> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1
        && lower.starts_with('0')
        && lower.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.starts_with('_') && radix == 10 || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    let float_syntax = radix == 10 && clean.contains(['.', 'e']);
    if radix == 16 && clean.contains(['.', 'p']) {
        let f = hex_float(&clean)?;
        let f = if neg { -f } else { f };
        let int = (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64);
        return Some(Number {
            int,
            float: Some(f),
            float_syntax: true,
            is_char: false,
        });
    }
    if !float_syntax {
        let mag = u64::from_str_radix(&clean, radix).ok();
        let int = mag.and_then(|m| {
            if neg {
                0i64.checked_sub_unsigned(m)
            } else {
                i64::try_from(m).ok()
            }
        });
        let m = mag?;
        let float = if neg { -(m as f64) } else { m as f64 };
        return Some(Number {
            int,
            float: Some(float),
            float_syntax: false,
            is_char: false,
        });
    }
    let f: f64 = clean.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    let f = if neg { -f } else { f };
    let int = (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64);
    Some(Number {
        int,
        float: Some(f),
        float_syntax: true,
        is_char: false,
    })
}

/// Splits template source into text and actions.
enum Piece<'a> {
    Text(&'a str),
    /// Action body and the offset of its first byte.
    Action(&'a str, usize),
}

fn split(src: &str) -> Result<Vec<Piece<'_>>, TplError> {
    let mut pieces = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while let Some(rel) = src[pos..].find("{{") {
        let open = pos + rel;
        let mut text = &src[pos..open];
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let mut body_start = open + 2;
        let after = &src[body_start..];
        let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
        if trim_left {
            text = text.trim_end_matches(is_space);
            body_start += 1;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        let body_src = &src[body_start..];
        let (body_len, close_len, trim_right) =
            if body_src.trim_start_matches(is_space).starts_with("/*") {
                // A comment runs to the first `*/`, which must be followed by the delimiter.
                let lead = body_src.len() - body_src.trim_start_matches(is_space).len();
                if trim_left || lead == 0 {
                    let c = body_src[lead..]
                        .find("*/")
                        .ok_or_else(|| TplError::at(open, "unclosed comment"))?;
                    let end = lead + c + 2;
                    let rest = &body_src[end..];
                    if rest.starts_with("}}") {
                        (end, 2, false)
                    } else if rest.starts_with(is_space)
                        && rest.trim_start_matches(is_space).starts_with("-}}")
                    {
                        let sp = rest.len() - rest.trim_start_matches(is_space).len();
                        (end, sp + 3, true)
                    } else {
                        return Err(TplError::at(open, "comment ends before closing delimiter"));
                    }
                } else {
                    find_close(body_src, open)?
                }
            } else {
                find_close(body_src, open)?
            };
        pieces.push(Piece::Action(&body_src[..body_len], body_start));
        pos = body_start + body_len + close_len;
        trim_next = trim_right;
    }
    let mut text = &src[pos..];
    if trim_next {
        text = text.trim_start_matches(is_space);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Finds the closing `}}` of an action, skipping quoted strings, as Go's lexer does.
fn find_close(body: &str, open: usize) -> Result<(usize, usize, bool), TplError> {
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if i < b.len() && b[i] == b'\n' {
                        return Err(TplError::at(open, "unterminated quoted string"));
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return Err(TplError::at(open, "unterminated quoted string"));
                }
                i += 1;
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
                if i >= b.len() {
                    return Err(TplError::at(open, "unterminated raw quoted string"));
                }
                i += 1;
            }
            b'}' if b[i..].starts_with(b"}}") => return Ok((i, 2, false)),
            b'-' if b[i..].starts_with(b"-}}") && i > 0 && is_space(b[i - 1] as char) => {
                return Ok((i, 3, true));
            }
            b'/' if b[i..].starts_with(b"/*") => {
                return Err(TplError::at(open, "comment must be the whole action"));
            }
            _ => i += 1,
        }
    }
    Err(TplError::at(open, "unclosed action"))
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Eof,
    End,
    Else,
}

struct Parser<'f> {
    toks: Vec<(usize, Tok)>,
    k: usize,
    end_pos: usize,
    vars: Vec<String>,
    depth: usize,
    is_func: &'f dyn Fn(&str) -> bool,
}

pub fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Vec<Node>, TplError> {
    let pieces = split(src)?;
    let mut actions: Vec<Item> = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(t) => actions.push(Item::Text(t.to_string())),
            Piece::Action(body, at) => {
                let trimmed = body.trim_matches(is_space);
                if trimmed.starts_with("/*") && trimmed.ends_with("*/") {
                    continue;
                }
                let toks = Lexer {
                    src: body,
                    base: at,
                    i: 0,
                }
                .tokens()?;
                actions.push(Item::Action(at, body.len(), toks));
            }
        }
    }
    let mut st = State {
        items: actions,
        k: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        is_func,
    };
    let (list, end) = st.list()?;
    match end {
        (Stop::Eof, _) => Ok(list),
        (_, pos) => Err(TplError::at(pos, "unexpected {{end}} or {{else}}")),
    }
}

enum Item {
    Text(String),
    Action(usize, usize, Vec<(usize, Tok)>),
}

struct State<'f> {
    items: Vec<Item>,
    k: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    is_func: &'f dyn Fn(&str) -> bool,
}

impl<'f> State<'f> {
    /// Parses nodes up to `{{end}}`, `{{else ...}}` or the end of input. For `else`, the
    /// remaining tokens of the action are left in `pending_else`.
    fn list(&mut self) -> Result<(Vec<Node>, (Stop, usize)), TplError> {
        let mut out = Vec::new();
        while self.k < self.items.len() {
            let k = self.k;
            self.k += 1;
            let (at, len, toks) = match &self.items[k] {
                Item::Text(t) => {
                    out.push(Node::Text(t.clone()));
                    continue;
                }
                Item::Action(at, len, toks) => (*at, *len, toks.clone()),
            };
            let mut p = Parser {
                toks,
                k: 0,
                end_pos: at + len,
                vars: std::mem::take(&mut self.vars),
                depth: self.depth,
                is_func: self.is_func,
            };
            p.skip_space();
            let first = p.toks.get(p.k).cloned();
            let res = match first {
                Some((pos, Tok::Kw(kw))) => {
                    p.k += 1;
                    match kw {
                        "end" => {
                            p.skip_space();
                            p.expect_end("end")?;
                            self.vars = p.vars;
                            return Ok((out, (Stop::End, pos)));
                        }
                        "else" => {
                            // Leave the rest of the action for the caller to parse.
                            self.vars = p.vars;
                            self.k = k;
                            if let Item::Action(_, _, toks) = &mut self.items[k] {
                                let mut rest = toks.split_off(0);
                                let idx = rest
                                    .iter()
                                    .position(|(_, t)| *t == Tok::Kw("else"))
                                    .unwrap_or(0);
                                rest.drain(..=idx);
                                *toks = rest;
                            }
                            return Ok((out, (Stop::Else, pos)));
                        }
                        "if" | "with" | "range" => {
                            self.vars = p.vars;
                            let node = self.control(kw, pos, k, p.k)?;
                            out.push(node);
                            continue;
                        }
                        "break" | "continue" => {
                            p.skip_space();
                            p.expect_end(kw)?;
                            if self.range_depth == 0 {
                                return Err(TplError::at(
                                    pos,
                                    format!("{{{{{kw}}}}} outside {{{{range}}}}"),
                                ));
                            }
                            self.vars = p.vars;
                            out.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                            continue;
                        }
                        _ => {
                            return Err(TplError::unsupported(
                                pos,
                                format!(
                                    "{{{{{kw}}}}}: templates cannot define or call other templates"
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    let pipe = p.pipeline(false)?;
                    p.expect_end("command")?;
                    self.vars = p.vars;
                    Node::Action(pipe)
                }
            };
            out.push(res);
        }
        Ok((out, (Stop::Eof, 0)))
    }

    /// Parses `if`/`with`/`range` whose keyword token ends at `tok_k` of action `item_k`.
    fn control(
        &mut self,
        kw: &'static str,
        pos: usize,
        item_k: usize,
        tok_k: usize,
    ) -> Result<Node, TplError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(TplError::at(pos, "control structures nested too deeply"));
        }
        let mark = self.vars.len();
        let (at, len, toks) = match &self.items[item_k] {
            Item::Action(at, len, toks) => (*at, *len, toks.clone()),
            Item::Text(_) => return Err(TplError::at(pos, "malformed control structure")),
        };
        let mut p = Parser {
            toks,
            k: tok_k,
            end_pos: at + len,
            vars: std::mem::take(&mut self.vars),
            depth: self.depth,
            is_func: self.is_func,
        };
        let pipe = p.pipeline(kw == "range")?;
        p.expect_end(kw)?;
        self.vars = p.vars;
        self.k = item_k + 1;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (list, (end, end_pos)) = self.list()?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            Stop::Eof => {
                return Err(TplError::at(
                    pos,
                    format!("unexpected EOF: missing {{{{end}}}} for {{{{{kw}}}}}"),
                ));
            }
            Stop::End => None,
            Stop::Else => {
                // `self.k` points at the else action, whose tokens now follow `else`.
                let k = self.k;
                let toks = match &self.items[k] {
                    Item::Action(_, _, toks) => toks.clone(),
                    Item::Text(_) => Vec::new(),
                };
                let mut i = 0;
                while matches!(toks.get(i), Some((_, Tok::Space))) {
                    i += 1;
                }
                match toks.get(i) {
                    Some((p2, Tok::Kw(k2 @ ("if" | "with"))))
                        if (*k2 == "if" && kw == "if") || (*k2 == "with" && kw == "with") =>
                    {
                        // `{{else if}}` / `{{else with}}`: a nested structure sharing our end.
                        let nested = self.control(k2, *p2, k, i + 1)?;
                        Some(vec![nested])
                    }
                    _ => {
                        if toks[i..].iter().any(|(_, t)| *t != Tok::Space) {
                            return Err(TplError::at(end_pos, "unexpected token after else"));
                        }
                        self.k = k + 1;
                        let (else_list, (end2, p2)) = self.list()?;
                        match end2 {
                            Stop::End => {}
                            Stop::Eof => {
                                return Err(TplError::at(
                                    pos,
                                    format!("unexpected EOF: missing {{{{end}}}} for {{{{{kw}}}}}"),
                                ));
                            }
                            Stop::Else => return Err(TplError::at(p2, "expected end; found else")),
                        }
                        Some(else_list)
                    }
                }
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let branch = Branch {
            pos,
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range { branch },
        })
    }
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while matches!(self.toks.get(self.k), Some((_, Tok::Space))) {
            self.k += 1;
        }
    }

    fn here(&self) -> usize {
        self.toks.get(self.k).map_or(self.end_pos, |t| t.0)
    }

    fn expect_end(&mut self, ctx: &str) -> Result<(), TplError> {
        self.skip_space();
        if self.k < self.toks.len() {
            return Err(TplError::at(
                self.here(),
                format!("unexpected token in {ctx}"),
            ));
        }
        Ok(())
    }

    /// pipeline: [decl] command ('|' command)*
    fn pipeline(&mut self, is_range: bool) -> Result<Pipe, TplError> {
        self.skip_space();
        let pos = self.here();
        let mut decl = Vec::new();
        let mut is_assign = false;
        // Look ahead for `$x :=`, `$x =` or `$x, $y :=`.
        let save = self.k;
        if let Some((_, Tok::Var(v))) = self.toks.get(self.k).cloned() {
            self.k += 1;
            self.skip_space();
            match self.toks.get(self.k).map(|t| t.1.clone()) {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    is_assign = matches!(self.toks[self.k].1, Tok::Assign);
                    self.k += 1;
                    decl.push(v);
                }
                Some(Tok::Comma) if is_range => {
                    self.k += 1;
                    self.skip_space();
                    match self.toks.get(self.k).cloned() {
                        Some((_, Tok::Var(v2))) => {
                            self.k += 1;
                            self.skip_space();
                            match self.toks.get(self.k).map(|t| t.1.clone()) {
                                Some(Tok::Declare) | Some(Tok::Assign) => {
                                    is_assign = matches!(self.toks[self.k].1, Tok::Assign);
                                    self.k += 1;
                                    decl.push(v);
                                    decl.push(v2);
                                }
                                _ => {
                                    return Err(TplError::at(
                                        self.here(),
                                        "expected := after range variables",
                                    ));
                                }
                            }
                        }
                        _ => {
                            return Err(TplError::at(
                                self.here(),
                                "range can only initialize variables",
                            ));
                        }
                    }
                }
                _ => self.k = save,
            }
        }
        if is_assign {
            for v in &decl {
                if !self.vars.contains(v) {
                    return Err(TplError::at(pos, format!("undefined variable {v:?}")));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            self.skip_space();
            match self.toks.get(self.k).map(|t| &t.1) {
                None | Some(Tok::RParen) => break,
                _ => {}
            }
            cmds.push(self.command()?);
            self.skip_space();
            match self.toks.get(self.k).map(|t| &t.1) {
                Some(Tok::Pipe) => {
                    self.k += 1;
                }
                _ => break,
            }
        }
        if cmds.is_empty() {
            return Err(TplError::at(pos, "missing value for command"));
        }
        if !is_assign {
            for v in &decl {
                self.vars.push(v.clone());
            }
        }
        for c in &cmds[1..] {
            if let Some(
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::Str(..),
            ) = c.args.first()
            {
                return Err(TplError::at(
                    c.pos,
                    "non executable command in pipeline stage",
                ));
            }
        }
        Ok(Pipe {
            pos,
            decl,
            is_assign,
            cmds,
        })
    }

    fn command(&mut self) -> Result<Cmd, TplError> {
        let pos = self.here();
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.toks.get(self.k).map(|t| &t.1) {
                None | Some(Tok::RParen) | Some(Tok::Pipe) => break,
                _ => {}
            }
            let before = self.k;
            args.push(self.operand()?);
            // Operands must be separated by space.
            match self.toks.get(self.k).map(|t| &t.1) {
                None | Some(Tok::Space) | Some(Tok::RParen) | Some(Tok::Pipe) => {}
                _ => return Err(TplError::at(self.here(), "unexpected token in operand")),
            }
            debug_assert!(self.k > before);
        }
        if args.is_empty() {
            return Err(TplError::at(pos, "empty command"));
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self) -> Result<Arg, TplError> {
        let term = self.term()?;
        let mut fields = Vec::new();
        while let Some((_, Tok::Field(f))) = self.toks.get(self.k) {
            fields.push(f.clone());
            self.k += 1;
        }
        if fields.is_empty() {
            return Ok(term);
        }
        Ok(match term {
            Arg::Field(p, mut f) => {
                f.extend(fields);
                Arg::Field(p, f)
            }
            Arg::Var(p, v, mut f) => {
                f.extend(fields);
                Arg::Var(p, v, f)
            }
            Arg::Bool(p, _) | Arg::Str(p, _) | Arg::Number(p, _) | Arg::Nil(p) | Arg::Dot(p) => {
                return Err(TplError::at(p, "unexpected field access on a constant"));
            }
            t => Arg::Chain(t.pos(), Box::new(t), fields),
        })
    }

    fn term(&mut self) -> Result<Arg, TplError> {
        let (pos, tok) = match self.toks.get(self.k).cloned() {
            Some(t) => t,
            None => return Err(TplError::at(self.end_pos, "missing operand")),
        };
        self.k += 1;
        Ok(match tok {
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return Err(TplError::at(pos, format!("function {name:?} not defined")));
                }
                Arg::Ident(pos, name)
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::Field(f) => Arg::Field(pos, vec![f]),
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(TplError::at(pos, format!("undefined variable {v:?}")));
                }
                Arg::Var(pos, v, Vec::new())
            }
            Tok::Str(s) => Arg::Str(pos, s),
            Tok::Char(c) => Arg::Number(
                pos,
                Number {
                    int: Some(c),
                    float: Some(c as f64),
                    float_syntax: false,
                    is_char: true,
                },
            ),
            Tok::Num(text) => match parse_number(&text) {
                Some(n) => {
                    if n.int.is_none() && !n.float_syntax {
                        return Err(TplError::at(pos, "integer overflow"));
                    }
                    Arg::Number(pos, n)
                }
                None => return Err(TplError::at(pos, "bad number syntax")),
            },
            Tok::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(TplError::at(pos, "parentheses nested too deeply"));
                }
                let pipe = self.pipeline(false)?;
                self.depth -= 1;
                match self.toks.get(self.k) {
                    Some((_, Tok::RParen)) => self.k += 1,
                    _ => return Err(TplError::at(pos, "unclosed left paren")),
                }
                Arg::Pipe(pos, Box::new(pipe))
            }
            Tok::RParen => return Err(TplError::at(pos, "unexpected right paren")),
            Tok::Kw(k) => {
                return Err(TplError::at(
                    pos,
                    format!("unexpected keyword {k} in operand"),
                ));
            }
            _ => return Err(TplError::at(pos, "unexpected token in operand")),
        })
    }
}
