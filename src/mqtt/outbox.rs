//! What waits while the broker is unreachable: the newest state only (older ones are stale),
//! and events up to a cap, the oldest dropped first and counted.

use std::collections::VecDeque;

pub struct Outbox {
    state: Option<Vec<u8>>,
    events: VecDeque<Vec<u8>>,
    cap: usize,
    pub dropped: u64,
}

impl Outbox {
    pub fn new(cap: usize) -> Self {
        Outbox {
            state: None,
            events: VecDeque::with_capacity(cap),
            cap,
            dropped: 0,
        }
    }

    pub fn set_state(&mut self, payload: Vec<u8>) {
        self.state = Some(payload);
    }

    pub fn push_event(&mut self, payload: Vec<u8>) {
        if self.events.len() == self.cap {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(payload);
    }

    /// Everything waiting: the state (if any) and the events in order.
    pub fn drain(&mut self) -> (Option<Vec<u8>>, Vec<Vec<u8>>) {
        (self.state.take(), self.events.drain(..).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_state_wins_and_oldest_events_go_first() {
        let mut o = Outbox::new(3);
        o.set_state(b"s1".to_vec());
        o.set_state(b"s2".to_vec());
        for e in ["e1", "e2", "e3", "e4", "e5"] {
            o.push_event(e.as_bytes().to_vec());
        }
        assert_eq!(o.dropped, 2);
        let (state, events) = o.drain();
        assert_eq!(state.as_deref(), Some(&b"s2"[..]));
        assert_eq!(events, [b"e3".to_vec(), b"e4".to_vec(), b"e5".to_vec()]);
        assert_eq!(o.drain(), (None, vec![]));
    }
}
