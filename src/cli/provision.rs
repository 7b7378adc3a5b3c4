//! `camvault provision`: first boot's per-device settings, written into the config file the
//! user put on the card (comments and layout kept): a device id when there is none, and a
//! password for every FTP user enabled without one (no default passwords anywhere). The new
//! passwords go into 0600 files in `--state-dir` and, once, into `--credentials` for the user
//! to read from the card.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, Value, value};

/// What provisioning added, for the log and the credentials file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Provisioned {
    pub device_id: Option<String>,
    /// (FTP user, password).
    pub ftp_passwords: Vec<(String, String)>,
    /// (user, password) for the local status page.
    pub http_password: Option<(String, String)>,
}

use crate::base::random::{bytes as random_bytes, password, write_private};

/// Fills in what `doc` lacks; secrets are written under `state_dir`. `device_id` is reused
/// when a previous boot already chose one.
pub fn provision(
    doc: &mut DocumentMut,
    state_dir: &Path,
    device_id: Option<String>,
) -> std::io::Result<Provisioned> {
    let mut done = Provisioned::default();
    let device = doc
        .entry("device")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| std::io::Error::other("[device] is not a table"))?;
    if device.get("id").is_none() {
        let id = match device_id {
            Some(id) => id,
            None => format!(
                "cv-{}",
                random_bytes(6)?
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        };
        device.insert("id", value(id.clone()));
        done.device_id = Some(id);
    }
    let ftp_on = doc
        .get("ftp")
        .and_then(|f| f.get("enabled"))
        .and_then(Item::as_bool)
        .unwrap_or(false);
    let users = doc
        .get_mut("ftp")
        .and_then(|f| f.get_mut("users"))
        .and_then(Item::as_value_mut)
        .and_then(Value::as_array_mut);
    if let (true, Some(users)) = (ftp_on, users) {
        for u in users.iter_mut() {
            let Some(t) = u.as_inline_table_mut() else {
                continue;
            };
            if t.contains_key("password") || t.contains_key("password_file") {
                continue;
            }
            let Some(name) = t.get("name").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let pw = password()?;
            let file = state_dir.join(format!("ftp-{name}.secret"));
            write_private(&file, &pw)?;
            t.insert("password_file", file.display().to_string().into());
            done.ftp_passwords.push((name, pw));
        }
    }
    if let Some(http) = doc.get_mut("http").and_then(Item::as_table_like_mut) {
        let on = http.get("listen").is_some();
        let given = http.get("password").is_some() || http.get("password_file").is_some();
        if on && !given {
            let user = http
                .get("username")
                .and_then(Item::as_str)
                .unwrap_or("admin")
                .to_string();
            let pw = password()?;
            let file = state_dir.join("http.secret");
            write_private(&file, &pw)?;
            http.insert("password_file", value(file.display().to_string()));
            done.http_password = Some((user, pw));
        }
    }
    Ok(done)
}

/// The lines for the user's `credentials.txt`.
pub fn credentials_text(p: &Provisioned) -> String {
    let mut s =
        String::from("camvault made these on first start. Note them, then delete this file.\n\n");
    if let Some(id) = &p.device_id {
        s += &format!("device id: {id}\n");
    }
    for (user, pw) in &p.ftp_passwords {
        s += &format!("FTP user {user}: password {pw}\n");
    }
    if let Some((user, pw)) = &p.http_password {
        s += &format!(
            "status page (http://camvault-<device id>.local, the port of [http] listen): user {user}, password {pw}\n"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_only_what_is_missing_and_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# my cameras\n[ftp]\nenabled = true\nusers = [{ name = \"cam1\" }, { name = \"cam2\", password = \"given\" }]\n[http]\nlisten = \"0.0.0.0:8080\"\n";
        let mut doc: DocumentMut = text.parse().unwrap();
        let p = provision(&mut doc, dir.path(), Some("cv-0123456789ab".into())).unwrap();
        assert_eq!(p.device_id.as_deref(), Some("cv-0123456789ab"));
        assert_eq!(p.ftp_passwords.len(), 1);
        let (user, pw) = &p.ftp_passwords[0];
        assert_eq!((user.as_str(), pw.len()), ("cam1", 20));
        let out = doc.to_string();
        assert!(out.starts_with("# my cameras\n"), "{out}");
        assert!(out.contains("id = \"cv-0123456789ab\""), "{out}");
        assert!(out.contains("ftp-cam1.secret"), "{out}");
        assert!(out.contains("password = \"given\""), "{out}");
        let file = dir.path().join("ftp-cam1.secret");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), *pw);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A second run adds nothing.
        let again = provision(&mut doc, dir.path(), None).unwrap();
        assert_eq!(again, Provisioned::default());
        assert!(credentials_text(&p).contains(&format!("FTP user cam1: password {pw}")));
        let (user, web) = p.http_password.as_ref().unwrap();
        assert_eq!(user, "admin");
        assert!(out.contains("http.secret"), "{out}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("http.secret")).unwrap(),
            *web
        );
        assert!(credentials_text(&p).contains(&format!("user admin, password {web}")));
    }
}
