//! String helpers reproducing Go's `strings`, `unicode`, encoding packages and the Sprig
//! dependencies (goutils, xstrings) byte for byte.

use super::funcs::FnError;
use super::value::{MAX_OUTPUT, runes};

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// `unicode.ToUpper`: the simple mapping, so characters whose upper case is several
/// characters stay as they are.
pub fn to_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// `unicode.ToLower`; the one character with a longer full mapping (U+0130) maps to `i`.
pub fn to_lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn to_title(c: char) -> char {
    match c {
        'ǆ' | 'ǅ' | 'Ǆ' => 'ǅ',
        'ǉ' | 'ǈ' | 'Ǉ' => 'ǈ',
        'ǌ' | 'ǋ' | 'Ǌ' => 'ǋ',
        'ǳ' | 'ǲ' | 'Ǳ' => 'ǲ',
        _ => to_upper(c),
    }
}

/// Unicode general categories, as Go's `unicode` package tests them, read from the regex
/// crate's tables.
mod category {
    use std::sync::OnceLock;

    use regex::Regex;

    pub struct Classes {
        pub upper: Regex,
        pub lower: Regex,
        pub letter: Regex,
        pub number: Regex,
        pub digit: Regex,
        pub punct: Regex,
        pub graphic: Regex,
    }

    pub fn get() -> &'static Classes {
        static C: OnceLock<Classes> = OnceLock::new();
        C.get_or_init(|| {
            let re = |p: &str| Regex::new(p).expect("constant Unicode class pattern");
            Classes {
                upper: re(r"^\p{Lu}$"),
                lower: re(r"^\p{Ll}$"),
                letter: re(r"^\p{L}$"),
                number: re(r"^\p{N}$"),
                digit: re(r"^\p{Nd}$"),
                punct: re(r"^\p{P}$"),
                graphic: re(r"^[\p{L}\p{M}\p{N}\p{P}\p{S}]$"),
            }
        })
    }

    pub fn test(re: &Regex, c: char) -> bool {
        let mut buf = [0; 4];
        re.is_match(c.encode_utf8(&mut buf))
    }
}

/// `unicode.IsUpper` (category Lu).
fn is_upper(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    category::test(&category::get().upper, c)
}

/// `unicode.IsLower` (category Ll).
fn is_lower(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_lowercase();
    }
    category::test(&category::get().lower, c)
}

/// `unicode.IsLetter` (category L).
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    category::test(&category::get().letter, c)
}

/// `unicode.IsNumber` (category N).
fn is_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    category::test(&category::get().number, c)
}

/// `unicode.IsSpace`: the White_Space property, which Rust's `is_whitespace` follows.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// `unicode.IsPunct` (category P).
fn is_punct(c: char) -> bool {
    category::test(&category::get().punct, c)
}

/// `unicode.IsPrint`: graphic characters and the ASCII space only.
pub fn is_print(c: char) -> bool {
    c == ' ' || (!c.is_whitespace() && category::test(&category::get().graphic, c))
}

/// xstrings' `isAlphabet`: letters other than the CJK ideographs.
fn is_alphabet(c: char) -> bool {
    is_letter(c) && !matches!(c as u32, 0x4E00..=0x9FCC | 0x3400..=0x4D85 | 0x20000..=0x2B81D)
}

/// `strings.Map` with Go's replacement of invalid UTF-8 by U+FFFD.
pub fn map_runes(s: &[u8], f: fn(char) -> char) -> Vec<u8> {
    if s.is_ascii() {
        return s.iter().map(|b| f(*b as char) as u8).collect();
    }
    let mut out = Vec::with_capacity(s.len());
    for (c, _, _) in runes(s) {
        push_char(&mut out, f(c));
    }
    out
}

pub fn trim_space(s: &[u8]) -> &[u8] {
    let mut start = 0;
    for (c, w, valid) in runes(s) {
        if valid && is_space(c) {
            start += w;
        } else {
            break;
        }
    }
    let mut end = s.len();
    while end > start {
        // Step back one rune.
        let mut k = end - 1;
        while k > start && (s[k] & 0xC0) == 0x80 && end - k < 4 {
            k -= 1;
        }
        let (c, w) = super::value::decode_rune(&s[k..end]);
        let (c, w) = if k + w == end {
            (c, w)
        } else {
            ('\u{FFFD}', 0)
        };
        if (w > 1 || (w == 1 && s[k] < 0x80)) && is_space(c) {
            end = k;
            continue;
        }
        break;
    }
    &s[start..end]
}

/// `strings.Trim(s, cutset)`.
pub fn trim_cutset(s: &[u8], cutset: &[u8]) -> Vec<u8> {
    let set: Vec<char> = runes(cutset).map(|(c, _, _)| c).collect();
    let rs: Vec<(char, usize, bool)> = runes(s).collect();
    let mut start = 0;
    let mut b = 0;
    while start < rs.len() && set.contains(&rs[start].0) {
        b += rs[start].1;
        start += 1;
    }
    let mut end = rs.len();
    let mut e = s.len();
    while end > start && set.contains(&rs[end - 1].0) {
        e -= rs[end - 1].1;
        end -= 1;
    }
    s[b..e.max(b)].to_vec()
}

/// `strings.Title`.
pub fn title(s: &[u8]) -> Vec<u8> {
    let mut prev = ' ';
    let mut out = Vec::with_capacity(s.len());
    for (c, _, _) in runes(s) {
        // strings.Title's isSeparator.
        let sep = if prev.is_ascii() {
            !(prev.is_ascii_alphanumeric() || prev == '_')
        } else {
            !(is_letter(prev) || category::test(&category::get().digit, prev)) && is_space(prev)
        };
        push_char(&mut out, if sep { to_title(c) } else { c });
        prev = c;
    }
    out
}

/// goutils `Uncapitalize`.
pub fn untitle(s: &[u8]) -> Vec<u8> {
    let mut next = true;
    let mut out = Vec::with_capacity(s.len());
    for (c, _, _) in runes(s) {
        if is_space(c) {
            next = true;
            push_char(&mut out, c);
        } else if next {
            push_char(&mut out, to_lower(c));
            next = false;
        } else {
            push_char(&mut out, c);
        }
    }
    out
}

/// goutils `SwapCase`.
pub fn swapcase(s: &[u8]) -> Vec<u8> {
    let mut ws = true;
    let mut out = Vec::with_capacity(s.len());
    for (c, _, _) in runes(s) {
        let r = if is_upper(c) || matches!(c, 'ǅ' | 'ǈ' | 'ǋ' | 'ǲ') {
            ws = false;
            to_lower(c)
        } else if is_lower(c) {
            let r = if ws { to_title(c) } else { to_upper(c) };
            ws = false;
            r
        } else {
            ws = is_space(c);
            c
        };
        push_char(&mut out, r);
    }
    out
}

fn latin1_space(b: u8) -> bool {
    matches!(b, 0x09..=0x0D | 0x20 | 0x85 | 0xA0)
}

/// goutils `DeleteWhiteSpace`: works on bytes, re-encoding each kept byte as a rune.
pub fn nospace(s: &[u8]) -> Vec<u8> {
    if !s.iter().any(|b| latin1_space(*b)) {
        return s.to_vec();
    }
    let mut out = Vec::new();
    for &b in s.iter().filter(|b| !latin1_space(**b)) {
        push_char(&mut out, b as char);
    }
    out
}

/// goutils `Initials`, byte-wise like the original.
pub fn initials(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut gap = true;
    for &b in s {
        if latin1_space(b) {
            gap = true;
        } else if gap {
            push_char(&mut out, b as char);
            gap = false;
        }
    }
    out
}

/// goutils `AbbreviateFull`, None for its error cases.
pub fn abbreviate(s: &[u8], offset: i64, max: i64) -> Option<Vec<u8>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    if max < 4 {
        return None;
    }
    let l = s.len() as i64;
    if l <= max {
        return Some(s.to_vec());
    }
    let mut offset = offset.min(l);
    if l - offset < max - 3 {
        offset = l - (max - 3);
    }
    let mark = b"...";
    if offset <= 4 {
        let mut r = s[..(max - 3) as usize].to_vec();
        r.extend_from_slice(mark);
        return Some(r);
    }
    if max < 7 {
        return None;
    }
    let mut r = mark.to_vec();
    if offset + max - 3 < l {
        r.extend(abbreviate(&s[offset as usize..], 0, max - 3)?);
    } else {
        r.extend_from_slice(&s[(l - (max - 3)) as usize..]);
    }
    Some(r)
}

pub fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len()).position(|w| w == n)
}

fn rfind(h: &[u8], n: &[u8]) -> Option<usize> {
    if n.is_empty() {
        return Some(h.len());
    }
    h.windows(n.len()).rposition(|w| w == n)
}

/// `strings.Replace(s, old, new, -1)`.
pub fn replace(s: &[u8], old: &[u8], new: &[u8]) -> Result<Vec<u8>, FnError> {
    let mut out = Vec::new();
    let limit = |out: &Vec<u8>| {
        if out.len() > MAX_OUTPUT {
            Err(FnError::Limit)
        } else {
            Ok(())
        }
    };
    if old.is_empty() {
        // Inserts `new` before each rune and at the end.
        let mut i = 0;
        for (_, w, _) in runes(s) {
            out.extend_from_slice(new);
            out.extend_from_slice(&s[i..i + w]);
            i += w;
            limit(&out)?;
        }
        out.extend_from_slice(new);
        limit(&out)?;
        return Ok(out);
    }
    let mut i = 0;
    while let Some(p) = find(&s[i..], old) {
        out.extend_from_slice(&s[i..i + p]);
        out.extend_from_slice(new);
        i += p + old.len();
        limit(&out)?;
    }
    out.extend_from_slice(&s[i..]);
    limit(&out)?;
    Ok(out)
}

/// goutils `WrapCustom`.
pub fn wrap_custom(s: &[u8], len: i64, sep: &[u8], long: bool) -> Result<Vec<u8>, FnError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let sep: &[u8] = if sep.is_empty() { b"\n" } else { sep };
    let wl = len.max(1) as usize;
    let n = s.len();
    let mut off = 0usize;
    let mut out = Vec::new();
    while n - off > wl {
        if out.len() > MAX_OUTPUT {
            return Err(FnError::Limit);
        }
        if s[off] == b' ' {
            off += 1;
            continue;
        }
        let end = wl + off + 1;
        let at = rfind(&s[off..end], b" ");
        if let Some(sp) = at {
            let sp = sp + off;
            out.extend_from_slice(&s[off..sp]);
            out.extend_from_slice(sep);
            off = sp + 1;
        } else if long {
            out.extend_from_slice(&s[off..wl + off]);
            out.extend_from_slice(sep);
            off += wl;
        } else {
            let end = wl + off;
            match s[end..].iter().position(|b| *b == b' ') {
                None => {
                    out.extend_from_slice(&s[off..]);
                    off = n;
                }
                Some(i) => {
                    let sp = i + end;
                    out.extend_from_slice(&s[off..sp]);
                    out.extend_from_slice(sep);
                    off = sp + 1;
                }
            }
        }
    }
    out.extend_from_slice(&s[off..]);
    if out.len() > MAX_OUTPUT {
        return Err(FnError::Limit);
    }
    Ok(out)
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_space(c)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

/// Decodes the next rune, skipping invalid bytes; `prev` when only invalid bytes remain.
fn next_valid(s: &[u8], prev: char) -> (char, usize) {
    let mut size = 0;
    let mut i = 0;
    while i < s.len() {
        let (c, w) = super::value::decode_rune(&s[i..]);
        size += w;
        i += w;
        // Like xstrings, a literal U+FFFD counts as invalid too.
        if c != '\u{FFFD}' {
            return (c, size);
        }
    }
    (prev, size)
}

/// xstrings `nextWord`.
fn next_word(s: &[u8]) -> (Word, &[u8], &[u8]) {
    if s.is_empty() {
        return (Word::Invalid, &[], &[]);
    }
    let mut offset;
    let mut rem = s;
    let (mut r, mut size) = next_valid(rem, '\u{FFFD}');
    offset = size;
    if r == '\u{FFFD}' {
        return (Word::Invalid, &s[..offset], &s[offset..]);
    }
    let wt;
    if is_connector(r) {
        wt = Word::Connector;
        rem = &rem[size..];
        while !rem.is_empty() {
            (r, size) = next_valid(rem, r);
            if !is_connector(r) {
                break;
            }
            offset += size;
            rem = &rem[size..];
        }
    } else if is_punct(r) {
        wt = Word::Punct;
        rem = &rem[size..];
        while !rem.is_empty() {
            (r, size) = next_valid(rem, r);
            if !is_punct(r) {
                break;
            }
            offset += size;
            rem = &rem[size..];
        }
    } else if is_upper(r) {
        wt = Word::Upper;
        rem = &rem[size..];
        if !rem.is_empty() {
            (r, size) = next_valid(rem, r);
            if is_upper(r) {
                let mut prev_size = size;
                offset += size;
                rem = &rem[size..];
                while !rem.is_empty() {
                    (r, size) = next_valid(rem, r);
                    if !is_upper(r) {
                        break;
                    }
                    prev_size = size;
                    offset += size;
                    rem = &rem[size..];
                }
                if !rem.is_empty() && is_alphabet(r) {
                    offset -= prev_size;
                }
            } else if is_alphabet(r) {
                offset += size;
                rem = &rem[size..];
                while !rem.is_empty() {
                    (r, size) = next_valid(rem, r);
                    if !is_alphabet(r) || is_upper(r) {
                        break;
                    }
                    offset += size;
                    rem = &rem[size..];
                }
            }
        }
    } else if is_alphabet(r) {
        wt = Word::Alpha;
        rem = &rem[size..];
        while !rem.is_empty() {
            (r, size) = next_valid(rem, r);
            if !is_alphabet(r) || is_upper(r) {
                break;
            }
            offset += size;
            rem = &rem[size..];
        }
    } else if is_number(r) {
        wt = Word::Number;
        rem = &rem[size..];
        while !rem.is_empty() {
            (r, size) = next_valid(rem, r);
            if !is_number(r) {
                break;
            }
            offset += size;
            rem = &rem[size..];
        }
    } else {
        wt = Word::Other;
        rem = &rem[size..];
        while !rem.is_empty() {
            (r, size) = next_valid(rem, r);
            if size == 0 || is_connector(r) || is_alphabet(r) || is_number(r) || is_punct(r) {
                break;
            }
            offset += size;
            rem = &rem[size..];
        }
    }
    (wt, &s[..offset], &s[offset..])
}

fn lower_word(out: &mut Vec<u8>, wt: Word, w: &[u8], conn: char) {
    if wt != Word::Upper && wt != Word::Connector {
        out.extend_from_slice(w);
        return;
    }
    for (c, _, _) in runes(w) {
        if is_connector(c) {
            push_char(out, conn);
        } else if is_upper(c) {
            push_char(out, to_lower(c));
        } else {
            push_char(out, c);
        }
    }
}

/// xstrings `camelCaseToLowerCase` (snakecase, kebabcase).
pub fn lower_case_words(s: &[u8], conn: char) -> Vec<u8> {
    let mut out = Vec::new();
    if s.is_empty() {
        return out;
    }
    let (mut wt, mut word, mut rem) = next_word(s);
    while !rem.is_empty() {
        if wt != Word::Connector {
            lower_word(&mut out, wt, word, conn);
        }
        let prev = wt;
        let last = word;
        (wt, word, rem) = next_word(rem);
        match prev {
            Word::Number => {
                while wt == Word::Alpha || wt == Word::Number {
                    lower_word(&mut out, wt, word, conn);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    push_char(&mut out, conn);
                }
            }
            Word::Connector => lower_word(&mut out, prev, last, conn),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        push_char(&mut out, conn);
                    }
                    continue;
                }
                if rem.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rem) = next_word(rem);
                if wt != Word::Alpha {
                    lower_word(&mut out, Word::Number, last, conn);
                    if wt != Word::Connector && wt != Word::Punct {
                        push_char(&mut out, conn);
                    }
                    continue;
                }
                push_char(&mut out, conn);
                lower_word(&mut out, Word::Number, last, conn);
                while wt == Word::Alpha || wt == Word::Number {
                    lower_word(&mut out, wt, word, conn);
                    (wt, word, rem) = next_word(rem);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    push_char(&mut out, conn);
                }
            }
        }
    }
    lower_word(&mut out, wt, word, conn);
    out
}

/// xstrings `ToPascalCase` (Sprig's camelcase).
pub fn pascal_case(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if s.is_empty() {
        return out;
    }
    let rs: Vec<char> = runes(s).map(|(c, _, _)| c).collect();
    let mut i = 0;
    let mut first_upper = false;
    let mut r0 = '\0';
    let mut got = false;
    while i < rs.len() {
        r0 = rs[i];
        i += 1;
        got = true;
        if !is_connector(r0) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
            break;
        }
        push_char(&mut out, r0);
    }
    if i >= rs.len() {
        // Go writes the last rune again, even when all were connectors.
        if got {
            push_char(&mut out, r0);
        }
        return out;
    }
    while i < rs.len() {
        let r1 = r0;
        r0 = rs[i];
        i += 1;
        if is_connector(r0) && is_connector(r1) {
            push_char(&mut out, r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            push_char(&mut out, r1);
        }
    }
    push_char(&mut out, r0);
    out
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn corrupt(at: usize, what: &str) -> String {
    format!("illegal {what} data at input byte {at}")
}

/// `base64.StdEncoding.DecodeString`, with Go's error text.
pub fn b64_decode(src: &[u8]) -> Result<Vec<u8>, String> {
    let val = |b: u8| B64.iter().position(|x| *x == b).map(|p| p as u32);
    let mut out = Vec::new();
    let mut si = 0;
    loop {
        let mut dbuf = [0u32; 4];
        let mut dlen = 4;
        let mut j = 0;
        let mut err = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j, "base64"));
            }
            let c = src[si];
            si += 1;
            if let Some(v) = val(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1, "base64"));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1, "base64")),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len(), "base64"));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1, "base64"));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                err = Some(corrupt(si, "base64"));
            }
            dlen = j;
            break;
        }
        let v = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3];
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = err {
            return Err(e);
        }
        if dlen < 4 {
            return Ok(out);
        }
    }
}

pub fn b32_encode(src: &[u8]) -> String {
    let mut out = String::new();
    for chunk in src.chunks(5) {
        let mut b = [0u8; 5];
        b[..chunk.len()].copy_from_slice(chunk);
        let v = u64::from(b[0]) << 32
            | u64::from(b[1]) << 24
            | u64::from(b[2]) << 16
            | u64::from(b[3]) << 8
            | u64::from(b[4]);
        let n = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < n {
                out.push(B32[((v >> (35 - 5 * i)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `base32.StdEncoding.DecodeString`, with Go's error text.
pub fn b32_decode(src: &[u8]) -> Result<Vec<u8>, String> {
    let src: Vec<u8> = src
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    let val = |b: u8| B32.iter().position(|x| *x == b).map(|p| p as u8);
    let olen = src.len();
    let mut s = &src[..];
    let mut out = Vec::new();
    let mut end = false;
    while !s.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if s.is_empty() {
                return Err(corrupt(olen - j, "base32"));
            }
            let c = s[0];
            s = &s[1..];
            if c == b'=' && j >= 2 && s.len() < 8 {
                if s.len() + j < 7 {
                    return Err(corrupt(olen, "base32"));
                }
                for k in 0..7 - j {
                    if s.len() > k && s[k] != b'=' {
                        return Err(corrupt(olen - s.len() + k - 1, "base32"));
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(corrupt(olen - s.len() - 1, "base32"));
                }
                break;
            }
            match val(c) {
                Some(v) => dbuf[j] = v,
                None => return Err(corrupt(olen - s.len() - 1, "base32")),
            }
            j += 1;
        }
        let d = &dbuf;
        let bytes = [
            d[0] << 3 | d[1] >> 2,
            d[1] << 6 | d[2] << 1 | d[3] >> 4,
            d[3] << 4 | d[4] >> 1,
            d[4] << 7 | d[5] << 2 | d[6] >> 3,
            d[6] << 5 | d[7],
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for &x in b {
        a = (a + u32::from(x)) % 65521;
        s = (s + a) % 65521;
    }
    s << 16 | a
}

/// `strings.SplitN` (n < 0: all).
pub fn split_n(s: &[u8], sep: &[u8], n: i64) -> Vec<Vec<u8>> {
    if n == 0 {
        return Vec::new();
    }
    let n = if n < 0 { usize::MAX } else { n as usize };
    let mut out = Vec::new();
    if sep.is_empty() {
        let mut i = 0;
        for (_, w, _) in runes(s) {
            if out.len() + 1 == n {
                break;
            }
            out.push(s[i..i + w].to_vec());
            i += w;
        }
        if i < s.len() {
            out.push(s[i..].to_vec());
        }
        return out;
    }
    let mut i = 0;
    while out.len() + 1 < n {
        match find(&s[i..], sep) {
            Some(p) => {
                out.push(s[i..i + p].to_vec());
                i += p + sep.len();
            }
            None => break,
        }
    }
    out.push(s[i..].to_vec());
    out
}

/// `strconv.Atoi` as Sprig uses it: 0 on syntax errors, the clamped value on overflow.
pub fn atoi(s: &[u8]) -> i64 {
    let Ok(t) = std::str::from_utf8(s) else {
        return 0;
    };
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match t.parse::<i64>() {
        Ok(v) => v,
        Err(_) if t.starts_with('-') => i64::MIN,
        Err(_) => i64::MAX,
    }
}

/// cast's `trimZeroDecimal`: "12.000" → "12".
pub fn trim_zero_decimal(s: &[u8]) -> Vec<u8> {
    let mut found_zero = false;
    for i in (0..s.len()).rev() {
        match s[i] {
            b'.' => {
                if found_zero {
                    return s[..i].to_vec();
                }
            }
            b'0' => found_zero = true,
            _ => return s.to_vec(),
        }
    }
    s.to_vec()
}

/// `strconv.ParseInt(s, 0, 64)`.
pub fn parse_int_base0(s: &[u8]) -> Option<i64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() {
        return None;
    }
    let n = super::parse::parse_number(t)?;
    if n.float_syntax
        || t.contains(['.', 'e', 'E', 'p', 'P']) && !t.to_ascii_lowercase().starts_with("0x")
    {
        return None;
    }
    if t.starts_with('+') && t[1..].starts_with(['+', '-']) {
        return None;
    }
    n.int
}

/// `strconv.ParseFloat(s, 64)` for decimal input.
pub fn parse_float(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    let owned;
    let t = if t.contains('_') {
        // Underscores may only separate digits.
        let b = t.as_bytes();
        let ok = b.iter().enumerate().all(|(i, c)| {
            *c != b'_'
                || (i > 0
                    && b[i - 1].is_ascii_digit()
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        });
        if !ok {
            return None;
        }
        owned = t.replace('_', "");
        owned.as_str()
    } else {
        t
    };
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if let Some(hex) = body.strip_prefix("0x") {
        // Hexadecimal floats need a `p` exponent.
        let f = super::parse::hex_float(hex)?;
        return Some(if lower.starts_with('-') { -f } else { f });
    }
    match body {
        "inf" | "infinity" | "nan" => return t.parse().ok(),
        _ => {}
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    t.parse().ok()
}

/// Which byte offsets start a rune as Go decodes it (invalid bytes are runes of their own);
/// Go finds empty matches only there.
fn rune_bounds(s: &[u8]) -> Vec<bool> {
    let mut b = vec![false; s.len() + 1];
    let mut i = 0;
    for (_, w, _) in runes(s) {
        b[i] = true;
        i += w;
    }
    b[s.len()] = true;
    b
}

/// Go's `FindAllIndex` with its limit `n` (n < 0: all). Empty matches right after a
/// previous match are skipped, as Go does.
pub fn find_all(re: &regex::bytes::Regex, s: &[u8], n: i64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let bounds = rune_bounds(s);
    let mut prev_end: Option<usize> = None;
    for m in re.find_iter(s) {
        if m.start() == m.end() && (prev_end == Some(m.start()) || !bounds[m.start()]) {
            continue;
        }
        prev_end = Some(m.end());
        out.push((m.start(), m.end()));
        if n > 0 && out.len() as i64 >= n {
            break;
        }
    }
    out
}

/// `Regexp.ReplaceAll` (with `$` expansion) or `ReplaceAllLiteral`.
pub fn regex_replace(
    re: &regex::bytes::Regex,
    s: &[u8],
    repl: &[u8],
    expand: bool,
) -> Result<Vec<u8>, FnError> {
    let mut out = Vec::new();
    let mut last = 0;
    let bounds = rune_bounds(s);
    let mut prev_end: Option<usize> = None;
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        if m.start() == m.end() && (prev_end == Some(m.start()) || !bounds[m.start()]) {
            continue;
        }
        prev_end = Some(m.end());
        out.extend_from_slice(&s[last..m.start()]);
        if expand {
            caps.expand(repl, &mut out);
        } else {
            out.extend_from_slice(repl);
        }
        last = m.end();
        if out.len() > MAX_OUTPUT {
            return Err(FnError::Limit);
        }
    }
    out.extend_from_slice(&s[last..]);
    Ok(out)
}

/// `Regexp.Split`.
pub fn regex_split(re: &regex::bytes::Regex, empty_expr: bool, s: &[u8], n: i64) -> Vec<Vec<u8>> {
    if n == 0 {
        return Vec::new();
    }
    if !empty_expr && s.is_empty() {
        return vec![Vec::new()];
    }
    let matches = find_all(re, s, n);
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for (a, b) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = a;
        if b != 0 {
            out.push(s[beg..end].to_vec());
        }
        beg = b;
    }
    if end != s.len() {
        out.push(s[beg..].to_vec());
    }
    out
}

/// Rewrites Go (RE2) regexp syntax where Rust's regex reads it differently: Perl classes and
/// word boundaries are ASCII-only in Go, and a `{` that does not start a repetition is a
/// literal.
pub fn go_regex(p: &str) -> String {
    let b: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == '\\' && i + 1 < b.len() {
            let e = b[i + 1];
            let (outside, inside) = match e {
                'd' => ("[0-9]", "0-9"),
                'D' => ("[^0-9]", "[^0-9]"),
                's' => ("[\\t\\n\\f\\r ]", "\\t\\n\\f\\r "),
                'S' => ("[^\\t\\n\\f\\r ]", "[^\\t\\n\\f\\r ]"),
                'w' => ("[0-9A-Za-z_]", "0-9A-Za-z_"),
                'W' => ("[^0-9A-Za-z_]", "[^0-9A-Za-z_]"),
                'b' if !in_class => ("(?-u:\\b)", ""),
                'B' if !in_class => ("(?-u:\\B)", ""),
                _ => ("", ""),
            };
            if outside.is_empty() {
                out.push(c);
                out.push(e);
            } else {
                out.push_str(if in_class { inside } else { outside });
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            } else if c == '[' && b.get(i + 1) == Some(&':') {
                // A POSIX class such as [:alpha:] runs to its own `:]`.
                if let Some(end) =
                    (i + 2..b.len().saturating_sub(1)).find(|&k| b[k] == ':' && b[k + 1] == ']')
                {
                    out.extend(&b[i..end + 2]);
                    i = end + 2;
                    continue;
                }
            } else if c == '[' || c == '&' || c == '~' || (c == '-' && b.get(i + 1) == Some(&'-')) {
                // Literal in Go; set operators in Rust.
                out.push('\\');
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                // A leading `^` and a leading `]` belong to the class.
                if b.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if b.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '{' => {
                let end = b[i..].iter().position(|x| *x == '}').map(|k| i + k);
                let repeat = end.filter(|&end| {
                    let inner: String = b[i + 1..end].iter().collect();
                    let (lo, hi) = inner.split_once(',').unwrap_or((&inner, "0"));
                    !lo.is_empty()
                        && lo.bytes().all(|x| x.is_ascii_digit())
                        && hi.bytes().all(|x| x.is_ascii_digit())
                });
                if let Some(end) = repeat {
                    out.extend(&b[i..=end]);
                    i = end + 1;
                    continue;
                }
                out.push_str("\\{");
            }
            '}' => out.push_str("\\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// `regexp.QuoteMeta`.
pub fn quote_meta(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in s {
        if br"\.+*?()|[]{}^$".contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// `path.Clean`.
pub fn path_clean(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p[0] == b'/';
    let mut parts: Vec<&[u8]> = Vec::new();
    for seg in p.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|l| *l != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(seg);
                }
            }
            s => parts.push(s),
        }
    }
    let mut out = Vec::new();
    if rooted {
        out.push(b'/');
    }
    out.extend(parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// `path.Base`.
pub fn path_base(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let mut p = p;
    while let [rest @ .., b'/'] = p {
        p = rest;
    }
    if let Some(i) = p.iter().rposition(|b| *b == b'/') {
        p = &p[i + 1..];
    }
    if p.is_empty() {
        return b"/".to_vec();
    }
    p.to_vec()
}

/// `path.Dir`.
pub fn path_dir(p: &[u8]) -> Vec<u8> {
    let dir = match p.iter().rposition(|b| *b == b'/') {
        Some(i) => &p[..=i],
        None => &p[..0],
    };
    path_clean(dir)
}

/// `path.Ext`.
pub fn path_ext(p: &[u8]) -> &[u8] {
    for i in (0..p.len()).rev() {
        match p[i] {
            b'/' => break,
            b'.' => return &p[i..],
            _ => {}
        }
    }
    &[]
}

/// `url.QueryEscape`.
pub fn query_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in s {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// `template.HTMLEscapeString`.
pub fn html_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"&#34;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            0 => out.extend_from_slice("\u{FFFD}".as_bytes()),
            b => out.push(b),
        }
    }
    out
}

/// `template.JSEscapeString`.
pub fn js_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (c, _, _) in runes(s) {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\'' => out.extend_from_slice(b"\\'"),
            '"' => out.extend_from_slice(b"\\\""),
            '<' => out.extend_from_slice(b"\\u003C"),
            '>' => out.extend_from_slice(b"\\u003E"),
            '&' => out.extend_from_slice(b"\\u0026"),
            '=' => out.extend_from_slice(b"\\u003D"),
            c if c < ' ' => out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes()),
            c if (c as u32) < 0x80 => out.push(c as u8),
            c => {
                let mut tmp = String::new();
                super::value::escape_rune(&mut tmp, c, '"', false);
                if tmp.starts_with('\\') {
                    out.extend_from_slice(format!("\\u{:04X}", c as u32).as_bytes());
                } else {
                    push_char(&mut out, c);
                }
            }
        }
    }
    out
}
