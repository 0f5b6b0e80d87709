"""A real Docker registry on 127.0.0.1 for tests (Debian's `docker-registry`, basic auth from
`htpasswd -B`), its HTTP API, and a tiny service image built offline.

The registry runs as a process of its own with its config file and storage in a temporary
directory; the engine trusts 127.0.0.0/8 registries over plain HTTP.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx

from build_monitor.builders.health import free_port
from build_monitor.builders.registry import RegistryAuth

REGISTRY_BINARY = "/usr/bin/docker-registry"
_MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)

# A static HTTP server answering GET /health with the revision in /revision; built with the
# machine's own Rust toolchain (the one the offline Rust image copies), so no image is pulled.
_SERVER_RS = r"""
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_string());
    let listener = TcpListener::bind(format!("0.0.0.0:{}", port)).expect("bind");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else { continue };
        let mut reader = BufReader::new(clone);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() { continue; }
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => break,
                Ok(_) if header.trim().is_empty() => break,
                _ => {}
            }
        }
        let revision = std::fs::read_to_string("/revision").unwrap_or_default();
        let (status, body) = if line.starts_with("GET /health") {
            (200, format!("{{\"status\":\"ok\",\"revision\":{}}}", revision.trim()))
        } else {
            (404, "{}".to_string())
        };
        let mut out = stream;
        let _ = write!(
            out,
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            status, body.len(), body
        );
    }
}
"""

TINY_DOCKERFILE = "ARG BASE\nFROM ${BASE}\nCOPY revision /revision\n"


@dataclass(frozen=True)
class RegistryServer:
    port: int
    username: str
    password: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def auth(self, password: str | None = None) -> RegistryAuth:
        return RegistryAuth(
            registry_url=f"http://{self.address}",
            username=self.username,
            password=self.password if password is None else password,
        )

    def _get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(
            f"http://{self.address}{path}",
            auth=(self.username, self.password),
            headers=headers,
            timeout=10,
        )

    def tags(self, repository: str) -> set[str]:
        """The registry's tags of `repository` (empty when it has none), read over its API."""
        response = self._get(f"/v2/{repository}/tags/list")
        if response.status_code == 404:
            return set()
        response.raise_for_status()
        return set(response.json().get("tags") or [])

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        response = self._get(f"/v2/{repository}/manifests/{tag}", Accept=_MANIFEST_TYPES)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"]


@contextlib.contextmanager
def running_registry(root: Path) -> Iterator[RegistryServer]:
    """`docker-registry serve` on a free 127.0.0.1 port with basic auth; stopped afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    server = RegistryServer(port=free_port(), username="h6-user", password=uuid.uuid4().hex)
    htpasswd = subprocess.run(
        ["htpasswd", "-Bbn", server.username, server.password],
        capture_output=True,
        text=True,
        check=True,
    )
    (root / "htpasswd").write_text(htpasswd.stdout)
    (root / "data").mkdir(exist_ok=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {server.address}\n"
        f"auth:\n  htpasswd:\n    realm: build-monitor-test\n    path: {root / 'htpasswd'}\n"
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_until_up(server, process, root / "registry.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(server: RegistryServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{server.address}/v2/", timeout=2).status_code == 401:
                return
        time.sleep(0.2)
    raise RuntimeError(f"docker-registry did not answer on {server.address}")


@contextlib.contextmanager
def tiny_base_image(client: docker.DockerClient, root: Path) -> Iterator[str]:
    """A ~1 MB image holding only the static health server (imported, never pulled)."""
    rustc = shutil.which("rustc")
    assert rustc, "rustc is needed to build the tiny test server"
    root.mkdir(parents=True, exist_ok=True)
    source = root / "server.rs"
    source.write_text(_SERVER_RS)
    binary = root / "server"
    static = ["-O", "-C", "strip=symbols", "-C", "target-feature=+crt-static"]
    subprocess.run(
        [rustc, *static, str(source), "-o", str(binary)],
        check=True,
        capture_output=True,
    )
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(binary, arcname="server")
    repository, tag = "bm-h6-tiny-base", uuid.uuid4().hex[:12]
    client.api.import_image_from_data(
        archive.getvalue(), repository=repository, tag=tag, changes=['CMD ["/server"]']
    )
    try:
        yield f"{repository}:{tag}"
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            client.images.remove(f"{repository}:{tag}", force=True)
