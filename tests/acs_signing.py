"""An independent ACS HMAC-SHA256 signer for tests (ACS-WIRE.md §2), written from the
spec rather than imported from callauto, so the server's verifier is checked against
something it does not share code with."""

import base64
import hashlib
import hmac
from email.utils import formatdate


def sign_headers(
    method: str,
    target: str,
    body: bytes,
    access_key: str,
    host: str,
    date: str | None = None,
    content_hash: str | None = None,
) -> dict[str, str]:
    date = date or formatdate(usegmt=True)
    digest = content_hash or base64.b64encode(hashlib.sha256(body).digest()).decode()
    message = f"{method.upper()}\n{target}\n{date};{host};{digest}"
    mac = hmac.new(base64.b64decode(access_key), message.encode(), hashlib.sha256).digest()
    signature = base64.b64encode(mac).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": digest,
        "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        f"&Signature={signature}",
    }
