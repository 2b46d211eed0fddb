//! `spec.template.data`: a small subset of Go text/template. Supported actions are
//! `{{ .item }}`, `{{ index . "item" }}` and comments, with `{{-`/`-}}` whitespace trimming.
//! Anything else (pipelines, Sprig functions, conditionals) is reported as unsupported rather
//! than rendered differently from the controller.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::types::SecretValue;

/// Go prints this for a missing map key under the default `missingkey` option.
const NO_VALUE: &[u8] = b"<no value>";

pub fn render(template: &str, items: &BTreeMap<String, SecretValue>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut trim_next_text = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next_text {
            text = text.trim_start();
        }
        let after_open = &rest[start + 2..];
        let trim_left = after_open.starts_with("- ")
            || after_open.starts_with("-\t")
            || after_open.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        out.extend_from_slice(text.as_bytes());
        let end = after_open
            .find("}}")
            .ok_or(Error::Unsupported("unterminated template action"))?;
        let mut action = &after_open[..end];
        if trim_left {
            action = &action[1..];
        }
        trim_next_text =
            action.ends_with(" -") || action.ends_with("\t-") || action.ends_with("\n-");
        if trim_next_text {
            action = &action[..action.len() - 1];
        }
        out.extend_from_slice(&eval(action.trim(), items)?);
        rest = &after_open[end + 2..];
    }
    let tail = if trim_next_text {
        rest.trim_start()
    } else {
        rest
    };
    out.extend_from_slice(tail.as_bytes());
    Ok(out)
}

fn eval(action: &str, items: &BTreeMap<String, SecretValue>) -> Result<Vec<u8>> {
    if action.starts_with("/*") && action.ends_with("*/") {
        return Ok(Vec::new());
    }
    let key = if let Some(field) = action.strip_prefix('.') {
        if field.is_empty() || !field.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::Unsupported(
                "template action other than {{ .item }} or {{ index . \"item\" }}",
            ));
        }
        field.to_string()
    } else if let Some(arg) = action.strip_prefix("index . ") {
        let arg = arg.trim();
        match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
            Some(k) if !k.contains(['"', '\\']) => k.to_string(),
            _ => {
                return Err(Error::Unsupported(
                    "template index argument other than a plain string",
                ));
            }
        }
    } else {
        return Err(Error::Unsupported(
            "template action other than {{ .item }} or {{ index . \"item\" }}",
        ));
    };
    Ok(items
        .get(&key)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_else(|| NO_VALUE.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> BTreeMap<String, SecretValue> {
        let mut m = BTreeMap::new();
        m.insert("user".to_string(), SecretValue::new(b"svc".to_vec()));
        m.insert("tls.crt".to_string(), SecretValue::new(b"CERT".to_vec()));
        m
    }

    fn r(t: &str) -> String {
        String::from_utf8(render(t, &items()).unwrap()).unwrap()
    }

    #[test]
    fn fields_index_comments_and_trimming() {
        assert_eq!(r("u={{ .user }};"), "u=svc;");
        assert_eq!(r("{{index . \"tls.crt\"}}"), "CERT");
        assert_eq!(r("a {{- /* c */ -}} b"), "ab");
        assert_eq!(r("x {{- .user }} y"), "xsvc y");
        assert_eq!(r("{{ .missing }}"), "<no value>");
        assert_eq!(r("no actions"), "no actions");
    }

    #[test]
    fn anything_else_is_unsupported() {
        for t in [
            "{{ .user | upper }}",
            "{{ if .user }}x{{ end }}",
            "{{ b64enc .user }}",
            "{{ .user",
            "{{ .a.b }}",
        ] {
            assert!(
                matches!(render(t, &items()), Err(Error::Unsupported(_))),
                "{t}"
            );
        }
    }
}
