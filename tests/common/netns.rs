//! Two network namespaces joined by a veth pair: a LAN of its own for tests that need
//! several hosts or multicast (mDNS, WS-Discovery), without touching the machine's network.
//! The device side is 10.77.<n>.1, the peer 10.77.<n>.2; both route multicast over the pair.

use std::process::{Command, Stdio};

pub struct Lan {
    pub dev: String,
    pub peer: String,
    pub dev_ip: String,
    pub peer_ip: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lan {
    pub fn new(tag: &str) -> Lan {
        let n = std::process::id() % 250 + 1;
        let (dev, peer) = (format!("cv{tag}d{n}"), format!("cv{tag}p{n}"));
        let (dev_if, peer_if) = (format!("v{tag}d{n}"), format!("v{tag}p{n}"));
        // A namespace left by a killed run of the same pid is reused after a clean slate.
        for ns in [&dev, &peer] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
            ip(&["netns", "add", ns]);
        }
        ip(&[
            "link", "add", &dev_if, "type", "veth", "peer", "name", &peer_if,
        ]);
        ip(&["link", "set", &dev_if, "netns", &dev]);
        ip(&["link", "set", &peer_if, "netns", &peer]);
        let subnet = format!("10.77.{n}");
        let lan = Lan {
            dev_ip: format!("{subnet}.1"),
            peer_ip: format!("{subnet}.2"),
            dev,
            peer,
        };
        for (ns, ifname, addr) in [
            (&lan.dev, &dev_if, &lan.dev_ip),
            (&lan.peer, &peer_if, &lan.peer_ip),
        ] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                ifname,
            ]);
            ip(&["-n", ns, "link", "set", ifname, "up"]);
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", ifname]);
        }
        lan
    }

    /// A command run inside namespace `ns` (`ip netns exec` execs it: its pid is the
    /// program's own).
    pub fn exec(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in [&self.dev, &self.peer] {
            // Whatever still runs in it (a browser's helpers) goes with it.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
