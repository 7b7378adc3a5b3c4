//! The upload loop: `run()` takes the next due job and `upload()`s it, recording the outcome.

use std::collections::HashSet;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::buffers::Pool;
use super::plan::{self, Expected, PartPlan};
use super::s3::{Body, Proof, S3};
use super::{Ctx, UploadError};
use crate::config::Destination;
use crate::health::DeviceEvent;
use crate::store::{Job, PartRow, QueuePolicy};

/// Parts are read and checksummed this much at a time, so the checksums find the bytes in
/// the CPU cache.
const READ_CHUNK: usize = 256 * 1024;

/// How often the queue is scanned for closed segments without a job, at the latest.
const SCAN_EVERY: Duration = Duration::from_secs(5);

/// Attempts that end in an error retrying cannot fix (wrong credentials, a server holding
/// other bytes) before the job fails for good.
const MAX_TRIES: i64 = 3;

pub async fn run(ctx: Arc<Ctx>, cancel: CancellationToken) -> Result<(), UploadError> {
    if let Some(s3) = &ctx.s3
        && let Err(e) = abort_orphans(&ctx, s3).await
    {
        tracing::warn!(error = %e, "upload: could not look for abandoned multipart uploads");
    }
    let mut paused = ctx.paused.clone();
    loop {
        if cancel.is_cancelled() {
            return Ok(());
        }
        if *paused.borrow_and_update() {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = paused.changed() => continue,
            }
        }
        enqueue_new_segments(&ctx).await?;
        let now = ctx.health.now();
        let Some(job) = ctx.store.read(move |db| db.next_job(now)).await? else {
            let due = ctx.store.read(|db| db.next_due()).await?;
            let wait = due.map_or(SCAN_EVERY, |d| {
                (d - ctx.health.now())
                    .to_std()
                    .unwrap_or_default()
                    .min(SCAN_EVERY)
            });
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = ctx.wake.notified() => {}
                _ = paused.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        };
        let started = tokio::time::Instant::now();
        let outcome = tokio::select! {
            // Abandoned mid-way: what was committed stays committed; the rest resumes later.
            _ = cancel.cancelled() => return Ok(()),
            r = upload(&ctx, &job) => r,
        };
        record(&ctx, &job, outcome, started.elapsed()).await?;
    }
}

async fn record(
    ctx: &Ctx,
    job: &Job,
    outcome: Result<String, UploadError>,
    took: std::time::Duration,
) -> Result<(), UploadError> {
    let id = job.id;
    match outcome {
        Ok(etag) => {
            let now = ctx.health.now();
            ctx.store
                .write(move |db| db.job_done(id, &etag, now))
                .await?;
            // Retention may delete the local file once this is durable: make it so now.
            ctx.store.flush().await?;
            ctx.health.upload_progressed();
            // The attempt's own rate: a resumed upload counts only the bytes it still sent.
            let sent = (job.bytes - job.bytes_done).max(0) as f64;
            let mib_s = sent / took.as_secs_f64().max(1e-3) / 1_048_576.0;
            tracing::info!(key = %job.key, bytes = job.bytes, seconds = took.as_secs_f64(), mib_per_s = format!("{mib_s:.1}"), "uploaded and verified");
            ctx.health.emit(DeviceEvent::UploadDone {
                key: job.key.clone(),
                path: job.path.clone(),
                bytes: job.bytes as u64,
            });
        }
        Err(e) => {
            ctx.health.upload_attempt_failed();
            // A server that keeps answering with other bytes or checksums will not change
            // its mind: after a few tries the job fails with the reason, instead of
            // uploading the same file for ever.
            let permanent =
                e.is_permanent() || (e.fails_after_retries() && job.attempts + 1 >= MAX_TRIES);
            let message = e.to_string();
            let next = (!permanent).then(|| {
                let seed = (job.id as u64).wrapping_mul(0x9E37_79B9)
                    ^ ctx.health.now().timestamp_subsec_nanos() as u64;
                ctx.health.now()
                    + chrono::Duration::from_std(plan::retry_delay(job.attempts + 1, seed))
                        .unwrap_or_default()
            });
            let m = message.clone();
            ctx.store
                .write(move |db| db.job_failed(id, &m, next))
                .await?;
            if permanent {
                ctx.store.flush().await?;
                tracing::error!(key = %job.key, error = %message, "upload failed for good; `upload retry-failed` tries again");
                ctx.health.emit(DeviceEvent::UploadFailed {
                    key: job.key.clone(),
                    path: job.path.clone(),
                    error: message,
                });
            } else {
                tracing::warn!(key = %job.key, attempt = job.attempts + 1, error = %message, "upload attempt failed; will retry");
            }
        }
    }
    Ok(())
}

/// Every closed segment without a job gets one (the scan makes this crash-proof: a segment
/// whose event was missed is found here).
async fn enqueue_new_segments(ctx: &Ctx) -> Result<(), UploadError> {
    let policy = QueuePolicy {
        template: ctx.cfg.upload.key_template.clone(),
        device: ctx.cfg.device.id.clone(),
    };
    let now = ctx.health.now();
    let n = ctx
        .store
        .write(move |db| {
            let segs = db.unqueued_segments(500)?;
            for s in &segs {
                let key = policy.key(s.kind, &s.camera, s.start, &s.path);
                let priority = plan::priority(s.kind);
                db.enqueue(Some(s.segment_id), &s.path, &key, s.bytes, priority, now)?;
            }
            Ok(segs.len())
        })
        .await?;
    if n > 0 {
        tracing::debug!(jobs = n, "upload: queued");
    }
    Ok(())
}

async fn upload(ctx: &Arc<Ctx>, job: &Job) -> Result<String, UploadError> {
    let path = ctx.data_dir.join(&job.path);
    let size = match tokio::fs::metadata(&path).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UploadError::Permanent(format!(
                "{} is gone from the disk",
                job.path
            )));
        }
        Err(e) => return Err(e.into()),
    };
    match (&ctx.s3, ctx.cfg.upload.destination) {
        (Some(s3), Destination::S3) => upload_s3(ctx, s3, job, &path, size).await,
        _ => {
            let dir = ctx.cfg.upload.dir.clone().unwrap_or_default();
            let key = job.key.clone();
            tokio::task::spawn_blocking(move || super::dir::copy(&path, &dir, &key))
                .await
                .map_err(|e| UploadError::Retry(e.to_string()))?
                .map_err(UploadError::from)
        }
    }
}

/// Reads a range of the file and checksums it, off the async threads (checksumming is the
/// uploader's main CPU cost; two parts are read on two cores at once).
async fn read_body(
    s3: &S3,
    pool: &Pool,
    path: &std::path::Path,
    offset: u64,
    len: u64,
) -> Result<Body, UploadError> {
    let p = path.to_path_buf();
    let mut sum = s3.summer();
    let pool = pool.clone();
    let body = tokio::task::spawn_blocking(move || -> std::io::Result<Body> {
        let f = std::fs::File::open(p)?;
        let mut buf = pool.take(len as usize);
        let mut done = 0;
        for chunk in buf.chunks_mut(READ_CHUNK) {
            f.read_exact_at(chunk, offset + done)?;
            sum.update(chunk);
            done += chunk.len() as u64;
        }
        Ok(sum.finish(pool.lend(buf)))
    })
    .await
    .map_err(|e| UploadError::Retry(e.to_string()))??;
    Ok(body)
}

/// Confirms the object is the file (size, CRC32C and ETag, as far as the server tells);
/// returns the ETag the job records. A key that may write but not read gets its HEAD
/// refused: the checksum the server returned when it stored the object is the proof then.
/// `known_etag` is the ETag computed from our own bytes, if any (never the one the server
/// just returned, which would prove nothing).
async fn verify(
    s3: &S3,
    key: &str,
    want: &Expected,
    proof: &Proof,
    known_etag: Option<&str>,
) -> Result<String, UploadError> {
    let head = match s3.head(key).await {
        Ok(h) => h,
        Err(e) if e.status == 403 => {
            let by_crc = proof
                .crc32c
                .as_ref()
                .is_some_and(|c| plan::same_checksum(c, &want.crc32c));
            let by_etag = known_etag
                .is_some_and(|w| !proof.etag.is_empty() && plan::same_etag(w, &proof.etag));
            if by_crc || by_etag {
                tracing::debug!(%key, "upload: verified by the stored checksum (HEAD refused)");
                return Ok(proof.etag.clone());
            }
            return Err(UploadError::Verify(format!(
                "HEAD refused ({e}) and the server returned no checksum to verify by; grant s3:GetObject or use a server that returns x-amz-checksum-crc32c"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if !want.confirmed_by(&head) {
        return Err(UploadError::Verify(format!(
            "after upload the object has {} bytes, CRC32C {} and ETag {}; expected {} bytes, CRC32C {}",
            head.size,
            head.crc32c.as_deref().unwrap_or("(none)"),
            head.etag,
            want.size,
            want.crc32c
        )));
    }
    Ok(head.etag)
}

/// The object is already complete under `key` (an attempt that uploaded it died before
/// recording it): its ETag.
async fn already_there(s3: &S3, key: &str, want: &Expected) -> Option<String> {
    let head = s3.head(key).await.ok()?;
    want.already_there(&head).then_some(head.etag)
}

async fn upload_s3(
    ctx: &Arc<Ctx>,
    s3: &S3,
    job: &Job,
    path: &std::path::Path,
    size: u64,
) -> Result<String, UploadError> {
    let part_size = job.part_size.map_or_else(
        || plan::part_size(size, ctx.cfg.upload.part_size_mib),
        |p| p as u64,
    );
    if job.upload_id.is_none() && !plan::uses_multipart(size, part_size) {
        let body = read_body(s3, &Pool::new(0), path, 0, size).await?;
        let mut want = Expected::single(size, body.crc32c.unwrap_or_default(), body.md5_hex());
        // Already there (the last attempt uploaded it but did not live to record it)?
        if let Some(etag) = already_there(s3, &job.key, &want).await {
            return Ok(etag);
        }
        let known = want.etag.clone();
        let proof = s3.put_object(&job.key, &body).await?;
        if want.etag.is_none() && !proof.etag.is_empty() {
            want.etag = Some(proof.etag.clone());
        }
        return verify(s3, &job.key, &want, &proof, known.as_deref()).await;
    }

    let upload_id = match &job.upload_id {
        Some(id) => id.clone(),
        None => {
            let id = s3.create_multipart(&job.key).await?;
            let (jid, uid) = (job.id, id.clone());
            ctx.store
                .write(move |db| db.start_multipart(jid, &uid, part_size as i64))
                .await?;
            ctx.store.flush().await?;
            id
        }
    };
    let numbers = plan::parts(size, part_size);
    let jid = job.id;
    let stored = ctx.store.read(move |db| db.parts(jid)).await?;
    let listed = if job.upload_id.is_none() {
        // Just created: the server holds no part of it yet.
        Ok(Vec::new())
    } else {
        s3.list_parts(&job.key, &upload_id).await
    };
    let server = match listed {
        Ok(p) => p,
        // A key that may write but not read cannot list parts: the committed parts stand
        // (the store has their ETags), the rest are sent again under the same numbers.
        Err(e) if e.status == 403 => stored
            .iter()
            .map(|p| plan::ServerPart {
                number: p.number,
                etag: p.etag.clone(),
                size: p.size,
                crc32c: None,
            })
            .collect(),
        Err(e) if e.is_no_such_upload() => {
            // Completed by an attempt that died before recording it, or expired.
            if stored.len() == numbers.len()
                && let Some(etag) =
                    already_there(s3, &job.key, &Expected::multipart(size, &stored)).await
            {
                return Ok(etag);
            }
            ctx.store.write(move |db| db.reset_multipart(jid)).await?;
            ctx.store.flush().await?;
            return Err(UploadError::Retry(
                "the multipart upload is gone (expired?); starting over".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let decisions = plan::reconcile(
        &numbers.iter().map(|p| p.0).collect::<Vec<_>>(),
        &stored,
        &server,
    );
    let slots = Arc::new(Semaphore::new(ctx.cfg.upload.concurrency as usize));
    // One buffer per part in flight and one being read: memory stays concurrency × part size.
    let pool = Pool::new(ctx.cfg.upload.concurrency as usize + 1);
    let mut set: JoinSet<Result<(), UploadError>> = JoinSet::new();
    for (n, decision) in decisions {
        if decision == PartPlan::Done {
            continue;
        }
        let (_, offset, len) = numbers[(n - 1) as usize];
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| UploadError::Retry(e.to_string()))?;
        let body = read_body(s3, &pool, path, offset, len).await?;
        let crc = body.crc32c.unwrap_or_default();
        if let Some(etag) = plan::adoptable(&decision, len as i64, crc, body.md5_hex().as_deref()) {
            // The server has exactly our bytes: adopt the part, do not send it again.
            let row = PartRow {
                number: n,
                size: len as i64,
                crc32c: crc,
                etag,
            };
            ctx.store.write(move |db| db.commit_part(jid, &row)).await?;
            continue;
        }
        let (c, key, uid) = (ctx.clone(), job.key.clone(), upload_id.clone());
        set.spawn(async move {
            let s3 = c.s3.as_ref().expect("s3 destination");
            let etag = s3.upload_part(&key, &uid, n, &body).await?;
            // Back to the pool before the slot is freed for the next part.
            drop(body);
            // Committed as it completes; a crash from here on never sends this part again.
            let row = PartRow {
                number: n,
                size: len as i64,
                crc32c: crc,
                etag,
            };
            c.store.write(move |db| db.commit_part(jid, &row)).await?;
            drop(permit);
            Ok(())
        });
        // Fail fast: a part that failed stops the others from starting.
        while let Some(r) = set.try_join_next() {
            r.map_err(|e| UploadError::Retry(e.to_string()))??;
        }
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| UploadError::Retry(e.to_string()))??;
    }
    let parts = ctx.store.read(move |db| db.parts(jid)).await?;
    if parts.len() != numbers.len() {
        return Err(UploadError::Retry(format!(
            "{} of {} parts recorded",
            parts.len(),
            numbers.len()
        )));
    }
    let list: Vec<(i64, String, u32)> = parts
        .iter()
        .map(|p| (p.number, p.etag.clone(), p.crc32c))
        .collect();
    let want = Expected::multipart(size, &parts);
    let proof = match s3.complete(&job.key, &upload_id, &list).await {
        Ok(p) => p,
        Err(e) => {
            // A complete whose answer was lost: the object may already be whole.
            if let Some(etag) = already_there(s3, &job.key, &want).await {
                return Ok(etag);
            }
            return Err(e.into());
        }
    };
    verify(s3, &job.key, &want, &proof, want.etag.as_deref()).await
}

/// Aborts multipart uploads under our prefix that no job owns (left by a crash between
/// creating an upload and recording it, or by a job since reset).
async fn abort_orphans(ctx: &Ctx, s3: &S3) -> Result<(), UploadError> {
    let template = plan::static_prefix(&ctx.cfg.upload.key_template).to_string();
    let ids: HashSet<String> = ctx
        .store
        .read(|db| db.owned_upload_ids())
        .await?
        .into_iter()
        .collect();
    // Only uploads on keys our own jobs use are ours to clean: other devices may share the
    // bucket and the prefix, and their uploads in flight are none of our business. A job
    // exists before its upload is created, so even an upload whose id a crash lost is found.
    let mut prefixes = vec![template.clone()];
    if !template.is_empty() {
        prefixes.extend(["clips/".to_string(), "snapshots/".to_string()]);
    }
    for prefix in prefixes {
        let open = s3.list_uploads(&prefix).await?;
        // Only the keys the server lists are looked up, in the key's index.
        let listed: Vec<String> = open.iter().map(|(k, _)| k.clone()).collect();
        let keys = ctx.store.read(move |db| db.known_keys(listed)).await?;
        for (key, id) in open {
            if keys.contains(&key) && !ids.contains(&id) {
                tracing::info!(%key, "upload: aborting an abandoned multipart upload");
                s3.abort(&key, &id).await?;
            }
        }
    }
    Ok(())
}
