"""Keys the client signs with: a private key for ``private_key_jwt`` client assertions
(RFC 7523 §2.2) and a DPoP key for proofs (RFC 9449 §4). No I/O; signatures by ``cryptography``.

Algorithms follow the key, as the server pins them (contract §7): EC P-256 → ES256, Ed25519 →
EdDSA, RSA ≥ 2048 → PS256. Other keys are refused when the client is built, not at first use.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from typing import Any, Mapping, Optional, Union

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# RFC 7523 §3 lets the client choose `exp`; the server allows 60 minutes. A short life keeps a
# copied assertion useless soon (Okta's SDKs sign for 5 minutes too; Authlib for 60).
ASSERTION_LIFETIME = 300
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

PrivateKeyInput = Union[str, bytes, Mapping[str, Any], "SigningKey", Any]


class UnusableKey(ValueError):
    """A private key that cannot be used (raised as ``ConfigurationError`` by the clients)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: Any, member: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise UnusableKey(f"private_key: the JWK member {member!r} is missing or not a string.")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise UnusableKey(f"private_key: the JWK member {member!r} is not base64url.") from None


def _int(value: Any, member: str) -> int:
    return int.from_bytes(_b64url_decode(value, member), "big")


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class SigningKey:
    """A private key and its JWS algorithm. ``repr`` shows the algorithm and ``kid`` only."""

    __slots__ = ("_key", "alg", "kid")

    def __init__(self, key: Any, kid: Optional[str]) -> None:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise UnusableKey(f"private_key: EC keys must be on P-256 (ES256), not {key.curve.name}.")
            self.alg = "ES256"
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
        elif isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < 2048:
                raise UnusableKey(f"private_key: RSA keys must have at least 2048 bits (this one has {key.key_size}).")
            self.alg = "PS256"
        else:
            raise UnusableKey("private_key: an EC P-256, Ed25519 or RSA (≥ 2048 bits) private key is needed.")
        self._key = key
        self.kid = kid

    def sign(self, signing_input: bytes) -> bytes:
        key = self._key
        if self.alg == "ES256":
            # JWS (RFC 7518 §3.4) wants r ‖ s, 32 bytes each, not DER.
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.alg == "EdDSA":
            return key.sign(signing_input)
        # PS256: RSASSA-PSS with SHA-256, MGF1-SHA-256, a salt as long as the hash (RFC 7518 §3.5).
        return key.sign(signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (no ``kid``, no private member)."""
        key = self._key
        if self.alg == "ES256":
            n = key.public_key().public_numbers()
            return {"kty": "EC", "crv": "P-256", "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}
        if self.alg == "EdDSA":
            raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        pn = key.public_key().public_numbers()
        return {"kty": "RSA", "n": b64url(pn.n.to_bytes((pn.n.bit_length() + 7) // 8, "big")), "e": b64url(pn.e.to_bytes((pn.e.bit_length() + 7) // 8, "big"))}

    def jws(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        signing_input = f"{b64url(_json(dict(header)))}.{b64url(_json(dict(claims)))}".encode("ascii")
        return signing_input.decode("ascii") + "." + b64url(self.sign(signing_input))

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a caseforge signing key cannot be pickled")


def _from_jwk(jwk: Mapping[str, Any]) -> Any:
    kty = jwk.get("kty")
    if "d" not in jwk:
        raise UnusableKey("private_key: this JWK has no private part (`d`); give the private key, register the public one.")
    if kty == "EC":
        if jwk.get("crv") != "P-256":
            raise UnusableKey(f"private_key: EC JWKs must be on P-256, not {jwk.get('crv')!r}.")
        x, y, d = _int(jwk.get("x"), "x"), _int(jwk.get("y"), "y"), _int(jwk.get("d"), "d")
        try:
            return ec.EllipticCurvePrivateNumbers(d, ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1())).private_key()
        except ValueError:
            raise UnusableKey("private_key: the EC JWK is not a valid P-256 key.") from None
    if kty == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise UnusableKey(f"private_key: OKP JWKs must be Ed25519, not {jwk.get('crv')!r}.")
        seed = _b64url_decode(jwk.get("d"), "d")
        if len(seed) != 32:
            raise UnusableKey("private_key: an Ed25519 JWK's `d` is 32 bytes.")
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        if "x" in jwk and _b64url_decode(jwk.get("x"), "x") != key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw):
            raise UnusableKey("private_key: the Ed25519 JWK's `x` does not match its `d`.")
        return key
    if kty == "RSA":
        n, e, d = _int(jwk.get("n"), "n"), _int(jwk.get("e"), "e"), _int(jwk.get("d"), "d")
        try:
            if all(m in jwk for m in ("p", "q")):
                p, q = _int(jwk["p"], "p"), _int(jwk["q"], "q")
            else:
                p, q = rsa.rsa_recover_prime_factors(n, e, d)
            dp = _int(jwk["dp"], "dp") if "dp" in jwk else rsa.rsa_crt_dmp1(d, p)
            dq = _int(jwk["dq"], "dq") if "dq" in jwk else rsa.rsa_crt_dmq1(d, q)
            qi = _int(jwk["qi"], "qi") if "qi" in jwk else rsa.rsa_crt_iqmp(p, q)
            return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()
        except ValueError:
            raise UnusableKey("private_key: the RSA JWK is not a valid key.") from None
    raise UnusableKey(f"private_key: unsupported JWK kty {kty!r} (EC P-256, OKP Ed25519 or RSA).")


def load_signing_key(private_key: PrivateKeyInput, key_id: Optional[str] = None) -> SigningKey:
    """A PEM (``str`` or ``bytes``: PKCS#8, SEC 1 or PKCS#1, unencrypted), a private JWK
    (``dict`` or its JSON text), a ``cryptography`` private key, or a ``SigningKey``. ``key_id``
    (the ``kid`` the key is registered under) wins over a JWK's own ``kid``; without either, the
    assertion has no ``kid`` (enough while the application has one key)."""
    if isinstance(private_key, SigningKey):
        return private_key if key_id is None or key_id == private_key.kid else SigningKey(private_key._key, key_id)
    jwk: Optional[Mapping[str, Any]] = None
    if isinstance(private_key, Mapping):
        jwk = private_key
    elif isinstance(private_key, (str, bytes)):
        text = private_key.decode("utf-8", "replace") if isinstance(private_key, bytes) else private_key
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                raise UnusableKey("private_key: not a PEM key and not JSON (a JWK).") from None
            if not isinstance(parsed, dict):
                raise UnusableKey("private_key: a JWK is a JSON object.")
            jwk = parsed
        else:
            data = stripped.encode() if isinstance(private_key, str) else private_key
            try:
                key: Any = serialization.load_pem_private_key(data, password=None)
            except TypeError:
                raise UnusableKey("private_key: the PEM is encrypted; decrypt it (or load it with cryptography) first.") from None
            except ValueError:
                raise UnusableKey("private_key: not a PEM private key (PKCS#8, SEC 1 or PKCS#1) or a JWK.") from None
            return SigningKey(key, key_id)
    if jwk is not None:
        kid = key_id if key_id is not None else (str(jwk["kid"]) if isinstance(jwk.get("kid"), str) else None)
        return SigningKey(_from_jwk(jwk), kid)
    return SigningKey(private_key, key_id)


def client_assertion(key: SigningKey, client_id: str, audience: str, now: Optional[float] = None) -> str:
    """An RFC 7523 §3 assertion: ``iss`` = ``sub`` = the client id, ``aud`` the issuer, a 5-minute
    ``exp`` and a new ``jti`` (the server accepts each once)."""
    iat = int(time.time() if now is None else now)
    header: dict[str, Any] = {"alg": key.alg, "typ": "JWT"}
    if key.kid is not None:
        header["kid"] = key.kid
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": iat, "exp": iat + ASSERTION_LIFETIME, "jti": str(uuid.uuid4())}
    return key.jws(header, claims)


def htu(url: str) -> str:
    """RFC 9449 §4.2: the request's URL without query and fragment."""
    return url.split("#", 1)[0].split("?", 1)[0]


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0].split('?', 1)[0].split('#', 1)[0].lower()}"


def access_token_hash(token: str) -> str:
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


class DPoPKey:
    """One client's DPoP key (RFC 9449): a fresh P-256 key made with the client, never written
    anywhere; a new proof for every request; the latest ``DPoP-Nonce`` of each server."""

    def __init__(self) -> None:
        self._key = SigningKey(ec.generate_private_key(ec.SECP256R1()), None)
        self._jwk = self._key.public_jwk()
        self._nonces: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def public_jwk(self) -> dict[str, str]:
        return dict(self._jwk)

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint: the ``cnf.jkt`` of the tokens bound to this key."""
        members = {k: self._jwk[k] for k in ("crv", "kty", "x", "y")}
        return b64url(hashlib.sha256(_json(dict(sorted(members.items())))).digest())

    def proof(self, method: str, url: str, access_token: Optional[str] = None) -> str:
        claims: dict[str, Any] = {"jti": str(uuid.uuid4()), "htm": method.upper(), "htu": htu(url), "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        nonce = self.nonce_for(url)
        if nonce is not None:
            claims["nonce"] = nonce
        return self._key.jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": self._jwk}, claims)

    def nonce_for(self, url: str) -> Optional[str]:
        with self._lock:
            return self._nonces.get(origin(url))

    def note_nonce(self, url: str, nonce: Optional[str]) -> bool:
        """Remembers a server's ``DPoP-Nonce``; true when it is new."""
        if not nonce:
            return False
        with self._lock:
            key = origin(url)
            if self._nonces.get(key) == nonce:
                return False
            self._nonces[key] = nonce
            return True

    def __repr__(self) -> str:
        return f"DPoPKey(jkt={self.thumbprint!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a caseforge DPoP key cannot be pickled")
