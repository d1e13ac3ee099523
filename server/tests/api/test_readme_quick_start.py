"""The README's five-minute quick start, pasted into bash against a live server (both DBs).

The block is taken from README.md as it is, so the README cannot drift from the API: it must
run to the end (``-e -o pipefail``: any failing command or pipeline fails the test), with
``MEMORYOS_URL`` pointing at the live server, as the block says a reader may set it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.app import LiveServer

README = Path(__file__).resolve().parents[3] / "README.md"


def quick_start_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Five-minute quick start") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the quick start is one block to paste"
    return blocks[0]


def run(block: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYOS_")}
    # This interpreter as the block's python3: a plain one, without a version manager's shim
    # (which can take most of a second to start, and the block starts python3 a dozen times).
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block],
        env={**env, "MEMORYOS_URL": url, "PATH": path}, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_quick_start_runs_as_pasted(live_server: LiveServer) -> None:
    block = quick_start_block()
    assert "${MEMORYOS_URL:-http://127.0.0.1:8080}" in block  # the address `make serve` uses, by default
    for route in ("/v1/auth/signup", "/v1/tenant/api-keys", "/v1/memories/add", "/v1/memories/retrieve", "/v1/memories\"", "/v1/users/alice"):
        assert route in block, route

    first = run(block, live_server.url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stderr == "", first.stderr
    lines = first.stdout.splitlines()
    added = json.loads(lines[0])
    assert {r["memory"] for r in added} >= {"Lives in Lisbon", "Is allergic to peanuts"}
    prompt = first.stdout[first.stdout.index(lines[1]) :]
    assert "- Is allergic to peanuts" in prompt  # what retrieve hands the model
    listed = [line for line in lines if re.match(r"^[0-9a-f-]{36} ", line)]
    assert sorted(line.split(" ", 1)[1] for line in listed) == ["Is allergic to peanuts", "Lives in Lisbon"]
    forgot_memory, forgot_user = json.loads(lines[-2]), json.loads(lines[-1])
    assert forgot_memory["deleted"] is True and forgot_memory["id"] == listed[0].split(" ")[0]
    assert forgot_user["deleted"] is True and forgot_user["external_user_id"] == "alice"

    # Pasted a second time: the account exists (sign-up refused, login works), Alice is new again.
    again = run(block, live_server.url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "- Is allergic to peanuts" in again.stdout
