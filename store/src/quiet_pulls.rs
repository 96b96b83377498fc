//! Answering a device's pull that has nothing new without asking
//! PostgreSQL.
//!
//! Every tablet pulls its feed every few seconds, and almost every pull
//! finds nothing new. With 1,000 devices and several instances on one
//! PostgreSQL those empty pulls were most of the database's queries, and
//! under load their p99 was the time spent queueing for the database. Each
//! instance therefore keeps, in memory, the newest feed item of each officer
//! it has seen and the tokens of devices it has authenticated; PostgreSQL
//! tells every instance of each change through `LISTEN`/`NOTIFY` (the
//! triggers of migration `0014_quiet_pulls`, notifications delivered when
//! the changing transaction commits). A pull whose cursor is at or past its
//! officer's newest item, from a token known to be valid, gets an empty
//! page from memory.
//!
//! Only empty answers come from memory: a pull with anything to deliver
//! reads the database, which checks the token in the same statement, and
//! every other device request checks the token in the database as before.
//! So a revoked device can at most be told "nothing new" for the moment
//! the revocation's notification takes to arrive; it never gets data.
//!
//! What is remembered is only trusted while the listening connection has
//! been up since it was read: when the connection drops, everything is
//! forgotten (notifications may have been missed) and each pull reads the
//! database again until it is back. SQLite (one process, fast reads) does
//! not use this.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::sync::DeviceCtx;

/// The channel the feed trigger notifies: `person_id TAB newest seq`.
const FEED_CHANNEL: &str = "choucha_feed";
/// The channel the devices trigger notifies: the changed device's token hash.
const DEVICES_CHANNEL: &str = "choucha_devices";

/// More entries than this and a map starts over (a bound on memory far
/// above any bureau's devices and officers).
const MAX_ENTRIES: usize = 200_000;

/// Every `QuietPulls` of this process, for writes that add feed items deep
/// inside a transaction with no store at hand (a 复查 task made while a
/// push is ingested): [`forget_everywhere`]. Forgetting an officer in a
/// store of another database only costs that store a database read.
static ALL: Mutex<Vec<std::sync::Weak<QuietPulls>>> = Mutex::new(Vec::new());

/// [`QuietPulls::forget_officers`] in every store of this process. Called
/// before the transaction commits: a pull under way may still remember the
/// feed as it was, until the commit's notification (milliseconds); a pull
/// after the writing request's answer reads the database.
pub fn forget_everywhere(officers: &[String]) {
    let mut all = ALL.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|q| match q.upgrade() {
        Some(q) => {
            q.forget_officers(officers.iter().map(String::as_str));
            true
        }
        None => false,
    });
}

#[derive(Debug, Default)]
pub struct QuietPulls {
    inner: Mutex<Inner>,
    /// Tells the listener to close its connection and end.
    stop: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Inner {
    /// Whether the listener is connected; nothing is trusted otherwise.
    live: bool,
    /// Bumped at every (re)connection: what was read before it may have
    /// missed a notification.
    epoch: u64,
    /// Bumped at every device notification: a token read before it may
    /// have been revoked since.
    device_changes: u64,
    /// Bumped when this process added feed items: a feed read before it
    /// may predate them.
    feed_changes: u64,
    tokens: HashMap<String, DeviceCtx>,
    /// The newest feed seq of each officer, at least as new as the
    /// database's (notifications only ever raise it).
    newest: HashMap<String, i64>,
}

/// Taken before a pull reads the database; what it read is only remembered
/// if nothing it depends on changed meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
    device_changes: u64,
    feed_changes: u64,
}

impl QuietPulls {
    /// The device of `token_hash` when a pull from `cursor` has nothing new
    /// for it, as far as the notifications tell.
    pub fn nothing_new(&self, token_hash: &str, cursor: i64) -> Option<DeviceCtx> {
        let inner = self.lock();
        if !inner.live {
            return None;
        }
        let ctx = inner.tokens.get(token_hash)?;
        let newest = *inner.newest.get(&ctx.officer_id)?;
        (newest <= cursor).then(|| ctx.clone())
    }

    pub fn ticket(&self) -> Ticket {
        let inner = self.lock();
        Ticket {
            epoch: inner.epoch,
            device_changes: inner.device_changes,
            feed_changes: inner.feed_changes,
        }
    }

    /// What a pull read: the token is valid for `ctx`, and the officer's
    /// feed has nothing after `newest` (the last item delivered, or the
    /// cursor when nothing was). Ignored when the listener reconnected, or a
    /// device changed, since `ticket` was taken.
    pub fn learn(&self, ticket: Ticket, token_hash: &str, ctx: &DeviceCtx, newest: i64) {
        let mut inner = self.lock();
        if !inner.live || inner.epoch != ticket.epoch {
            return;
        }
        if inner.feed_changes == ticket.feed_changes {
            if inner.newest.len() >= MAX_ENTRIES {
                inner.newest.clear();
            }
            // A notification may already have raised it past what was read.
            let slot = inner.newest.entry(ctx.officer_id.clone()).or_insert(newest);
            *slot = (*slot).max(newest);
        }
        if inner.device_changes == ticket.device_changes {
            if inner.tokens.len() >= MAX_ENTRIES {
                inner.tokens.clear();
            }
            inner.tokens.insert(token_hash.to_owned(), ctx.clone());
        }
    }

    fn connected(&self) {
        let mut inner = self.lock();
        inner.live = true;
        inner.epoch += 1;
        inner.tokens.clear();
        inner.newest.clear();
    }

    fn disconnected(&self) {
        let mut inner = self.lock();
        inner.live = false;
        inner.epoch += 1;
        inner.tokens.clear();
        inner.newest.clear();
    }

    fn feed_changed(&self, person_id: &str, seq: i64) {
        let mut inner = self.lock();
        // Also for an officer not seen yet: a pull reading the database
        // before this commit must not remember an older newest item.
        let slot = inner.newest.entry(person_id.to_owned()).or_insert(seq);
        *slot = (*slot).max(seq);
    }

    /// This process has just committed feed items for `officers`: their
    /// next pulls read the database, without waiting for the notification
    /// (read-your-writes for whoever made the change and then syncs), and a
    /// pull that read the feed before the commit does not remember it.
    pub fn forget_officers<'a>(&self, officers: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.lock();
        inner.feed_changes += 1;
        for o in officers {
            inner.newest.remove(o);
        }
    }

    /// A device revoked through this process: forgotten at once, before
    /// the notification comes back.
    pub fn forget_device(&self, device_id: &str) {
        let mut inner = self.lock();
        inner.device_changes += 1;
        inner.tokens.retain(|_, ctx| ctx.device_id != device_id);
    }

    fn device_changed(&self, token_hash: &str) {
        let mut inner = self.lock();
        inner.device_changes += 1;
        inner.tokens.remove(token_hash);
    }

    /// Ends the listener (the store is closing).
    pub fn stop(&self) {
        self.disconnected();
        self.stop.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Listens on `url` until [`QuietPulls::stop`], reconnecting with a
    /// growing pause when the connection fails.
    pub fn spawn_listener(self: &std::sync::Arc<Self>, url: String) {
        ALL.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(std::sync::Arc::downgrade(self));
        let me = self.clone();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(100);
            loop {
                match me.listen(&url).await {
                    Ok(()) => return,
                    Err(e) => {
                        me.disconnected();
                        tracing::warn!(error = %e, "feed notifications lost; pulls read the database until reconnected");
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = me.stop.notified() => return,
                }
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        });
    }

    /// One connection's life: `Ok` when stopped.
    async fn listen(&self, url: &str) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen_all([FEED_CHANNEL, DEVICES_CHANNEL]).await?;
        self.connected();
        loop {
            let next = tokio::select! {
                n = listener.try_recv() => n?,
                () = self.stop.notified() => return Ok(()),
            };
            // `None`: the connection was lost. sqlx would reconnect on the
            // next call, but what was sent meanwhile is gone: start over.
            let Some(n) = next else {
                return Err(sqlx::Error::Protocol(
                    "notification connection closed".into(),
                ));
            };
            let me = &self;
            match n.channel() {
                FEED_CHANNEL => {
                    if let Some((person, seq)) = n.payload().split_once('\t') {
                        if let Ok(seq) = seq.parse() {
                            me.feed_changed(person, seq);
                        }
                    }
                }
                DEVICES_CHANNEL => me.device_changed(n.payload()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> DeviceCtx {
        DeviceCtx {
            device_id: "D1".into(),
            officer_id: "P1".into(),
        }
    }

    #[test]
    fn nothing_is_trusted_until_connected_and_after_a_drop() {
        let q = QuietPulls::default();
        q.learn(q.ticket(), "h", &ctx(), 5);
        assert_eq!(q.nothing_new("h", 5), None, "not connected");
        q.connected();
        q.learn(q.ticket(), "h", &ctx(), 5);
        assert_eq!(q.nothing_new("h", 5), Some(ctx()));
        assert_eq!(q.nothing_new("h", 4), None, "item 5 is new to cursor 4");
        q.disconnected();
        assert_eq!(q.nothing_new("h", 5), None);
    }

    #[test]
    fn a_notification_during_a_read_wins() {
        let q = QuietPulls::default();
        q.connected();
        let t = q.ticket();
        // Item 7 commits while the pull reads a snapshot without it.
        q.feed_changed("P1", 7);
        q.learn(t, "h", &ctx(), 5);
        assert_eq!(q.nothing_new("h", 5), None, "item 7 is still to deliver");
        assert_eq!(q.nothing_new("h", 7), Some(ctx()));
    }

    #[test]
    fn a_device_change_during_a_read_keeps_the_token_out() {
        let q = QuietPulls::default();
        q.connected();
        let t = q.ticket();
        q.device_changed("h");
        q.learn(t, "h", &ctx(), 5);
        assert_eq!(q.nothing_new("h", 5), None, "maybe revoked meanwhile");
        q.learn(q.ticket(), "h", &ctx(), 5);
        q.device_changed("h");
        assert_eq!(q.nothing_new("h", 5), None, "revoked");
        q.learn(q.ticket(), "h", &ctx(), 5);
        q.forget_device("D1");
        assert_eq!(q.nothing_new("h", 5), None, "revoked here");
    }

    #[test]
    fn feed_written_here_is_read_from_the_database_at_once() {
        let q = QuietPulls::default();
        q.connected();
        q.learn(q.ticket(), "h", &ctx(), 5);
        let t = q.ticket();
        // A return for P1 commits here; its notification is not in yet.
        q.forget_officers(["P1"]);
        assert_eq!(q.nothing_new("h", 5), None);
        // A pull that read before the commit does not put it back.
        q.learn(t, "h", &ctx(), 5);
        assert_eq!(q.nothing_new("h", 5), None);
    }

    #[test]
    fn a_reconnection_during_a_read_forgets_it() {
        let q = QuietPulls::default();
        q.connected();
        let t = q.ticket();
        q.disconnected();
        q.connected();
        q.learn(t, "h", &ctx(), 5);
        assert_eq!(q.nothing_new("h", 5), None);
    }
}
