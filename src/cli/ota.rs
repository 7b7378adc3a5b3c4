//! `camvault ota sign|verify|install`: a bundle signed with the release key, checked by hand,
//! or installed by hand.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Failure, print};
use crate::base::DataDir;
use crate::ota::{self, HighestEpoch};

#[derive(clap::Subcommand)]
pub enum OtaCmd {
    /// Sign a bundle with a release key pair (release tooling; RAUC's `resign`)
    Sign {
        bundle: PathBuf,
        /// Where the signed bundle goes
        out: PathBuf,
        /// The signing certificate (PEM); the devices' keyring must hold it or its CA
        #[arg(long)]
        cert: PathBuf,
        /// The signing key (PEM)
        #[arg(long)]
        key: PathBuf,
        /// The keyring the bundle is signed under now, checked first [default: not checked]
        #[arg(long)]
        keyring: Option<PathBuf>,
    },
    /// Check a bundle's signature against the keyring and whether this device would take it
    Verify {
        bundle: PathBuf,
        /// The certificate(s) to check against [default: `[ota] keyring` of the config]
        #[arg(long)]
        keyring: Option<PathBuf>,
        /// RAUC's system.conf, which names the device's `compatible`
        #[arg(long, default_value = "/etc/rauc/system.conf")]
        system_conf: PathBuf,
    },
    /// Check a bundle, then write it into the other slot with RAUC (it runs after a reboot)
    Install {
        bundle: PathBuf,
        /// Take a version that is not newer (never one below the security epoch)
        #[arg(long)]
        allow_downgrade: bool,
        #[arg(long, default_value = "/etc/rauc/system.conf")]
        system_conf: PathBuf,
    },
}

/// The config's OTA settings, when it loads; `verify --keyring` works without one.
pub struct Settings {
    pub keyring: PathBuf,
    pub allow_downgrade: bool,
    pub data_dir: Option<DataDir>,
}

pub fn run(
    cmd: OtaCmd,
    settings: impl FnOnce() -> Result<Settings, Failure>,
) -> Result<(), Failure> {
    match cmd {
        OtaCmd::Sign {
            bundle,
            out,
            cert,
            key,
            keyring,
        } => {
            ota::resign(&bundle, &out, &cert, &key, keyring.as_deref())
                .map_err(Failure::runtime)?;
            let manifest = ota::verify(&out, &cert).map_err(Failure::runtime)?;
            print::json(&json!({ "bundle": out, "signature": "ok", "manifest": manifest }))
        }
        OtaCmd::Verify {
            bundle,
            keyring,
            system_conf,
        } => {
            let s = match keyring {
                Some(k) => Settings {
                    keyring: k,
                    allow_downgrade: false,
                    data_dir: None,
                },
                None => settings()?,
            };
            let (manifest, verdict) = check(&bundle, &s, &system_conf, false)?;
            print::json(&json!({
                "bundle": bundle,
                "signature": "ok",
                "manifest": manifest,
                "verdict": verdict,
            }))?;
            match verdict {
                Verdict::Refused(why) => Err(Failure::Runtime(format!("refused: {why}"))),
                _ => Ok(()),
            }
        }
        OtaCmd::Install {
            bundle,
            allow_downgrade,
            system_conf,
        } => {
            let s = settings()?;
            let (manifest, verdict) = check(&bundle, &s, &system_conf, allow_downgrade)?;
            match verdict {
                Verdict::Accepted => {}
                Verdict::Refused(why) => return Err(Failure::Runtime(format!("refused: {why}"))),
                Verdict::NotADevice(why) => return Err(Failure::Runtime(why)),
            }
            eprintln!(
                "installing {} {} with RAUC",
                manifest.compatible, manifest.version
            );
            ota::install(&bundle).map_err(Failure::runtime)?;
            eprintln!("installed into the other slot; it boots next (reboot to use it)");
            Ok(())
        }
    }
}

#[derive(serde::Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
enum Verdict {
    Accepted,
    Refused(String),
    /// Not on a camvault device (no RAUC system), so only the signature was checked.
    NotADevice(String),
}

fn check(
    bundle: &Path,
    s: &Settings,
    system_conf: &Path,
    allow_downgrade: bool,
) -> Result<(ota::Manifest, Verdict), Failure> {
    let manifest = ota::verify(bundle, &s.keyring).map_err(Failure::runtime)?;
    let Some(data_dir) = s.data_dir.as_ref().filter(|_| system_conf.exists()) else {
        let why = format!(
            "no {} (or no config): only the signature was checked",
            system_conf.display()
        );
        return Ok((manifest, Verdict::NotADevice(why)));
    };
    let running =
        ota::running(system_conf, &HighestEpoch(data_dir.ota_epoch())).map_err(Failure::runtime)?;
    let verdict = match ota::check(&manifest, &running, allow_downgrade || s.allow_downgrade) {
        Ok(()) => Verdict::Accepted,
        Err(r) => Verdict::Refused(r.to_string()),
    };
    Ok((manifest, verdict))
}
