"""A fake Hugging Face Hub on 127.0.0.1, enough for `huggingface_hub.hf_hub_download`.

It answers HEAD/GET on `/{owner}/{name}/resolve/{revision}/{path}` (model repos) and
`/datasets/{owner}/{name}/resolve/{revision}/{path}` (dataset repos) with the headers the client checks:
`X-Repo-Commit` (the commit a revision resolves to), `ETag` (git blob sha1; for LFS files the file's sha256,
also sent as `X-Linked-Etag` with `X-Linked-Size`) and `Content-Length`. Misses carry the `X-Error-Code` the
client turns into RepositoryNotFound / RevisionNotFound / EntryNotFound errors.

Usage in a test module (`running_hub` sets HF_ENDPOINT and a fresh HF_HOME for the test, and stops the server):

    from tests.hubserver import running_hub

    @pytest.fixture
    def fake_hub(monkeypatch, tmp_path):
        with running_hub(monkeypatch, tmp_path) as hub:
            yield hub

    def test_x(fake_hub):
        commit = fake_hub.add_folder("me/model", folder)                     # a whole folder as one commit
        fake_hub.add_file("me/data", "data/x.tar.gz", blob, repo_type="dataset")
        ...  # irtool.hub reads HF_ENDPOINT at call time
        assert fake_hub.requests  # [(method, path), ...]: what the client asked for
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a file's content: what the Hub sends as ETag for files not stored in LFS."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> {path: content}
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit
    lfs: set[str] = field(default_factory=set)  # paths stored in LFS (ETag = sha256)


class FakeHub:
    """Repositories in memory, served over HTTP on a random local port. Thread-safe enough for one client."""

    def __init__(self) -> None:
        self._repos: dict[tuple[str, str], _Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------------------------- content
    def add_file(
        self,
        repo_id: str,
        path: str,
        data: bytes,
        *,
        repo_type: str = "model",
        commit: str | None = None,
        branch: str = "main",
        lfs: bool = True,
    ) -> str:
        """Add one file to a commit (a new commit id derived from the content unless given); returns the commit."""
        return self.add_files(repo_id, {path: data}, repo_type=repo_type, commit=commit, branch=branch, lfs=lfs)

    def add_files(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        repo_type: str = "model",
        commit: str | None = None,
        branch: str = "main",
        lfs: bool = True,
    ) -> str:
        repo = self._repos.setdefault((repo_type, repo_id), _Repo())
        if commit is None:
            h = hashlib.sha1(repo_id.encode())
            for p in sorted(files):
                h.update(p.encode() + git_blob_sha1(files[p]).encode())
            commit = h.hexdigest()
        # A new commit starts from the branch head, like a push on top of it.
        base = dict(repo.commits.get(repo.refs.get(branch, ""), {}))
        base.update(files)
        repo.commits[commit] = base
        repo.refs[branch] = commit
        if lfs:
            repo.lfs.update(files)
        return commit

    def add_folder(
        self, repo_id: str, folder: str | Path, *, repo_type: str = "model", commit: str | None = None
    ) -> str:
        """Serve every file under `folder` (recursively, paths relative to it) as one commit of `repo_id`."""
        root = Path(folder)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        return self.add_files(repo_id, files, repo_type=repo_type, commit=commit)

    # ----------------------------------------------------------------------------------------------- serving
    @property
    def url(self) -> str:
        assert self._server is not None, "FakeHub is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802 (http.server naming)
                hub._answer(self, with_body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub._answer(self, with_body=True)

            def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, handler: BaseHTTPRequestHandler, *, with_body: bool) -> None:
        path = urlsplit(handler.path).path
        self.requests.append((handler.command, path))
        status, headers, body = self._lookup(path)
        handler.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        if with_body:
            handler.wfile.write(body)

    def _lookup(self, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = path.lstrip("/").split("/")
        repo_type = "model"
        if parts and parts[0] in ("datasets", "spaces"):
            repo_type = parts.pop(0)[:-1]
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "RepoNotFound"}, b"not a resolve url"
        repo_id = f"{parts[0]}/{parts[1]}"
        revision = unquote(parts[3])
        filename = unquote("/".join(parts[4:]))
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            return 404, {"X-Error-Code": "RepoNotFound"}, b"repository not found"
        commit = revision if revision in repo.commits else repo.refs.get(revision)
        if commit is None:
            return 404, {"X-Error-Code": "RevisionNotFound"}, b"revision not found"
        files = repo.commits[commit]
        if filename not in files:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, b"entry not found"
        data = files[filename]
        headers = {"X-Repo-Commit": commit, "Content-Type": "application/octet-stream"}
        if filename in repo.lfs:
            sha256 = hashlib.sha256(data).hexdigest()
            headers.update({"ETag": f'"{sha256}"', "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data))})
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        return 200, headers, data


@contextmanager
def running_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A started FakeHub with HF_ENDPOINT pointing at it, and an HF cache of its own, for one test."""
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield hub
