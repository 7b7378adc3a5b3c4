//! Part buffers, reused within an upload. A fresh 8 MiB buffer per part costs 2,048 page
//! faults and 8 MiB zeroed by the kernel (glibc maps anything over 1 MiB afresh, see
//! `main.rs`): more system time than the checksums. `Bytes::from_owner` lends a buffer to the
//! HTTP request and brings it back here when the last reference drops.

use std::sync::Arc;

use parking_lot::Mutex;

use bytes::Bytes;

#[derive(Clone)]
pub struct Pool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    /// At most this many idle buffers are kept (the rest are freed).
    keep: usize,
}

impl Pool {
    pub fn new(keep: usize) -> Pool {
        Pool {
            free: Arc::new(Mutex::new(Vec::new())),
            keep,
        }
    }

    /// A buffer of exactly `len` bytes; its contents are whatever it last held.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let reused = self.free.lock().pop();
        let mut buf = reused.unwrap_or_default();
        // Only bytes beyond the old length are zeroed: a reused part-sized buffer costs nothing.
        buf.resize(len, 0);
        buf
    }

    /// Hands `buf` out as `Bytes`; it returns to the pool when the last clone is dropped.
    pub fn lend(&self, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Lent {
            buf,
            pool: self.clone(),
        })
    }

    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self.free.lock();
        if free.len() < self.keep {
            free.push(buf);
        }
    }
}

struct Lent {
    buf: Vec<u8>,
    pool: Pool,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_clone_drops() {
        let pool = Pool::new(1);
        let mut buf = pool.take(4);
        buf.copy_from_slice(b"abcd");
        let ptr = buf.as_ptr();
        let bytes = pool.lend(buf);
        let clone = bytes.slice(1..3);
        drop(bytes);
        assert_eq!(&clone[..], b"bc");
        // Still lent out: a second buffer is a new one.
        let other = pool.take(4);
        assert_ne!(other.as_ptr(), ptr);
        drop(clone);
        let again = pool.take(2);
        assert_eq!((again.as_ptr(), again.len()), (ptr, 2));
        // Only `keep` idle buffers stay.
        pool.give_back(again);
        pool.give_back(vec![0; 8]);
        assert_eq!(pool.free.lock().len(), 1);
    }
}
