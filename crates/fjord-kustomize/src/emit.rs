//! Writes objects exactly as `kustomize build` prints them.
//!
//! kustomize turns each object into JSON and that JSON into YAML with
//! go-yaml v2 (sigs.k8s.io/yaml `JSONToYAML`), so the text follows that
//! encoder: keys in its "natural" order (digit runs compare as numbers),
//! strings quoted only when its YAML 1.1 resolver would read them as
//! something else, multi-line strings as literal blocks, long lines folded
//! after column 80, block sequences not indented under their key, empty
//! mappings and sequences as `{}` and `[]`. Numbers are printed as they come
//! back from that JSON round trip: integral floats as integers, other floats
//! in Go's shortest `%g` form.

use serde_json::{Number, Value};

use crate::goyaml::{
    go_parse_float, go_parse_int, go_parse_uint, is_base60_float, is_timestamp, yaml_style_float,
};

/// Column after which the encoder folds plain and quoted scalars at spaces.
const BEST_WIDTH: usize = 80;
const BEST_INDENT: isize = 2;

pub fn to_yaml_stream<'a>(docs: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, d) in docs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        write_document(&mut out, d);
    }
    out
}

/// Appends one document (without a `---` separator).
pub fn write_document(out: &mut String, v: &Value) {
    let mut e = Emitter {
        out,
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
    };
    e.node(v, Ctx::ROOT);
    // Document end.
    e.write_indent();
}

/// A string as a YAML scalar on one line: plain when that reads back as the
/// same string, quoted otherwise (as a mapping key is written).
pub fn scalar(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let mut e = Emitter {
        out: &mut out,
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
    };
    let style = string_style(s);
    e.scalar(s, style, Ctx::KEY);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

#[derive(Clone, Copy)]
struct Ctx {
    mapping: bool,
    simple_key: bool,
}

impl Ctx {
    const ROOT: Ctx = Ctx {
        mapping: false,
        simple_key: false,
    };
    const KEY: Ctx = Ctx {
        mapping: true,
        simple_key: true,
    };
    const VALUE: Ctx = Ctx {
        mapping: true,
        simple_key: false,
    };
    const ITEM: Ctx = Ctx {
        mapping: false,
        simple_key: false,
    };
}

/// The emitter state of libyaml that matters for block output.
struct Emitter<'a> {
    out: &'a mut String,
    /// Characters (not bytes) written on the current line.
    column: usize,
    indent: isize,
    indents: Vec<isize>,
    /// The last character written was whitespace (or nothing yet).
    whitespace: bool,
    /// Only indentation has been written on the current line.
    indention: bool,
}

impl Emitter<'_> {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_str(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        self.write_str(ind);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn node(&mut self, v: &Value, ctx: Ctx) {
        match v {
            Value::Object(m) if m.is_empty() => self.empty_flow("{", "}"),
            Value::Array(a) if a.is_empty() => self.empty_flow("[", "]"),
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                sort_keys(&mut entries);
                self.increase_indent(false, false);
                for (k, val) in entries {
                    self.write_indent();
                    let style = string_style(k);
                    let simple = !k.contains(is_break_char) && k.len() <= 128;
                    if simple {
                        self.scalar(k, style, Ctx::KEY);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(k, style, Ctx::VALUE);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(val, Ctx::VALUE);
                }
                self.pop_indent();
            }
            Value::Array(items) => {
                self.increase_indent(false, ctx.mapping && !self.indention);
                for it in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(it, Ctx::ITEM);
                }
                self.pop_indent();
            }
            Value::Null => self.scalar("null", Style::Plain, ctx),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, Style::Plain, ctx),
            Value::Number(n) => self.scalar(&number_text(n), Style::Plain, ctx),
            Value::String(s) => self.scalar(s, string_style(s), ctx),
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.pop_indent();
        self.write_indicator(close, false, false, false);
    }

    fn scalar(&mut self, value: &str, requested: Style, ctx: Ctx) {
        let a = analyze(value.as_bytes());
        let mut style = requested;
        if ctx.simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (value.is_empty() && ctx.simple_key))
        {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || ctx.simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(value.as_bytes(), allow_breaks),
            Style::Single => self.write_single(value.as_bytes(), allow_breaks),
            Style::Double => self.write_double(value.as_bytes(), allow_breaks),
            Style::Literal => self.write_literal(value.as_bytes()),
        }
        self.pop_indent();
    }

    /// Writes the character starting at `b[*i]` and steps over it.
    fn write_char(&mut self, b: &[u8], i: &mut usize) {
        let w = width(b[*i]).min(b.len() - *i);
        // `b` is valid UTF-8 and `i` sits on a character boundary.
        if let Ok(s) = std::str::from_utf8(&b[*i..*i + w]) {
            self.out.push_str(s);
        }
        self.column += 1;
        *i += w;
    }

    fn write_break_char(&mut self, b: &[u8], i: &mut usize) {
        if b[*i] == b'\n' {
            self.put_break();
            *i += 1;
        } else {
            self.write_char(b, i);
            self.column = 0;
        }
    }

    fn write_plain(&mut self, b: &[u8], allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        let mut i = 0;
        while i < b.len() {
            if is_space(b, i) {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !is_space(b, i + 1) {
                    self.write_indent();
                    i += 1;
                } else {
                    self.write_char(b, &mut i);
                }
                spaces = true;
            } else if is_break(b, i) {
                if !breaks && b[i] == b'\n' {
                    self.put_break();
                }
                self.write_break_char(b, &mut i);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(b, &mut i);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, b: &[u8], allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut i = 0;
        while i < b.len() {
            if is_space(b, i) {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < b.len() - 1
                    && !is_space(b, i + 1)
                {
                    self.write_indent();
                    i += 1;
                } else {
                    self.write_char(b, &mut i);
                }
                spaces = true;
            } else if is_break(b, i) {
                if !breaks && b[i] == b'\n' {
                    self.put_break();
                }
                self.write_break_char(b, &mut i);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if b[i] == b'\'' {
                    self.put('\'');
                }
                self.write_char(b, &mut i);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, b: &[u8], allow_breaks: bool) {
        let mut spaces = false;
        self.write_indicator("\"", true, false, false);
        // go-yaml checks for a byte order mark at the start of the whole
        // value, not at each character: such a value is escaped entirely.
        let bom = b.starts_with(&[0xEF, 0xBB, 0xBF]);
        let mut i = 0;
        while i < b.len() {
            if !is_printable(b, i) || bom || is_break(b, i) || b[i] == b'"' || b[i] == b'\\' {
                let w = width(b[i]).min(b.len() - i);
                let v = std::str::from_utf8(&b[i..i + w])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or(u32::from(b[i]), u32::from);
                i += w;
                self.put('\\');
                match v {
                    0x00 => self.put('0'),
                    0x07 => self.put('a'),
                    0x08 => self.put('b'),
                    0x09 => self.put('t'),
                    0x0A => self.put('n'),
                    0x0B => self.put('v'),
                    0x0C => self.put('f'),
                    0x0D => self.put('r'),
                    0x1B => self.put('e'),
                    0x22 => self.put('"'),
                    0x5C => self.put('\\'),
                    0x85 => self.put('N'),
                    0xA0 => self.put('_'),
                    0x2028 => self.put('L'),
                    0x2029 => self.put('P'),
                    _ => {
                        let (c, digits) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(c);
                        for k in (0..digits).rev() {
                            let d = (v >> (4 * k)) & 0xF;
                            self.put(
                                char::from_digit(d, 16).map_or('0', |c| c.to_ascii_uppercase()),
                            );
                        }
                    }
                }
                spaces = false;
            } else if is_space(b, i) {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i < b.len() - 1 {
                    self.write_indent();
                    if is_space(b, i + 1) {
                        self.put('\\');
                    }
                    i += 1;
                } else {
                    self.write_char(b, &mut i);
                }
                spaces = true;
            } else {
                self.write_char(b, &mut i);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, b: &[u8]) {
        self.write_indicator("|", true, false, false);
        if is_space(b, 0) || is_break(b, 0) {
            self.write_indicator("2", false, false, false);
        }
        let chomp = if b.is_empty() {
            Some("-")
        } else {
            let mut i = b.len() - 1;
            while i > 0 && b[i] & 0xC0 == 0x80 {
                i -= 1;
            }
            if !is_break(b, i) {
                Some("-")
            } else if i == 0 {
                Some("+")
            } else {
                i -= 1;
                while i > 0 && b[i] & 0xC0 == 0x80 {
                    i -= 1;
                }
                is_break(b, i).then_some("+")
            }
        };
        if let Some(c) = chomp {
            self.write_indicator(c, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        let mut i = 0;
        while i < b.len() {
            if is_break(b, i) {
                self.write_break_char(b, &mut i);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(b, &mut i);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(b: &[u8]) -> Analysis {
    if b.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = b.starts_with(b"---") || b.starts_with(b"...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_ws = true;
    let mut i = 0;
    while i < b.len() {
        let w = width(b[i]);
        let followed_by_ws = i + w >= b.len() || is_blank(b, i + w);
        if i == 0 {
            match b[i] {
                b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>'
                | b'\'' | b'"' | b'%' | b'@' | b'`' => block_indicators = true,
                b'?' | b':' | b'-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match b[i] {
                b':' if followed_by_ws => block_indicators = true,
                b'#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(b, i) {
            special = true;
        }
        if is_space(b, i) {
            leading_space |= i == 0;
            trailing_space |= i + w == b.len();
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(b, i) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= i + w == b.len();
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_blankz(b, i);
        i += w;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn width(c: u8) -> usize {
    if c & 0x80 == 0 {
        1
    } else if c & 0xE0 == 0xC0 {
        2
    } else if c & 0xF0 == 0xE0 {
        3
    } else if c & 0xF8 == 0xF0 {
        4
    } else {
        1
    }
}

fn is_space(b: &[u8], i: usize) -> bool {
    at(b, i) == b' '
}

fn is_blank(b: &[u8], i: usize) -> bool {
    matches!(at(b, i), b' ' | b'\t')
}

fn is_break(b: &[u8], i: usize) -> bool {
    let c = at(b, i);
    c == b'\r'
        || c == b'\n'
        || (c == 0xC2 && at(b, i + 1) == 0x85)
        || (c == 0xE2 && at(b, i + 1) == 0x80 && matches!(at(b, i + 2), 0xA8 | 0xA9))
}

fn is_break_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(b: &[u8], i: usize) -> bool {
    is_blank(b, i) || is_break(b, i) || at(b, i) == 0
}

/// libyaml's notion of a printable character (tab is not one).
fn is_printable(b: &[u8], i: usize) -> bool {
    let (c, n1, n2) = (at(b, i), at(b, i + 1), at(b, i + 2));
    c == 0x0A
        || (0x20..=0x7E).contains(&c)
        || (c == 0xC2 && n1 >= 0xA0)
        || (c > 0xC2 && c < 0xED)
        || (c == 0xED && n1 < 0xA0)
        || c == 0xEE
        || (c == 0xEF && !(n1 == 0xBB && n2 == 0xBF) && !(n1 == 0xBF && (n2 == 0xBE || n2 == 0xBF)))
}

/// Sorts entries by [`key_less`]. That order is not total for some odd keys
/// (`x1y` and `x10y` are neither less than the other), which the standard
/// sorts may reject by panicking, so this is a plain merge sort (insertion
/// sort for short runs, as Go does) that never panics.
fn sort_keys(v: &mut Vec<(&String, &Value)>) {
    fn insertion(v: &mut [(&String, &Value)]) {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && key_less(v[j].0, v[j - 1].0) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    if v.len() <= 12 {
        insertion(v);
        return;
    }
    let mid = v.len() / 2;
    let mut right = v.split_off(mid);
    sort_keys(v);
    sort_keys(&mut right);
    let left = std::mem::take(v);
    v.reserve(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        let take_right = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => key_less(b.0, a.0),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let next = if take_right { r.next() } else { l.next() };
        v.extend(next);
    }
}

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn digit_value(c: char) -> i64 {
    i64::from(u32::from(c)) - i64::from(u32::from('0'))
}

/// go-yaml v2's map key order: runes compared one by one, non-letters
/// before letters, runs of digits compared as numbers.
fn key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // Fast path for the common case: the first difference between
        // two letters decides.
        let (x, y) = (a.as_bytes(), b.as_bytes());
        if let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) {
            if x[i].is_ascii_alphabetic() && y[i].is_ascii_alphabetic() {
                return x[i] < y[i];
            }
        } else {
            return x.len() < y.len();
        }
    }
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (is_letter(ar[i]), is_letter(br[i]));
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            for j in (0..i).rev() {
                if !is_digit(ar[j]) {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(digit_value(ar[ai]));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(digit_value(br[bi]));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// The style go-yaml v2 asks for when it encodes a string.
fn string_style(s: &str) -> Style {
    if s.contains('\n') {
        Style::Literal
    } else if resolves_to_str(s) && !is_base60_float(s) {
        Style::Plain
    } else {
        Style::Double
    }
}

/// A number as it reads after kustomize's JSON round trip: JSON prints
/// integral floats below 1e21 without a fraction, which go-yaml then reads
/// as an integer when it fits; other floats print in Go's `%g`.
fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            return (f as i64).to_string();
        }
        if (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            return (f as u64).to_string();
        }
    }
    go_format_g(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits.
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    // Shortest formatting switches to an exponent outside [-4, 6).
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
        return out;
    }
    let dp = exp + 1;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let dp = dp as usize;
        if digits.len() <= dp {
            out.push_str(&digits);
            for _ in digits.len()..dp {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..dp]);
            out.push('.');
            out.push_str(&digits[dp..]);
        }
    }
    out
}

/// Whether go-yaml v2's resolver reads `s`, written plain, as a string.
fn resolves_to_str(s: &str) -> bool {
    const NON_STR: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    let Some(&first) = s.as_bytes().first() else {
        return false;
    };
    let hint = match first {
        b'+' | b'-' => b'S',
        b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => return true,
    };
    if NON_STR.contains(&s) {
        return false;
    }
    match hint {
        b'.' => go_parse_float(s).is_none(),
        b'D' | b'S' => {
            if is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            if go_parse_int(&plain).is_some() || go_parse_uint(&plain).is_some() {
                return false;
            }
            if yaml_style_float(&plain) && go_parse_float(&plain).is_some() {
                return false;
            }
            if let Some(rest) = plain.strip_prefix("0b") {
                if i64::from_str_radix(rest, 2).is_ok() || u64::from_str_radix(rest, 2).is_ok() {
                    return false;
                }
            } else if let Some(rest) = plain.strip_prefix("-0b")
                && i64::from_str_radix(&format!("-{rest}"), 2).is_ok()
            {
                return false;
            }
            true
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(v: serde_json::Value) -> String {
        let mut s = String::new();
        write_document(&mut s, &v);
        s
    }

    #[test]
    fn keys_sort_naturally() {
        let names = ["f10", "f2", "f1", "a", "B", "f01", "_x"];
        let keys: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut e: Vec<(&String, &Value)> = keys.iter().map(|k| (k, &Value::Null)).collect();
        sort_keys(&mut e);
        let got: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, ["_x", "B", "a", "f1", "f01", "f2", "f10"]);
        let many: Vec<String> = (0..40).rev().map(|i| format!("k{i}")).collect();
        let mut e: Vec<(&String, &Value)> = many.iter().map(|k| (k, &Value::Null)).collect();
        sort_keys(&mut e);
        let got: Vec<String> = e.iter().map(|(k, _)| k.to_string()).collect();
        let want: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn strings_are_quoted_as_go_yaml_quotes_them() {
        let v = serde_json::json!({
            "a": "", "b": "yes", "c": "867-5301", "d": "12:30", "e": "2001-12-14",
            "f": "0x1F", "g": "1e3", "h": "08", "i": " lead", "j": "it's", "k": "tab\there",
            "l": "- x", "m": "a: b", "n": "1_000", "o": "1e400", "p": "<<",
        });
        assert_eq!(
            yaml(v),
            "a: \"\"\nb: \"yes\"\nc: 867-5301\nd: \"12:30\"\ne: \"2001-12-14\"\nf: \"0x1F\"\n\
             g: \"1e3\"\nh: \"08\"\ni: ' lead'\nj: it's\nk: \"tab\\there\"\nl: '- x'\nm: 'a: b'\n\
             \"n\": \"1_000\"\no: 1e400\np: <<\n"
        );
    }

    #[test]
    fn numbers_print_as_after_the_json_round_trip() {
        let v = serde_json::json!({"a": 3.0, "b": 1e-7, "c": 1e20, "d": 0.1, "e": 1234567.5, "f": -0.0});
        assert_eq!(
            yaml(v),
            "a: 3\nb: 1e-07\nc: 1e+20\nd: 0.1\ne: 1.2345675e+06\nf: 0\n"
        );
    }

    #[test]
    fn long_lines_fold_at_spaces() {
        let words = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Maecenas suscipit ex non molestie varius.";
        let v = serde_json::json!({"spec": {"value": words}});
        assert_eq!(
            yaml(v),
            "spec:\n  value: Lorem ipsum dolor sit amet, consectetur adipiscing elit. Maecenas suscipit\n    ex non molestie varius.\n"
        );
    }

    #[test]
    fn literal_blocks_get_indentation_and_chomping_hints() {
        let v = serde_json::json!({"a": " x\n", "b": "x\n\n", "c": "x", "d": "x\ny"});
        assert_eq!(
            yaml(v),
            "a: |2\n   x\nb: |+\n  x\n\nc: x\nd: |-\n  x\n  y\n"
        );
    }
}
