//! The API server as fjord uses it: connection, discovery of kinds, and the
//! handful of requests the engine makes (list, server-side apply, delete).
//! Every request error is turned into a [`ClusterError`] that says which
//! server, which object and what the server answered.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, ValidationDirective};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use kube::{Client, Config};
use serde_json::Value;

use crate::object::group_of;
use crate::schema::{self, SchemaDocument};

/// The field manager every fjord write uses.
pub const FIELD_MANAGER: &str = "fjord";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot load kubeconfig {}", path.display())]
    Kubeconfig {
        path: std::path::PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot find a kubeconfig (set --kubeconfig or KUBECONFIG)")]
    NoConfig(#[source] kube::config::InferConfigError),
    #[error("cannot build a client for {server}")]
    Client {
        server: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot reach the API server at {server}: {cause}")]
    Unreachable { server: String, cause: String },
    #[error("the API server at {server} rejected the credentials (HTTP {code}): {message}")]
    Unauthorized { server: String, code: u16, message: String },
    #[error("{operation} {what}: the server answered {code} {reason}: {message}")]
    Api { operation: &'static str, what: String, code: u16, reason: String, message: String },
    #[error("{operation} {what}: {cause}")]
    Request { operation: &'static str, what: String, cause: String },
}

impl ClusterError {
    /// The HTTP status the server answered with, if it answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClusterError::Api { code, .. } | ClusterError::Unauthorized { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The server's own message, without the request context.
    pub fn server_message(&self) -> String {
        match self {
            ClusterError::Api { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// A kind as the server serves it.
#[derive(Debug, Clone)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// OpenAPI documents by (group, version); `None` where the server has none.
type SchemaDocuments = HashMap<(String, String), Option<Arc<SchemaDocument>>>;

/// A connection to one cluster with its discovered kinds.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    server: String,
    default_namespace: String,
    kinds: Arc<HashMap<(String, String, String), Kind>>,
    listable: Arc<Vec<Kind>>,
    writes: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    /// OpenAPI v3 documents by group-version, fetched when first needed
    /// (`None`: the server publishes none for it).
    schemas: Arc<tokio::sync::Mutex<SchemaDocuments>>,
}

impl Cluster {
    /// Connects with a kubeconfig file (or the usual default lookup) and an
    /// optional context, then discovers the served kinds.
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Self, ClusterError> {
        let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
        let config = match kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|source| ClusterError::Kubeconfig { path: path.to_path_buf(), source })?;
                Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|source| ClusterError::Kubeconfig { path: path.to_path_buf(), source })?
            }
            None => match context {
                Some(_) => Config::from_kubeconfig(&options).await.map_err(|source| ClusterError::Kubeconfig {
                    path: std::env::var_os("KUBECONFIG").map(Into::into).unwrap_or_else(|| "~/.kube/config".into()),
                    source,
                })?,
                None => Config::infer().await.map_err(ClusterError::NoConfig)?,
            },
        };
        Self::from_config(config).await
    }

    pub async fn from_config(config: Config) -> Result<Self, ClusterError> {
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let default_namespace = config.default_namespace.clone();
        // Every request passes through a counter: "no request when nothing
        // changed" is a property worth measuring.
        let requests: Arc<AtomicUsize> = Default::default();
        let counter = requests.clone();
        let count = tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            counter.fetch_add(1, Ordering::Relaxed);
            request
        });
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|source| ClusterError::Client { server: server.clone(), source })?
            .with_layer(&count)
            .build();
        let mut cluster = Cluster {
            client,
            server,
            default_namespace,
            kinds: Default::default(),
            listable: Default::default(),
            writes: Default::default(),
            requests,
            schemas: Default::default(),
        };
        cluster.discover().await?;
        Ok(cluster)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// The namespace of the kubeconfig context.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Write requests (real applies and deletes, not dry runs) made so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// Requests of any kind sent through this client (watches count once).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// (Re)reads the kinds the server serves; needed after CRDs are added.
    pub async fn discover(&mut self) -> Result<(), ClusterError> {
        let discovery = Discovery::new(self.client.clone())
            .run_aggregated()
            .await
            .map_err(|e| self.connection_error("discover API resources", "on the server", e))?;
        let mut kinds = HashMap::new();
        let mut listable = Vec::new();
        for group in discovery.groups() {
            for version in group.versions() {
                for (resource, caps) in group.versioned_resources(version) {
                    let kind = Kind { namespaced: caps.scope == Scope::Namespaced, resource: resource.clone() };
                    kinds.insert((resource.group.clone(), resource.version.clone(), resource.kind.clone()), kind);
                }
            }
            for (resource, caps) in group.recommended_resources() {
                if is_prunable(&resource, &caps) {
                    listable.push(Kind { namespaced: caps.scope == Scope::Namespaced, resource });
                }
            }
        }
        self.kinds = Arc::new(kinds);
        self.listable = Arc::new(listable);
        Ok(())
    }

    /// The served kind for an `apiVersion` and `kind`, if any.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<&Kind> {
        let group = group_of(api_version);
        let version = api_version.rsplit('/').next().unwrap_or(api_version);
        self.kinds.get(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// Every kind that can be listed and deleted, in its preferred version.
    pub fn listable_kinds(&self) -> &[Kind] {
        &self.listable
    }

    fn api(&self, kind: &Kind, namespace: &str) -> Api<DynamicObject> {
        if kind.namespaced && !namespace.is_empty() {
            Api::namespaced_with(self.client.clone(), namespace, &kind.resource)
        } else {
            Api::all_with(self.client.clone(), &kind.resource)
        }
    }

    /// Lists the objects of a kind in a namespace (all namespaces when empty).
    pub async fn list(&self, kind: &Kind, namespace: &str) -> Result<Vec<Value>, ClusterError> {
        let what = if namespace.is_empty() { kind.resource.plural.clone() } else { format!("{} in {namespace}", kind.resource.plural) };
        let list = self.api(kind, namespace).list(&ListParams::default()).await.map_err(|e| self.request_error("list", &what, e))?;
        list.items
            .into_iter()
            .map(|o| {
                let mut v = to_value(o, "list", &what)?;
                with_type(&mut v, kind);
                Ok(v)
            })
            .collect()
    }

    /// Lists only metadata; enough to find owned objects when pruning.
    pub async fn list_metadata(&self, kind: &Kind) -> Result<Vec<Value>, ClusterError> {
        let what = kind.resource.plural.clone();
        let list =
            self.api(kind, "").list_metadata(&ListParams::default()).await.map_err(|e| self.request_error("list", &what, e))?;
        list.items
            .into_iter()
            .map(|o| {
                let mut v = serde_json::to_value(&o)
                    .map_err(|e| ClusterError::Request { operation: "list", what: what.clone(), cause: e.to_string() })?;
                with_type(&mut v, kind);
                Ok(v)
            })
            .collect()
    }

    pub async fn get(&self, kind: &Kind, namespace: &str, name: &str) -> Result<Option<Value>, ClusterError> {
        let what = describe(kind, namespace, name);
        match self.api(kind, namespace).get_opt(name).await {
            Ok(Some(o)) => Ok(Some(to_value(o, "get", &what)?)),
            Ok(None) => Ok(None),
            Err(e) => Err(self.request_error("get", &what, e)),
        }
    }

    /// Server-side apply with strict field validation, forcing conflicts
    /// with other managers (fjord's manifests are the source of truth).
    pub async fn apply(&self, kind: &Kind, object: &Value, dry_run: bool) -> Result<Value, ClusterError> {
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let what = describe(kind, namespace, name);
        let params = PatchParams {
            dry_run,
            force: true,
            field_manager: Some(FIELD_MANAGER.to_string()),
            field_validation: Some(ValidationDirective::Strict),
        };
        if !dry_run {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        let operation = if dry_run { "dry-run apply" } else { "apply" };
        let applied = self
            .api(kind, namespace)
            .patch(name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| self.request_error(operation, &what, e))?;
        to_value(applied, operation, &what)
    }

    /// The OpenAPI v3 schema document of a kind's group-version, fetched
    /// once per connection; `None` when the server publishes none.
    pub async fn schema_document(&self, kind: &Kind) -> Result<Option<Arc<SchemaDocument>>, ClusterError> {
        let key = (kind.resource.group.clone(), kind.resource.version.clone());
        let mut documents = self.schemas.lock().await;
        if let Some(known) = documents.get(&key) {
            return Ok(known.clone());
        }
        let path = schema::document_path(&key.0, &key.1);
        let request = http::Request::get(&path).body(Vec::new()).map_err(|e| ClusterError::Request {
            operation: "read OpenAPI schema",
            what: path.clone(),
            cause: e.to_string(),
        })?;
        let document = match self.client.request_text(request).await {
            Ok(text) => {
                let value: Value = serde_json::from_str(&text).map_err(|e| ClusterError::Request {
                    operation: "read OpenAPI schema",
                    what: path.clone(),
                    cause: e.to_string(),
                })?;
                Some(Arc::new(SchemaDocument::new(&value)))
            }
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(e) => return Err(self.request_error("read OpenAPI schema", &path, e)),
        };
        documents.insert(key, document.clone());
        Ok(document)
    }

    /// Removes the fields of `object` that its kind's schema does not
    /// declare, as a create with `fieldValidation=Ignore` would; returns the
    /// JSON pointers removed.
    pub async fn drop_undeclared_fields(&self, kind: &Kind, object: &mut Value) -> Result<Vec<String>, ClusterError> {
        let Some(document) = self.schema_document(kind).await? else { return Ok(Vec::new()) };
        let r = &kind.resource;
        Ok(document.drop_undeclared(&r.group, &r.version, &r.kind, object))
    }

    pub async fn delete(&self, kind: &Kind, namespace: &str, name: &str) -> Result<(), ClusterError> {
        let what = describe(kind, namespace, name);
        self.writes.fetch_add(1, Ordering::Relaxed);
        match self.api(kind, namespace).delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.request_error("delete", &what, e)),
        }
    }

    fn connection_error(&self, operation: &'static str, what: &str, e: kube::Error) -> ClusterError {
        match self.request_error(operation, what, e) {
            ClusterError::Request { cause, .. } => ClusterError::Unreachable { server: self.server.clone(), cause },
            other => other,
        }
    }

    fn request_error(&self, operation: &'static str, what: &str, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(status) if status.code == 401 => ClusterError::Unauthorized {
                server: self.server.clone(),
                code: status.code,
                message: status.message.clone(),
            },
            kube::Error::Api(status) => ClusterError::Api {
                operation,
                what: what.to_string(),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            other => ClusterError::Request { operation, what: what.to_string(), cause: root_cause(&other) },
        }
    }
}

fn is_prunable(resource: &ApiResource, caps: &ApiCapabilities) -> bool {
    // Events are records, not configuration; nobody applies them from Git.
    let skip = matches!((resource.group.as_str(), resource.kind.as_str()), ("", "Event") | ("events.k8s.io", "Event"));
    !skip && caps.supports_operation(verbs::LIST) && caps.supports_operation(verbs::DELETE)
}

/// List items come without apiVersion and kind; identity needs them.
fn with_type(object: &mut Value, kind: &Kind) {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(kind.resource.api_version.clone()));
        map.insert("kind".into(), Value::String(kind.resource.kind.clone()));
    }
}

fn describe(kind: &Kind, namespace: &str, name: &str) -> String {
    let gk = if kind.resource.group.is_empty() {
        kind.resource.kind.clone()
    } else {
        format!("{}/{}", kind.resource.group, kind.resource.kind)
    };
    if namespace.is_empty() { format!("{gk} {name}") } else { format!("{gk} {namespace}/{name}") }
}

fn to_value(o: DynamicObject, operation: &'static str, what: &str) -> Result<Value, ClusterError> {
    serde_json::to_value(o).map_err(|e| ClusterError::Request { operation, what: what.to_string(), cause: e.to_string() })
}

/// The innermost cause of a transport error: "connection refused" says more
/// than "ServiceError: client error (Connect)".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
