//! The build: loads a kustomization tree depth first, accumulating
//! resources, running generators and transformers at each level, then fixes
//! name references, resolves vars and sorts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::TransformerConfig;
use crate::error::{Error, Result, ResultExt};
use crate::generators::{self, GenKind};
use crate::kustomization::{FILE_NAMES, Kustomization, Patch, Var};
use crate::load::{LoadRestrictions, Loader, lexical_join};
use crate::patch::{json6902, strategic_merge};
use crate::resource::{Behavior, Resource};
use crate::schema::{CustomSchema, OpenApi, TypeView};
use crate::select::Compiled;
use crate::transform::{images, labels, names, namespace, replicas};
use crate::{nameref, origin, plugins, replacements, sort, vars};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub load_restrictions: LoadRestrictions,
}

/// Resources and the rules gathered so far at one level of the tree.
#[derive(Default)]
pub struct Accumulator {
    pub resources: Vec<Resource>,
    pub config: TransformerConfig,
    pub vars: Vec<Var>,
    /// Hashes of the ids of `resources`, kept only while resources are
    /// being appended (ids change once transformers run); rebuilt on demand.
    ids: Option<HashSet<u64>>,
}

impl Accumulator {
    pub fn new() -> Self {
        Accumulator {
            resources: Vec::new(),
            config: TransformerConfig::default(),
            vars: Vec::new(),
            ids: None,
        }
    }

    pub fn append_all(&mut self, rs: Vec<Resource>) -> Result<()> {
        let resources = &self.resources;
        let seen = self
            .ids
            .get_or_insert_with(|| resources.iter().map(Resource::id_hash).collect());
        for r in rs {
            if !seen.insert(r.id_hash()) {
                // Same hash: a duplicate, unless the hashes merely collide.
                let id = r.cur_id();
                if self.resources.iter().any(|o| o.cur_id().same_as(&id)) {
                    return Err(Error::DuplicateId(id.to_string()));
                }
            }
            self.resources.push(r);
        }
        Ok(())
    }

    fn merge(&mut self, other: Accumulator) -> Result<()> {
        self.config.merge(&other.config)?;
        for v in other.vars {
            vars::add(&mut self.vars, v)?;
        }
        self.append_all(other.resources)
    }

    /// Adds generated resources, honouring their merge/replace behavior.
    pub fn absorb(&mut self, mut res: Resource) -> Result<()> {
        let id = res.cur_id();
        let matches: Vec<usize> = self
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.cur_id().same_as(&id) || r.prev_ids().iter().any(|p| p.same_as(&id)))
            .map(|(i, _)| i)
            .collect();
        match (matches.len(), res.build.behavior) {
            (0, Behavior::Merge | Behavior::Replace) => Err(Error::invalid(format!(
                "id {id} does not exist; cannot merge or replace"
            ))),
            (0, Behavior::Create) => self.append_all(vec![res]),
            (1, Behavior::Create) => Err(Error::invalid(format!(
                "id {id} exists; behavior must be merge or replace"
            ))),
            (1, b) => {
                let i = matches[0];
                let old = &self.resources[i];
                merge_meta(&mut res, old);
                if b == Behavior::Merge {
                    if let Some(o) = old
                        .annotations()
                        .get(origin::ORIGIN_KEY)
                        .and_then(Value::as_str)
                    {
                        let o = o.to_string();
                        res.set_annotation(origin::ORIGIN_KEY, &o);
                    }
                    for field in ["data", "binaryData"] {
                        if let Some(Value::Object(old_data)) = old.obj.get(field) {
                            let mut merged = old_data.clone();
                            if let Some(Value::Object(new_data)) = res.obj.get(field) {
                                for (k, v) in new_data {
                                    merged.insert(k.clone(), v.clone());
                                }
                            }
                            res.obj.insert(field.into(), Value::Object(merged));
                        }
                    }
                }
                res.build.behavior = Behavior::Create;
                self.resources[i] = res;
                self.ids = None;
                Ok(())
            }
            _ => Err(Error::invalid(format!(
                "found multiple objects that could accept merge of {id}"
            ))),
        }
    }
}

/// Labels and annotations of `old` survive a merge or replace unless the
/// newcomer sets them; so do the build facts kustomize keeps in annotations.
fn merge_meta(res: &mut Resource, old: &Resource) {
    for field in ["labels", "annotations"] {
        let mut merged = old.string_map(field);
        for (k, v) in res.string_map(field) {
            merged.insert(k, v);
        }
        if !merged.is_empty() {
            res.metadata_mut()
                .insert(field.into(), Value::Object(merged));
        }
    }
    res.set_name(old.name());
    res.set_namespace(old.namespace());
    res.build.prev = old.build.prev.clone();
    res.build.prefixes = old.build.prefixes.clone();
    res.build.suffixes = old.build.suffixes.clone();
    res.build.ref_vars = old.build.ref_vars.clone();
    // The name hash survives only if both sides want it (merging into an
    // object that was not generated keeps its plain name).
    res.build.needs_hash = old.build.needs_hash && res.build.needs_hash;
}

pub fn load_kustomization(ldr: &Loader) -> Result<(PathBuf, Kustomization)> {
    let mut found = None;
    for f in FILE_NAMES {
        let p = ldr.root().join(f);
        if p.is_file() {
            if found.is_some() {
                return Err(Error::MultipleKustomizations(ldr.root().to_path_buf()));
            }
            found = Some(f);
        }
    }
    let Some(f) = found else {
        return Err(Error::MissingKustomization(ldr.root().to_path_buf()));
    };
    let (path, text) = ldr.read_string(f)?;
    let mut k = Kustomization::parse(&text, &path)?;
    k.file_name = f.to_string();
    Ok((path, k))
}

/// Turns parsed documents into resources, expanding `kind: List`.
pub fn to_resources(docs: Vec<Value>, path: &Path) -> Result<Vec<Resource>> {
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let Value::Object(m) = d else {
            // kustomize's words for a document that is not a mapping.
            return Err(Error::InvalidResource {
                path: path.to_path_buf(),
                message: "missing Resource metadata".into(),
            });
        };
        let is_list = m
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && m.get("items").is_some_and(Value::is_array);
        if is_list {
            if let Some(Value::Array(items)) = m.get("items") {
                out.extend(to_resources(items.clone(), path)?);
            }
            continue;
        }
        check_identity(&m, path)?;
        out.push(Resource::new(m));
    }
    Ok(out)
}

/// An object needs a kind, and a name unless it is a list, as kustomize
/// checks when it reads one.
fn check_identity(m: &Map<String, Value>, path: &Path) -> Result<()> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = text(m.get("kind"));
    let meta = m.get("metadata");
    let name = text(meta.and_then(|md| md.get("name")));
    let field = if kind.is_empty() {
        "kind"
    } else if name.is_empty() && !kind.ends_with("List") {
        "metadata.name"
    } else {
        return Ok(());
    };
    let pairs = |f: &str| {
        let mut kv: Vec<String> = meta
            .and_then(|md| md.get(f))
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        kv.sort();
        format!("map[{}]", kv.join(" "))
    };
    // Worded, and the object printed, as kustomize's Go `%v` does.
    Err(Error::InvalidResource {
        path: path.to_path_buf(),
        message: format!(
            "missing {field} in object {{{{{} {kind}}} {{{{{name} {}}} {} {}}}}}",
            text(m.get("apiVersion")),
            text(meta.and_then(|md| md.get("namespace"))),
            pairs("labels"),
            pairs("annotations"),
        ),
    })
}

/// kustomize holds an object's annotations as strings: a value some step
/// wrote with another type (a JSON patch, a replacement) comes out as its
/// text, null as "null", a list or a mapping as ""; an empty or null
/// `annotations` goes.
fn annotations_as_text(r: &mut Resource) {
    let Some(Value::Object(meta)) = r.obj.get_mut("metadata") else {
        return;
    };
    // No annotations at all, null or empty, is no field.
    if meta
        .get("annotations")
        .is_some_and(|a| a.is_null() || a.as_object().is_some_and(Map::is_empty))
    {
        meta.remove("annotations");
    }
    let Some(Value::Object(annotations)) = meta.get_mut("annotations") else {
        return;
    };
    for v in annotations.values_mut() {
        let text = match v {
            Value::String(_) => continue,
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(_) | Value::Object(_) => String::new(),
        };
        *v = Value::String(text);
    }
}

pub fn load_resource_file(ldr: &Loader, rel: &str) -> Result<Vec<Resource>> {
    let (path, text) = ldr.read_string(rel)?;
    let docs = crate::yaml::parse_resource_documents(&text, &path)?;
    let mut out = Vec::with_capacity(docs.len());
    for (doc, dup) in docs {
        let mut rs = to_resources(vec![doc], &path)?;
        if let Some(d) = dup {
            rs.iter_mut()
                .for_each(|r| r.build.duplicate_key = Some(d.clone()));
        }
        out.append(&mut rs);
    }
    Ok(out)
}

pub struct Builder {
    pub opts: Options,
    /// Roots being built, to catch cycles between kustomizations.
    stack: Vec<PathBuf>,
    /// With `buildMetadata: [originAnnotations]`: the path of the current
    /// kustomization relative to the one being built.
    origin: Option<PathBuf>,
    /// Whether a kustomization has chosen an OpenAPI schema already.
    openapi_set: bool,
    /// The schema strategic merges use, as it evolves during the build.
    openapi: std::rc::Rc<OpenApi>,
}

impl Builder {
    pub fn new(opts: Options) -> Self {
        Builder {
            opts,
            stack: Vec::new(),
            origin: None,
            openapi_set: false,
            openapi: std::rc::Rc::default(),
        }
    }

    fn choose_schema(&mut self, choice: SchemaChoice) {
        match choice {
            SchemaChoice::Unchanged => {}
            SchemaChoice::Builtin => {
                self.openapi_set = true;
                self.openapi.choose_builtin();
            }
            SchemaChoice::Custom(c) => {
                self.openapi_set = true;
                self.openapi.choose_custom(c);
            }
        }
    }

    pub fn run(&mut self, dir: &Path) -> Result<Vec<Resource>> {
        let ldr = Loader::new(dir, self.opts.load_restrictions)?;
        let (kpath, k) = load_kustomization(&ldr)?;
        let choice = check_openapi(&ldr, &k, &kpath, false)?;
        self.choose_schema(choice);
        if k.kind == "Component" {
            // A component built on its own behaves as a kustomization.
            tracing::debug!(dir = %dir.display(), "building a Component directly");
        }
        // Any build metadata turns origin tracking on (transformations are
        // recorded against origins); unrequested annotations go at the end.
        let tracking = k.build_metadata.iter().any(|m| m == origin::ORIGIN_OPTION);
        self.origin = (!k.build_metadata.is_empty()).then(PathBuf::new);
        self.stack.push(ldr.root().to_path_buf());
        let mut acc = self.accumulate(&ldr, &k, Accumulator::new())?;
        self.stack.pop();
        hash_names(&mut acc.resources);
        nameref::fix(&mut acc.resources, &acc.config)?;
        vars::resolve(&mut acc.resources, &acc.vars, &acc.config)?;
        acc.resources.iter_mut().for_each(annotations_as_text);
        acc.resources.retain(|r| {
            r.annotations()
                .get("config.kubernetes.io/local-config")
                .and_then(Value::as_str)
                != Some("true")
        });
        // kustomize reads objects with repeated keys but cannot print them.
        if let Some(r) = acc
            .resources
            .iter()
            .find(|r| r.build.duplicate_key.is_some())
        {
            return Err(Error::Object {
                object: r.cur_id().to_string(),
                message: r.build.duplicate_key.clone().unwrap_or_default(),
            });
        }
        sort::apply(&mut acc.resources, k.sort_options.as_ref())?;
        if !tracking {
            acc.resources
                .iter_mut()
                .for_each(|r| origin::remove(r, origin::ORIGIN_KEY));
        }
        if !k
            .build_metadata
            .iter()
            .any(|m| m == origin::TRANSFORMATIONS_OPTION)
        {
            acc.resources
                .iter_mut()
                .for_each(|r| origin::remove(r, origin::TRANSFORMATIONS_KEY));
        }
        if k.build_metadata.iter().any(|m| m == "managedByLabel") {
            let mut pairs = indexmap::IndexMap::new();
            pairs.insert(
                "app.kubernetes.io/managed-by".to_string(),
                "kustomize-v5.5.0".to_string(),
            );
            let spec = crate::kustomization::FieldSpec {
                path: "metadata/labels".into(),
                create: true,
                ..Default::default()
            };
            labels::apply(&mut acc.resources, &pairs, &[spec])?;
        }
        Ok(acc.resources)
    }

    fn child_kustomization(&mut self, ldr: &Loader, rel: &str) -> Result<(Loader, Kustomization)> {
        let child = ldr.child(rel)?;
        if self.stack.iter().any(|p| p == child.root()) {
            return Err(Error::Cycle(child.root().to_path_buf()));
        }
        let (kpath, k) = load_kustomization(&child)?;
        // The first kustomization in the tree to choose a schema wins; the
        // schema file of any is read.
        let choice = check_openapi(&child, &k, &kpath, self.openapi_set)?;
        self.choose_schema(choice);
        Ok((child, k))
    }

    pub fn accumulate(
        &mut self,
        ldr: &Loader,
        k: &Kustomization,
        mut acc: Accumulator,
    ) -> Result<Accumulator> {
        for rel in &k.resources {
            self.accumulate_one(ldr, rel, &mut acc)
                .context_with(|| "accumulating resources".to_string())?;
        }
        // As kustomize: the defaults merged with this level's
        // configurations, then merged into what the accumulator holds, then
        // the CRDs' rules. Each merge drops specs made redundant by earlier
        // ones, so the order matters.
        let mut cfg = TransformerConfig::defaults();
        if !k.configurations.is_empty() {
            let mut custom = TransformerConfig::default();
            for c in &k.configurations {
                let (path, text) = ldr.read_string(c)?;
                custom.merge(&TransformerConfig::parse(&text, &path)?)?;
            }
            cfg.merge(&custom)?;
        }
        acc.config.merge(&cfg)?;
        if !k.crds.is_empty() {
            let mut crd_cfg = TransformerConfig::default();
            for c in &k.crds {
                let (path, text) = ldr
                    .read_string(c)
                    .map_err(|e| e.context(format!("loading CRDs [{}]", k.crds.join(" "))))?;
                crd_cfg.merge(&crate::crds::config_from_crds(&text, &path)?)?;
            }
            acc.config.merge(&crd_cfg)?;
        }
        acc.ids = None;
        self.run_generators(ldr, k, &mut acc)?;
        acc.ids = None;
        for rel in &k.components {
            // kustomize quotes what went wrong inside a component.
            let wrap = |what: &str, e: Error| {
                Error::invalid(format!("{what} {}", crate::error::go_quote(&e.to_string())))
                    .context("accumulating components")
            };
            let child = ldr.child(rel).map_err(|e| wrap("loader.New", e))?;
            acc = self
                .accumulate_component(child, rel, acc)
                .map_err(|e| wrap("accumulateDirectory:", e))?;
        }
        acc.ids = None;
        self.run_transformers(ldr, k, &mut acc)?;
        acc.ids = None;
        vars::bind(&mut acc.resources, &mut acc.vars, &k.vars)
            .context_with(|| "merging vars".into())?;
        Ok(acc)
    }

    fn accumulate_component(
        &mut self,
        child: Loader,
        rel: &str,
        acc: Accumulator,
    ) -> Result<Accumulator> {
        if self.stack.iter().any(|p| p == child.root()) {
            return Err(Error::Cycle(child.root().to_path_buf()));
        }
        let (kpath, ck) = load_kustomization(&child)?;
        let choice = check_openapi(&child, &ck, &kpath, self.openapi_set)?;
        self.choose_schema(choice);
        if ck.kind != "Component" {
            return Err(Error::invalid(format!(
                "expected kind 'Component' for path '{}' but got '{}'",
                child.root().display(),
                ck.kind
            )));
        }
        self.stack.push(child.root().to_path_buf());
        let saved = self.origin.clone();
        if let Some(o) = &mut self.origin {
            *o = origin::join(o, rel);
        }
        let res = self.accumulate(&child, &ck, acc);
        self.origin = saved;
        self.stack.pop();
        res
    }

    fn accumulate_one(&mut self, ldr: &Loader, rel: &str, acc: &mut Accumulator) -> Result<()> {
        let full = lexical_join(ldr.root(), rel);
        if full.is_dir() {
            let (child, ck) = self.child_kustomization(ldr, rel)?;
            if ck.kind == "Component" {
                return Err(Error::invalid(format!(
                    "expected kind != 'Component' for path '{}'",
                    child.root().display()
                )));
            }
            self.stack.push(child.root().to_path_buf());
            let saved = self.origin.clone();
            if let Some(o) = &mut self.origin {
                *o = origin::join(o, rel);
            }
            let sub = self
                .accumulate(&child, &ck, Accumulator::new())
                .context_with(|| {
                    format!("recursed accumulation of path '{}'", child.root().display())
                });
            self.origin = saved;
            let sub = sub?;
            self.stack.pop();
            acc.merge(sub)
                .context_with(|| format!("recursed merging from path '{}'", child.root().display()))
        } else {
            let mut rs = load_resource_file(ldr, rel)
                .context_with(|| format!("accumulating resources from '{rel}'"))?;
            for r in &rs {
                self.openapi.note_type(r.api_version(), r.kind());
            }
            if let Some(o) = &self.origin {
                let text = origin::path_origin(&origin::join(o, rel));
                rs.iter_mut()
                    .for_each(|r| r.set_annotation(origin::ORIGIN_KEY, &text));
            }
            acc.append_all(rs)
                .context_with(|| format!("merging resources from '{rel}'"))
        }
    }

    fn run_generators(
        &mut self,
        ldr: &Loader,
        k: &Kustomization,
        acc: &mut Accumulator,
    ) -> Result<()> {
        let generated_by = |r: &mut Resource, kind: &str, o: &Option<PathBuf>| {
            if let Some(o) = o {
                let text =
                    origin::configured(&origin::join(o, &k.file_name), "builtin", kind, "", "");
                if !r.annotations().contains_key(origin::ORIGIN_KEY) {
                    r.set_annotation(origin::ORIGIN_KEY, &text);
                }
            }
        };
        for g in &k.config_map_generator {
            let mut r =
                generators::generate(GenKind::ConfigMap, g, k.generator_options.as_ref(), ldr)?;
            generated_by(&mut r, "ConfigMapGenerator", &self.origin);
            acc.absorb(r)
                .context_with(|| format!("merging from generator configmap '{}'", g.name))?;
        }
        for g in &k.secret_generator {
            let mut r =
                generators::generate(GenKind::Secret, g, k.generator_options.as_ref(), ldr)?;
            generated_by(&mut r, "SecretGenerator", &self.origin);
            acc.absorb(r)
                .context_with(|| format!("merging from generator secret '{}'", g.name))?;
        }
        if !k.generators.is_empty() {
            let configs = self.plugin_configs(ldr, &k.generators)?;
            for c in configs {
                let made_by = self.origin.as_ref().map(|o| {
                    let from = c
                        .annotations()
                        .get(origin::ORIGIN_KEY)
                        .and_then(Value::as_str)
                        .and_then(origin::path_of)
                        .map(PathBuf::from)
                        .unwrap_or_else(|| origin::join(o, &k.file_name));
                    origin::configured(&from, c.api_version(), c.kind(), c.name(), c.namespace())
                });
                for mut r in plugins::generate(&c, ldr)? {
                    if let Some(text) = &made_by {
                        r.set_annotation(origin::ORIGIN_KEY, text);
                    }
                    acc.absorb(r)?;
                }
            }
        }
        Ok(())
    }

    /// Plugin configurations: inline YAML, files, or kustomization
    /// directories that render to configurations.
    fn plugin_configs(&mut self, ldr: &Loader, entries: &[String]) -> Result<Vec<Resource>> {
        let mut acc = Accumulator::new();
        for e in entries {
            if e.contains('\n') || e.trim_start().starts_with('{') {
                let docs = crate::yaml::parse_documents(e, Path::new("<inline>"))?;
                acc.append_all(to_resources(docs, Path::new("<inline>"))?)?;
            } else {
                self.accumulate_one(ldr, e, &mut acc)?;
            }
        }
        Ok(acc.resources)
    }

    fn run_transformers(
        &mut self,
        ldr: &Loader,
        k: &Kustomization,
        acc: &mut Accumulator,
    ) -> Result<()> {
        let cfg = acc.config.clone();
        let openapi = std::rc::Rc::clone(&self.openapi);
        let custom = &*openapi;
        // With build metadata on, each built-in transformer is recorded on
        // every object once it has run.
        let in_file = self.origin.as_ref().map(|o| origin::join(o, &k.file_name));
        let note = |rs: &mut [Resource], kind: &str| {
            if let Some(f) = &in_file {
                origin::record_transformation(rs, &origin::configured(f, "builtin", kind, "", ""));
            }
        };
        let rs = &mut acc.resources;
        for entry in &k.patches_strategic_merge {
            let docs = match ldr.read_string(entry) {
                Ok((path, text)) => crate::yaml::parse_patch_documents(&text, &path)?,
                Err(e) if entry.contains('\n') || entry.contains(':') => {
                    tracing::trace!(error = %e, "patchesStrategicMerge entry is inline");
                    crate::yaml::parse_patch_documents(entry, Path::new("<inline patch>"))?
                }
                Err(e) => {
                    return Err(
                        e.context("trouble configuring builtin PatchStrategicMergeTransformer")
                    );
                }
            };
            for d in docs {
                let mut patch = sm_patch(d)?;
                patch.null_api_version = true;
                note_patch_type(custom, &patch);
                apply_sm_by_id(rs, &patch, custom)?;
            }
        }
        if !k.patches_strategic_merge.is_empty() {
            note(rs, "PatchStrategicMergeTransformer");
        }
        for p in &k.patches {
            apply_patch(ldr, rs, p, custom)?;
            note(rs, "PatchTransformer");
        }
        if !k.namespace.is_empty() {
            namespace::apply(rs, &k.namespace, &cfg.namespace, &Default::default())?;
            note(rs, "NamespaceTransformer");
        }
        if !k.name_prefix.is_empty() {
            names::apply(rs, &k.name_prefix, names::Affix::Prefix, &cfg.name_prefix)?;
            note(rs, "PrefixTransformer");
        }
        if !k.name_suffix.is_empty() {
            names::apply(rs, &k.name_suffix, names::Affix::Suffix, &cfg.name_suffix)?;
            note(rs, "SuffixTransformer");
        }
        apply_labels(rs, k, &cfg, &note)?;
        if !k.common_annotations.is_empty() {
            labels::apply(rs, &k.common_annotations, &cfg.common_annotations)?;
            note(rs, "AnnotationsTransformer");
        }
        for p in &k.patches_json6902 {
            apply_patch(ldr, rs, p, custom)?;
            note(rs, "PatchJson6902Transformer");
        }
        for r in &k.replicas {
            replicas::apply(rs, r, &cfg.replicas)?;
            note(rs, "ReplicaCountTransformer");
        }
        for i in &k.images {
            images::apply(rs, i, &cfg.images)?;
            note(rs, "ImageTagTransformer");
        }
        if !k.replacements.is_empty() {
            replacements::apply(rs, &k.replacements, ldr)?;
            note(rs, "ReplacementTransformer");
        }
        if !k.transformers.is_empty() {
            let configs = self.plugin_configs(ldr, &k.transformers)?;
            for c in configs {
                plugins::transform(&c, ldr, &mut acc.resources, &cfg, custom)?;
                if let Some(f) = &in_file {
                    let from = c
                        .annotations()
                        .get(origin::ORIGIN_KEY)
                        .and_then(Value::as_str)
                        .and_then(origin::path_of)
                        .map(PathBuf::from)
                        .unwrap_or_else(|| f.clone());
                    let text = origin::configured(
                        &from,
                        c.api_version(),
                        c.kind(),
                        c.name(),
                        c.namespace(),
                    );
                    origin::record_transformation(&mut acc.resources, &text);
                }
            }
        }
        Ok(())
    }
}

/// What a kustomization's `openapi` field decided.
enum SchemaChoice {
    /// Nothing (no field, or an earlier kustomization already chose).
    Unchanged,
    /// The built-in schema, by version.
    Builtin,
    /// A schema file.
    Custom(CustomSchema),
}

/// The OpenAPI schema options of a kustomization, checked as kustomize's
/// `openapi.SetSchema` does: a custom schema file must be readable; unless
/// an earlier kustomization chose a schema (`already`), a custom schema
/// excludes a built-in version and the only built-in version is the one
/// kustomize v5.5 embeds.
fn check_openapi(
    ldr: &Loader,
    k: &Kustomization,
    kpath: &Path,
    already: bool,
) -> Result<SchemaChoice> {
    const BUILTIN_OPENAPI: &str = "v1.21.2";
    let invalid = |message: String| Error::InvalidKustomization {
        path: kpath.to_path_buf(),
        message,
    };
    let version = k.open_api.get("version");
    if let Some(path) = k.open_api.get("path") {
        let (full, text) = ldr.read_string(path)?;
        if already {
            return Ok(SchemaChoice::Unchanged);
        }
        if version.is_some() {
            return Err(invalid(
                "openapi: builtin version and custom schema provided, cannot use both".into(),
            ));
        }
        return Ok(SchemaChoice::Custom(CustomSchema::parse(&text, &full)?));
    }
    if already {
        return Ok(SchemaChoice::Unchanged);
    }
    match version.map(String::as_str) {
        None | Some("") => Ok(SchemaChoice::Unchanged),
        Some(BUILTIN_OPENAPI) => Ok(SchemaChoice::Builtin),
        Some(v) => Err(invalid(format!(
            "openapi: the specified OpenAPI version is not built in: {v} (built in: {BUILTIN_OPENAPI})"
        ))),
    }
}

fn apply_labels(
    rs: &mut [Resource],
    k: &Kustomization,
    cfg: &TransformerConfig,
    note: &dyn Fn(&mut [Resource], &str),
) -> Result<()> {
    for l in &k.labels {
        let mut specs = l.fields.clone();
        crate::config::merge_specs(&mut specs, &cfg.labels)?;
        if l.include_selectors {
            crate::config::merge_specs(&mut specs, &cfg.common_labels)?;
        } else {
            if l.include_templates {
                crate::config::merge_specs(&mut specs, &cfg.template_labels)?;
            }
            let meta = crate::kustomization::FieldSpec {
                path: "metadata/labels".into(),
                create: true,
                ..Default::default()
            };
            crate::config::merge_specs(&mut specs, &[meta])?;
        }
        labels::apply(rs, &l.pairs, &specs)?;
        note(rs, "LabelTransformer");
    }
    if k.labels.is_empty() && k.common_labels.is_empty() {
        return Ok(());
    }
    labels::apply(rs, &k.common_labels, &cfg.common_labels)?;
    note(rs, "LabelTransformer");
    Ok(())
}

/// The content hash suffix on generated names, added once at the very end.
pub(crate) fn hash_names(rs: &mut [Resource]) {
    for r in rs.iter_mut().filter(|r| r.build.needs_hash) {
        let h = crate::hash::hash_object(&r.obj);
        r.store_previous_id();
        let name = format!("{}-{}", r.name(), h);
        r.set_name(&name);
    }
}

pub struct SmPatch {
    pub obj: Map<String, Value>,
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
    /// kustomize gives the patch its target's apiVersion when it applies a
    /// `patchesStrategicMerge` entry or a patch with a target (not a
    /// `patches` entry found by id): a target without one then gets an
    /// explicit null.
    pub null_api_version: bool,
}

fn sm_patch(d: Value) -> Result<SmPatch> {
    match d {
        Value::Object(obj) => Ok(SmPatch {
            obj,
            allow_name_change: false,
            allow_kind_change: false,
            null_api_version: false,
        }),
        _ => Err(Error::invalid("a strategic merge patch must be a mapping")),
    }
}

/// Reading a patch reads its type, as reading an object does.
fn note_patch_type(openapi: &OpenApi, patch: &SmPatch) {
    let text = |f: &str| patch.obj.get(f).and_then(Value::as_str).unwrap_or_default();
    openapi.note_type(text("apiVersion"), text("kind"));
}

fn apply_sm_by_id(rs: &mut Vec<Resource>, patch: &SmPatch, custom: &OpenApi) -> Result<()> {
    let pr = Resource::new(patch.obj.clone());
    let id = pr.cur_id();
    let hits: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.cur_id().same_as(&id) || r.prev_ids().iter().any(|p| p.same_as(&id)))
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        0 => Err(Error::invalid(format!(
            "no matches for Id {id}; failed to find unique target for patch {id}"
        ))),
        1 => {
            let keep = apply_sm(&mut rs[hits[0]], patch, custom)?;
            if !keep {
                rs.remove(hits[0]);
            }
            Ok(())
        }
        _ => Err(Error::invalid(format!(
            "multiple matches for Id {id}; failed to find unique target for patch {id}"
        ))),
    }
}

/// Returns false when the patch deleted the object.
/// `custom` is the OpenAPI schema a kustomization chose, if any; it then
/// replaces the built-in one for every type, as in kustomize.
pub fn apply_sm(r: &mut Resource, patch: &SmPatch, custom: &OpenApi) -> Result<bool> {
    let (name, ns, kind) = (
        r.name().to_string(),
        r.namespace().to_string(),
        r.kind().to_string(),
    );
    if patch.allow_name_change || patch.allow_kind_change {
        r.store_previous_id();
    }
    let mut p = patch.obj.clone();
    let had_api_version = !r.api_version().is_empty();
    if had_api_version {
        p.insert(
            "apiVersion".into(),
            Value::String(r.api_version().to_string()),
        );
    } else {
        p.remove("apiVersion");
    }
    let view = custom.view(r.api_version(), r.kind());
    let typed;
    let schema: &dyn crate::patch::strategic_merge::Schema = match &view {
        TypeView::Custom(c) => {
            typed = c.for_type(r.api_version(), r.kind());
            &typed
        }
        TypeView::Builtin(b) => b,
    };
    // The object is merged in place rather than copied; a failed merge
    // fails the build, so what is left of it does not matter.
    let id = r.cur_id();
    let dest = Value::Object(std::mem::take(&mut r.obj));
    let merged = strategic_merge::merge_owned(dest, &Value::Object(p), schema)
        .map_err(|e| e.context(format!("applying patch to {id}")))?;
    let Some(Value::Object(m)) = merged else {
        return Ok(false);
    };
    if m.is_empty() {
        return Ok(false);
    }
    r.obj = m;
    r.build.shared.replay(&mut r.obj);
    if !had_api_version && patch.null_api_version {
        r.obj.insert("apiVersion".into(), Value::Null);
    }
    if !patch.allow_kind_change {
        r.obj.insert("kind".into(), Value::String(kind));
    }
    if !patch.allow_name_change {
        r.set_name(&name);
    }
    r.set_namespace(&ns);
    Ok(true)
}

pub fn apply_patch(
    ldr: &Loader,
    rs: &mut Vec<Resource>,
    p: &Patch,
    custom: &OpenApi,
) -> Result<()> {
    let inline = p.patch.trim();
    let (text, source) = match (inline.is_empty(), p.path.is_empty()) {
        (true, true) => return Err(Error::invalid("must specify one of patch and path")),
        (false, false) => {
            return Err(Error::invalid(
                "patch and path can't be set at the same time",
            ));
        }
        (false, true) => (inline.to_string(), PathBuf::from("<inline patch>")),
        (true, false) => {
            let (path, text) = ldr.read_string(&p.path).map_err(|e| {
                e.context(format!(
                    "failed to get the patch file from path({})",
                    p.path
                ))
            })?;
            (text, path)
        }
    };
    // The patch as kustomize names it in its errors.
    let patch_source = if inline.is_empty() {
        format!("[path: {}]", crate::error::go_quote(&p.path))
    } else {
        format!("[patch: {}]", crate::error::go_quote(inline))
    };
    let unparsable = |e: Error| {
        e.context(format!(
            "unable to parse SM or JSON patch from {patch_source}"
        ))
    };
    let allow_name = p.options.get("allowNameChange").copied().unwrap_or(false);
    let allow_kind = p.options.get("allowKindChange").copied().unwrap_or(false);
    if let Some(ops) = json6902::parse(&text, &source).map_err(unparsable)? {
        let Some(target) = &p.target else {
            return Err(Error::invalid(format!(
                "must specify a target for JSON patch {}",
                source.display()
            )));
        };
        let sel = Compiled::new(target)?;
        for r in rs.iter_mut().filter(|r| sel.matches(r)) {
            r.store_previous_id();
            let mut v = Value::Object(std::mem::take(&mut r.obj));
            let res = json6902::apply(&mut v, &ops);
            if let Value::Object(m) = v {
                r.obj = m;
            }
            r.build.shared.forget();
            res.map_err(|e| {
                e.context(format!(
                    "applying JSON patch {} to {}",
                    source.display(),
                    r.cur_id()
                ))
            })?;
        }
        return Ok(());
    }
    let docs = crate::yaml::parse_patch_documents(&text, &source).map_err(unparsable)?;
    let mut patches = Vec::with_capacity(docs.len());
    for d in docs {
        // A strategic-merge patch must read as an object: kind and name.
        match &d {
            Value::Object(m) => check_identity(m, &source).map_err(unparsable)?,
            _ => {
                return Err(unparsable(Error::InvalidResource {
                    path: source.clone(),
                    message: "missing Resource metadata".into(),
                }));
            }
        }
        let mut sp = sm_patch(d)?;
        note_patch_type(custom, &sp);
        sp.null_api_version = p.target.is_some();
        sp.allow_name_change = allow_name;
        sp.allow_kind_change = allow_kind;
        patches.push(sp);
    }
    match &p.target {
        None => {
            for sp in &patches {
                apply_sm_by_id(rs, sp, custom).map_err(|e| {
                    let id = Resource::new(sp.obj.clone()).cur_id().to_string();
                    e.context(format!(
                        "no resource matches strategic merge patch {}",
                        crate::error::go_quote(&id)
                    ))
                })?;
            }
        }
        Some(target) => {
            if patches.len() > 1 {
                return Err(Error::invalid(format!(
                    "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field: {patch_source}"
                )));
            }
            let Some(sp) = patches.first() else {
                return Ok(());
            };
            let sel = Compiled::new(target)?;
            let mut keep = Vec::with_capacity(rs.len());
            for mut r in rs.drain(..) {
                if sel.matches(&r) && !apply_sm(&mut r, sp, custom)? {
                    continue;
                }
                keep.push(r);
            }
            *rs = keep;
        }
    }
    Ok(())
}
