"""A git smart-HTTP server on 127.0.0.1 (git's own `git http-backend` behind a small Python
HTTP server) that demands one Basic credential, and looks at the process table while a client's
request is in flight."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


def git_command_lines() -> list[str]:
    """The command line of every git process running now (as `ps` shows them to anyone)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name.startswith("git"):
            lines.append(" ".join(a.decode(errors="replace") for a in argv if a))
    return lines


@dataclass
class GitHttpServer:
    url: str
    # What was seen during authenticated requests: the git command lines in the process table.
    command_lines: list[str] = field(default_factory=list)
    refused: int = 0


def _handler(
    root: Path, expected_authorization: str, server: GitHttpServer
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            if self.headers.get("Authorization") != expected_authorization:
                server.refused += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            # The client is blocked on this response: its processes are all in the table now.
            server.command_lines.extend(git_command_lines())
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": "git",
                "REMOTE_ADDR": "127.0.0.1",
            }
            for header in ("Content-Encoding", "Git-Protocol"):
                if self.headers.get(header):
                    env[f"HTTP_{header.upper().replace('-', '_')}"] = self.headers[header]
            completed = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=True
            )
            head, _, payload = completed.stdout.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
            status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
            self.send_response(status)
            for key, value in headers:
                if key.lower() != "status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def git_http_server(root: Path, *, username: str, token: str) -> Iterator[GitHttpServer]:
    """Serve the repositories under `root` at http://127.0.0.1:PORT/<name>."""
    credential = base64.b64encode(f"{username}:{token}".encode()).decode()
    state = GitHttpServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, f"Basic {credential}", state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
