//! A small, bounded memo of tokens that passed signature verification, keyed by the SHA-256 of
//! the token. It remembers only that a token's signature checked out under one key-store epoch;
//! the caller re-checks the time claims (exp, nbf), audience and issuer on every hit, and looks
//! up everything that can be revoked (a session) on every request.
//!
//! - Bounded: at most `capacity` entries; inserting into a full cache drops the oldest entry.
//! - Epoch: every lookup and insert names the current epoch (what the verifying keys are); an
//!   epoch other than the cache's empties it first, so a key retired, deleted or replaced never
//!   vouches for a token again.
//! - Keyed by a digest: the token itself is not kept; SHA-256 collisions are not a concern.

use std::collections::VecDeque;

use crate::token;

/// A SHA-256 digest of a token.
pub type Digest = [u8; 32];

/// The digest the cache is keyed by.
pub fn digest(token: &str) -> Digest {
    let d = token::sha256(token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&d);
    out
}

#[derive(Debug)]
pub struct TokenCache<E, T> {
    capacity: usize,
    epoch: Option<E>,
    entries: VecDeque<(Digest, T)>,
}

impl<E: PartialEq, T> TokenCache<E, T> {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity: capacity.max(1),
            epoch: None,
            entries: VecDeque::new(),
        }
    }

    fn enter(&mut self, epoch: E) {
        if self.epoch.as_ref() != Some(&epoch) {
            self.entries.clear();
            self.epoch = Some(epoch);
        }
    }

    /// The entry of `digest` under `epoch`.
    pub fn get(&mut self, epoch: E, digest: &Digest) -> Option<&T> {
        self.enter(epoch);
        self.entries
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, v)| v)
    }

    /// Forgets the entry of `digest` (a token whose time claims no longer pass).
    pub fn remove(&mut self, digest: &Digest) {
        self.entries.retain(|(d, _)| d != digest);
    }

    /// Remembers `value` for `digest` under `epoch`, replacing an entry of the same digest and
    /// dropping the oldest entries beyond the capacity.
    pub fn insert(&mut self, epoch: E, digest: Digest, value: T) {
        self.enter(epoch);
        self.remove(&digest);
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((digest, value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256() {
        // SHA-256("abc"), FIPS 180-2 B.1.
        assert_eq!(
            digest("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "{:02x?}",
            digest("abc")
        );
        assert_ne!(digest("a.b.c"), digest("a.b.d"));
    }

    #[test]
    fn bounded_oldest_first() {
        let mut c: TokenCache<u64, u32> = TokenCache::new(3);
        for i in 0..5u32 {
            c.insert(1, digest(&i.to_string()), i);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(1, &digest("0")), None);
        assert_eq!(c.get(1, &digest("1")), None);
        for i in 2..5u32 {
            assert_eq!(c.get(1, &digest(&i.to_string())), Some(&i));
        }
        // Re-inserting replaces, it does not duplicate.
        c.insert(1, digest("4"), 40);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(1, &digest("4")), Some(&40));
        c.remove(&digest("4"));
        assert_eq!(c.get(1, &digest("4")), None);
        assert_eq!(c.len(), 2);
        assert!(TokenCache::<u64, u32>::new(0).is_empty());
    }

    #[test]
    fn another_epoch_empties_it() {
        let mut c: TokenCache<(u64, u8), &str> = TokenCache::new(8);
        c.insert((1, 0), digest("t"), "claims");
        assert_eq!(c.get((1, 0), &digest("t")), Some(&"claims"));
        assert_eq!(c.get((2, 0), &digest("t")), None);
        assert!(c.is_empty());
        // Going back does not bring it back either.
        assert_eq!(c.get((1, 0), &digest("t")), None);
        c.insert((1, 0), digest("t"), "claims");
        assert_eq!(c.get((1, 1), &digest("t")), None);
    }
}
