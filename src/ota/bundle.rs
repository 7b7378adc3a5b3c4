//! A RAUC bundle is a squashfs image, then its CMS signature (DER), then the signature's size
//! as 8 big-endian bytes. In the `verity` format the signature carries the manifest itself
//! (and with it the root hash RAUC checks every block of the image against), so a manifest
//! that openssl verifies against the keyring is what the signer wrote.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{Manifest, OtaError, tool};

/// RAUC's own bound on a signature's size.
const MAX_SIGNATURE: u64 = 64 * 1024;

/// Where the signature lies in a bundle of `len` bytes whose last 8 bytes are `trailer`.
fn signature_range(len: u64, trailer: [u8; 8]) -> Result<(u64, u64), String> {
    let size = u64::from_be_bytes(trailer);
    if len < 8 || size == 0 || size > MAX_SIGNATURE || size > len - 8 {
        return Err(format!("no signature at its end (size field {size})"));
    }
    Ok((len - 8 - size, size))
}

/// The manifest of the bundle at `path`, once its signature checks out against `keyring`.
pub fn verify(path: &Path, keyring: &Path) -> Result<Manifest, OtaError> {
    let not_a_bundle = |why: String| OtaError::NotABundle {
        path: path.display().to_string(),
        why,
    };
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut trailer = [0u8; 8];
    if len >= 8 {
        f.seek(SeekFrom::End(-8))?;
        f.read_exact(&mut trailer)?;
    }
    let (start, size) = signature_range(len, trailer).map_err(not_a_bundle)?;
    let mut cms = vec![0u8; size as usize];
    f.seek(SeekFrom::Start(start))?;
    f.read_exact(&mut cms)?;
    let args: [&std::ffi::OsStr; 9] = [
        "cms".as_ref(),
        "-verify".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-binary".as_ref(),
        // RAUC signs with plain code-signing certificates, not S/MIME ones.
        "-purpose".as_ref(),
        "any".as_ref(),
        "-CAfile".as_ref(),
        keyring.as_os_str(),
    ];
    let text = tool("openssl", &args, &cms).map_err(|e| match e {
        OtaError::Tool { detail, .. } => OtaError::Signature {
            keyring: keyring.display().to_string(),
            detail: first_reason(&detail),
        },
        other => other,
    })?;
    Manifest::parse(&String::from_utf8_lossy(&text))
}

/// openssl's error lines are long and numbered; its first reason is what a person needs.
fn first_reason(detail: &str) -> String {
    detail
        .lines()
        .find_map(|l| {
            let l = l.trim();
            (!l.is_empty()).then(|| l.rsplit(':').next().unwrap_or(l).trim().to_string())
        })
        .unwrap_or_else(|| "openssl refused it".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_found_from_the_trailer() {
        assert_eq!(signature_range(1000, 100u64.to_be_bytes()), Ok((892, 100)));
        for (len, size) in [
            (1000, 0u64),
            (1000, 993),
            (1 << 30, MAX_SIGNATURE + 1),
            (4, 1),
        ] {
            assert!(
                signature_range(len, size.to_be_bytes()).is_err(),
                "{len} {size}"
            );
        }
    }

    #[test]
    fn openssl_errors_shrink_to_their_reason() {
        let d = "Verification failure\n40C7:error:10800065:PKCS7 routines:PKCS7_signatureVerify:digest failure:../crypto/pkcs7/pk7_doit.c:1000:";
        assert_eq!(first_reason(d), "Verification failure");
    }
}
