"""WeCom's callback encryption (WXBizMsgCrypt), implemented on ``cryptography``.

AES-256-CBC with the 32-byte key decoded from the 43-character EncodingAESKey, the IV being the
key's first 16 bytes, PKCS#7 padding to 32-byte blocks. The plaintext is 16 random bytes, the
message length (4 bytes, big-endian), the message, and the receive id (the corp id). The
signature is the SHA-1 of the token, timestamp, nonce and ciphertext, sorted and joined.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoError(ValueError):
    """A signature that does not match, or a ciphertext that is not ours."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise CryptoError("WECOM_AES_KEY must be the 43-character EncodingAESKey")
        self._token = token
        self._key = key
        self._receive_id = receive_id

    def check(self, given: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self._token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, given.lower()):
            raise CryptoError("signature mismatch")

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError as bad:
            raise CryptoError("not base64") from bad
        if not raw or len(raw) % BLOCK:
            raise CryptoError("not a whole number of blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        body = plain[16:-pad]
        if len(body) < 4:
            raise CryptoError("too short to hold a message")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise CryptoError("the stated length runs past the message")
        message, receive_id = body[4 : 4 + length], body[4 + length :]
        if receive_id.decode("utf-8", "replace") != self._receive_id:
            raise CryptoError("the message is for another receive id")
        return message.decode("utf-8")

    def encrypt(self, message: str, prefix: bytes | None = None) -> str:
        data = message.encode("utf-8")
        body = (prefix or os.urandom(16)) + struct.pack(">I", len(data)) + data
        body += self._receive_id.encode()
        pad = BLOCK - len(body) % BLOCK
        body += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return signature(self._token, timestamp, nonce, encrypted)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))
