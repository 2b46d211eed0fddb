//! Talking to a running SealedSecret controller, as kubeseal does: through
//! the API server's service proxy, or straight to its URL.

use k8s_openapi::api::core::v1::Service;
use kube::api::Api;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0:?} is not a valid URL")]
    Url(String),
    #[error("cannot reach the controller at {0}")]
    Connect(String, #[source] kube::Error),
    #[error("cannot read Service {namespace}/{name}")]
    Service {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("Service {namespace}/{name} has no port")]
    NoPort { namespace: String, name: String },
    #[error("{path} at {base} failed")]
    Request {
        base: String,
        path: &'static str,
        #[source]
        source: kube::Error,
    },
}

pub struct ControllerClient {
    client: kube::Client,
    /// Path prefix before `/v1/...`: empty for a URL, the proxy path for a Service.
    base: String,
    shown: String,
}

impl ControllerClient {
    /// The controller's own address, e.g. `http://127.0.0.1:8080`.
    pub fn for_url(url: &str) -> Result<Self, ClientError> {
        let trimmed = url.trim_end_matches('/');
        let uri: hyper::Uri = trimmed.parse().map_err(|_| ClientError::Url(url.to_string()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(ClientError::Url(url.to_string()));
        };
        // The client gets the origin alone; the path goes into each request.
        let origin: hyper::Uri = format!("{scheme}://{authority}").parse().map_err(|_| ClientError::Url(url.to_string()))?;
        let client = kube::Client::try_from(kube::Config::new(origin)).map_err(|e| ClientError::Connect(url.to_string(), e))?;
        let base = uri.path().trim_end_matches('/').to_string();
        Ok(ControllerClient { client, base, shown: trimmed.to_string() })
    }

    /// Through the API server: `/api/v1/namespaces/NS/services/http:NAME:PORT/proxy`,
    /// with the Service's first port, as kubeseal picks it.
    pub async fn via_service(client: kube::Client, namespace: &str, name: &str) -> Result<Self, ClientError> {
        let service = Api::<Service>::namespaced(client.clone(), namespace).get(name).await.map_err(|source| {
            ClientError::Service { namespace: namespace.into(), name: name.into(), source }
        })?;
        let port = service
            .spec
            .and_then(|s| s.ports)
            .and_then(|p| p.into_iter().next())
            .map(|p| p.name.filter(|n| !n.is_empty()).unwrap_or_else(|| p.port.to_string()))
            .ok_or_else(|| ClientError::NoPort { namespace: namespace.into(), name: name.into() })?;
        Ok(ControllerClient {
            client,
            base: format!("/api/v1/namespaces/{namespace}/services/http:{name}:{port}/proxy"),
            shown: format!("Service {namespace}/{name}"),
        })
    }

    /// The document at the URL itself (`--cert https://…`).
    pub async fn document(&self) -> Result<String, ClientError> {
        self.call(hyper::Method::GET, "", Vec::new()).await
    }

    pub async fn cert_pem(&self) -> Result<String, ClientError> {
        self.call(hyper::Method::GET, "/v1/cert.pem", Vec::new()).await
    }

    /// The SealedSecret (JSON or YAML) sealed again with the newest key, as JSON.
    pub async fn rotate(&self, sealed: Vec<u8>) -> Result<String, ClientError> {
        self.call(hyper::Method::POST, "/v1/rotate", sealed).await
    }

    async fn call(&self, method: hyper::Method, path: &'static str, body: Vec<u8>) -> Result<String, ClientError> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .body(body)
            .map_err(|_| ClientError::Url(format!("{}{path}", self.shown)))?;
        self.client
            .request_text(request)
            .await
            .map_err(|source| ClientError::Request { base: self.shown.clone(), path, source })
    }
}
