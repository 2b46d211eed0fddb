//! Patch and replacement target selectors: regular expressions over
//! group, version, kind, name and namespace, plus label and annotation
//! selectors.

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::kustomization::Selector;
use crate::resource::Resource;

pub struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Req>,
    annotations: Vec<Req>,
}

pub(crate) enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn anchored(p: &str) -> Result<Option<Regex>> {
    if p.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{p})$"))
        .map(Some)
        .map_err(|e| Error::invalid(format!("invalid selector pattern '{p}': {e}")))
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_set(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|x| x.trim().to_string())
        .collect()
}

pub fn parse_label_selector(s: &str) -> Result<Vec<Req>> {
    let mut out = Vec::new();
    for term in split_top(s) {
        let req = if let Some(k) = term.strip_prefix('!') {
            Req::NotExists(k.trim().to_string())
        } else if let Some((k, v)) = term.split_once("!=") {
            Req::Ne(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once("==") {
            Req::Eq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once('=') {
            Req::Eq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once(" notin ") {
            Req::NotIn(k.trim().into(), parse_set(v))
        } else if let Some((k, v)) = term.split_once(" in ") {
            Req::In(k.trim().into(), parse_set(v))
        } else if term
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./".contains(c))
        {
            Req::Exists(term)
        } else {
            return Err(Error::invalid(format!(
                "unable to parse requirement '{term}' in selector '{s}'"
            )));
        };
        out.push(req);
    }
    Ok(out)
}

fn matches_reqs(reqs: &[Req], m: &Map<String, Value>) -> bool {
    let get = |k: &str| m.get(k).and_then(Value::as_str);
    reqs.iter().all(|r| match r {
        Req::Eq(k, v) => get(k) == Some(v.as_str()),
        Req::Ne(k, v) => get(k) != Some(v.as_str()),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
        Req::Exists(k) => m.contains_key(k),
        Req::NotExists(k) => !m.contains_key(k),
    })
}

impl Compiled {
    pub fn new(s: &Selector) -> Result<Self> {
        Ok(Compiled {
            group: anchored(&s.group)?,
            version: anchored(&s.version)?,
            kind: anchored(&s.kind)?,
            name: anchored(&s.name)?,
            namespace: anchored(&s.namespace)?,
            labels: parse_label_selector(&s.label_selector)?,
            annotations: parse_label_selector(&s.annotation_selector)?,
        })
    }

    pub fn matches(&self, r: &Resource) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        let m = |re: &Option<Regex>, a: &str, b: &str| {
            re.as_ref()
                .is_none_or(|re| re.is_match(a) || re.is_match(b))
        };
        let one = |re: &Option<Regex>, a: &str| re.as_ref().is_none_or(|re| re.is_match(a));
        m(
            &self.namespace,
            org.effective_namespace(),
            cur.effective_namespace(),
        ) && m(&self.name, &org.name, &cur.name)
            && one(&self.group, &cur.gvk.group)
            && one(&self.version, &cur.gvk.version)
            && one(&self.kind, &cur.gvk.kind)
            && (self.labels.is_empty() || matches_reqs(&self.labels, &r.labels()))
            && (self.annotations.is_empty() || matches_reqs(&self.annotations, &r.annotations()))
    }
}
