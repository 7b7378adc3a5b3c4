//! Whether this device may take a bundle, decided before RAUC writes a byte: the right
//! machine, a newer version (older only when allowed, and never below the security epoch).

use std::cmp::Ordering;

use super::Manifest;

/// What the device runs, and the highest security epoch it has ever committed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Running {
    pub compatible: String,
    pub version: String,
    pub highest_epoch: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the bundle is for {bundle}, this device is {device}")]
    WrongCompatible { bundle: String, device: String },
    #[error(
        "version {bundle} is not newer than the running {running} (allow_downgrade permits it)"
    )]
    NotNewer { bundle: String, running: String },
    #[error("security epoch {bundle} is below {highest}, which this device has installed")]
    EpochLower { bundle: u32, highest: u32 },
    #[error("version {0:?} is not a version (numbers with dots, an optional -pre-release)")]
    BadVersion(String),
}

pub fn check(m: &Manifest, running: &Running, allow_downgrade: bool) -> Result<(), Refusal> {
    if m.compatible != running.compatible {
        return Err(Refusal::WrongCompatible {
            bundle: m.compatible.clone(),
            device: running.compatible.clone(),
        });
    }
    if m.security_epoch < running.highest_epoch {
        return Err(Refusal::EpochLower {
            bundle: m.security_epoch,
            highest: running.highest_epoch,
        });
    }
    let order = compare_versions(&m.version, &running.version)
        .ok_or_else(|| Refusal::BadVersion(m.version.clone()))?;
    if order != Ordering::Greater && !allow_downgrade {
        return Err(Refusal::NotNewer {
            bundle: m.version.clone(),
            running: running.version.clone(),
        });
    }
    Ok(())
}

/// Semantic-version order: numeric parts (missing ones are 0), a release after its
/// pre-releases (`1.2.0-rc1` < `1.2.0`), build metadata (`+…`) ignored. `None` when either
/// is not a version.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    fn split(v: &str) -> Option<(Vec<u64>, Option<&str>)> {
        let v = v.split('+').next()?;
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        let nums = core
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        Some((nums, pre))
    }
    let (na, pa) = split(a)?;
    let (nb, pb) = split(b)?;
    let width = na.len().max(nb.len());
    let pad = |mut v: Vec<u64>| {
        v.resize(width, 0);
        v
    };
    Some(pad(na).cmp(&pad(nb)).then(match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(compatible: &str, version: &str, epoch: u32) -> Manifest {
        Manifest {
            compatible: compatible.into(),
            version: version.into(),
            security_epoch: epoch,
            description: String::new(),
        }
    }

    fn device() -> Running {
        Running {
            compatible: "camvault-rpi4".into(),
            version: "0.3.0".into(),
            highest_epoch: 2,
        }
    }

    #[test]
    fn a_newer_bundle_for_this_machine_passes() {
        assert_eq!(
            check(&bundle("camvault-rpi4", "0.3.1", 2), &device(), false),
            Ok(())
        );
        assert_eq!(
            check(&bundle("camvault-rpi4", "1.0.0", 5), &device(), false),
            Ok(())
        );
    }

    #[test]
    fn each_refusal_says_why() {
        let d = device();
        let r = |b: Manifest, allow| check(&b, &d, allow).unwrap_err().to_string();
        assert!(r(bundle("camvault-rpi5", "0.4.0", 2), false).contains("camvault-rpi5"));
        assert!(r(bundle("camvault-rpi4", "0.3.0", 2), false).contains("not newer"));
        assert!(r(bundle("camvault-rpi4", "0.2.9", 2), false).contains("not newer"));
        assert!(r(bundle("camvault-rpi4", "0.9.0", 1), false).contains("epoch 1 is below 2"));
        // allow_downgrade opens older versions, never a lower epoch.
        assert_eq!(
            check(&bundle("camvault-rpi4", "0.2.9", 2), &d, true),
            Ok(())
        );
        assert!(r(bundle("camvault-rpi4", "0.2.9", 1), true).contains("epoch"));
        assert!(r(bundle("camvault-rpi4", "latest", 2), false).contains("not a version"));
    }

    #[test]
    fn versions_order_like_semver() {
        use Ordering::*;
        for (a, b, o) in [
            ("0.10.0", "0.9.0", Greater),
            ("1.2", "1.2.0", Equal),
            ("1.2.0-rc1", "1.2.0", Less),
            ("1.2.0-rc2", "1.2.0-rc1", Greater),
            ("1.2.0+build5", "1.2.0", Equal),
        ] {
            assert_eq!(compare_versions(a, b), Some(o), "{a} vs {b}");
        }
        assert_eq!(compare_versions("v1", "1"), None);
    }
}
