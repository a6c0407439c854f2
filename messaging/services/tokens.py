"""Tokens for the public links in our emails. Signed tokens (open pixel, click
redirect, and unsubscribe links sent before opaque ones): a small JSON object of ids,
signed with SECRET_KEY and a per-purpose salt, so a token for one purpose is worthless
for another and a tampered one is refused; their payload is readable. Opaque tokens
(unsubscribe): the payload sealed, so it is neither readable nor changeable."""
import functools

from django.core import signing


class BadToken(Exception):
    """The token is forged, tampered with, expired or not ours."""


def token_sign(payload, *, salt, timestamped=False):
    """`timestamped` tokens can be given a max_age when read; the others never expire."""
    signer = signing.TimestampSigner(salt=salt) if timestamped else signing.Signer(salt=salt)
    # Django compresses only when that makes the token shorter; reading accepts both forms.
    return signer.sign_object(payload, compress=True)


def token_read(token, *, salt, fields, max_age=None):
    """The integer ids `fields` of a valid token, in that order, else BadToken."""
    try:
        if max_age is None:
            data = signing.Signer(salt=salt).unsign_object(token)
        else:
            data = signing.TimestampSigner(salt=salt).unsign_object(token, max_age=max_age)
        return tuple(int(data[name]) for name in fields)
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadToken(str(exc)) from exc


# ------------------------------------------------------------------ opaque tokens
#
# Sealed with AES-256-GCM under a key derived from SECRET_KEY for one purpose: the
# payload cannot be read, a changed byte fails the tag, and a random nonce makes two
# tokens for the same payload unrelated. Keys of SECRET_KEY_FALLBACKS still open tokens
# sealed before a key rotation.

OPAQUE_VERSION = b"\x01"
NONCE_BYTES = 12


def _opaque_keys(purpose):
    from django.conf import settings

    return _derive_keys(purpose, (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])))


@functools.lru_cache(maxsize=8)
def _derive_keys(purpose, secrets):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    info = b"scendcore.opaque-token." + purpose.encode()
    return [HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())
            for secret in secrets]


def opaque_seal(data, *, purpose):
    """An URL-safe token holding `data` (bytes) that only this server can open."""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_opaque_keys(purpose)[0]).encrypt(nonce, data, OPAQUE_VERSION + purpose.encode())
    return base64.urlsafe_b64encode(OPAQUE_VERSION + nonce + sealed).rstrip(b"=").decode()


def opaque_open(token, *, purpose):
    """The bytes sealed in `token`, else BadToken."""
    import base64
    import binascii

    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadToken("not an opaque token") from exc
    if len(raw) < 1 + NONCE_BYTES + 16 or raw[:1] != OPAQUE_VERSION:
        raise BadToken("not an opaque token")
    nonce, sealed = raw[1:1 + NONCE_BYTES], raw[1 + NONCE_BYTES:]
    for key in _opaque_keys(purpose):
        try:
            return AESGCM(key).decrypt(nonce, sealed, OPAQUE_VERSION + purpose.encode())
        except InvalidTag:
            continue
    raise BadToken("the token does not open")
