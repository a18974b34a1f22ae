//! A count of open connections at a front door: a cap on all of them and one per source
//! (an IPv4 address or an IPv6 /64), so one client, or a thousand half-open sockets from
//! one attacker, cannot use up the box's descriptors and lock out everyone else. Pure
//! counting; the HTTP servers ([`crate::http::serve`]) and the RTMP ingest server each
//! hold a [`Pass`] per connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use fourcast_auth::source_of;

/// Open HTTP connections the box serves at once, over HTTP and HTTPS together.
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// Open HTTP connections from one source (a browser opens about 6, a player 2).
pub(crate) const MAX_PER_SOURCE: usize = 32;

pub(crate) struct Gate {
    open: Mutex<Count>,
    total: usize,
    per_source: usize,
}

#[derive(Default)]
struct Count {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it lets the next one in.
pub(crate) struct Pass {
    gate: Arc<Gate>,
    source: IpAddr,
}

impl Gate {
    pub(crate) fn new(total: usize, per_source: usize) -> Arc<Gate> {
        Arc::new(Gate {
            open: Mutex::new(Count::default()),
            total,
            per_source,
        })
    }

    fn count(&self) -> std::sync::MutexGuard<'_, Count> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a connection from `ip` in, or not (the box is full, or this source is).
    pub(crate) fn admit(self: &Arc<Gate>, ip: IpAddr) -> Option<Pass> {
        let source = source_of(ip);
        let mut c = self.count();
        let mine = c.by_source.get(&source).copied().unwrap_or(0);
        if c.total >= self.total || mine >= self.per_source {
            return None;
        }
        c.total += 1;
        c.by_source.insert(source, mine + 1);
        Some(Pass {
            gate: self.clone(),
            source,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.count().total
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut c = self.gate.count();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                c.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn one_source_is_capped_and_others_still_get_in() {
        let gate = Gate::new(10, 3);
        let held: Vec<Pass> = (0..3).filter_map(|_| gate.admit(v4(1))).collect();
        assert_eq!(held.len(), 3);
        assert!(
            gate.admit(v4(1)).is_none(),
            "a fourth from the same address"
        );
        assert!(gate.admit(v4(2)).is_some(), "another address");
        let v6 = |n: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, n]);
        let six: Vec<Pass> = (1..=5).filter_map(|n| gate.admit(v6(n))).collect();
        assert_eq!(six.len(), 3, "one IPv6 /64 is one source");
    }

    #[test]
    fn the_total_is_capped_and_a_closed_connection_frees_its_place() {
        let gate = Gate::new(4, 4);
        let mut held: Vec<Pass> = (1..=4).filter_map(|n| gate.admit(v4(n))).collect();
        assert_eq!(gate.open(), 4);
        assert!(gate.admit(v4(9)).is_none(), "full");
        held.pop();
        assert_eq!(gate.open(), 3);
        assert!(gate.admit(v4(9)).is_some(), "a place came free");
        drop(held);
        assert_eq!(gate.open(), 0);
        assert!(gate.count().by_source.is_empty(), "nothing left behind");
    }
}
