//! The controller's HTTP endpoint: Git push webhooks (GitHub, GitLab,
//! Gitea) that refresh the affected applications at once, the SealedSecret
//! endpoints kubeseal calls (`/v1/cert.pem`, `/v1/verify`, `/v1/rotate`),
//! a health check, and metrics in the Prometheus text format.

use std::net::SocketAddr;
use std::sync::Arc;

use fjord_source::{WebhookError, WebhookEvent, WebhookSecrets, parse_webhook};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::controller::Controller;
use crate::sealed::SealedSecrets;
use crate::sealed::http::Reply;

/// What this process runs; either controller may run alone.
pub struct Services {
    pub applications: Option<Arc<Controller>>,
    pub sealed_secrets: Option<Arc<SealedSecrets>>,
    pub webhook_secrets: WebhookSecrets,
}

/// Request bodies larger than this are refused (GitHub caps webhooks at
/// 25 MB; a push event or a SealedSecret is far smaller).
const MAX_BODY: usize = 5 * 1024 * 1024;

/// Serves until the listener fails.
pub async fn serve(listener: TcpListener, services: Arc<Services>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                continue;
            }
        };
        let services = services.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let services = services.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(request, &services, peer).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

async fn handle(request: Request<Incoming>, services: &Services, peer: SocketAddr) -> Response<Full<Bytes>> {
    let apps = services.applications.as_deref();
    let sealed = services.sealed_secrets.as_deref();
    match (request.method(), request.uri().path(), apps, sealed) {
        (&Method::GET, "/healthz", _, _) => text(StatusCode::OK, "ok\n".into()),
        (&Method::GET, "/metrics", _, _) => {
            let mut body = apps.map(Controller::metrics).unwrap_or_default();
            body.push_str(&sealed.map(SealedSecrets::metrics).unwrap_or_default());
            text(StatusCode::OK, body)
        }
        (&Method::POST, "/api/webhook", Some(apps), _) => webhook(request, apps, &services.webhook_secrets, peer).await,
        (&Method::GET, "/v1/cert.pem", _, Some(sealed)) => reply(sealed.cert_pem()),
        (&Method::POST, "/v1/verify", _, Some(sealed)) => match body(request).await {
            Ok(body) => reply(sealed.verify(&body)),
            Err(response) => response,
        },
        (&Method::POST, "/v1/rotate", _, Some(sealed)) => match body(request).await {
            Ok(body) => reply(sealed.rotate(&body)),
            Err(response) => response,
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

async fn body(request: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(text(StatusCode::PAYLOAD_TOO_LARGE, "payload too large\n".into())),
    }
}

fn reply(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = text(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), reply.body);
    if let Ok(value) = hyper::header::HeaderValue::from_str(reply.content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

async fn webhook(request: Request<Incoming>, controller: &Controller, secrets: &WebhookSecrets, peer: SocketAddr) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = match body(request).await {
        Ok(body) => body,
        Err(response) => return response,
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
