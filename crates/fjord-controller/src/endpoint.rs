//! The controller's HTTP endpoint: Git push webhooks (GitHub, GitLab,
//! Gitea) that refresh the affected applications at once, a health check,
//! and metrics in the Prometheus text format.

use std::net::SocketAddr;
use std::sync::Arc;

use fjord_source::{WebhookError, WebhookEvent, WebhookSecrets, parse_webhook};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::controller::Controller;

/// Webhook payloads larger than this are refused (GitHub caps them at 25 MB;
/// a push event is far smaller).
const MAX_BODY: usize = 5 * 1024 * 1024;

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener, controller: Arc<Controller>, secrets: Arc<WebhookSecrets>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                continue;
            }
        };
        let controller = controller.clone();
        let secrets = secrets.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let controller = controller.clone();
                let secrets = secrets.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(request, &controller, &secrets, peer).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

async fn handle(request: Request<Incoming>, controller: &Controller, secrets: &WebhookSecrets, peer: SocketAddr) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n".into()),
        (&Method::GET, "/metrics") => text(StatusCode::OK, controller.metrics()),
        (&Method::POST, "/api/webhook") => webhook(request, controller, secrets, peer).await,
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

async fn webhook(request: Request<Incoming>, controller: &Controller, secrets: &WebhookSecrets, peer: SocketAddr) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "payload too large\n".into()),
    };
    let event = parse_webhook(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body, secrets);
    match event {
        Ok(WebhookEvent::Ping(_)) => text(StatusCode::OK, "pong\n".into()),
        Ok(WebhookEvent::Push(push)) => {
            let refreshed = controller.refresh_repository(|url| push.matches_repo(url)).await;
            tracing::info!(%peer, refreshed, git_ref = ?push.git_ref, "push webhook");
            text(StatusCode::OK, format!("refreshed {refreshed} applications\n"))
        }
        Err(e @ (WebhookError::MissingSignature { .. } | WebhookError::BadSignature { .. })) => {
            tracing::warn!(%peer, error = %e, "webhook refused");
            text(StatusCode::UNAUTHORIZED, format!("{e}\n"))
        }
        Err(e) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
