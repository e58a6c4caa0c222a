//! DPoP proofs (RFC 9449 §4.3), checked the same way by the auth server's token endpoint and
//! the resource API.
//!
//! A proof is accepted when, in this order:
//! 1. there is exactly one `DPoP` header, and it parses as [`crate::jose`] demands (size,
//!    base64url, no duplicate JSON members, `alg` ES256 / EdDSA / PS256, no `x5c`/`jku`/…);
//! 2. `typ` is `dpop+jwt` and `jwk` is a public EC P-256, Ed25519 or RSA ≥ 2048 key (a private
//!    member, an unknown `kty` or `crv` refuses it) of the proof's algorithm;
//! 3. the signature verifies with that key;
//! 4. `htm` is the request's method and `htu` its URL as the client addressed it — under
//!    `AUTH_ISSUER` or `API_PUBLIC_URL`, never the `Host` header — comparing scheme and host
//!    case-insensitively (default ports dropped) and the path exactly, query and fragment
//!    ignored (§4.3 step 9);
//! 5. `iat` is at most [`IAT_PAST_SECS`] old and at most [`LEEWAY_SECS`] ahead;
//! 6. on a resource request, `ath` is the base64url SHA-256 of the access token;
//! 7. `jti` is present — its single use within the window is the caller's (through
//!    [`crate::replay::ReplayGuard`], with [`Proof::replay_until`]).
//!
//! [`Refusal`]s are a closed set (metric labels) and carry no part of the proof.
//!
//! Every proof of one key carries the same header segment (`typ`, `alg`, `jwk`), and what steps
//! 1–2 make of it is a function of that text alone: the checked header and the parsed key (with
//! its thumbprint) are kept per segment in a bounded process-wide cache, so that a client's
//! proofs after its first cost the payload's parse and the signature, not the key's. Only a
//! header that passed steps 1–2 is kept; the signature (step 3) is verified on every proof.

use std::sync::{Arc, OnceLock};

use crate::claims::LEEWAY_SECS;
use crate::jose::{Header, JoseError, Jws, PublicJwk};

/// How old a proof may be (its `iat`): long enough for a slow network, short enough that a
/// captured proof is of little use and the replay cache stays small.
pub const IAT_PAST_SECS: i64 = 60;

/// The algorithms accepted in proofs (as metadata and `WWW-Authenticate` list them).
pub const ALGS: &str = "ES256 EdDSA PS256";

/// Server nonces (RFC 9449 §8 and §9), on when `DPOP_NONCE_KEY` is set: stateless, so that
/// every replica of both services issues and accepts the same ones. The nonce of a 60-second
/// window is base64url(HMAC-SHA256(key, "caseforge dpop-nonce v1" ‖ window)); a proof must
/// carry the current window's or the previous one's (so a nonce lives 60 to 120 s).
#[derive(Clone)]
pub struct Nonces {
    key: Vec<u8>,
}

/// How long one nonce window lasts.
pub const NONCE_WINDOW_SECS: i64 = 60;

impl Nonces {
    pub fn new(key: &crate::Secret) -> Nonces {
        Nonces {
            key: key.expose().as_bytes().to_vec(),
        }
    }

    fn of_window(&self, window: i64) -> String {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key)
            .expect("invariant: HMAC takes a key of any length");
        mac.update(b"caseforge dpop-nonce v1");
        mac.update(&window.to_be_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The nonce to give clients at `now` (Unix seconds).
    pub fn current(&self, now: i64) -> String {
        self.of_window(now.div_euclid(NONCE_WINDOW_SECS))
    }

    /// Whether `nonce` is the current window's or the previous one's.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let w = now.div_euclid(NONCE_WINDOW_SECS);
        [w, w - 1]
            .iter()
            .any(|w| crate::secret::ct_eq(self.of_window(*w).as_bytes(), nonce.as_bytes()))
    }
}

/// Why a proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nonces are on and the proof has none, or a stale one: retry with `DPoP-Nonce`.
    UseNonce,
    /// No `DPoP` header where one is required.
    Missing,
    /// Two `DPoP` headers.
    Multiple,
    /// Not a well-formed JWS, or a refused header member.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    Type,
    /// `alg` not ES256, EdDSA or PS256.
    Algorithm,
    /// No `jwk`, or not an accepted public key.
    Key,
    /// The signature does not verify with the `jwk`.
    Signature,
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's URL.
    Url,
    /// `iat` missing, too old or in the future.
    Time,
    /// `jti` missing or malformed.
    Jti,
    /// `ath` missing or not the token's hash.
    TokenHash,
    /// The proof's key is not the one the token is bound to.
    KeyMismatch,
    /// The `jti` was seen before.
    Replayed,
}

impl Refusal {
    /// The metric label (`reason="dpop_…"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UseNonce => "dpop_use_nonce",
            Refusal::Missing => "dpop_missing",
            Refusal::Multiple => "dpop_multiple",
            Refusal::Malformed => "dpop_malformed",
            Refusal::Type => "dpop_type",
            Refusal::Algorithm => "dpop_algorithm",
            Refusal::Key => "dpop_key",
            Refusal::Signature => "dpop_signature",
            Refusal::Method => "dpop_method",
            Refusal::Url => "dpop_url",
            Refusal::Time => "dpop_time",
            Refusal::Jti => "dpop_jti",
            Refusal::TokenHash => "dpop_ath",
            Refusal::KeyMismatch => "dpop_key_mismatch",
            Refusal::Replayed => "dpop_replayed",
        }
    }

    /// A sentence for the client.
    pub fn description(self) -> &'static str {
        match self {
            Refusal::UseNonce => "Retry with a DPoP proof that carries the nonce of the DPoP-Nonce header.",
            Refusal::Missing => "A DPoP proof is required (the DPoP header).",
            Refusal::Multiple => "Send exactly one DPoP header.",
            Refusal::Malformed => "The DPoP proof is not a well-formed JWT.",
            Refusal::Type => "The DPoP proof's typ must be dpop+jwt.",
            Refusal::Algorithm => "The DPoP proof must be signed with ES256, EdDSA or PS256.",
            Refusal::Key => "The DPoP proof's jwk must be a public EC P-256, Ed25519 or RSA (2048 bits or more) key of its algorithm.",
            Refusal::Signature => "The DPoP proof's signature does not verify with its jwk.",
            Refusal::Method => "The DPoP proof's htm is not this request's method.",
            Refusal::Url => "The DPoP proof's htu is not this request's URL.",
            Refusal::Time => "The DPoP proof's iat is missing, too old or in the future.",
            Refusal::Jti => "The DPoP proof needs a jti.",
            Refusal::TokenHash => "The DPoP proof's ath is missing or is not the access token's hash.",
            Refusal::KeyMismatch => "The DPoP proof is not signed by the key the access token is bound to.",
            Refusal::Replayed => "This DPoP proof has been used before; make a new proof for every request.",
        }
    }
}

impl From<JoseError> for Refusal {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::Malformed | JoseError::Header => Refusal::Malformed,
            JoseError::Algorithm => Refusal::Algorithm,
            JoseError::Key(_) => Refusal::Key,
            JoseError::Signature => Refusal::Signature,
        }
    }
}

/// A proof whose every check but the replay one passed.
#[derive(Debug, Clone)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's key (`cnf.jkt`).
    pub jkt: String,
    pub jti: String,
    /// Until when (Unix seconds) the `jti` must be remembered: after it, the proof is refused
    /// for its `iat` anyway.
    pub replay_until: i64,
}

/// A proof header segment that passed steps 1–2: its checked header and its key.
type KnownHeader = Arc<(Arc<Header>, PublicJwk)>;

/// The cache of [`KnownHeader`]s, weighed in (approximate) bytes.
fn known_headers() -> &'static moka::sync::Cache<Box<str>, KnownHeader> {
    /// 16 MiB: about 10,000 EC or Ed25519 keys, 3,000 RSA ones.
    const MAX_BYTES: u64 = 16 << 20;
    static CACHE: OnceLock<moka::sync::Cache<Box<str>, KnownHeader>> = OnceLock::new();
    CACHE.get_or_init(|| {
        // The segment, and the parsed header and key: about as much again, plus overhead.
        #[allow(clippy::borrowed_box)] // moka's weigher takes &K
        fn weight(segment: &Box<str>, _: &KnownHeader) -> u32 {
            (2 * segment.len() + 512) as u32
        }
        moka::sync::Cache::builder()
            .max_capacity(MAX_BYTES)
            .weigher(weight)
            .build()
    })
}

/// Checks `proof` for a request `htm` to `htu` at `now` (Unix seconds); with `token_sha256`
/// (the access token's SHA-256, which the resource API has computed already), also its `ath`; with `nonces`, its `nonce` (checked last, so that a client told to use a
/// nonce has a proof that is otherwise right). The module's list, but for the `jti`'s single use.
pub fn check(
    proof: &str,
    htm: &str,
    htu: &str,
    token_sha256: Option<&[u8; 32]>,
    nonces: Option<&Nonces>,
    now: i64,
) -> Result<Proof, Refusal> {
    let cache = known_headers();
    let mut known = None;
    let jws = Jws::parse_with(proof, |segment| match cache.get(segment) {
        Some(k) => {
            let header = k.0.clone();
            known = Some(k);
            Ok(header)
        }
        None => Header::parse(segment).map(Arc::new),
    })?;
    if jws.typ() != Some("dpop+jwt") {
        return Err(Refusal::Type);
    }
    let (known, new) = match known {
        Some(k) => (k, false),
        None => {
            let jwk = jws.header().get("jwk").ok_or(Refusal::Key)?;
            let key = PublicJwk::parse(jwk).map_err(|_| Refusal::Key)?;
            (Arc::new((jws.shared_header(), key)), true)
        }
    };
    jws.verify_with(&known.1)?;
    if new {
        // Cached once a proof under it verified: only headers whose key signed something.
        cache.insert(jws.header_segment().into(), known.clone());
    }
    let key = &known.1;
    if jws.claim_str("htm") != Some(htm) {
        return Err(Refusal::Method);
    }
    match jws.claim_str("htu") {
        Some(u) if same_url(u, htu) => {}
        _ => return Err(Refusal::Url),
    }
    let iat = jws.claim_time("iat").ok_or(Refusal::Time)?;
    if iat < now - IAT_PAST_SECS || iat > now + LEEWAY_SECS {
        return Err(Refusal::Time);
    }
    if let Some(hash) = token_sha256 {
        use base64::Engine;
        let ath = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash);
        if jws.claim_str("ath") != Some(ath.as_str()) {
            return Err(Refusal::TokenHash);
        }
    }
    let jti = match jws.claim_str("jti") {
        Some(j) if !j.is_empty() && j.len() <= 256 => j.to_owned(),
        _ => return Err(Refusal::Jti),
    };
    if let Some(n) = nonces {
        if !jws.claim_str("nonce").is_some_and(|v| n.accepts(v, now)) {
            return Err(Refusal::UseNonce);
        }
    }
    Ok(Proof {
        jkt: key.thumbprint().to_owned(),
        jti,
        replay_until: iat + IAT_PAST_SECS + LEEWAY_SECS,
    })
}

/// Scheme, host (lowercase, default port dropped) and path of an absolute http(s) URL, query
/// and fragment cut.
fn url_parts(url: &str) -> Option<(String, String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let mut host = authority.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    if let Some(h) = host.strip_suffix(default) {
        host = h.to_owned();
    }
    Some((scheme, host, path))
}

/// Whether a proof's `htu` names `expected` (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2/§6.2.3).
pub fn same_url(htu: &str, expected: &str) -> bool {
    match (url_parts(htu), url_parts(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_for_one_or_two_windows() {
        let n = Nonces::new(&crate::Secret::new("k".repeat(32)));
        let t = 1_700_000_000;
        let nonce = n.current(t);
        assert!(n.accepts(&nonce, t));
        assert!(n.accepts(&nonce, t + NONCE_WINDOW_SECS));
        assert!(!n.accepts(&nonce, t + 2 * NONCE_WINDOW_SECS));
        let other = Nonces::new(&crate::Secret::new("j".repeat(32)));
        assert!(!other.accepts(&nonce, t));
    }

    #[test]
    fn urls_compare_as_rfc_9449_says() {
        assert!(same_url(
            "https://API.example/v2/cases?x=1#f",
            "https://api.example/v2/cases"
        ));
        assert!(same_url(
            "https://api.example:443/v2",
            "https://api.example/v2"
        ));
        assert!(same_url("http://h:8080/a", "http://h:8080/a"));
        assert!(!same_url(
            "http://api.example/v2/cases",
            "https://api.example/v2/cases"
        ));
        assert!(!same_url(
            "https://api.example/v2/cases/1",
            "https://api.example/v2/cases"
        ));
        assert!(!same_url(
            "https://evil.example/v2",
            "https://api.example/v2"
        ));
        assert!(!same_url(
            "https://u@api.example/v2",
            "https://api.example/v2"
        ));
        assert!(!same_url("/v2/cases", "https://api.example/v2/cases"));
    }

    /// Proofs signed by the fixture keys (`test_keys`, feature `testing`).
    #[cfg(feature = "testing")]
    mod signed {
        use super::*;
        use crate::test_keys::TestKey;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;

        const HTU: &str = "https://api.example/v2/cases/1";

        fn tok() -> [u8; 32] {
            use sha2::Digest;
            sha2::Sha256::digest(b"tok").into()
        }

        #[test]
        fn every_proof_of_a_known_header_is_still_verified() {
            let now = 1_700_000_000;
            for name in ["es256", "eddsa", "ps256"] {
                let key = TestKey::named(name);
                let jkt = PublicJwk::parse(&key.jwk).unwrap().thumbprint().to_owned();
                // The first proof parses the header; the next ones find it known.
                for _ in 0..3 {
                    let proof = key.dpop_proof("GET", HTU, now, Some("tok"));
                    let p = check(&proof, "GET", HTU, Some(&tok()), None, now).unwrap();
                    assert_eq!(p.jkt, jkt, "{name}");
                }
                // `ath` is still the token's: another token's hash refuses the proof.
                let proof = key.dpop_proof("GET", HTU, now, Some("tok"));
                let other: [u8; 32] = {
                    use sha2::Digest;
                    sha2::Sha256::digest(b"other").into()
                };
                assert_eq!(
                    check(&proof, "GET", HTU, Some(&other), None, now).err(),
                    Some(Refusal::TokenHash),
                    "{name}"
                );
                // Same header segment, another payload, the old signature: refused.
                let a = key.dpop_proof("GET", HTU, now, Some("tok"));
                let b = key.dpop_proof("POST", HTU, now, Some("tok"));
                let (h, rest) = b.split_once('.').unwrap();
                let (payload, _) = rest.split_once('.').unwrap();
                let (_, sig) = a.rsplit_once('.').unwrap();
                let forged = format!("{h}.{payload}.{sig}");
                assert_eq!(
                    check(&forged, "POST", HTU, Some(&tok()), None, now).err(),
                    Some(Refusal::Signature),
                    "{name}"
                );
                // A known header with a signature by another key: refused.
                let other = TestKey::named(if name == "es256" { "es256_b" } else { "es256" });
                let by_other = other.sign_segments(h, payload);
                assert_eq!(
                    check(&by_other, "POST", HTU, Some(&tok()), None, now).err(),
                    Some(Refusal::Signature),
                    "{name}"
                );
            }
        }

        #[test]
        fn refused_headers_stay_refused_and_in_order() {
            let now = 1_700_000_000;
            let key = TestKey::named("es256");
            let claims = serde_json::json!({"jti": "j", "htm": "GET", "htu": HTU, "iat": now});
            let wrong_typ = key.sign(
                &serde_json::json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk}),
                &claims,
            );
            let no_key = key.sign(
                &serde_json::json!({"typ": "dpop+jwt", "alg": "ES256"}),
                &claims,
            );
            for _ in 0..2 {
                assert_eq!(
                    check(&wrong_typ, "GET", HTU, None, None, now).err(),
                    Some(Refusal::Type)
                );
                assert_eq!(
                    check(&no_key, "GET", HTU, None, None, now).err(),
                    Some(Refusal::Key)
                );
            }
            // A known header with a malformed payload is malformed, as with an unknown one.
            let good = key.dpop_proof("GET", HTU, now, None);
            assert!(check(&good, "GET", HTU, None, None, now).is_ok());
            let (h, _) = good.split_once('.').unwrap();
            let bad = format!("{h}.{}.AAAA", URL_SAFE_NO_PAD.encode(b"[1]"));
            assert_eq!(
                check(&bad, "GET", HTU, None, None, now).err(),
                Some(Refusal::Malformed)
            );
            // An unknown header with a refused alg and a malformed payload: malformed first.
            let none = URL_SAFE_NO_PAD.encode(br#"{"typ":"dpop+jwt","alg":"none"}"#);
            let bad = format!("{none}.{}.AAAA", URL_SAFE_NO_PAD.encode(b"[1]"));
            assert_eq!(
                check(&bad, "GET", HTU, None, None, now).err(),
                Some(Refusal::Malformed)
            );
            let bad = format!("{none}.{}.AAAA", URL_SAFE_NO_PAD.encode(b"{}"));
            assert_eq!(
                check(&bad, "GET", HTU, None, None, now).err(),
                Some(Refusal::Algorithm)
            );
        }
    }
}
