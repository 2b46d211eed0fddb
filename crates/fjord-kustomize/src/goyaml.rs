//! Go's number and time parsing as go-yaml's resolvers use it, shared by
//! the reader (go-yaml v3, as kustomize reads) and the writer (go-yaml v2,
//! as kustomize prints).

use std::sync::OnceLock;

use regex::Regex;

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Go's `strconv.ParseFloat(s, 64)` succeeding (overflow is an error).
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return Some(0.0);
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        // Hexadecimal floats need a 'p' exponent in Go.
        return (hex.contains('p') && hex_float_ok(hex)).then_some(0.0);
    }
    if !t
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

fn hex_float_ok(s: &str) -> bool {
    let Some((m, e)) = s.split_once('p') else {
        return false;
    };
    let e = e.strip_prefix(['+', '-']).unwrap_or(e);
    let m_ok = {
        let (a, b) = m.split_once('.').unwrap_or((m, ""));
        (!a.is_empty() || !b.is_empty())
            && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_hexdigit())
    };
    m_ok && !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
}

/// Splits Go's base prefix off an unsigned number: (radix, digits).
fn go_radix(s: &str) -> (u32, &str) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => return (16, &s[2..]),
            b'o' | b'O' => return (8, &s[2..]),
            b'b' | b'B' => return (2, &s[2..]),
            _ => return (8, &s[1..]),
        }
    }
    (10, s)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, t) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(t)?;
    if neg {
        if u <= 1u64 << 63 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
pub(crate) fn go_parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (radix, digits) = go_radix(s);
    if digits.is_empty() {
        // "0" alone is zero; "0x" and the like are not numbers.
        return (s == "0").then_some(0);
    }
    if !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

pub(crate) fn yaml_style_float(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(s))
}

pub(crate) fn is_base60_float(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(&c) = s.as_bytes().first() else {
        return false;
    };
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    RE.get_or_init(|| Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(s))
}

/// A timestamp as go-yaml reads it.
pub(crate) struct Timestamp {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    /// Fractional second digits, as written.
    frac: String,
    /// Zone offset in minutes; `None` for UTC (no zone, or `Z`).
    offset: Option<i64>,
}

impl Timestamp {
    /// As Go's `time.Time` marshals to JSON (RFC 3339 with nanoseconds,
    /// trailing zeros of the fraction dropped).
    pub(crate) fn rfc3339(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        let frac: String = self.frac.chars().take(9).collect();
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        match self.offset {
            None | Some(0) => s.push('Z'),
            Some(o) => {
                let sign = if o < 0 { '-' } else { '+' };
                s.push_str(&format!("{sign}{:02}:{:02}", o.abs() / 60, o.abs() % 60));
            }
        }
        s
    }
}

/// Whether go-yaml reads `s` as a timestamp.
pub(crate) fn is_timestamp(s: &str) -> bool {
    parse_timestamp(s).is_some()
}

/// go-yaml's timestamps: `2006-1-2`, optionally followed by a time (`T`,
/// `t` or a space, `15:4:5`, fractional seconds) and, after `T`/`t`, a zone
/// (`Z` or `±hh:mm`).
pub(crate) fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    let mut p = 5;
    let month = num12(b, &mut p)?;
    if at(b, p) != b'-' {
        return None;
    }
    p += 1;
    let day = num12(b, &mut p)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return None;
    }
    let mut t = Timestamp {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        frac: String::new(),
        offset: None,
    };
    if p == b.len() {
        return Some(t);
    }
    let sep = b[p];
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    p += 1;
    t.hour = num12(b, &mut p)?;
    if at(b, p) != b':' {
        return None;
    }
    p += 1;
    t.minute = num12(b, &mut p)?;
    if at(b, p) != b':' {
        return None;
    }
    p += 1;
    t.second = num12(b, &mut p)?;
    if t.hour > 23 || t.minute > 59 || t.second > 59 {
        return None;
    }
    if matches!(at(b, p), b'.' | b',') && at(b, p + 1).is_ascii_digit() {
        p += 1;
        let start = p;
        while at(b, p).is_ascii_digit() {
            p += 1;
        }
        t.frac = s[start..p].to_string();
    }
    if sep == b' ' {
        return (p == b.len()).then_some(t);
    }
    match at(b, p) {
        b'Z' => (p + 1 == b.len()).then_some(t),
        c @ (b'+' | b'-') => {
            let z = &b[p + 1..];
            let ok = z.len() == 5
                && z[0].is_ascii_digit()
                && z[1].is_ascii_digit()
                && z[2] == b':'
                && z[3].is_ascii_digit()
                && z[4].is_ascii_digit();
            if !ok {
                return None;
            }
            let h = i64::from(z[0] - b'0') * 10 + i64::from(z[1] - b'0');
            let m = i64::from(z[3] - b'0') * 10 + i64::from(z[4] - b'0');
            let o = h * 60 + m;
            t.offset = Some(if c == b'-' { -o } else { o });
            Some(t)
        }
        _ => None,
    }
}

/// One or two digits, as Go's time parser reads unpadded fields.
fn num12(b: &[u8], p: &mut usize) -> Option<i64> {
    if !at(b, *p).is_ascii_digit() {
        return None;
    }
    let mut v = i64::from(b[*p] - b'0');
    *p += 1;
    if at(b, *p).is_ascii_digit() {
        v = v * 10 + i64::from(b[*p] - b'0');
        *p += 1;
    }
    Some(v)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
