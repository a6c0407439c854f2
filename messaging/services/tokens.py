"""Signed tokens for the public links in our emails (unsubscribe, open pixel, click
redirect): a small JSON object of ids, signed with SECRET_KEY and a per-purpose salt,
so a token for one purpose is worthless for another and a tampered one is refused."""
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
