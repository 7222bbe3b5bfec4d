"""Hub folder: the three files, a model card the Hub can parse, and a round trip through a fake Hub."""

from __future__ import annotations

import fnmatch
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from irtool import models
from irtool.cli import main
from irtool.errors import EXIT_UNAVAILABLE, InputError, UnavailableError
from irtool.evaluate import Report, get_protocol
from irtool.export import export_hub_folder, push_to_hub
from irtool.export.model_card import check_scores_fit, hub_license, read_eval_json
from tests.export.conftest import tiny
from tests.hubserver import running_hub


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    with running_hub(monkeypatch, tmp_path) as hub:
        yield hub


def _eval_json(path, dataset, psnr, ssim):
    report = Report(
        psnr=psnr,
        ssim=ssim,
        per_image=[],
        protocol=get_protocol("sr").describe(scale=4, sigma=None),
        dataset={"name": dataset, "count": 5},
        model=None,
        seconds=1.0,
    )
    path.write_text(json.dumps(report.to_dict()))
    return path


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_folder_files_card_and_scores(tmp_path):
    model = tiny("restormer-ln")
    scores = read_eval_json(
        [
            _eval_json(tmp_path / "a.json", "Set5", 32.123, 0.9012),
            _eval_json(tmp_path / "b.json", "Urban100", 26.5, 0.8),
        ]
    )
    folder = tmp_path / "hub"
    meta = {"irtool.train.step": "500", "irtool.train.seconds": "3600"}
    export_hub_folder(model, folder, repo_id="me/tiny", scores=scores, metadata=meta)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]

    config = json.loads((folder / "config.json").read_text())
    assert config["library_name"] == "irtool" and config["arch"] == "restormer" and config["size_multiple"] == 8

    card = (folder / "README.md").read_text()
    header = _front_matter(card)
    assert header["library_name"] == "irtool"
    assert header["pipeline_tag"] == "image-to-image"
    assert header["license"] == "other" and header["license_name"]  # Restormer's licence has no Hub id
    assert "irtool" in header["tags"]
    results = header["model-index"][0]["results"]
    assert [r["dataset"]["name"] for r in results] == ["Set5", "Urban100"]
    assert results[0]["metrics"][0] == {"type": "psnr", "value": 32.123, "name": "PSNR (sr, Y, crop 4)"}
    assert results[0]["metrics"][1]["value"] == 0.9012
    assert "| Set5 | 32.12 | 0.9012 | sr, Y, crop 4 |" in card  # the rendered metrics table
    assert "| steps | 500 |" in card
    assert "hf://me/tiny/model.safetensors" in card


def test_round_trip_through_fake_hub_is_identical(tmp_path, fake_hub):
    model = tiny("restormer-iln")
    folder = tmp_path / "hub"
    export_hub_folder(model, folder)
    commit = fake_hub.add_folder("me/tiny-restormer", folder)
    loaded = models.load(f"hf://me/tiny-restormer@{commit}/model.safetensors")
    assert loaded.descriptor == model.descriptor
    x = torch.from_numpy(np.random.default_rng(4).random((1, 3, 19, 30), dtype=np.float32))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_push_needs_login(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(UnavailableError, match="not logged in"):
        push_to_hub(tmp_path, "me/x")
    weights = tmp_path / "w.safetensors"
    models.save(tiny("restormer-ln"), weights)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(weights), "-o", str(tmp_path / "hub"), "--push-to-hub", "me/x"])
    assert exit_info.value.code == EXIT_UNAVAILABLE


def test_push_uploads_the_folder_and_returns_a_pinned_ref(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id, kw))

        def upload_folder(self, **kw):
            calls.append(("upload", kw["repo_id"], kw))
            return SimpleNamespace(oid="c" * 40, commit_url="https://example.invalid/commit")

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "token")
    pushed = push_to_hub(tmp_path, "me/x", private=True)
    assert pushed["ref"] == f"hf://me/x@{'c' * 40}/model.safetensors"
    assert calls[0][:2] == ("create", "me/x") and calls[0][2]["private"] is True
    assert calls[1][2]["folder_path"] == str(tmp_path)
    # A killed export's temporaries are never uploaded (the pattern is fnmatch-style, as huggingface_hub uses it).
    (pattern,) = calls[1][2]["ignore_patterns"]
    assert fnmatch.fnmatch(".model.123.tmp.safetensors", pattern) and fnmatch.fnmatch(".README.md.9.tmp", pattern)
    assert not fnmatch.fnmatch("model.safetensors", pattern) and not fnmatch.fnmatch("LICENSE.md", pattern)


def test_licence_without_hub_id_gets_a_clean_slug():
    assert hub_license("Restormer APL, non-commercial") == {
        "license": "other",
        "license_name": "restormer-apl-non-commercial",
    }
    assert hub_license("Apache-2.0") == {"license": "apache-2.0"}


def test_scores_must_come_from_the_exported_model(tmp_path):
    model = tiny("restormer-ln")  # hyper-parameters hold tuples; the report has them as JSON lists
    mine = tmp_path / "mine.json"
    report = Report(
        psnr=30.0,
        ssim=0.9,
        per_image=[],
        protocol=get_protocol("denoise").describe(scale=1, sigma=25),
        dataset={"name": "CBSD68", "count": 68},
        model=model.descriptor.to_dict(),
        seconds=1.0,
    )
    mine.write_text(json.dumps(report.to_dict()))
    check_scores_fit(read_eval_json([mine]), model.descriptor)

    other = tmp_path / "other.json"
    other.write_text(json.dumps({**report.to_dict(), "model": tiny("restormer-iln").descriptor.to_dict()}))
    with pytest.raises(InputError, match="other.json: scores of another model"):
        export_hub_folder(model, tmp_path / "hub", scores=read_eval_json([other]))
    assert not (tmp_path / "hub").exists()

    x2 = _eval_json(tmp_path / "x2.json", "Set5", 33.0, 0.9)  # no model entry (scored predictions), sr x4 protocol
    sr_x2 = models.create("sr-x2").descriptor
    with pytest.raises(InputError, match="scored at x4, but the exported model is x2"):
        check_scores_fit(read_eval_json([x2]), sr_x2)


def test_untrained_export_says_so_on_the_card(tmp_path):
    export_hub_folder(tiny("restormer-ln"), tmp_path / "hub", metadata={"irtool.untrained": "true"}, verify=False)
    assert "**Untrained: random weights**" in (tmp_path / "hub" / "README.md").read_text()
