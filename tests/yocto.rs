//! The Yocto layer, as far as it can be checked without bitbake: its crate list agrees with
//! Cargo.lock (every registry crate, with the same checksum), and oelint-adv finds no error.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_recipe_fetches_exactly_the_locked_crates() {
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(format!("{ROOT}/Cargo.lock")).unwrap()).unwrap();
    let locked: BTreeMap<String, String> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("checksum").is_some())
        .map(|p| {
            (
                format!(
                    "{}-{}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                ),
                p["checksum"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let inc = std::fs::read_to_string(format!(
        "{ROOT}/yocto/meta-camvault/recipes-camvault/camvault/camvault-crates.inc"
    ))
    .unwrap();
    let listed: BTreeMap<String, String> = inc
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("SRC_URI[")?;
            let (crate_, sum) = rest.split_once(".sha256sum] = \"")?;
            Some((crate_.to_string(), sum.trim_end_matches('"').to_string()))
        })
        .collect();
    assert_eq!(
        listed, locked,
        "run yocto/gen-crates-inc.py after changing Cargo.lock"
    );
    let uris = inc.matches("crate://crates.io/").count();
    assert_eq!(uris, locked.len());
}

#[test]
fn the_layer_lints_clean() {
    let r = run(&mut Command::new(format!("{ROOT}/yocto/lint.sh")));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for kas in ["raspberrypi4-64", "raspberrypi5", "jetson-orin-nano-devkit"] {
        let text =
            std::fs::read_to_string(format!("{ROOT}/yocto/meta-camvault/kas/{kas}.yml")).unwrap();
        assert!(text.contains(&format!("machine: {kas}")), "{kas}");
        assert!(
            text.contains("meta-rauc") && text.contains("meta-camvault"),
            "{kas}"
        );
    }
}
