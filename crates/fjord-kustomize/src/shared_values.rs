//! Label and annotation values that kustomize shares between fields.
//!
//! When kustomize's label or annotation transformer adds a key to an object,
//! every field it creates that key in holds one and the same YAML node (the
//! value is built once per key and object). A later write through any of
//! those fields, by another label or annotation transformer, a
//! strategic-merge patch or a replacement, overwrites that node, so the new
//! value shows in all of them: an overlay that sets `tier: prod` on
//! `metadata.labels` only also changes the selector a base's `labels` with
//! `includeSelectors` put `tier` into. A JSON patch re-reads the object
//! from JSON, which ends the sharing. Objects here are plain values, so the
//! sharing is kept beside them and replayed after each write.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

/// One step of a concrete path through an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

impl From<&crate::fieldspec::Crumb<'_>> for Step {
    fn from(c: &crate::fieldspec::Crumb<'_>) -> Self {
        match *c {
            crate::fieldspec::Crumb::Key(k) => Step::Key(k.to_string()),
            crate::fieldspec::Crumb::Index(i) => Step::Index(i),
        }
    }
}

/// The fields one transformer created a key in. Objects of one kind get the
/// same fields, so a set is built once and shared by them all.
pub type Paths = Arc<Vec<Vec<Step>>>;

/// Hands out one [`Paths`] per distinct set of fields.
#[derive(Default)]
pub struct PathsInterner(HashMap<Vec<Vec<Step>>, Paths>);

impl PathsInterner {
    pub fn intern(&mut self, paths: Vec<Vec<Step>>) -> Paths {
        self.0
            .entry(paths)
            .or_insert_with_key(|p| Arc::new(p.clone()))
            .clone()
    }
}

/// Fields that hold one shared value.
#[derive(Debug, Clone)]
struct Group {
    paths: Paths,
    value: Arc<str>,
}

/// The shared values of one object.
#[derive(Debug, Clone, Default)]
pub struct SharedValues {
    groups: Vec<Group>,
}

fn get<'a>(obj: &'a Map<String, Value>, path: &[Step]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut cur = obj.get(k)?;
    for step in rest {
        cur = match (step, cur) {
            (Step::Key(k), Value::Object(m)) => m.get(k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_mut<'a>(obj: &'a mut Map<String, Value>, path: &[Step]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut cur = obj.get_mut(k)?;
    for step in rest {
        cur = match (step, cur) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

impl SharedValues {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Records that the fields at `paths` were just created holding one
    /// value.
    pub fn share(&mut self, paths: Paths, value: Arc<str>) {
        if paths.len() > 1 {
            self.groups.push(Group { paths, value });
        }
    }

    /// The object was rebuilt from JSON: nothing is shared any more.
    pub fn forget(&mut self) {
        self.groups.clear();
    }

    /// After a write to `obj`: a shared field that now holds a new value
    /// passes it to the fields that still hold the old one. Fields that are
    /// gone, or hold something other than a string, leave their group.
    pub fn replay(&mut self, obj: &mut Map<String, Value>) {
        for g in &mut self.groups {
            let mut gone = Vec::new();
            let mut unchanged = Vec::new();
            let mut new_value: Option<Arc<str>> = None;
            for (i, path) in g.paths.iter().enumerate() {
                match get(obj, path) {
                    Some(Value::String(s)) if **s == *g.value => unchanged.push(i),
                    Some(Value::String(s)) => {
                        if new_value.is_none() {
                            new_value = Some(Arc::from(s.as_str()));
                        }
                    }
                    _ => gone.push(i),
                }
            }
            if let Some(v) = new_value {
                for &i in &unchanged {
                    if let Some(slot) = get_mut(obj, &g.paths[i]) {
                        *slot = Value::String(v.to_string());
                    }
                }
                g.value = v;
            }
            if !gone.is_empty() {
                let paths = Arc::make_mut(&mut g.paths);
                for &i in gone.iter().rev() {
                    paths.remove(i);
                }
            }
        }
        self.groups.retain(|g| g.paths.len() > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Vec<Step> {
        p.split('/')
            .map(|s| match s.parse() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(s.to_string()),
            })
            .collect()
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_write_through_one_field_reaches_the_others() {
        let mut o = obj(json!({
            "metadata": {"labels": {"tier": "web"}},
            "spec": {"selector": {"tier": "web"}, "list": [{"tier": "web"}]}
        }));
        let mut s = SharedValues::default();
        s.share(
            Arc::new(vec![
                path("metadata/labels/tier"),
                path("spec/selector/tier"),
                path("spec/list/0/tier"),
            ]),
            Arc::from("web"),
        );
        o["metadata"]["labels"]["tier"] = json!("db");
        s.replay(&mut o);
        assert_eq!(o["spec"]["selector"]["tier"], json!("db"));
        assert_eq!(o["spec"]["list"][0]["tier"], json!("db"));

        // A field that left the group (deleted) is not written back.
        o["spec"]["selector"]
            .as_object_mut()
            .map(|m| m.remove("tier"));
        o["spec"]["list"][0]["tier"] = json!("cache");
        s.replay(&mut o);
        assert_eq!(o["metadata"]["labels"]["tier"], json!("cache"));
        assert!(o["spec"]["selector"].get("tier").is_none());
    }

    #[test]
    fn forgetting_ends_the_sharing() {
        let mut o = obj(json!({"a": {"k": "v"}, "b": {"k": "v"}}));
        let mut s = SharedValues::default();
        s.share(Arc::new(vec![path("a/k"), path("b/k")]), Arc::from("v"));
        s.forget();
        o["a"]["k"] = json!("w");
        s.replay(&mut o);
        assert_eq!(o["b"]["k"], json!("v"));
        assert!(s.is_empty());
    }
}
