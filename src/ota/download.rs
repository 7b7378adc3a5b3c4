//! Fetching a bundle into `data/ota/`: resumed by `Range` after a cut link or a power cut,
//! checked against the size the server gave and the SHA-256 the command gave, and only then
//! renamed to its final name. A partial file is named by the SHA-256 it should have, so a
//! different bundle never continues another's bytes.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::OtaError;

/// The largest bundle taken: a slot is a few hundred MiB, and a runaway answer must not
/// fill the card that holds the footage.
pub const MAX_BUNDLE_BYTES: u64 = 2 << 30;

/// What happened, for `ota.progress` and the closing figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: u64,
    /// Bytes that were already on the card from an earlier, interrupted try.
    pub resumed_from: u64,
}

/// Downloads `url` into `dir/<sha256>.raucb` and returns its path. `progress(done, total)`
/// is called as bytes arrive. `free_after` says whether the card can take `n` more bytes.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    sha256: &str,
    dir: &Path,
    free_after: impl Fn(u64) -> bool,
    mut progress: impl FnMut(u64, u64),
) -> Result<(PathBuf, Fetched), OtaError> {
    let sha256 = sha256.to_ascii_lowercase();
    let done = dir.join(format!("{sha256}.raucb"));
    let part = dir.join(format!("{sha256}.part"));
    tokio::fs::create_dir_all(dir).await?;
    if tokio::fs::try_exists(&done).await? {
        let bytes = tokio::fs::metadata(&done).await?.len();
        return Ok((
            done,
            Fetched {
                bytes,
                resumed_from: bytes,
            },
        ));
    }
    remove_other_downloads(dir, &sha256).await;

    let (mut hasher, mut have) = hash_existing(&part).await?;
    let resumed_from = have;
    let mut req = http.get(url);
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let resp = req.send().await.map_err(|e| download(url, e))?;
    let status = resp.status();
    let total = match status.as_u16() {
        206 => content_range_total(resp.headers()).ok_or_else(|| {
            OtaError::Download(format!("{url}: a partial answer without its total size"))
        })?,
        200 => {
            // The server ignored the range (or there was none): start over.
            hasher = Sha256::new();
            have = 0;
            resp.content_length().ok_or_else(|| {
                OtaError::Download(format!("{url}: the answer gives no Content-Length"))
            })?
        }
        _ => {
            return Err(OtaError::Download(format!("{url}: HTTP {status}")));
        }
    };
    if total > MAX_BUNDLE_BYTES {
        return Err(OtaError::Download(format!(
            "{url}: {total} bytes is more than a bundle may be ({MAX_BUNDLE_BYTES})"
        )));
    }
    if !free_after(total - have) {
        return Err(OtaError::Download(format!(
            "{url}: {} more bytes would eat into the space kept for recordings",
            total - have
        )));
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(have > 0)
        .truncate(have == 0)
        .open(&part)
        .await?;
    let mut body = resp.bytes_stream();
    progress(have, total);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| download(url, e))?;
        if have + chunk.len() as u64 > total {
            return Err(OtaError::Download(format!(
                "{url}: more bytes than the {total} announced"
            )));
        }
        file.write_all(&chunk).await?;
        hasher.update(&chunk);
        have += chunk.len() as u64;
        progress(have, total);
    }
    file.sync_all().await?;
    drop(file);
    if have != total {
        return Err(OtaError::Download(format!(
            "{url}: the answer ended at {have} of {total} bytes"
        )));
    }
    let got = format!("{:x}", hasher.finalize());
    if got != sha256 {
        // Bytes that do not hash right are no base to resume from.
        let _ = tokio::fs::remove_file(&part).await;
        return Err(OtaError::Download(format!(
            "{url}: SHA-256 {got}, the command said {sha256}"
        )));
    }
    tokio::fs::rename(&part, &done).await?;
    sync_dir(dir).await;
    Ok((
        done,
        Fetched {
            bytes: total,
            resumed_from,
        },
    ))
}

fn download(url: &str, e: reqwest::Error) -> OtaError {
    // reqwest's top-level text hides the cause (refused, unknown CA, DNS): keep the chain.
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    OtaError::Download(format!("{url}: {text}"))
}

/// `Content-Range: bytes 100-199/200` → 200.
fn content_range_total(h: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = h.get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    v.rsplit_once('/')?.1.trim().parse().ok()
}

/// The hash of what an earlier try left, so the download continues where it stopped.
async fn hash_existing(part: &Path) -> Result<(Sha256, u64), OtaError> {
    let part = part.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let mut f = match std::fs::File::open(&part) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((hasher, 0)),
            Err(e) => return Err(e.into()),
        };
        let n = std::io::copy(&mut f, &mut hasher)?;
        Ok((hasher, n))
    })
    .await
    .map_err(|e| OtaError::Io(std::io::Error::other(e.to_string())))?
}

/// Only one bundle is ever kept: an older download or an installed bundle goes.
async fn remove_other_downloads(dir: &Path, keep: &str) {
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name.ends_with(".part") || name.ends_with(".raucb");
        if ours && !name.starts_with(keep) {
            let _ = tokio::fs::remove_file(e.path()).await;
        }
    }
}

async fn sync_dir(dir: &Path) {
    let dir = dir.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_comes_from_content_range() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::CONTENT_RANGE,
            "bytes 100-199/200".parse().unwrap(),
        );
        assert_eq!(content_range_total(&h), Some(200));
        h.insert(
            reqwest::header::CONTENT_RANGE,
            "bytes */200".parse().unwrap(),
        );
        assert_eq!(content_range_total(&h), Some(200));
        h.insert(
            reqwest::header::CONTENT_RANGE,
            "bytes 0-1/*".parse().unwrap(),
        );
        assert_eq!(content_range_total(&h), None);
    }
}
