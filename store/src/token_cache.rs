//! Device tokens already checked, kept in memory.
//!
//! Every device request (HEAD, PATCH, pull, push) authenticates with its
//! token. Looking it up in the database each time costs a pooled connection
//! per request; with 200 devices uploading at once those lookups queued for
//! the same few connections as the pulls and pushed pull p99 past 200 ms.
//! Tokens are 256-bit random values, enrolled once and revoked rarely, so a
//! positive answer is remembered here.
//!
//! Revocation through this process clears the cache at once, so the next
//! call of a revoked device is refused — also one whose lookup read the
//! database before the revocation committed and comes back after it: a
//! lookup takes a [`Ticket`] before it reads, and what it read is only
//! remembered when no device was revoked meanwhile.
//!
//! Only a SQLite server uses it: SQLite has one server process, so every
//! revocation passes through this cache. Instances sharing a PostgreSQL
//! database ask it on every request instead — a cache here would keep
//! trusting a device another instance revoked until its entry expired.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sync::DeviceCtx;

/// How long a checked token is trusted without asking the database again.
pub const TOKEN_TTL: Duration = Duration::from_secs(30);

/// More entries than this and the cache starts over: a bound on memory
/// against a flood of distinct (valid) tokens, far above any bureau's
/// device count.
const MAX_ENTRIES: usize = 100_000;

/// Token hash → the device it authenticates, and when that was read.
#[derive(Debug, Default)]
pub struct TokenCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, (DeviceCtx, Instant)>,
    /// Revocations seen so far.
    revocations: u64,
}

/// Taken before a lookup reads the database: what it read is only
/// remembered if no device was revoked since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl TokenCache {
    /// The device for a token hash, if it was checked less than
    /// [`TOKEN_TTL`] ago.
    pub fn get(&self, hash: &str) -> Option<DeviceCtx> {
        let inner = self.lock();
        inner
            .entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < TOKEN_TTL)
            .map(|(ctx, _)| ctx.clone())
    }

    /// To be taken before the database is asked about a token.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().revocations)
    }

    /// Remembers a token the database confirmed after `ticket` was taken,
    /// unless a device was revoked since: that read may predate the
    /// revocation (the next lookup asks the database again).
    pub fn put(&self, ticket: Ticket, hash: String, ctx: DeviceCtx) {
        let mut inner = self.lock();
        if inner.revocations != ticket.0 {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(hash, (ctx, Instant::now()));
    }

    /// Forgets every token of a device (its revocation), and makes every
    /// lookup under way forget what it read.
    pub fn forget_device(&self, device_id: &str) {
        let mut inner = self.lock();
        inner.revocations += 1;
        inner
            .entries
            .retain(|_, (ctx, _)| ctx.device_id != device_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(device: &str) -> DeviceCtx {
        DeviceCtx {
            device_id: device.into(),
            officer_id: "P1".into(),
        }
    }

    #[test]
    fn remembers_until_the_device_is_revoked() {
        let cache = TokenCache::default();
        assert_eq!(cache.get("h1"), None);
        cache.put(cache.ticket(), "h1".into(), ctx("D1"));
        cache.put(cache.ticket(), "h2".into(), ctx("D2"));
        assert_eq!(cache.get("h1"), Some(ctx("D1")));
        cache.forget_device("D1");
        assert_eq!(cache.get("h1"), None);
        assert_eq!(cache.get("h2"), Some(ctx("D2")));
    }

    #[test]
    fn an_old_entry_is_not_trusted() {
        let cache = TokenCache::default();
        let stale = Instant::now()
            .checked_sub(TOKEN_TTL + Duration::from_secs(1))
            .expect("machine up longer than the TTL");
        cache.lock().entries.insert("h".into(), (ctx("D"), stale));
        assert_eq!(cache.get("h"), None);
    }

    /// The race: a lookup reads the device as valid, the device is revoked
    /// and forgotten, then the lookup remembers what it read. The revoked
    /// token must not be trusted for the next [`TOKEN_TTL`].
    #[test]
    fn a_lookup_that_read_before_a_revocation_is_not_remembered() {
        let cache = TokenCache::default();
        let ticket = cache.ticket();
        // ... the database says h1 is D1, valid ...
        cache.forget_device("D1");
        cache.put(ticket, "h1".into(), ctx("D1"));
        assert_eq!(cache.get("h1"), None);
        // A lookup begun after the revocation is remembered again.
        cache.put(cache.ticket(), "h2".into(), ctx("D2"));
        assert_eq!(cache.get("h2"), Some(ctx("D2")));
    }
}
