//! `spec.template.data`: Go text/template with the Sprig functions, as the Sealed Secrets
//! controller renders it (`sealedsecret_expansion.go`). The template's dot is the map of
//! decrypted items as strings; item bytes that are not UTF-8 pass through unchanged.
//!
//! Supported: the action language (pipelines, parentheses, variables and assignment, string,
//! raw string, character, number, bool and nil literals, `if`/`else if`/`with`/`else with`/
//! `range` over lists, maps (sorted keys) and integers, `break`, `continue`, comments and
//! whitespace trimming), Go's builtins with `fmt`'s verbs, and Sprig's string, encoding, hash,
//! list, dict, default, JSON, regexp, conversion, integer math and path functions, with the
//! output Go gives, `<no value>` for missing keys included. `env`, `expandenv` and
//! `getHostByName` are absent, as in the controller.
//!
//! Refused (an [`Error::Template`] marked `unsupported`): `define`, `template` and `block`;
//! complex constants; Sprig's random, time, key and certificate generation, encryption,
//! `htpasswd`/`bcrypt` (random salts), `semver*`, `url*`, float math (`addf`..., `ceil`,
//! `floor`, `round`, `toDecimal`), `chunk` and `merge*`.
//!
//! Errors name a line, a byte column and a function or construct, never a value: values may be
//! plaintext. Output, loops and nesting are bounded, so no template can exhaust memory, time
//! or the stack.

mod exec;
mod funcs;
mod json;
mod parse;
mod text;
mod value;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::types::SecretValue;

/// An error at a byte offset of the template.
#[derive(Debug)]
pub(crate) struct TplError {
    pos: Option<usize>,
    msg: String,
    unsupported: bool,
}

impl TplError {
    pub(crate) fn at(pos: usize, msg: impl Into<String>) -> Self {
        TplError {
            pos: Some(pos),
            msg: msg.into(),
            unsupported: false,
        }
    }

    pub(crate) fn unsupported(pos: usize, msg: impl Into<String>) -> Self {
        TplError {
            pos: Some(pos),
            msg: msg.into(),
            unsupported: true,
        }
    }

    pub(crate) fn limit() -> Self {
        TplError {
            pos: None,
            msg: "template output exceeds the size limit".into(),
            unsupported: false,
        }
    }

    pub(crate) fn nested() -> Self {
        TplError {
            pos: None,
            msg: "value nested too deeply to print".into(),
            unsupported: false,
        }
    }

    pub(crate) fn with_pos(mut self, pos: usize) -> Self {
        self.pos.get_or_insert(pos);
        self
    }

    fn into_error(self, src: &str) -> Error {
        let (line, column) = match self.pos {
            Some(p) => {
                let p = p.min(src.len());
                let before = &src.as_bytes()[..p];
                let line = 1 + before.iter().filter(|b| **b == b'\n').count();
                let col = p - before
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
                    + 1;
                (line, col)
            }
            None => (0, 0),
        };
        Error::Template {
            line,
            column,
            reason: self.msg,
            unsupported: self.unsupported,
        }
    }
}

/// Renders one template over the items; the result replaces the item of the same name.
pub fn render(template: &str, items: &BTreeMap<String, SecretValue>) -> Result<Vec<u8>> {
    let nodes = parse::parse(template, &funcs::exists).map_err(|e| e.into_error(template))?;
    let data: BTreeMap<String, Vec<u8>> = items
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    value::with_map_cleanup(|| {
        let dot = exec::data_value(&data);
        exec::execute(&nodes, dot)
    })
    .map_err(|e| e.into_error(template))
}

#[cfg(test)]
mod tests;
