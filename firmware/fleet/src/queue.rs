//! The offline queue policy: events wait here while the broker is away, bounded by count
//! and bytes; when full the oldest go first, and how many went is counted and reported.
//! The agent keeps the queue in the store (so it survives a restart) and drains it in
//! order on reconnect; this type decides what stays.

use std::collections::VecDeque;

use crate::message::Event;

#[derive(Debug, Clone)]
pub struct Queue {
    events: VecDeque<(Event, usize)>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
    /// Events dropped to stay within bounds since the box started.
    pub dropped: u64,
}

impl Queue {
    pub fn new(max_events: usize, max_bytes: usize) -> Queue {
        Queue {
            events: VecDeque::new(),
            bytes: 0,
            max_events: max_events.max(1),
            max_bytes,
            dropped: 0,
        }
    }

    /// Adds an event of `size` bytes (its encoded length); drops the oldest as needed and
    /// returns the numbers of those dropped (to forget them in the store too).
    pub fn push(&mut self, event: Event, size: usize) -> Vec<u64> {
        self.events.push_back((event, size));
        self.bytes += size;
        let mut gone = Vec::new();
        while self.events.len() > self.max_events
            || (self.bytes > self.max_bytes && self.events.len() > 1)
        {
            if let Some((e, s)) = self.events.pop_front() {
                self.bytes -= s;
                self.dropped += 1;
                gone.push(e.seq);
            }
        }
        gone
    }

    /// The oldest event, to publish next.
    pub fn front(&self) -> Option<&Event> {
        self.events.front().map(|(e, _)| e)
    }

    /// The broker acknowledged the oldest event (PUBACK): it leaves the queue.
    pub fn acked(&mut self, seq: u64) {
        if self.front().is_some_and(|e| e.seq == seq)
            && let Some((_, s)) = self.events.pop_front()
        {
            self.bytes -= s;
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Event {
        Event {
            seq,
            at_ms: seq * 10,
            kind: "uplink_failed".into(),
            body: serde_json::json!({ "uplink": "origin" }),
        }
    }

    #[test]
    fn bounded_by_count_oldest_first_with_the_drops_counted() {
        let mut q = Queue::new(3, 1 << 20);
        for seq in 1..=5 {
            q.push(event(seq), 100);
        }
        assert_eq!((q.len(), q.dropped, q.bytes()), (3, 2, 300));
        assert_eq!(q.front().map(|e| e.seq), Some(3));
    }

    #[test]
    fn bounded_by_bytes_but_never_drops_the_only_event() {
        let mut q = Queue::new(100, 250);
        for seq in 1..=4 {
            q.push(event(seq), 100);
        }
        assert_eq!((q.len(), q.dropped), (2, 2));
        let mut one = Queue::new(100, 10);
        one.push(event(1), 500);
        assert_eq!(
            one.len(),
            1,
            "an event bigger than the budget still waits, alone"
        );
    }

    #[test]
    fn drained_in_order_as_the_broker_acknowledges() {
        let mut q = Queue::new(10, 1 << 20);
        for seq in 1..=3 {
            q.push(event(seq), 50);
        }
        q.acked(2);
        assert_eq!(q.front().map(|e| e.seq), Some(1), "out of order: ignored");
        let mut sent = Vec::new();
        while let Some(e) = q.front().cloned() {
            sent.push(e.seq);
            q.acked(e.seq);
        }
        assert_eq!(sent, [1, 2, 3]);
        assert!(q.is_empty() && q.bytes() == 0);
    }
}
