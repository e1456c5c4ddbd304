"""A Git repository on the local machine, served over smart HTTP, for Flux's source-controller.

Why HTTP: Flux's GitRepository accepts only http(s) and ssh URLs, so a ``file://`` repository is
out. Why this way: Debian's git ships ``git-http-backend``, the CGI program behind every smart-HTTP
Git server (the protocol, packs and refs are all git's own); all that is missing is a web server
to run it, and the standard library's CGI handler is deprecated. So the handler below is the whole
web server: it turns one request into one run of ``git-http-backend`` (CGI environment in, request
body on stdin) and the CGI answer (``Status:`` and headers, a blank line, the body) into the HTTP
response. No authentication and no TLS: it listens on 127.0.0.1 for the test that started it, and
no key material is ever written.

``GitServer`` also keeps a working clone, so a test changes the repository the way a person does:
``commit({"path": "text"}, "message")`` writes files, commits and pushes over the same HTTP URL
Flux reads (the push goes through ``git-receive-pack``, enabled for the served repository).
"""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

BACKEND = Path("/usr/lib/git-core/git-http-backend")
REPOSITORY = "app.git"
BRANCH = "main"


def _git_env() -> dict[str, str]:
    """git with no user or system configuration: the same answers on every machine."""
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "kube-rollouts tests",
        "GIT_AUTHOR_EMAIL": "tests@kube-rollouts.invalid",
        "GIT_COMMITTER_NAME": "kube-rollouts tests",
        "GIT_COMMITTER_EMAIL": "tests@kube-rollouts.invalid",
        "GIT_TERMINAL_PROMPT": "0",
    }


class _CgiHandler(BaseHTTPRequestHandler):
    """One HTTP request = one run of git-http-backend."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._run_backend()

    def do_POST(self) -> None:
        self._run_backend()

    def log_message(self, format: str, *args: object) -> None:
        self.server.requests.append(format % args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # the blank line after the last chunk
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _run_backend(self) -> None:
        url = urlsplit(self.path)
        body = self._body() if self.command == "POST" else b""
        env = {
            **_git_env(),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": "tests",  # receive-pack (the test's push) wants an authenticated user
        }
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "GIT_PROTOCOL")):
            if header in self.headers:
                env[var] = self.headers[header]
        res = subprocess.run([str(BACKEND)], input=body, env=env, capture_output=True, check=False)
        head, sep, payload = res.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = res.stdout.partition(b"\n\n")
        if res.returncode != 0 or not sep:
            message = res.stderr.decode(errors="replace")[-500:] or "git-http-backend gave no answer"
            self.send_error(500, message.strip().splitlines()[-1] if message.strip() else None)
            return
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _CgiHandler)
        self.root = root
        self.requests: list[str] = []


class GitServer:
    """A bare repository under ``root`` served at :attr:`url`, and a working clone that commits to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = root / "served" / REPOSITORY
        self.work = root / "work"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "GitServer not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/{REPOSITORY}"

    @property
    def requests(self) -> list[str]:
        """The access log: one line per request served (who fetched, what and when)."""
        return list(self._server.requests) if self._server else []

    def start(self) -> GitServer:
        self._git("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(self.bare))
        self._git("config", "http.receivepack", "true", cwd=self.bare)
        self._server = _Server(self.bare.parent)
        self._thread = threading.Thread(target=self._server.serve_forever, name="git-server", daemon=True)
        self._thread.start()
        self._git("init", "--quiet", f"--initial-branch={BRANCH}", str(self.work))
        self._git("remote", "add", "origin", self.url, cwd=self.work)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write ``files`` (path -> text) in the clone, commit them and push; returns the commit's sha."""
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self._git("add", "--all", cwd=self.work)
        self._git("commit", "--quiet", "--message", message, cwd=self.work)
        self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{BRANCH}", cwd=self.work)
        return self._git("rev-parse", "HEAD", cwd=self.work).strip()

    def revert(self, sha: str, message: str | None = None) -> str:
        """Commit the revert of ``sha`` (``git revert``, as a person undoes a change) and push it."""
        args = ["revert", "--no-edit", sha] if message is None else ["revert", "--no-commit", sha]
        self._git(*args, cwd=self.work)
        if message is not None:
            self._git("commit", "--quiet", "--message", message, cwd=self.work)
        self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{BRANCH}", cwd=self.work)
        return self._git("rev-parse", "HEAD", cwd=self.work).strip()

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        res = subprocess.run(
            ["git", *args], cwd=cwd, env=_git_env(), capture_output=True, text=True, timeout=60, check=False
        )
        if res.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout
