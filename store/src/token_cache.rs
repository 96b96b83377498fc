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
//! call of a revoked device is refused. Several server processes sharing
//! one PostgreSQL see another process's revocation only when their entry
//! expires: [`TOKEN_TTL`] bounds that window.

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
    entries: Mutex<HashMap<String, (DeviceCtx, Instant)>>,
}

impl TokenCache {
    /// The device for a token hash, if it was checked less than
    /// [`TOKEN_TTL`] ago.
    pub fn get(&self, hash: &str) -> Option<DeviceCtx> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < TOKEN_TTL)
            .map(|(ctx, _)| ctx.clone())
    }

    /// Remembers a token the database just confirmed.
    pub fn put(&self, hash: String, ctx: DeviceCtx) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (ctx, Instant::now()));
    }

    /// Forgets every token of a device (its revocation).
    pub fn forget_device(&self, device_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (ctx, _)| ctx.device_id != device_id);
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
        cache.put("h1".into(), ctx("D1"));
        cache.put("h2".into(), ctx("D2"));
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
        cache
            .entries
            .lock()
            .unwrap()
            .insert("h".into(), (ctx("D"), stale));
        assert_eq!(cache.get("h"), None);
    }
}
