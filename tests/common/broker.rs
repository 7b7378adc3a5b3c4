//! A real mosquitto for the tests: password auth on a plain listener, optionally TLS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_for, write};

pub const BROKER_USER: &str = "cv";
pub const BROKER_PASS: &str = "CanaryMq55";

/// A mosquitto with password auth on a plain listener, and optionally a TLS one.
pub struct Broker {
    child: Option<Child>,
    conf: PathBuf,
    pub port: u16,
}

impl Broker {
    pub fn start(dir: &Path, tls: Option<(u16, &Path)>) -> Broker {
        let port = free_port();
        let pw = dir.join("passwd");
        let ok = Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&pw)
            .args([BROKER_USER, BROKER_PASS])
            .status()
            .unwrap();
        assert!(ok.success());
        let mut conf = format!(
            "per_listener_settings false\nallow_anonymous false\npassword_file {}\nlistener {port} 127.0.0.1\n",
            pw.display()
        );
        if let Some((tls_port, certs)) = tls {
            conf += &format!(
                "listener {tls_port} 127.0.0.1\ncafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n",
                certs.display()
            );
        }
        let path = dir.join("mosquitto.conf");
        write(&path, &conf);
        let mut b = Broker {
            child: None,
            conf: path,
            port,
        };
        b.resume();
        b
    }

    pub fn resume(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        wait_for("mosquitto listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
