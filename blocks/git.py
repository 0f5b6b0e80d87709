"""Git credentials for fetching from and pushing to a service's repository."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field, HttpUrl, SecretStr

from build_monitor.git.repo import GitAuth


class GitCredentials(Block):
    """HTTPS token or SSH key for a git host. The secret is handed to git per command (an
    `http.extraHeader` or `GIT_SSH_COMMAND`), never written into the clone's config."""

    _block_type_name = "Build Monitor Git Credentials"
    _description = "Credentials build-monitor uses to fetch and push service repositories."
    _documentation_url = HttpUrl("https://git-scm.com/docs/gitcredentials")

    username: str = Field(default="git", description="User name for HTTPS (token auth).")
    token: SecretStr | None = Field(default=None, description="HTTPS access token or password.")
    ssh_private_key: SecretStr | None = Field(default=None, description="PEM/OpenSSH key text.")
    ssh_known_hosts: str | None = Field(
        default=None, description="known_hosts lines; without them host keys are accepted once."
    )

    def get_client(self) -> GitAuth:
        """The options and environment a git command needs to authenticate."""
        options: list[str] = []
        env: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"}
        if self.token is not None:
            pair = f"{self.username}:{self.token.get_secret_value()}".encode()
            header = base64.b64encode(pair).decode()
            options.append(f"http.extraHeader=Authorization: Basic {header}")
        if self.ssh_private_key is not None:
            key_dir = Path(tempfile.mkdtemp(prefix="bm-ssh-"))
            key_path = key_dir / "id"
            key_path.write_text(self.ssh_private_key.get_secret_value().strip() + "\n")
            os.chmod(key_path, 0o600)
            command = f"ssh -i {key_path} -o IdentitiesOnly=yes -o BatchMode=yes"
            if self.ssh_known_hosts:
                hosts = key_dir / "known_hosts"
                hosts.write_text(self.ssh_known_hosts.strip() + "\n")
                command += f" -o UserKnownHostsFile={hosts} -o StrictHostKeyChecking=yes"
            else:
                command += " -o StrictHostKeyChecking=accept-new"
            env["GIT_SSH_COMMAND"] = command
        return GitAuth(config_options=tuple(options), env=env)
