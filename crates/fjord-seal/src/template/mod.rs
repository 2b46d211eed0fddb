//! `spec.template.data`: Go text/template with the Sprig functions, as the Sealed Secrets
//! controller renders it (`sealedsecret_expansion.go`). The template's dot is the map of
//! decrypted items as strings.
//!
//! Supported: the whole action language except `define`, `template` and `block` (pipelines,
//! parentheses, variables, literals, `if`/`else if`/`with`/`else with`/`range` with `break`
//! and `continue`, whitespace trimming, comments), Go's builtins and the deterministic Sprig
//! functions. Refused with [`Error::Unsupported`]: `define`/`template`/`block`, Sprig's random,
//! time, crypto-material and network functions, and `htpasswd` (its salt is random).
//!
//! Errors name a line, a column and a function or construct, never a value: values may be
//! plaintext.

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
