//! A typed broadcast bus: anyone may follow it, and slow subscribers miss messages rather than
//! slow producers. The device's events (`health::DeviceEvent`) travel on one.

use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Bus<T: Clone> {
    tx: broadcast::Sender<T>,
}

impl<T: Clone> Default for Bus<T> {
    fn default() -> Self {
        Bus {
            tx: broadcast::channel(512).0,
        }
    }
}

impl<T: Clone> Bus<T> {
    /// Sends to every current subscriber; nobody listening is not an error.
    pub fn send(&self, msg: T) {
        let _ = self.tx.send(msg);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<T> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_what_is_sent_after_they_subscribe() {
        let bus = Bus::<u32>::default();
        bus.send(1);
        let mut rx = bus.subscribe();
        bus.send(2);
        assert_eq!(rx.recv().await.unwrap(), 2);
    }
}
