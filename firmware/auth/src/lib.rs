//! Authentication policy for the control API, as pure state with time passed in: login
//! throttling with backoff, sessions with idle and absolute expiry, CSRF tokens bound to a
//! session. The HTTP layer (`fourcastd`'s `access` module) makes the random tokens, sets
//! the cookies and calls these.
//!
//! Everything here is bounded: a flood of addresses or logins evicts the oldest entries, it
//! cannot grow memory.

pub mod hls_url;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed logins allowed from one address before it has to wait.
pub const FREE_FAILURES: u32 = 3;
/// The first wait; it doubles with every further failure.
pub const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// A quiet address is forgiven after this long without a failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// A session ends after this long without a request…
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// …and after this long in any case.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    until: Option<Instant>,
}

/// Whether a login attempt may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused without checking the password; try again after this long.
    Wait(Duration),
}

/// Failed logins by source: an IPv4 address, or an IPv6 /64 (one host's share of a
/// network, which it can rotate through freely).
///
/// An attempt counts as a failure from the moment it is let through ([`attempt`]) until
/// it is known to have succeeded ([`succeeded`]), so a burst of parallel guesses is let
/// through only as far as the free attempts go, not checked in full.
///
/// [`attempt`]: LoginThrottle::attempt
/// [`succeeded`]: LoginThrottle::succeeded
pub struct LoginThrottle {
    by_source: HashMap<IpAddr, Failures>,
    capacity: usize,
}

/// What a login is throttled by: the address, or its IPv6 /64.
pub fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl LoginThrottle {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_source: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Lets a login attempt from `ip` be checked now, recording it as a failure until
    /// [`LoginThrottle::succeeded`] says otherwise; or says how long to wait first.
    pub fn attempt(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        let source = source_of(ip);
        if let Some(wait) = self.wait(source, now) {
            return Verdict::Wait(wait);
        }
        self.by_source
            .retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        if !self.by_source.contains_key(&source) && self.by_source.len() >= self.capacity {
            // Full: forget the source that failed longest ago.
            if let Some(oldest) = self
                .by_source
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(ip, _)| *ip)
            {
                self.by_source.remove(&oldest);
            }
        }
        let f = self.by_source.entry(source).or_insert(Failures {
            count: 0,
            last: now,
            until: None,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        let wait = wait_after(f.count);
        f.until = (!wait.is_zero()).then_some(now + wait);
        Verdict::Allowed
    }

    /// How long `ip` must wait before its next attempt, if at all.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        match self.by_source.get(&source_of(ip)).and_then(|f| f.until) {
            Some(until) if until > now => Some(until - now),
            _ => None,
        }
    }

    /// The attempt was right: its source starts afresh.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.by_source.remove(&source_of(ip));
    }
}

/// The wait after `failures` failures in a row: none for the free ones, then 1 s doubling to
/// 5 min.
pub fn wait_after(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None | Some(0) => Duration::ZERO,
        Some(extra) => FIRST_WAIT
            .saturating_mul(1u32 << (extra - 1).min(16))
            .min(MAX_WAIT),
    }
}

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    /// Sent back by the page in `X-CSRF-Token` on every state-changing request.
    pub csrf: String,
    pub created: Instant,
    pub last_seen: Instant,
}

/// Open sessions by token.
pub struct Sessions {
    by_token: HashMap<String, Session>,
    capacity: usize,
}

impl Sessions {
    pub fn new(capacity: usize) -> Self {
        Self {
            by_token: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Opens a session under `token` (random, made by the caller); the oldest session goes
    /// if there are too many.
    pub fn open(&mut self, token: String, user: &str, csrf: String, now: Instant) {
        self.expire(now);
        if self.by_token.len() >= self.capacity
            && let Some(oldest) = self
                .by_token
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(t, _)| t.clone())
        {
            self.by_token.remove(&oldest);
        }
        self.by_token.insert(
            token,
            Session {
                user: user.to_string(),
                csrf,
                created: now,
                last_seen: now,
            },
        );
    }

    /// The live session for `token`, its idle clock restarted; `None` if unknown or expired.
    pub fn touch(&mut self, token: &str, now: Instant) -> Option<&Session> {
        let alive = self.by_token.get(token).is_some_and(|s| alive(s, now));
        if !alive {
            self.by_token.remove(token);
            return None;
        }
        let s = self.by_token.get_mut(token)?;
        s.last_seen = now;
        Some(s)
    }

    pub fn close(&mut self, token: &str) {
        self.by_token.remove(token);
    }

    /// Ends every session (a password change).
    pub fn close_all(&mut self) {
        self.by_token.clear();
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        self.by_token.retain(|_, s| alive(s, now));
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.saturating_duration_since(s.last_seen) < IDLE
        && now.saturating_duration_since(s.created) < ABSOLUTE
}

/// The CSRF check for a state-changing request: the header must carry the session's token.
/// Compared in constant time.
pub fn csrf_ok(session: &Session, header: Option<&str>) -> bool {
    let Some(sent) = header else { return false };
    let (a, b) = (session.csrf.as_bytes(), sent.as_bytes());
    a.len() == b.len() && !a.is_empty() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn three_free_failures_then_one_second_doubling_to_five_minutes() {
        let waits: Vec<u64> = (1..=14).map(|n| wait_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(wait_after(u32::MAX), MAX_WAIT);
    }

    #[test]
    fn a_guessing_address_is_made_to_wait_and_others_are_not() {
        let mut t = LoginThrottle::new(16);
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(t.attempt(ip(1), now), Verdict::Allowed);
        }
        assert_eq!(t.wait(ip(1), now), Some(Duration::from_secs(1)));
        assert_eq!(t.attempt(ip(1), now), Verdict::Wait(Duration::from_secs(1)));
        assert_eq!(t.attempt(ip(2), now), Verdict::Allowed);
        let later = now + Duration::from_secs(1);
        assert_eq!(t.attempt(ip(1), later), Verdict::Allowed);
        assert_eq!(t.wait(ip(1), later), Some(Duration::from_secs(2)));
        t.succeeded(ip(1));
        assert_eq!(t.wait(ip(1), later), None, "success resets the count");
        assert_eq!(t.attempt(ip(1), later), Verdict::Allowed);
    }

    #[test]
    fn a_parallel_burst_is_let_through_only_as_far_as_the_free_attempts_go() {
        let mut t = LoginThrottle::new(16);
        let now = Instant::now();
        // 500 guesses arrive before any has been checked.
        let allowed = (0..500)
            .filter(|_| t.attempt(ip(1), now) == Verdict::Allowed)
            .count();
        assert_eq!(allowed as u32, FREE_FAILURES + 1);
    }

    #[test]
    fn an_ipv6_host_cannot_rotate_past_the_throttle_within_its_64() {
        let mut t = LoginThrottle::new(16);
        let now = Instant::now();
        let host = |n: u16| IpAddr::from([0x2001, 0xdb8, 0, 7, n, n, n, n]);
        let allowed = (0..500)
            .filter(|n| t.attempt(host(*n), now) == Verdict::Allowed)
            .count();
        assert_eq!(allowed as u32, FREE_FAILURES + 1);
        let neighbour = IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]);
        assert_eq!(t.attempt(neighbour, now), Verdict::Allowed, "another /64");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(source_of(mapped), ip(1), "IPv4-mapped is the IPv4 address");
    }

    #[test]
    fn a_quiet_address_is_forgiven_and_a_flood_of_addresses_stays_bounded() {
        let mut t = LoginThrottle::new(8);
        let now = Instant::now();
        for _ in 0..5 {
            t.attempt(ip(1), now);
        }
        let much_later = now + FORGET_AFTER + Duration::from_secs(1);
        assert_eq!(t.attempt(ip(1), much_later), Verdict::Allowed);
        assert_eq!(t.wait(ip(1), much_later), None, "counting from one again");
        for n in 0..200 {
            t.attempt(ip(n), much_later);
        }
        assert!(t.by_source.len() <= 8);
    }

    #[test]
    fn sessions_end_when_idle_or_old_and_stay_bounded() {
        let mut s = Sessions::new(4);
        let t0 = Instant::now();
        s.open("a".into(), "admin", "csrf-a".into(), t0);
        assert_eq!(
            s.touch("a", t0 + IDLE / 2).map(|x| x.user.as_str()),
            Some("admin")
        );
        // Touched at IDLE/2, so alive until IDLE/2 + IDLE.
        assert!(s.touch("a", t0 + IDLE).is_some());
        assert!(s.touch("a", t0 + IDLE * 2 + IDLE / 2).is_none(), "idle");
        s.open("b".into(), "admin", "csrf-b".into(), t0);
        let mut t = t0;
        while t < t0 + ABSOLUTE {
            assert!(s.touch("b", t).is_some());
            t += IDLE / 2;
        }
        assert!(s.touch("b", t0 + ABSOLUTE).is_none(), "absolute");
        assert!(s.touch("nope", t0).is_none());
        for n in 0..10 {
            s.open(
                format!("t{n}"),
                "admin",
                "c".into(),
                t0 + Duration::from_secs(n),
            );
        }
        assert_eq!(s.len(), 4);
        assert!(s.touch("t9", t0 + Duration::from_secs(10)).is_some());
        assert!(s.touch("t0", t0 + Duration::from_secs(10)).is_none());
    }

    #[test]
    fn csrf_needs_the_sessions_own_token() {
        let now = Instant::now();
        let session = Session {
            user: "admin".into(),
            csrf: "k3y".into(),
            created: now,
            last_seen: now,
        };
        assert!(csrf_ok(&session, Some("k3y")));
        assert!(!csrf_ok(&session, Some("k3z")));
        assert!(!csrf_ok(&session, Some("k3")));
        assert!(!csrf_ok(&session, None));
        let empty = Session {
            csrf: String::new(),
            ..session
        };
        assert!(!csrf_ok(&empty, Some("")));
    }
}
