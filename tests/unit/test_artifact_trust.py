"""Artifacts that cannot be swapped (issue 22, part 6): read only from inside the store, with
paths resolved (`..` and links refused), and only once this platform's signature is checked,
before anything is unpickled."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle

import pytest
from retention.modeling import artifact_trust
from retention.modeling.artifact_trust import ArtifactError, checked_location, sign, verified_payload
from retention.modeling.registry import read_verified, write_bytes

KEY = "k" * 32


@pytest.fixture
def store(tmp_path, monkeypatch):
    folder = tmp_path / "artifacts"
    (folder / "churn").mkdir(parents=True)
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(folder))
    monkeypatch.setenv("RETENTION_ARTIFACT_SIGNING_KEY", KEY)
    return folder


class Planted:
    """Unpickling this creates a file: proof of whether the payload ever ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def saved(store, name: str, data: bytes) -> tuple[str, str]:
    uri = f"{store}/churn/{name}"
    write_bytes(uri, data)
    return uri, hashlib.sha256(data).hexdigest()


def test_a_signed_artifact_round_trips(store):
    uri, sha256 = saved(store, "model.pkl", sign(pickle.dumps({"model": 1})))
    assert pickle.loads(read_verified(uri, sha256)) == {"model": 1}


@pytest.mark.parametrize("path", ["../x.pkl", "churn/../../x.pkl", "churn/../churn/model.pkl"])
def test_a_path_with_dot_dot_is_refused_even_when_it_stays_inside(store, path):
    (store.parent / "x.pkl").write_bytes(sign(b"outside"))
    with pytest.raises(ArtifactError, match=r"'\.\.'"):
        read_verified(f"{store}/{path}", "0" * 64)
    with pytest.raises(ArtifactError, match=r"'\.\.'"):
        write_bytes(f"{store}/{path}", b"x")


def test_a_path_outside_the_store_is_refused(store):
    with pytest.raises(ArtifactError, match="outside the artifact store"):
        read_verified(f"{store.parent}/elsewhere/model.pkl", "0" * 64)
    with pytest.raises(ArtifactError, match="outside the artifact store"):
        checked_location(f"{store}-other/model.pkl")  # a sibling folder sharing the prefix


def test_links_inside_the_store_are_refused_whole_file_or_folder(store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.pkl").write_bytes(sign(b"x"))
    os.symlink(elsewhere / "model.pkl", store / "churn" / "linked.pkl")
    os.symlink(elsewhere, store / "linked-folder")
    with pytest.raises(ArtifactError, match="symbolic link"):
        read_verified(f"{store}/churn/linked.pkl", "0" * 64)
    with pytest.raises(ArtifactError, match="symbolic link"):
        read_verified(f"{store}/linked-folder/model.pkl", "0" * 64)
    with pytest.raises(ArtifactError, match="symbolic link"):
        write_bytes(f"{store}/linked-folder/new.pkl", b"x")
    assert not (elsewhere / "new.pkl").exists()


def test_the_store_folder_itself_may_be_a_link(store, tmp_path, monkeypatch):
    os.symlink(store, tmp_path / "store-link")
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", str(tmp_path / "store-link"))
    uri, sha256 = saved(tmp_path / "store-link", "model.pkl", sign(b"payload"))
    assert read_verified(uri, sha256) == b"payload"


def test_gs_paths_refuse_dot_segments_and_empty_ones(monkeypatch):
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", "gs://bucket/models")
    assert checked_location("gs://bucket/models/churn/m.pkl") == "gs://bucket/models/churn/m.pkl"
    for uri in ("gs://bucket/models/../x.pkl", "gs://bucket/models/churn/./m.pkl", "gs://bucket/models//m.pkl"):
        with pytest.raises(ArtifactError, match="segment"):
            checked_location(uri)


def test_an_unsigned_artifact_is_refused_before_it_is_unpickled(store, tmp_path):
    marker = tmp_path / "ran"
    # The attacker can write the store and the hash the registry keeps: only the signature stops them.
    uri, sha256 = saved(store, "model.pkl", pickle.dumps(Planted(str(marker))))
    with pytest.raises(ArtifactError, match="not signed by this platform.*Retrain"):
        read_verified(uri, sha256)
    assert not marker.exists()


def test_a_tampered_artifact_is_refused_before_it_is_unpickled(store, tmp_path):
    marker = tmp_path / "ran"
    signed = sign(pickle.dumps({"model": 1}))
    header = signed[: signed.index(b"\n", len(artifact_trust.HEADER) + 17) + 1]
    payload = pickle.dumps(Planted(str(marker)))
    uri, sha256 = saved(store, "model.pkl", header + payload)  # the signature of another payload
    with pytest.raises(ArtifactError, match="does not match its signature: it was altered"):
        read_verified(uri, sha256)
    assert not marker.exists()


def test_an_artifact_signed_with_another_key_says_which_keys_differ(store, monkeypatch):
    uri, sha256 = saved(store, "model.pkl", sign(b"payload", key=b"another key of 32 bytes........."))
    with pytest.raises(ArtifactError, match="signed with key [0-9a-f]{16}, but this worker checks with key"):
        read_verified(uri, sha256)


def test_the_key_comes_from_an_airflow_connection(store, monkeypatch):
    monkeypatch.delenv("RETENTION_ARTIFACT_SIGNING_KEY")
    connection = '{"conn_type": "generic", "password": "%s"}' % ("p" * 32)
    monkeypatch.setenv("AIRFLOW_CONN_RETENTION_ARTIFACT_SIGNING", connection)
    assert artifact_trust.signing_key() == b"p" * 32
    assert verified_payload("x", sign(b"payload", key=b"p" * 32)) == b"payload"


def test_a_short_key_is_refused(store, monkeypatch):
    monkeypatch.setenv("RETENTION_ARTIFACT_SIGNING_KEY", "short")
    with pytest.raises(ArtifactError, match="5 bytes: use a random secret of at least 16"):
        artifact_trust.signing_key()


def test_a_local_store_generates_a_key_once_and_says_so(store, monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("RETENTION_ARTIFACT_SIGNING_KEY")
    monkeypatch.delenv("AIRFLOW_CONN_RETENTION_ARTIFACT_SIGNING", raising=False)
    monkeypatch.setenv("RETENTION_LOCAL_DIR", str(tmp_path / "local"))
    with caplog.at_level(logging.WARNING, logger="retention.modeling.artifact_trust"):
        first = artifact_trust.signing_key()
    assert "generated a signing key for the local artifact store" in caplog.text
    assert (tmp_path / "local" / "artifact_signing.key").stat().st_mode & 0o077 == 0
    caplog.clear()
    assert artifact_trust.signing_key() == first and not caplog.text
    assert os.listdir(tmp_path / "local") == ["artifact_signing.key"]


def test_a_cloud_store_without_a_key_stops_and_says_how_to_set_one(monkeypatch):
    monkeypatch.setenv("RETENTION_ARTIFACT_STORE", "gs://bucket/models")
    monkeypatch.delenv("RETENTION_ARTIFACT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_RETENTION_ARTIFACT_SIGNING", raising=False)
    with pytest.raises(ArtifactError, match="no artifact signing key: set the password of Airflow connection "
                                            "retention_artifact_signing"):
        artifact_trust.signing_key()
