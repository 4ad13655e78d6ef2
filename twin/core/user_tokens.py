"""Short-lived signed tokens that name the user a request to serving is for.

The caller (the web app, the ``twin write`` CLI, the demo) signs a JWT (HS256) for one user per
request with a key derived from the secret it shares with serving (``TWIN_SERVING_TOKEN``); serving
verifies the signature, audience and expiry and takes the user from the token, never from the body
alone. The secret itself never travels: a token seen on the wire is good for one user for at most
:data:`MAX_TTL_S` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass

import jwt

AUDIENCE = "twin-serving"
ALGORITHM = "HS256"
DEFAULT_TTL_S = 60
MAX_TTL_S = 300
CLOCK_SKEW_S = 10
_KEY_CONTEXT = b"llm-twin user token v1"


class InvalidUserToken(ValueError):
    """The token is missing, forged, expired, too long-lived or not for serving; the message says which."""


@dataclass(frozen=True)
class UserClaims:
    user: str  # normalised email or numeric id, as :func:`normalise_user` writes it
    issuer: str
    expires_at: int


def normalise_user(user: str | int) -> str:
    return str(user).strip().lower()


def _signing_key(secret: str) -> bytes:
    if not secret:
        raise InvalidUserToken("no signing secret is configured (TWIN_SERVING_TOKEN)")
    return hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def sign_user_token(
    secret: str, user: str | int, *, issuer: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None
) -> str:
    """A token naming ``user`` (email or numeric id) for ``ttl_s`` seconds (at most :data:`MAX_TTL_S`)."""
    if not normalise_user(user):
        raise ValueError("a user token needs a user")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S} seconds")
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": normalise_user(user),
        "aud": AUDIENCE,
        "iss": issuer,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _signing_key(secret), algorithm=ALGORITHM)


def verify_user_token(secret: str, token: str, *, now: float | None = None) -> UserClaims:
    """The claims of a valid token; :class:`InvalidUserToken` for anything else."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "aud", "iss", "iat", "exp"], "verify_exp": False, "verify_iat": False},
        )  # times are checked below, against ``now``
    except jwt.InvalidAudienceError:
        raise InvalidUserToken("the user token is not for the serving app") from None
    except jwt.InvalidSignatureError:
        raise InvalidUserToken(
            "the user token's signature does not match: the signer's TWIN_SERVING_TOKEN differs from serving's"
        ) from None
    except jwt.DecodeError:
        raise InvalidUserToken(
            "a signed user token is required (a JWT the web app signs per request); "
            "the bare service token is not accepted"
        ) from None
    except jwt.InvalidTokenError as exc:
        raise InvalidUserToken(f"invalid user token: {exc}") from None
    current = now if now is not None else time.time()
    if not all(isinstance(claims[name], int) and not isinstance(claims[name], bool) for name in ("iat", "exp")):
        raise InvalidUserToken("invalid user token: iat and exp must be integers")
    if claims["exp"] - claims["iat"] > MAX_TTL_S:
        raise InvalidUserToken(f"the user token lives longer than {MAX_TTL_S} s")
    if claims["iat"] > current + CLOCK_SKEW_S:
        raise InvalidUserToken("the user token was issued in the future (check the clocks)")
    if claims["exp"] + CLOCK_SKEW_S < current:
        raise InvalidUserToken("the user token has expired: sign a new one per request")
    user = normalise_user(claims["sub"])
    if not user:
        raise InvalidUserToken("the user token names no user")
    return UserClaims(user=user, issuer=str(claims["iss"]), expires_at=int(claims["exp"]))


def authorization_header(secret: str, user: str | int, *, issuer: str) -> dict[str, str]:
    """``{"Authorization": "Bearer <token for user>"}`` for one request."""
    return {"Authorization": f"Bearer {sign_user_token(secret, user, issuer=issuer)}"}
