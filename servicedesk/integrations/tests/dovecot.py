"""A real IMAP server for the tests: Debian's Dovecot as an unprivileged instance.

The test writes a configuration into a temporary directory (its own base,
state and mail directories, a passwd-file of accounts (one per test), IMAP on a free
loopback port, no TLS) and runs ``dovecot -F`` as an ordinary user: the
current one, or ``nobody`` when the tests run as root. Without the binary
the tests are skipped on a developer's machine and fail in CI (CI=true), where
`.ci/run` installs ``dovecot-imapd``.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "imap-secret"


@dataclass
class ImapServer:
    host: str
    port: int
    username: str
    password: str

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            status, _ = client.append(folder, None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def flags(self) -> dict[int, str]:
        """UID -> FLAGS of every message in the inbox."""
        client = self.client()
        try:
            client.select("INBOX")
            _, data = client.uid("FETCH", "1:*", "(FLAGS)")
        finally:
            client.logout()
        result = {}
        for line in data:
            if isinstance(line, bytes) and b"UID" in line:
                text = line.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                result[uid] = text.split("FLAGS (")[1].split(")")[0]
        return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(path: str, package: str) -> None:
    if os.path.exists(path):
        return
    message = f"{path} is missing: apt-get install {package}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


ACCOUNTS = 200
_accounts = iter(range(1, ACCOUNTS + 1))


@pytest.fixture
def imap_server(dovecot: Path) -> ImapServer:
    """A fresh account (empty mailbox) on the session's Dovecot."""
    username = f"helpdesk{next(_accounts)}"
    return ImapServer("127.0.0.1", int((dovecot / "port").read_text()), username, PASSWORD)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Path]:
    """One Dovecot per test session; returns its directory."""
    require_binary(DOVECOT, "dovecot-imapd")
    runner = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    group = "nogroup" if os.geteuid() == 0 else runner.pw_name
    root = Path(tempfile.mkdtemp(prefix="sd-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    # The accounts exist from the start: Dovecot may not notice a passwd-file
    # that changes within the second it last read it.
    (root / "passwd").write_text(
        "".join(f"helpdesk{n}:{{PLAIN}}{PASSWORD}\n" for n in range(1, ACCOUNTS + 1))
    )
    (root / "port").write_text(str(port))
    (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 0
default_login_user = {runner.pw_name}
default_internal_user = {runner.pw_name}
default_internal_group = {group}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={runner.pw_uid} gid={runner.pw_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    for path in [root, *root.rglob("*")]:
        os.chown(path, runner.pw_uid, runner.pw_gid)
    command = [DOVECOT, "-F", "-c", str(root / "dovecot.conf")]
    if os.geteuid() == 0:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            user=runner.pw_uid, group=runner.pw_gid, extra_groups=[],
        )  # fmt: skip
    else:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (root / "dovecot.log").read_text()
                        if (root / "dovecot.log").exists()
                        else ""
                    )
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"dovecot did not start: {stderr}\n{log}")
                time.sleep(0.1)
        yield root
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
