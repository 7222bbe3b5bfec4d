"""A folder ready for the Hugging Face Hub (`hf upload` / `HfApi.upload_folder`), and pushing it there.

model.safetensors   irtool's weight file; loads alone: irtool.models.load("hf://owner/repo@rev/model.safetensors")
config.json         the descriptor as plain JSON (the Hub also counts downloads by this file)
README.md           model card with the Hub's YAML header and, when given, the evaluation scores
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from torch import nn

from irtool import __version__
from irtool.errors import UnavailableError
from irtool.export.files import ExportResult
from irtool.export.model_card import Score, check_scores_fit, render_card
from irtool.export.safetensors_export import export_safetensors
from irtool.export.verify import Shape
from irtool.files import write_text

WEIGHTS_FILE = "model.safetensors"
TEMP_PATTERN = ".*.tmp*"  # how irtool.files names its temporaries


def export_hub_folder(
    model: nn.Module,
    folder: str | Path,
    *,
    name: str | None = None,
    repo_id: str | None = None,
    scores: list[Score] | None = None,
    metadata: dict[str, Any] | None = None,
    verify: bool = True,
    shapes: list[Shape] | None = None,
) -> ExportResult:
    """Write the three files into `folder` (created if needed; other files there are left alone).

    `repo_id` only fills the usage lines of the card; without it they say OWNER/<folder name>.
    """
    check_scores_fit(scores or [], model.descriptor)
    folder = Path(folder)
    name = name or model.descriptor.name or folder.name
    repo_id = repo_id or f"OWNER/{folder.resolve().name}"
    weights = folder / WEIGHTS_FILE
    result = export_safetensors(model, weights, metadata=metadata, verify=verify, shapes=shapes)
    params = sum(p.numel() for p in model.state_dict().values())
    config = {
        "library_name": "irtool",
        "irtool_version": __version__,
        "weights": WEIGHTS_FILE,
        "sha256": _sha256(weights),
        "params": params,
        **model.descriptor.to_dict(),
    }
    write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")
    card = render_card(
        model.descriptor,
        name=name,
        repo_id=repo_id,
        params=params,
        scores=scores or [],
        metadata={k: str(v) for k, v in (metadata or {}).items()},
    )
    write_text(folder / "README.md", card)
    return ExportResult(
        folder,
        "hub",
        {"files": [WEIGHTS_FILE, "config.json", "README.md"], "scores": len(scores or [])},
        result.verification,
    )


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = False) -> dict[str, str]:
    """Upload the folder as one commit; returns the commit id and a pinned `hf://` reference to the weights."""
    from huggingface_hub import HfApi, get_token

    if not get_token():
        raise UnavailableError(
            "not logged in to the Hugging Face Hub: run `hf auth login` (or set HF_TOKEN), then push again; "
            f"the folder {folder} is ready to upload by hand too"
        )
    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="model",
            commit_message=f"Upload model exported with irtool {__version__}",
            # Temporaries of an export that was killed mid-write (".model.<pid>.tmp.safetensors") stay local.
            ignore_patterns=[TEMP_PATTERN],
        )
    except Exception as e:  # HTTP errors and connection errors (httpx or requests, by huggingface_hub version)
        raise UnavailableError(f"upload to {repo_id} failed: {str(e).strip().splitlines()[0]}") from None
    return {
        "repo_id": repo_id,
        "commit": info.oid,
        "url": info.commit_url,
        "ref": f"hf://{repo_id}@{info.oid}/{WEIGHTS_FILE}",
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
