//! `images:`: rewrites container image names, tags and digests.

use serde_json::Value;

use crate::error::Result;
use crate::fieldspec;
use crate::kustomization::{FieldSpec, Image};
use crate::resource::Resource;

/// Splits `registry:5000/name:tag@digest` into name, tag and digest. A
/// colon before the first slash belongs to the registry host.
pub fn split(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (colon, at) {
        (None, None) => (image, "", ""),
        (c, Some(d)) if c.is_none_or(|c| d < c) => {
            (&image[..slash + d], "", &image[slash + d + 1..])
        }
        (Some(c), Some(d)) => (
            &image[..slash + c],
            &image[slash + c + 1..slash + d],
            &image[slash + d + 1..],
        ),
        (Some(c), None) => (&image[..slash + c], &image[slash + c + 1..], ""),
        (None, Some(_)) => (image, "", ""),
    }
}

/// Tells which image values an `images:` entry applies to. kustomize builds
/// a regular expression from the configured name as written, so a `.` in it
/// matches any character; a name that is not a valid expression matches
/// nothing.
struct Matcher(Option<regex::Regex>);

impl Matcher {
    fn new(name: &str) -> Self {
        Matcher(
            regex::Regex::new(&format!(
                "^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$"
            ))
            .ok(),
        )
    }

    fn matches(&self, value: &str) -> bool {
        self.0.as_ref().is_some_and(|re| re.is_match(value))
    }
}

fn rewrite(value: &str, img: &Image, matcher: &Matcher) -> Option<String> {
    if !matcher.matches(value) {
        return None;
    }
    let (name, tag, digest) = split(value);
    let mut name = name.to_string();
    let (mut tag, mut digest) = (tag.to_string(), digest.to_string());
    if !img.new_name.is_empty() {
        name = img.new_name.clone();
    }
    if !img.new_tag.is_empty() && !img.digest.is_empty() {
        tag = img.new_tag.clone();
        digest = img.digest.clone();
    } else if !img.new_tag.is_empty() {
        tag = img.new_tag.clone();
        digest.clear();
    } else if !img.digest.is_empty() {
        tag.clear();
        digest = img.digest.clone();
    } else if !img.tag_suffix.is_empty() {
        tag.push_str(&img.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    Some(name)
}

fn update_image_field(elem: &mut Value, img: &Image, matcher: &Matcher) {
    if let Some(Value::String(s)) = elem.get_mut("image")
        && let Some(n) = rewrite(s, img, matcher)
    {
        *s = n;
    }
}

/// Every `containers` and `initContainers` list anywhere in the object.
fn walk_containers(v: &mut Value, img: &Image, matcher: &Matcher) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                walk_containers(child, img, matcher);
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    items
                        .iter_mut()
                        .for_each(|e| update_image_field(e, img, matcher));
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|e| walk_containers(e, img, matcher)),
        _ => {}
    }
}

pub fn apply(resources: &mut [Resource], img: &Image, specs: &[FieldSpec]) -> Result<()> {
    let matcher = Matcher::new(&img.name);
    for r in resources.iter_mut() {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        let gvk = r.gvk();
        let mut obj = Value::Object(std::mem::take(&mut r.obj));
        walk_containers(&mut obj, img, &matcher);
        for fs in specs.iter().filter(|fs| super::selects(fs, &gvk)) {
            let mut set = |node: &mut Value| -> Result<()> {
                if let Value::String(s) = node
                    && let Some(n) = rewrite(s, img, &matcher)
                {
                    *s = n;
                }
                Ok(())
            };
            fieldspec::visit_str(&mut obj, &fs.path, false, &mut set)?;
        }
        if let Value::Object(m) = obj {
            r.obj = m;
        }
    }
    Ok(())
}
