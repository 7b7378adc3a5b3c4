//! The local web listener (`[http]`): a status page for a phone, Prometheus metrics and the
//! cameras' latest pictures, read-only, behind basic auth with the device's own password.
//! Built on axum; the page and the metrics are plain functions of a [`Status`] so they are
//! tested without a socket.

mod auth;
mod metrics;
mod page;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::base::{DataDir, Tasks};
use crate::config::{Config, Secret};
use crate::health::Health;

pub use metrics::render as render_metrics;
pub use page::render as render_page;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("http.listen {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("http.password_file {}: {reason}", path.display())]
    Password { path: PathBuf, reason: String },
    #[error("http: {0}")]
    Serve(std::io::Error),
    #[error("http TLS: {0}")]
    Tls(String),
}

#[derive(Clone)]
struct Web {
    health: Health,
    data_dir: DataDir,
    user: Arc<str>,
    password: Secret,
}

/// Starts the listener when `[http] listen` is set.
pub fn spawn(cfg: &Config, health: Health, tasks: &mut Tasks) {
    let Some(addr) = cfg.http.listen else { return };
    let cfg = Arc::new(cfg.clone());
    tasks.spawn_supervised("http", move |tok| {
        serve(cfg.clone(), addr, health.clone(), tok)
    });
}

/// Where the generated password lives when the config names none.
pub fn default_password_file(data_dir: &DataDir) -> PathBuf {
    data_dir.join("http.secret")
}

/// The configured password, or the device's own: read from `password_file` (by default
/// `<data_dir>/http.secret`), made there on first start. Never a default password.
fn password(cfg: &Config) -> Result<Secret, WebError> {
    if let Some(p) = &cfg.http.password {
        return Ok(p.clone());
    }
    let path = cfg
        .http
        .password_file
        .clone()
        .unwrap_or_else(|| default_password_file(&DataDir::new(&cfg.device.data_dir)));
    let bad = |reason: String| WebError::Password {
        path: path.clone(),
        reason,
    };
    if !path.exists() {
        let pw = crate::base::random::password().map_err(|e| bad(e.to_string()))?;
        crate::base::random::write_private(&path, &pw).map_err(|e| bad(e.to_string()))?;
        tracing::info!(file = %path.display(), "made the status page's password");
        return Ok(Secret::new(pw));
    }
    crate::config::read_secret("http.password_file", &path)
        .map(Secret::new)
        .map_err(|e| bad(e.to_string()))
}

async fn serve(
    cfg: Arc<Config>,
    addr: SocketAddr,
    health: Health,
    cancel: CancellationToken,
) -> Result<(), WebError> {
    let c = cfg.clone();
    let password = tokio::task::spawn_blocking(move || password(&c))
        .await
        .map_err(|e| WebError::Serve(std::io::Error::other(e)))??;
    let web = Web {
        data_dir: DataDir::new(&cfg.device.data_dir),
        health,
        user: cfg.http.username.as_str().into(),
        password,
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/snapshot/{file}", get(snapshot))
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            auth::require,
        ))
        .with_state(web);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    if !cfg.http.tls {
        tracing::info!(%addr, "status page and metrics listening");
        return axum::serve(listener, app)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await
            .map_err(WebError::Serve);
    }
    let c = cfg.clone();
    let acceptor = tokio::task::spawn_blocking(move || tls_acceptor(&c))
        .await
        .map_err(|e| WebError::Tls(e.to_string()))??;
    let listener = tls::TlsListener::new(listener, acceptor).map_err(WebError::Serve)?;
    tracing::info!(%addr, "status page and metrics listening (HTTPS)");
    axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
        .map_err(WebError::Serve)
}

/// The owner's certificate, or the device's own, made on first start.
fn tls_acceptor(cfg: &Config) -> Result<tokio_rustls::TlsAcceptor, WebError> {
    let h = &cfg.http;
    let data = DataDir::new(&cfg.device.data_dir);
    let (cert, key) = match (&h.tls_cert_file, &h.tls_key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => {
            let (c, k) = (data.join("http.crt"), data.join("http.key"));
            let id = &cfg.device.id;
            let names = vec![format!("camvault-{id}.local"), format!("camvault-{id}")];
            if tls::ensure_self_signed(&c, &k, names).map_err(WebError::Tls)? {
                tracing::info!(cert = %c.display(), "made the status page's self-signed certificate");
            }
            (c, k)
        }
    };
    tls::acceptor(&cert, &key).map_err(WebError::Tls)
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "status for the web page");
    (StatusCode::SERVICE_UNAVAILABLE, "status unavailable\n").into_response()
}

async fn index(State(web): State<Web>) -> Response {
    match web.health.status().await {
        Ok(status) => {
            let html = page::render(&status);
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                html,
            )
                .into_response()
        }
        Err(e) => unavailable(e),
    }
}

async fn metrics(State(web): State<Web>) -> Response {
    let status = match web.health.status().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let totals = match web.health.store().read(|db| db.media_totals()).await {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let extra = metrics::Extra {
        totals,
        upload_failures: web.health.upload_failures(),
        now: web.health.now(),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics::render(&status, &extra),
    )
        .into_response()
}

/// `/snapshot/<camera>.jpg`: the camera's latest preview picture.
async fn snapshot(State(web): State<Web>, Path(file): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such picture\n").into_response();
    let Some(camera) = file.strip_suffix(".jpg") else {
        return not_found();
    };
    // Only a configured camera's name reaches the file system.
    if web.health.camera_state(camera).is_none() {
        return not_found();
    }
    let path = web.data_dir.join(crate::recorder::preview_path(camera));
    match tokio::fs::read(&path).await {
        Ok(jpeg) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            jpeg,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}
