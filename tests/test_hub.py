"""hf:// references resolve through huggingface_hub against a fake Hub on 127.0.0.1: pinned, cached, verified."""

from __future__ import annotations

import hashlib
import time

import pytest

from irtool import hub
from irtool.errors import UnavailableError, UsageError
from tests.hubserver import FakeHub, running_hub

WEIGHTS = b"not really safetensors, but bytes with a known hash" * 100


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    with running_hub(monkeypatch, tmp_path) as served:
        yield served


def test_parse_ref_forms():
    r = hub.parse_ref("hf://owner/repo@" + "a" * 40 + "/sub/dir/w.safetensors")
    assert (r.repo_id, r.revision, r.filename, r.pinned) == ("owner/repo", "a" * 40, "sub/dir/w.safetensors", True)
    r = hub.parse_ref("hf:owner/repo/w.safetensors")
    assert (r.repo_id, r.revision, r.pinned) == ("owner/repo", None, False)
    assert str(hub.parse_ref("hf://o/r@v1/w.safetensors")) == "hf://o/r@v1/w.safetensors"
    for bad in ("hf://owner/w.safetensors", "owner/repo/w.safetensors", "hf://o/r/../x.safetensors"):
        with pytest.raises(UsageError):
            hub.parse_ref(bad)


def test_resolve_pinned_then_offline_from_cache(fake_hub, monkeypatch):
    commit = fake_hub.add_file("me/sr", "weights/m.safetensors", WEIGHTS)
    ref = f"hf://me/sr@{commit}/weights/m.safetensors"
    path = hub.resolve_model_file(ref, sha256=hashlib.sha256(WEIGHTS).hexdigest())
    assert path.read_bytes() == WEIGHTS
    assert commit in str(path)  # the standard HF cache layout: snapshots/<commit>/...
    # Pinned and cached: no network at all, even with the server gone and offline mode on.
    fake_hub.stop()
    n = len(fake_hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.resolve_model_file(ref).read_bytes() == WEIGHTS
    assert len(fake_hub.requests) == n


def test_registry_checksum_mismatch_is_unavailable(fake_hub):
    commit = fake_hub.add_file("me/sr", "m.safetensors", WEIGHTS)
    with pytest.raises(UnavailableError, match="checksum mismatch"):
        hub.resolve_model_file(f"hf://me/sr@{commit}/m.safetensors", sha256="0" * 64)


def test_lfs_blob_is_checked_against_its_etag(fake_hub):
    commit = fake_hub.add_file("me/sr", "m.safetensors", WEIGHTS)
    ref = f"hf://me/sr@{commit}/m.safetensors"
    path = hub.resolve_model_file(ref)
    blob = path.resolve()
    assert blob.name == hashlib.sha256(WEIGHTS).hexdigest()
    blob.chmod(0o644)
    blob.write_bytes(b"corrupted on disk")
    with pytest.raises(UnavailableError, match="checksum mismatch"):
        hub.resolve_model_file(ref)


def test_offline_empty_cache_and_missing_things(fake_hub):
    commit = fake_hub.add_file("me/sr", "m.safetensors", WEIGHTS)
    with pytest.raises(UnavailableError, match="offline"):
        hub.resolve_model_file(f"hf://me/sr@{commit}/m.safetensors", offline=True)
    with pytest.raises(UnavailableError, match="not found"):
        hub.resolve_model_file("hf://me/nope/m.safetensors")
    with pytest.raises(UnavailableError, match="no file"):
        hub.resolve_model_file(f"hf://me/sr@{commit}/other.safetensors")
    with pytest.raises(UsageError, match="safetensors"):
        hub.resolve_model_file(f"hf://me/sr@{commit}/m.pth")


def test_unreachable_hub_is_unavailable(monkeypatch, tmp_path):
    with FakeHub() as dead:
        url = dead.url
    monkeypatch.setenv("HF_ENDPOINT", url)  # nothing listens there any more
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    # huggingface_hub retries a refused connection with back-off (about 23 s of sleeping): skip the waiting.
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    with pytest.raises(UnavailableError, match="unreachable"):
        hub.resolve_model_file("hf://me/sr/m.safetensors")


def test_download_folder_repo_to_dir(fake_hub, tmp_path):
    """The fixture serves a whole folder as one commit (what an exported model folder looks like)."""
    src = tmp_path / "export"
    (src / "sub").mkdir(parents=True)
    (src / "model.safetensors").write_bytes(WEIGHTS)
    (src / "README.md").write_text("card")
    (src / "sub" / "extra.safetensors").write_bytes(b"x")
    commit = fake_hub.add_folder("me/exported", src, commit="c" * 40)
    assert commit == "c" * 40
    out = hub.download(f"hf://me/exported@{commit}/model.safetensors", tmp_path / "airgap")
    assert out == tmp_path / "airgap" / "model.safetensors" and out.read_bytes() == WEIGHTS
    assert hub.resolve_model_file(f"hf://me/exported@{commit}/sub/extra.safetensors").read_bytes() == b"x"
    assert ("HEAD", f"/me/exported/resolve/{commit}/model.safetensors") in fake_hub.requests


def test_downloaded_copy_gets_ordinary_file_permissions(fake_hub, tmp_path):
    import os

    commit = fake_hub.add_file("me/sr", "m.safetensors", WEIGHTS)
    out = hub.download(f"hf://me/sr@{commit}/m.safetensors", tmp_path / "usb")
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600: the copy goes to other machines


def test_a_connection_dropped_mid_file_is_unavailable_not_a_crash(monkeypatch, tmp_path):
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    def drops(*args, **kwargs):
        raise hf_errors.HTTPError("The read operation timed out")  # the HTTP library's base error

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", drops)
    with pytest.raises(UnavailableError, match="download failed: The read operation timed out"):
        hub.resolve_model_file("hf://me/sr@" + "a" * 40 + "/m.safetensors")


def test_an_invalid_repository_name_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(UsageError, match="own er/repo"):
        hub.resolve_model_file("hf://own er/repo@" + "a" * 40 + "/m.safetensors", offline=True)
