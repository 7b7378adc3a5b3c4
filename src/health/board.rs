//! What the hardware is: the board's model and a MAC address, for Home Assistant's device
//! registry. Read once at start; either may be absent (containers, odd boards).

use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Board {
    /// "Raspberry Pi 4 Model B Rev 1.4" from the device tree, else DMI's vendor and product.
    pub model: Option<String>,
    /// The first physical network interface's MAC, lower case with colons.
    pub mac: Option<String>,
}

impl Board {
    /// Blocking: a few small sysfs reads.
    pub fn read() -> Board {
        Board::read_from(Path::new("/"))
    }

    fn read_from(root: &Path) -> Board {
        Board {
            model: model(root),
            mac: mac(root),
        }
    }
}

fn text(path: &Path) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

fn model(root: &Path) -> Option<String> {
    if let Some(m) = text(&root.join("proc/device-tree/model")) {
        return Some(m);
    }
    let dmi = root.join("sys/class/dmi/id");
    let product = text(&dmi.join("product_name"))?;
    Some(match text(&dmi.join("sys_vendor")) {
        Some(v) if !product.starts_with(&v) => format!("{v} {product}"),
        _ => product,
    })
}

/// Physical interfaces (with a `device` link) first, by name; virtual ones (veth, bridges)
/// only when there is nothing else. Never loopback or an all-zero address.
fn mac(root: &Path) -> Option<String> {
    let net = root.join("sys/class/net");
    let mut found: Vec<(bool, String, String)> = std::fs::read_dir(net)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let addr = text(&e.path().join("address"))?.to_ascii_lowercase();
            let usable = name != "lo" && addr.len() == 17 && addr != "00:00:00:00:00:00";
            usable.then(|| (!e.path().join("device").exists(), name, addr))
        })
        .collect();
    found.sort();
    found.into_iter().next().map(|(_, _, addr)| addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[test]
    fn a_pi_from_its_device_tree_and_the_physical_mac() {
        let d = tempfile::tempdir().unwrap();
        put(
            d.path(),
            "proc/device-tree/model",
            "Raspberry Pi 4 Model B Rev 1.4\0",
        );
        put(d.path(), "sys/class/net/lo/address", "00:00:00:00:00:00\n");
        put(
            d.path(),
            "sys/class/net/veth0/address",
            "aa:aa:aa:aa:aa:aa\n",
        );
        put(
            d.path(),
            "sys/class/net/eth0/address",
            "DC:A6:32:01:02:03\n",
        );
        std::fs::create_dir_all(d.path().join("sys/class/net/eth0/device")).unwrap();
        assert_eq!(
            Board::read_from(d.path()),
            Board {
                model: Some("Raspberry Pi 4 Model B Rev 1.4".into()),
                mac: Some("dc:a6:32:01:02:03".into()),
            }
        );
    }

    #[test]
    fn a_pc_from_dmi_and_nothing_when_there_is_nothing() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), "sys/class/dmi/id/sys_vendor", "QEMU\n");
        put(
            d.path(),
            "sys/class/dmi/id/product_name",
            "Standard PC (Q35 + ICH9, 2009)\n",
        );
        assert_eq!(
            Board::read_from(d.path()).model.as_deref(),
            Some("QEMU Standard PC (Q35 + ICH9, 2009)")
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(Board::read_from(empty.path()), Board::default());
    }
}
