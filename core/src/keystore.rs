//! Which key verifies a token and which key signs: the rules of the key store, over entries the
//! SQL layer loads from `auth_private.signing_keys` (generic over the key type, so they are tested
//! here without any key material).
//!
//! A key's state decides what it does:
//!
//! | state    | published (`auth.jwks()`) | verifies | signs |
//! |----------|---------------------------|----------|-------|
//! | standby  | yes                       | yes      | no    |
//! | active   | yes                       | yes      | yes (exactly one) |
//! | previous | yes                       | yes      | no    |
//! | retired  | no                        | no       | no    |
//!
//! A standby key verifies because it is published: every other verifier that reads the key set
//! (PostgREST among them) accepts its tokens, and the database agrees with them. The key of the
//! `auth.jwt_secret` setting has no kid; it is the fallback for tokens without one.

use crate::error::Rejection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Standby,
    Active,
    Previous,
    Retired,
}

impl KeyState {
    pub fn from_name(name: &str) -> Option<KeyState> {
        match name {
            "standby" => Some(KeyState::Standby),
            "active" => Some(KeyState::Active),
            "previous" => Some(KeyState::Previous),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyState::Standby => "standby",
            KeyState::Active => "active",
            KeyState::Previous => "previous",
            KeyState::Retired => "retired",
        }
    }

    pub fn verifies(self) -> bool {
        self != KeyState::Retired
    }
}

/// One key of the store as the rules see it.
#[derive(Debug)]
pub struct Entry<K> {
    pub kid: String,
    pub state: KeyState,
    pub key: K,
}

/// The key that verifies a token whose header has `kid`:
/// - with a kid: the stored key of that kid, unless it is retired (`RetiredKey`) or unknown
///   (`UnknownKey`) — the settings key has no kid, so it never answers a token that names one;
/// - without a kid: the settings key when there is one (tokens of 0.1.0 and of setups that never
///   used the store), else the one stored key that verifies, else `MissingKeyId`.
///
/// The caller then requires the token's `alg` to be the chosen key's algorithm.
pub fn select<'a, K>(
    kid: Option<&str>,
    entries: &'a [Entry<K>],
    settings_key: Option<&'a K>,
) -> Result<&'a K, Rejection> {
    match kid {
        Some(kid) => match entries.iter().find(|e| e.kid == kid) {
            None => Err(Rejection::UnknownKey),
            Some(e) if !e.state.verifies() => Err(Rejection::RetiredKey),
            Some(e) => Ok(&e.key),
        },
        None => {
            if let Some(key) = settings_key {
                return Ok(key);
            }
            let mut verifying = entries.iter().filter(|e| e.state.verifies());
            match (verifying.next(), verifying.next()) {
                (Some(only), None) => Ok(&only.key),
                _ => Err(Rejection::MissingKeyId),
            }
        }
    }
}

/// The key that signs: the active stored key (with its kid), else the settings key (no kid).
pub fn signer<'a, K>(
    entries: &'a [Entry<K>],
    settings_key: Option<&'a K>,
) -> Option<(&'a K, Option<&'a str>)> {
    entries
        .iter()
        .find(|e| e.state == KeyState::Active)
        .map(|e| (&e.key, Some(e.kid.as_str())))
        .or(settings_key.map(|k| (k, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kid: &str, state: KeyState, key: u8) -> Entry<u8> {
        Entry {
            kid: kid.into(),
            state,
            key,
        }
    }

    #[test]
    fn states_round_trip_and_are_closed() {
        for s in [
            KeyState::Standby,
            KeyState::Active,
            KeyState::Previous,
            KeyState::Retired,
        ] {
            assert_eq!(KeyState::from_name(s.name()), Some(s));
        }
        for bad in ["", "Active", "revoked", "active "] {
            assert_eq!(KeyState::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_kid_picks_its_key_unless_retired_or_unknown() {
        let store = [
            entry("a", KeyState::Previous, 1),
            entry("b", KeyState::Active, 2),
            entry("c", KeyState::Standby, 3),
            entry("d", KeyState::Retired, 4),
        ];
        assert_eq!(select(Some("a"), &store, None), Ok(&1));
        assert_eq!(select(Some("b"), &store, Some(&9)), Ok(&2));
        assert_eq!(select(Some("c"), &store, None), Ok(&3));
        assert_eq!(
            select(Some("d"), &store, Some(&9)),
            Err(Rejection::RetiredKey)
        );
        assert_eq!(
            select(Some("e"), &store, Some(&9)),
            Err(Rejection::UnknownKey),
            "the settings key never answers a token that names a kid"
        );
        assert_eq!(select(Some("B"), &store, None), Err(Rejection::UnknownKey));
    }

    #[test]
    fn without_a_kid_the_settings_key_or_the_single_candidate() {
        let store = [
            entry("a", KeyState::Active, 1),
            entry("d", KeyState::Retired, 4),
        ];
        assert_eq!(select(None, &store, Some(&9)), Ok(&9));
        assert_eq!(select(None, &store, None), Ok(&1), "one key verifies");
        let two = [
            entry("a", KeyState::Active, 1),
            entry("b", KeyState::Previous, 2),
        ];
        assert_eq!(select(None, &two, None), Err(Rejection::MissingKeyId));
        let none = [entry("d", KeyState::Retired, 4)];
        assert_eq!(select(None, &none, None), Err(Rejection::MissingKeyId));
        assert_eq!(select::<u8>(None, &[], None), Err(Rejection::MissingKeyId));
    }

    #[test]
    fn the_active_key_signs_else_the_settings_key() {
        let store = [
            entry("a", KeyState::Previous, 1),
            entry("b", KeyState::Active, 2),
        ];
        assert_eq!(signer(&store, Some(&9)), Some((&2, Some("b"))));
        let no_active = [entry("a", KeyState::Standby, 1)];
        assert_eq!(signer(&no_active, Some(&9)), Some((&9, None)));
        assert_eq!(signer(&no_active, None), None);
    }
}
