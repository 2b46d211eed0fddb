//! Output order: kustomize's legacy order (by kind, then id) or input
//! order (`sortOptions: {order: fifo}`).

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::kustomization::SortOptions;
use crate::resource::{Gvk, ResId, Resource};

pub const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
pub const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn rank(kind: &str, first: &[String], last: &[String]) -> i64 {
    if let Some(i) = first.iter().position(|k| k == kind) {
        return i as i64 - first.len() as i64;
    }
    if let Some(i) = last.iter().position(|k| k == kind) {
        return 1 + i as i64;
    }
    0
}

fn gvk_sort_string(g: &Gvk) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&g.group, "~G"),
        or(&g.version, "~V"),
        or(&g.kind, "~K")
    )
}

fn default_lists() -> (Vec<String>, Vec<String>) {
    (
        ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
        ORDER_LAST.iter().map(|s| s.to_string()).collect(),
    )
}

/// The order kustomize uses for field specs and transformer configs.
pub fn gvk_less(a: &Gvk, b: &Gvk) -> bool {
    static LISTS: std::sync::OnceLock<(Vec<String>, Vec<String>)> = std::sync::OnceLock::new();
    let (f, l) = LISTS.get_or_init(default_lists);
    let (ra, rb) = (rank(&a.kind, f, l), rank(&b.kind, f, l));
    if ra != rb {
        return ra < rb;
    }
    gvk_sort_string(a) < gvk_sort_string(b)
}

fn legacy_gvk_cmp(a: &Gvk, b: &Gvk, first: &[String], last: &[String]) -> Ordering {
    let (ra, rb) = (rank(&a.kind, first, last), rank(&b.kind, first, last));
    if ra != rb {
        return ra.cmp(&rb);
    }
    let (sa, sb) = (gvk_sort_string(a), gvk_sort_string(b));
    if a.kind == "Namespace" && b.kind == "Namespace" && (a.group.is_empty() || b.group.is_empty())
    {
        return sb.cmp(&sa);
    }
    sa.cmp(&sb)
}

fn id_sort_string(id: &ResId) -> String {
    let ns = if id.namespace.is_empty() {
        "~X"
    } else {
        &id.namespace
    };
    let nm = if id.name.is_empty() { "~N" } else { &id.name };
    format!("{}|{}|{}", id.gvk, ns, nm)
}

pub fn apply(resources: &mut [Resource], opts: Option<&SortOptions>) -> Result<()> {
    let (order, legacy) = match opts {
        None => ("legacy", None),
        Some(o) => (
            if o.order.is_empty() {
                "fifo"
            } else {
                o.order.as_str()
            },
            o.legacy_sort_options.as_ref(),
        ),
    };
    match order {
        "fifo" => {
            if legacy.is_some() {
                return Err(Error::invalid(
                    "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'",
                ));
            }
            Ok(())
        }
        "legacy" => {
            let (first, last) = match legacy {
                Some(l) => (l.order_first.clone(), l.order_last.clone()),
                None => default_lists(),
            };
            // Sort small keys, then move the objects once into place.
            let keys: Vec<(ResId, String)> = resources
                .iter()
                .map(|r| {
                    let id = r.cur_id();
                    let s = id_sort_string(&id);
                    (id, s)
                })
                .collect();
            let mut order: Vec<usize> = (0..resources.len()).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (&keys[a], &keys[b]);
                if a.0.gvk != b.0.gvk {
                    legacy_gvk_cmp(&a.0.gvk, &b.0.gvk, &first, &last)
                } else {
                    a.1.cmp(&b.1)
                }
            });
            drop(keys);
            permute(resources, order);
            Ok(())
        }
        other => Err(Error::invalid(format!(
            "the field 'sortOptions.order' must be one of [fifo, legacy], not '{other}'"
        ))),
    }
}

/// Reorders `v` so that `v[i]` becomes the old `v[order[i]]`, in place.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    for i in 0..v.len() {
        // Follow the cycle through i, swapping each element into place;
        // visited slots are marked by pointing at themselves.
        let mut cur = i;
        while order[cur] != i {
            let next = order[cur];
            v.swap(cur, next);
            order[cur] = cur;
            cur = next;
        }
        order[cur] = cur;
    }
}
