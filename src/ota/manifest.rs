//! A RAUC manifest (`manifest.raucm`, INI): the fields the policy needs. The security epoch
//! rides in the version's build metadata (`0.4.0+epoch.3`): Debian's RAUC 1.8 drops
//! `[meta.*]` sections when it signs, and build metadata does not change version order. A
//! `[meta.camvault] security_epoch`, which newer RAUC keeps, wins when present.

use super::OtaError;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    pub compatible: String,
    /// Without build metadata.
    pub version: String,
    /// From `[meta.camvault] security_epoch` or the version's `+epoch.N`; 0 when neither.
    pub security_epoch: u32,
    pub description: String,
}

fn number(what: &str, value: &str) -> Result<u32, OtaError> {
    value
        .parse()
        .map_err(|_| OtaError::Manifest(format!("{what} is not a number: {value:.20}")))
}

/// The `(section, key, value)` entries of an INI file as RAUC writes them (its manifests and
/// its `system.conf`); comments and blank lines skipped.
pub(super) fn ini(text: &str) -> Result<Vec<(String, String, String)>, OtaError> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(OtaError::Manifest(format!("not `key=value`: {line:.60}")));
        };
        out.push((
            section.clone(),
            key.trim().to_string(),
            value.trim().to_string(),
        ));
    }
    Ok(out)
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, OtaError> {
        let (mut compatible, mut version, mut epoch, mut description) = (None, None, None, None);
        for (section, key, value) in ini(text)? {
            match (section.as_str(), key.as_str()) {
                ("update", "compatible") => compatible = Some(value),
                ("update", "version") => version = Some(value),
                ("update", "description") => description = Some(value),
                ("meta.camvault", "security_epoch") => {
                    epoch = Some(number("security_epoch", &value)?)
                }
                _ => {}
            }
        }
        let full = version.ok_or_else(|| OtaError::Manifest("no [update] version".into()))?;
        let (version, build) = full.split_once('+').unwrap_or((&full, ""));
        let in_version = match build.strip_prefix("epoch.") {
            Some(n) => Some(number("the version's epoch", n)?),
            None => None,
        };
        Ok(Manifest {
            compatible: compatible
                .ok_or_else(|| OtaError::Manifest("no [update] compatible".into()))?,
            version: version.to_string(),
            security_epoch: epoch.or(in_version).unwrap_or(0),
            description: description.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_rauc_signs() {
        let m = Manifest::parse(
            "[update]\ncompatible=camvault-rpi4\nversion=0.2.0+epoch.3\ndescription=camvault \
             0.2.0\nbuild=20261202T080507Z\n\n[bundle]\nformat=verity\nverity-hash=ab\n\n\
             [image.rootfs]\nsha256=cd\nfilename=rootfs.ext4\n",
        )
        .unwrap();
        assert_eq!(m.compatible, "camvault-rpi4");
        assert_eq!((m.version.as_str(), m.security_epoch), ("0.2.0", 3));
        let meta = "[update]\ncompatible=x\nversion=1+epoch.3\n[meta.camvault]\nsecurity_epoch=4\n";
        assert_eq!(Manifest::parse(meta).unwrap().security_epoch, 4);
        let plain = "[update]\ncompatible=x\nversion=1\n";
        assert_eq!(Manifest::parse(plain).unwrap().security_epoch, 0);
    }

    #[test]
    fn missing_or_bad_fields_are_named() {
        let e = Manifest::parse("[update]\nversion=1\n").unwrap_err();
        assert!(e.to_string().contains("compatible"), "{e}");
        for bad in [
            "[update]\ncompatible=x\nversion=1\n[meta.camvault]\nsecurity_epoch=high\n",
            "[update]\ncompatible=x\nversion=1+epoch.x\n",
        ] {
            let e = Manifest::parse(bad).unwrap_err();
            assert!(e.to_string().contains("epoch"), "{e}");
        }
    }
}
