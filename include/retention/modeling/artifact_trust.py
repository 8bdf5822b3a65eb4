"""Artifacts that cannot be swapped: where a model file may be read from, and proof that this
platform wrote it, both checked before a single byte is unpickled.

**Location.** An artifact is read (and written) only inside `RETENTION_ARTIFACT_STORE`: a local
path must not contain `..` and no file or folder under the store may be a symbolic link (the
store's own folder may be one: it is resolved once); the resolved path must still be inside
the resolved store. A `gs://` path must not contain `..`, `.` or empty segments. A string
prefix alone let `<store>/../x.pkl` through.

**Signature.** Unpickling runs code, so the SHA-256 the registry records is not enough: whoever
can write the store can also write a matching hash. Every artifact is signed with HMAC-SHA256
under a key the store's writers do not hold in the store: the file is a header line, the key's
id, the signature, then the pickled payload. A file without the header (unsigned, or from
before signing), signed with another key, or altered after signing is refused, with what to do.

The key, first found wins:
1. env `RETENTION_ARTIFACT_SIGNING_KEY` (e.g. from the deployment's secret manager);
2. the Airflow connection `RETENTION_ARTIFACT_SIGNING_CONN_ID` (default
   `retention_artifact_signing`): its password;
3. local runs only (the store is a local folder): the file `.local/artifact_signing.key`
   (`RETENTION_LOCAL_DIR`), generated on first use, which the log says. With a `gs://` store
   and no key configured, saving and loading stop and say how to configure one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

HEADER = b"retention-signed-artifact v1\n"
KEY_ENV = "RETENTION_ARTIFACT_SIGNING_KEY"
CONN_ID_ENV = "RETENTION_ARTIFACT_SIGNING_CONN_ID"
DEFAULT_CONN_ID = "retention_artifact_signing"
MIN_KEY_BYTES = 16


class ArtifactError(RuntimeError):
    """A model artifact is missing, misplaced, unsigned or not the one the registry recorded.
    Scoring stops."""


def artifact_store() -> str:
    from retention.config import PROJECT_ROOT

    return os.environ.get("RETENTION_ARTIFACT_STORE", str(PROJECT_ROOT / ".local" / "artifacts"))


# --- location --------------------------------------------------------------------------------


def checked_location(uri: str) -> str:
    """`uri` if it names a file inside the artifact store (no `..`, no links), else ArtifactError."""
    store = artifact_store().rstrip("/")
    if not uri.startswith(store + "/"):
        raise ArtifactError(f"model artifact {uri} is outside the artifact store {store}/: refusing to touch it")
    segments = uri[len(store) + 1:].split("/")
    if ".." in segments or (store.startswith("gs://") and any(part in ("", ".") for part in segments)):
        raise ArtifactError(f"model artifact {uri} has a '..' (or '.', or empty) segment: artifact paths are plain "
                            f"names inside {store}/; refusing it (check the artifact_uri in ml.model_registry)")
    if store.startswith("gs://"):
        return uri
    root, path = Path(store), Path(store)
    for part in segments:
        path = path / part
        if path.is_symlink():
            raise ArtifactError(f"model artifact {uri}: {path} is a symbolic link: links inside the artifact store "
                                "are refused (one could point anywhere); replace it with the file itself")
    if not path.resolve().is_relative_to(root.resolve()):
        raise ArtifactError(f"model artifact {uri} resolves to {path.resolve()}, outside the artifact store "
                            f"{root.resolve()}: refusing it")
    return uri


# --- signature -------------------------------------------------------------------------------


def signing_key() -> bytes:
    """The key artifacts are signed and checked with (see the module's docstring)."""
    if value := os.environ.get(KEY_ENV, "").strip():
        return _long_enough(value.encode(), f"env {KEY_ENV}")
    conn_id = os.environ.get(CONN_ID_ENV, DEFAULT_CONN_ID)
    connection = _connection(conn_id)
    if connection is not None and connection.password:
        return _long_enough(connection.password.encode(), f"the password of Airflow connection {conn_id}")
    if artifact_store().startswith("gs://"):
        raise ArtifactError(
            f"no artifact signing key: set the password of Airflow connection {conn_id} (or env {KEY_ENV}) to a "
            "random secret of at least 16 bytes, the same on every worker (README, 'Deployment'); models are "
            "neither saved nor loaded unsigned")
    return _local_key()


def sign(payload: bytes, key: bytes | None = None) -> bytes:
    """The artifact file: header, key id, HMAC-SHA256 of the payload, payload."""
    key = signing_key() if key is None else key
    mac = hmac.new(key, payload, hashlib.sha256).hexdigest()
    return HEADER + key_id(key).encode() + b"\n" + mac.encode() + b"\n" + payload


def verified_payload(uri: str, data: bytes, key: bytes | None = None) -> bytes:
    """The payload of a signed artifact file, once its signature is checked; else ArtifactError."""
    if not data.startswith(HEADER):
        raise ArtifactError(
            f"model artifact {uri} is not signed by this platform (no signature header): it was written before "
            "artifacts were signed, or by something else; it is not loaded. Retrain (clear train_challenger of "
            "churn_weekly) to get a signed artifact")
    key = signing_key() if key is None else key
    try:
        signer, mac, payload = data[len(HEADER):].split(b"\n", 2)
    except ValueError:
        raise ArtifactError(f"model artifact {uri} has a broken signature header: it is not loaded; "
                            "restore it from a backup or retrain") from None
    expected = hmac.new(key, payload, hashlib.sha256).hexdigest().encode()
    if hmac.compare_digest(mac, expected):
        return payload
    if signer.decode(errors="replace") != key_id(key):
        raise ArtifactError(
            f"model artifact {uri} was signed with key {signer.decode(errors='replace')}, but this worker checks with "
            f"key {key_id(key)}: give every worker the same key ({KEY_ENV} or connection "
            f"{os.environ.get(CONN_ID_ENV, DEFAULT_CONN_ID)}), or retrain under the current key")
    raise ArtifactError(f"model artifact {uri} does not match its signature: it was altered after this platform "
                        "wrote it; it is not loaded. Restore it from a backup or retrain, and find out who can write "
                        "the artifact store")


def key_id(key: bytes) -> str:
    """A name for a key that reveals nothing of it: which key signed a file, in an error message."""
    return hashlib.sha256(b"retention-artifact-key-id:" + key).hexdigest()[:16]


def _long_enough(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ArtifactError(f"the artifact signing key in {where} has {len(key)} bytes: use a random secret of at "
                            f"least {MIN_KEY_BYTES} (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return key


def _connection(conn_id: str):
    try:
        from retention.connections import optional_connection

        return optional_connection(conn_id)
    except ImportError:  # outside Airflow (a benchmark script): the env var or the local key
        return None


def _local_key() -> bytes:
    from retention.config import PROJECT_ROOT

    folder = Path(os.environ.get("RETENTION_LOCAL_DIR", str(PROJECT_ROOT / ".local")))
    path = folder / "artifact_signing.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # Written whole under a unique name, then linked into place: when two workers start at
        # once, one key wins, and neither ever reads a half-written one.
        draft = folder / f".artifact_signing.key.{secrets.token_hex(8)}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        else:
            log.warning("generated a signing key for the local artifact store at %s (local runs only: a deployment "
                        "sets %s or the Airflow connection %s)", path, KEY_ENV, DEFAULT_CONN_ID)
        finally:
            draft.unlink()
    key = path.read_text().strip().encode()
    return _long_enough(key, str(path))
