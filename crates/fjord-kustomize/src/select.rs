//! Patch and replacement target selectors: regular expressions over
//! group, version, kind, name and namespace, plus label and annotation
//! selectors.

use regex::Regex;

use crate::error::{Error, Result};
use crate::kustomization::Selector;
use crate::label_selector::{self, Requirement};
use crate::resource::Resource;

pub struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

fn anchored(p: &str) -> Result<Option<Regex>> {
    if p.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{p})$"))
        .map(Some)
        .map_err(|e| Error::invalid(format!("invalid selector pattern '{p}': {e}")))
}

fn label_selector(s: &str) -> Result<Vec<Requirement>> {
    label_selector::parse(s).map_err(Error::invalid)
}

impl Compiled {
    pub fn new(s: &Selector) -> Result<Self> {
        Ok(Compiled {
            group: anchored(&s.group)?,
            version: anchored(&s.version)?,
            kind: anchored(&s.kind)?,
            name: anchored(&s.name)?,
            namespace: anchored(&s.namespace)?,
            labels: label_selector(&s.label_selector)?,
            annotations: label_selector(&s.annotation_selector)?,
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
            && (self.labels.is_empty() || label_selector::matches(&self.labels, &r.labels()))
            && (self.annotations.is_empty()
                || label_selector::matches(&self.annotations, &r.annotations()))
    }
}
