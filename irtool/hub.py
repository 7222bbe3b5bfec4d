"""Files from the Hugging Face Hub: model weights (`hf://` references) and benchmark archives.

Everything goes through `huggingface_hub.hf_hub_download` and the standard HF cache, so a file pinned to a commit
and already cached needs no network at all. Settings that huggingface_hub reads once at import time (HF_ENDPOINT,
HF_HUB_OFFLINE, HF_HOME, HF_HUB_CACHE) are read here at call time and passed explicitly, so they behave the same
whenever they are set.

Integrity: a sha256 from our registry is checked when given; otherwise, for files stored in LFS, the Hub's ETag is
the file's sha256 and the cache names the blob after it, so the blob is checked against its own name.

No network: before asking the Hub for a file it does not hold, `fetch_file` opens one TCP connection to the endpoint
(or the proxy) with a short timeout. huggingface_hub retries a failed connection five times with back-off (about
25 s of "Retrying in 8s" lines) before giving up; a host that cannot be reached now is reported at once instead,
and a cached copy, if any, is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from irtool.errors import UnavailableError, UsageError, first_line

_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
CONNECT_TIMEOUT = 3.0  # seconds for the reachability probe: a live endpoint answers a TCP connect far sooner
DEFAULT_ENDPOINT = "https://huggingface.co"
_REF = re.compile(r"hf:(?://)?(?P<owner>[^/@]+)/(?P<name>[^/@]+)(?:@(?P<revision>[^/]+))?/(?P<path>.+)")


@dataclass(frozen=True)
class HubRef:
    """`hf://owner/repo[@revision]/path/in/repo`; `revision` is None when the reference does not pin one."""

    repo_id: str
    filename: str
    revision: str | None = None
    repo_type: str = "model"

    @property
    def pinned(self) -> bool:
        return self.revision is not None and _COMMIT.fullmatch(self.revision) is not None

    def __str__(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        kind = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return f"hf://{kind}{self.repo_id}{at}/{self.filename}"


def is_hub_ref(ref: str) -> bool:
    return ref.startswith("hf:")


def parse_ref(ref: str) -> HubRef:
    """Parse `hf://owner/repo[@revision]/path/file` (the `hf:owner/repo...` spelling is accepted too)."""
    m = _REF.fullmatch(ref.strip())
    if m is None or ".." in m["path"].split("/"):
        raise UsageError(f"not a Hub reference: {ref!r} (expected hf://owner/repo[@revision]/path/file.safetensors)")
    return HubRef(repo_id=f"{m['owner']}/{m['name']}", filename=m["path"], revision=m["revision"])


def offline_requested(offline: bool = False) -> bool:
    """`--offline`, or HF_HUB_OFFLINE in the environment now (not only when huggingface_hub was imported)."""
    return offline or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hf_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The HF hub cache, resolved the way huggingface_hub does it, but from the environment as it is now."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "hub"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_file(
    ref: HubRef,
    *,
    sha256: str | None = None,
    offline: bool = False,
    cache_dir: str | Path | None = None,
    hint: str = "download it on a connected machine, or point HF_ENDPOINT at a mirror",
) -> Path:
    """Download (or find in the cache) one file of a Hub repository and verify it. Errors are UnavailableError.

    `hint` ends the message when the file is neither cached nor downloadable: what the user can do instead.
    """
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = offline_requested(offline)
    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or None
    # A connection that drops mid-file raises the HTTP library's own errors (not OSError), Xet storage its own.
    transfer_errors = tuple(
        getattr(hf_errors, name) for name in ("HTTPError", "XetDownloadError") if hasattr(hf_errors, name)
    )
    unreachable = None
    if not offline:
        cached = try_to_load_from_cache(
            ref.repo_id,
            ref.filename,
            cache_dir=str(hf_cache_dir(cache_dir)),
            revision=ref.revision,
            repo_type=ref.repo_type,
        )
        # A pinned file in the cache needs no network; anything else asks the Hub, so check it can be reached.
        if not (ref.pinned and isinstance(cached, str)):
            unreachable = endpoint_unreachable(endpoint or DEFAULT_ENDPOINT)
    try:
        path = Path(
            hf_hub_download(
                ref.repo_id,
                ref.filename,
                repo_type=ref.repo_type,
                revision=ref.revision or "main",
                cache_dir=str(hf_cache_dir(cache_dir)),
                local_files_only=offline or unreachable is not None,
                endpoint=endpoint,
            )
        )
    except LocalEntryNotFoundError as e:
        if offline:
            why = "offline mode is on (--offline or HF_HUB_OFFLINE)"
        else:
            why = f"the Hub is unreachable ({unreachable or first_line(e)})"
        raise UnavailableError(f"{ref} is not in the HF cache ({hf_cache_dir(cache_dir)}) and {why}; {hint}") from None
    except RepositoryNotFoundError:
        raise UnavailableError(f"{ref}: repository {ref.repo_id} not found (or private)") from None
    except RevisionNotFoundError:
        raise UnavailableError(f"{ref}: revision {ref.revision} not found in {ref.repo_id}") from None
    except EntryNotFoundError:
        raise UnavailableError(f"{ref}: no file {ref.filename} at that revision") from None
    except HFValidationError as e:  # e.g. a repository name with spaces: the reference itself is wrong
        raise UsageError(f"{ref}: {first_line(e)}") from None
    except (HfHubHTTPError, OSError, *transfer_errors) as e:
        raise UnavailableError(f"{ref}: download failed: {first_line(e)}") from None

    expected = sha256
    if expected is None:
        blob_name = path.resolve().name
        expected = blob_name if _SHA256.fullmatch(blob_name) else None
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected.lower():
            raise UnavailableError(
                f"{ref}: checksum mismatch (sha256 {actual}, expected {expected}); the cached copy at "
                f"{path.resolve()} is corrupt or the source changed: delete it and download again"
            )
    return path


def resolve_model_file(
    ref: str, *, offline: bool = False, cache_dir: str | Path | None = None, sha256: str | None = None
) -> Path:
    """The local path of the model file named by `hf://owner/repo[@revision]/path/file.safetensors` (or `.onnx`).

    Hub models must be `.safetensors` or `.onnx` files (loading them runs no code, unlike a pickled .pth).
    `sha256`, when the registry knows it, is checked; the HF cache is used as is, so a pinned, cached file works
    offline.
    """
    hub_ref = parse_ref(ref)
    if not hub_ref.filename.lower().endswith((".safetensors", ".onnx")):
        raise UsageError(f"{ref}: models from the Hub must be .safetensors or .onnx files (pickled .pth can run code)")
    name = Path(hub_ref.filename).name
    hint = f"on a connected machine run `irtool models download {ref} --to DIR`, then use -m DIR/{name}"
    return fetch_file(hub_ref, sha256=sha256, offline=offline, cache_dir=cache_dir, hint=hint)


def download(ref: str, to_dir: str | Path, *, offline: bool = False, sha256: str | None = None) -> Path:
    """Copy the weights named by `ref` into `to_dir` (for air-gapped machines: then `-m DIR/file.safetensors`)."""
    from irtool.files import copy_into

    return copy_into(resolve_model_file(ref, offline=offline, sha256=sha256), to_dir)


def endpoint_unreachable(endpoint: str, timeout: float | None = None) -> str | None:
    """Why `endpoint` cannot be reached now (one TCP connect, through the proxy if one applies), or None if it can.

    Name lookup and connect run in a thread bounded by `timeout`: a resolver or a firewall that drops packets
    silently would otherwise hold the caller for the system's own timeouts (tens of seconds).
    """
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    url = urllib.parse.urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(url.scheme) if not urllib.request.proxy_bypass(host) else None
    if proxy:
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_url.hostname or "", proxy_url.port or 8080
    where = f"{host}:{port}" + (" (proxy)" if proxy else "")
    result: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(None)
        except OSError as e:
            result.append(f"{where}: {e.strerror or e}")

    probe = threading.Thread(target=connect, name="irtool-hub-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    return result[0] if result else f"{where}: no answer within {timeout:g} s"
