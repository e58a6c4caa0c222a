//! Known devices: the console's proof that a browser has signed in to an account before.
//!
//! Guessing an operator's password from many addresses is stopped by a per-account lockout
//! (`service::operators`). A lockout alone would let anyone lock the owner out too, so a
//! browser that signed in successfully gets a *device cookie* for that account, and attempts
//! that carry it are counted per device instead of per account (OWASP, "Slow down online
//! guessing attacks with device cookies"). An attacker without the owner's browser meets the
//! account's lockout; the owner, from their usual browser and an address that is not
//! throttled, still gets in.
//!
//! A device cookie is `d1.<issued>.<nonce>.<mac>`: the issue time (Unix seconds), 16 random
//! bytes and `HMAC-SHA256(key, "d1.<issued>.<nonce>." ‖ account)` in base64url, where the
//! account is the normalised email and the key is derived from the KEK
//! ([`crate::kek::Kek::derive_key`]) — so the cookie names no account, cannot be
//! moved to another account, and no database row is needed. It lives
//! [`DEVICE_LIFETIME_SECS`]. It grants nothing by itself: the password (and the code) are still
//! checked; it only chooses which failure budget the attempt draws from.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::kek::Kek;

/// A device cookie is honoured this long after it was issued (each sign-in issues a new one).
pub const DEVICE_LIFETIME_SECS: i64 = 90 * 24 * 3600;
const VERSION: &str = "d1";
/// The HKDF purpose of the device-cookie key.
const PURPOSE: &str = "caseforge console device cookie v1";

/// The key that signs device cookies.
#[derive(Clone)]
pub struct DeviceKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKeys(***)")
    }
}

/// A verified device: the budget key of its attempts (the cookie's nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device(String);

impl Device {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl DeviceKeys {
    pub fn new(kek: &Kek) -> Self {
        DeviceKeys {
            key: kek.derive_key(PURPOSE),
        }
    }

    fn mac(&self, body: &str, account: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("invariant: HMAC accepts a 32-byte key");
        mac.update(body.as_bytes());
        mac.update(b".");
        mac.update(account.as_bytes());
        mac
    }

    /// A new cookie value for `account` (a normalised email) at `now_secs`.
    pub fn issue(&self, account: &str, now_secs: i64) -> String {
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let body = format!("{VERSION}.{now_secs}.{nonce}");
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&body, account).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The device of `value` when it is a cookie this server issued for `account` and it has
    /// not expired at `now_secs`. The MAC is compared in constant time.
    pub fn verify(&self, value: &str, account: &str, now_secs: i64) -> Option<Device> {
        if value.len() > 128 {
            return None;
        }
        let (body, tag) = value.rsplit_once('.')?;
        let mut parts = body.split('.');
        let (version, issued, nonce) = (parts.next()?, parts.next()?, parts.next()?);
        if version != VERSION || parts.next().is_some() || nonce.len() != 22 {
            return None;
        }
        let issued: i64 = issued.parse().ok()?;
        if issued > now_secs + 60 || now_secs - issued > DEVICE_LIFETIME_SECS {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(body, account).verify_slice(&tag).ok()?;
        Some(Device(nonce.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_cookie_verifies_for_its_account_only_and_expires() {
        let keys = DeviceKeys::new(&Kek::from_bytes([1; 32]));
        let now = 1_800_000_000;
        let cookie = keys.issue("ada@example.com", now);
        let device = keys.verify(&cookie, "ada@example.com", now + 10).unwrap();
        assert_eq!(device.as_str().len(), 22);
        assert!(!cookie.contains("ada"), "the cookie names no account");
        assert_eq!(keys.verify(&cookie, "bob@example.com", now), None);
        assert_eq!(
            keys.verify(&cookie, "ada@example.com", now + DEVICE_LIFETIME_SECS + 1),
            None
        );
        // Another KEK's cookie, a changed byte, or junk: not a device.
        let other = DeviceKeys::new(&Kek::from_bytes([2; 32]));
        assert_eq!(other.verify(&cookie, "ada@example.com", now), None);
        let mut forged = cookie.clone().into_bytes();
        let i = forged.len() - 3;
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(keys.verify(&forged, "ada@example.com", now), None);
        for junk in ["", "d1", "d1.x.y.z", &"a".repeat(500)] {
            assert_eq!(keys.verify(junk, "ada@example.com", now), None);
        }
        // Two issues are two devices.
        let again = keys.issue("ada@example.com", now);
        assert_ne!(
            keys.verify(&again, "ada@example.com", now),
            Some(device.clone())
        );
    }
}
