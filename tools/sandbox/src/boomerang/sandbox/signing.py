"""Webhook signatures exactly as the providers make them, so receivers verify them unchanged."""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class SendGridSigner:
    """SendGrid's Signed Event Webhook: ECDSA P-256 over SHA-256 of timestamp + raw body."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._key = private_key

    @classmethod
    def generate(cls) -> "SendGridSigner":
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem_file(cls, path: Path) -> "SendGridSigner":
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{path} is not an ECDSA P-256 private key")
        return cls(key)

    def public_key(self) -> str:
        """Base64 DER SubjectPublicKeyInfo: what SendGrid's UI shows and its SDK helper reads."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, timestamp: str, body: bytes) -> str:
        signature = self._key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode("ascii")


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: HMAC-SHA1 over the URL followed by each sorted name and value."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def write_keypair(private_key_path: Path, public_key_path: Path) -> str:
    """Make a key pair for the dev stack: PEM private for the sandbox, base64 DER public for feedback."""
    signer = SendGridSigner.generate()
    private_key_path.parent.mkdir(parents=True, exist_ok=True)
    public_key_path.parent.mkdir(parents=True, exist_ok=True)
    private_key_path.write_bytes(signer.private_pem())
    private_key_path.chmod(0o600)
    public_key_path.write_text(signer.public_key() + "\n")
    return signer.public_key()
