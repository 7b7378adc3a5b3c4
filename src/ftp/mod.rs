//! The embedded FTP inbox (libunftp): cameras log in with the users of `[ftp]` and may only
//! upload (STOR) into the relay inbox. The filesystem back-end is capability-based (cap-std):
//! no path, `..` or symlink leads out of the inbox. A finished upload (the server's
//! close-of-write) makes the file eligible for the relay at once.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use libunftp::ServerBuilder;
use libunftp::notification::{DataEvent, DataListener, EventMeta};
use tokio_util::sync::CancellationToken;
use unftp_core::auth::{
    AuthenticationError, Authenticator, Credentials, Principal, UserDetail, UserDetailError,
    UserDetailProvider,
};
use unftp_sbe_fs::{Filesystem, Meta};
use unftp_sbe_restrict::{RestrictingVfs, UserWithPermissions, VfsOperations};

mod guard;

use crate::base::Tasks;
use crate::config::{Config, Secret};
use crate::relay::RelayHandle;

#[derive(Debug, thiserror::Error)]
pub enum FtpError {
    #[error("inbox {0}: {1}")]
    Inbox(String, std::io::Error),
    #[error("FTP server: {0}")]
    Server(String),
}

/// A logged-in camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamUser {
    name: String,
}

impl fmt::Display for CamUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl UserDetail for CamUser {}

impl UserWithPermissions for CamUser {
    /// Upload rights only: no download, listing, deleting, renaming or folders.
    fn permissions(&self) -> VfsOperations {
        VfsOperations::PUT
    }
}

/// The configured users and their passwords (redacted in Debug), and where each last
/// logged in from: libunftp's upload events name the user but not the address.
#[derive(Debug)]
struct Users {
    passwords: HashMap<String, Secret>,
    last_from: Arc<parking_lot::Mutex<HashMap<String, std::net::IpAddr>>>,
}

#[async_trait]
impl Authenticator for Users {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        let Some(want) = self.passwords.get(username) else {
            return Err(AuthenticationError::BadUser);
        };
        let given = creds.password.as_deref().unwrap_or("");
        if constant_time_eq(given.as_bytes(), want.expose().as_bytes()) {
            self.last_from
                .lock()
                .insert(username.to_string(), creds.source_ip);
            Ok(Principal {
                username: username.to_string(),
            })
        } else {
            tracing::warn!(user = username, ip = %creds.source_ip, "ftp: wrong password");
            Err(AuthenticationError::BadPassword)
        }
    }
}

#[async_trait]
impl UserDetailProvider for Users {
    type User = CamUser;

    async fn provide_user_detail(&self, p: &Principal) -> Result<CamUser, UserDetailError> {
        Ok(CamUser {
            name: p.username.clone(),
        })
    }
}

/// Compares without an early exit, so timing tells nothing about the password.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Tells the relay when an upload into the inbox itself has finished.
#[derive(Debug)]
struct Uploads {
    relay: Option<RelayHandle>,
    from: Arc<parking_lot::Mutex<HashMap<String, std::net::IpAddr>>>,
}

#[async_trait]
impl DataListener for Uploads {
    async fn receive_data_event(&self, e: DataEvent, m: EventMeta) {
        if let DataEvent::Put { path, bytes } = e {
            let address = self
                .from
                .lock()
                .get(&m.username)
                .map_or_else(|| "-".to_string(), |a| a.to_string());
            // One line per upload; libunftp's own session chatter stays at DEBUG.
            tracing::info!(user = %m.username, address = %address, file = %path, bytes, "ftp: upload finished");
            let name = path.trim_start_matches('/');
            if let Some(relay) = &self.relay
                && !name.contains('/')
            {
                relay.upload_finished(name);
            }
        }
    }
}

/// Starts the FTP server when `[ftp] enabled`.
pub fn spawn(cfg: &Config, relay: Option<RelayHandle>, tasks: &mut Tasks) {
    if !cfg.ftp.enabled {
        return;
    }
    let cfg = Arc::new(cfg.clone());
    tasks.spawn_supervised("ftp", move |tok| serve(cfg.clone(), relay.clone(), tok));
}

async fn serve(
    cfg: Arc<Config>,
    relay: Option<RelayHandle>,
    cancel: CancellationToken,
) -> Result<(), FtpError> {
    let f = &cfg.ftp;
    let inbox = crate::relay::inbox_dir(&cfg);
    std::fs::create_dir_all(&inbox).map_err(|e| FtpError::Inbox(inbox.display().to_string(), e))?;
    // Fail here, with the reason, rather than on every connection.
    Filesystem::new(inbox.clone()).map_err(|e| FtpError::Inbox(inbox.display().to_string(), e))?;
    let last_from: Arc<parking_lot::Mutex<HashMap<String, std::net::IpAddr>>> = Default::default();
    let users = Arc::new(Users {
        passwords: f
            .users
            .iter()
            .filter_map(|u| u.password.clone().map(|p| (u.name.clone(), p)))
            .collect(),
        last_from: last_from.clone(),
    });
    let root = inbox.clone();
    let limits = guard::Limits::below_critical(f64::from(cfg.retention.disk_critical_percent));
    type Vfs = RestrictingVfs<guard::Guarded<Filesystem>, CamUser, Meta>;
    let mut builder = ServerBuilder::<Vfs, CamUser>::with_user_detail_provider(
        Box::new(move || {
            let fs = Filesystem::new(root.clone()).expect("checked at start");
            Vfs::new(guard::Guarded::new(fs, root.clone(), limits))
        }),
        users.clone(),
    )
    .authenticator(users)
    .greeting("camvault FTP inbox")
    .passive_ports(f.passive_ports.first..=f.passive_ports.last)
    .idle_session_timeout(300)
    // Password guessing: three failures lock that user from that address for two minutes.
    .failed_logins_policy(libunftp::options::FailedLoginsPolicy::default())
    .notify_data(Uploads {
        relay,
        from: last_from,
    })
    .shutdown_indicator({
        let c = cancel.clone();
        async move {
            c.cancelled().await;
            libunftp::options::Shutdown::new().grace_period(std::time::Duration::from_secs(2))
        }
    });
    if let (Some(cert), Some(key)) = (&f.tls_cert_file, &f.tls_key_file) {
        builder = builder.ftps(cert.clone(), key.clone());
    }
    let server = builder
        .build()
        .map_err(|e| FtpError::Server(e.to_string()))?;
    tracing::info!(listen = %f.listen, inbox = %inbox.display(), "ftp: listening");
    server
        .listen(f.listen.to_string())
        .await
        .map_err(|e| FtpError::Server(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn password_comparison() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
