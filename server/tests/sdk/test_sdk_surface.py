"""The SDK's public surface: what it exports, and that it is a superset of the published SDK.

Compatibility is checked against the real published package (``memoryo-sdk`` 0.1.1),
installed in a virtual environment of its own: ``surface_dump.py`` describes each
package's surface from inside its own interpreter, and the two descriptions are compared.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import memoryos

SURFACE_DUMP = Path(__file__).with_name("surface_dump.py")
REQUIRED = "<required>"

# Where we differ from the published SDK on purpose, and why.
#   base_url: the published default is its hosted service; ours is None, meaning
#   MEMORYOS_API_URL read when the client is made, else the local server.
INTENDED_DEFAULT_CHANGES = {
    ("Memory", "__init__", "base_url"),
    ("AsyncMemory", "__init__", "base_url"),
    ("UniversalMemory", "__init__", "base_url"),
}
#   The class constants naming the hosted service point at the local server instead.
INTENDED_VALUE_CHANGES = {
    ("Memory", "DEFAULT_BASE_URL"),
    ("AsyncMemory", "DEFAULT_BASE_URL"),
    ("UniversalMemory", "DEFAULT_BASE_URL"),
    ("UniversalMemory", "DEFAULT_CONSENT_BASE_URL"),
}

POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")


# --- what we export ----------------------------------------------------------------------


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(memoryos).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert len(memoryos.__all__) == len(set(memoryos.__all__)), "duplicates in __all__"
    assert set(memoryos.__all__) - {"__version__"} == public


def test_every_name_in_all_imports() -> None:
    for name in memoryos.__all__:
        namespace: dict[str, Any] = {}
        exec(f"from memoryos import {name}", namespace)
        assert namespace[name] is getattr(memoryos, name)

    star: dict[str, Any] = {}
    exec("from memoryos import *", star)
    assert set(star) - {"__builtins__"} == set(memoryos.__all__)


def test_the_documented_import_paths_work() -> None:
    from memoryos import AsyncMemory, Memory, MemoryOSError, WriteNotPermitted
    from memoryos.async_client import AsyncMemory as AsyncMemoryFromModule
    from memoryos.client import Memory as MemoryFromModule
    from memoryos.errors import AuthError, map_sdk_error
    from memoryos.types import AddResult, MemoryRecord
    from memoryos.types import Memory as MemoryRecordAlias
    from memoryos.universal import AsyncUniversalMemory, UniversalMemory

    assert MemoryFromModule is Memory and AsyncMemoryFromModule is AsyncMemory
    assert MemoryRecordAlias is MemoryRecord  # the published types module's meaning of the name
    assert issubclass(WriteNotPermitted, MemoryOSError) and issubclass(AuthError, MemoryOSError)
    assert callable(map_sdk_error) and AddResult.model_fields["status"].is_required()
    assert UniversalMemory is memoryos.UniversalMemory
    assert AsyncUniversalMemory is memoryos.AsyncUniversalMemory


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [(memoryos.Memory, memoryos.AsyncMemory), (memoryos.UniversalMemory, memoryos.AsyncUniversalMemory)],
)
def test_async_twins_mirror_the_sync_clients(sync_cls: Any, async_cls: Any) -> None:
    sync_methods = _public_callables(sync_cls)
    async_methods = _public_callables(async_cls)
    assert set(sync_methods) - {"close"} <= set(async_methods)
    for name, sync_method in sync_methods.items():
        async_method = async_methods[name]
        assert _shape(sync_method) == _shape(async_method), name
        io_free = name == "__init__" or isinstance(inspect.getattr_static(sync_cls, name), staticmethod)
        assert inspect.iscoroutinefunction(async_method) is not io_free, name
        assert not inspect.iscoroutinefunction(sync_method), name
    assert inspect.iscoroutinefunction(async_cls.close)
    assert inspect.iscoroutinefunction(async_cls.aclose)


def _public_callables(cls: type) -> dict[str, Any]:
    return {
        name: getattr(cls, name)
        for name in dir(cls)
        if (not name.startswith("_") or name == "__init__") and inspect.isroutine(getattr(cls, name))
    }


def _shape(func: Any) -> list[tuple[str, str, Any]]:
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(func).parameters.values()]


# --- superset of the published SDK -------------------------------------------------------


@pytest.fixture(scope="module")
def published_surface(published_sdk_runner: Any) -> dict[str, Any]:
    surface: dict[str, Any] = json.loads(published_sdk_runner(SURFACE_DUMP).stdout)
    assert "/site-packages/memoryos/" in surface["package_file"]
    assert not surface["package_file"].startswith(str(Path(memoryos.__file__).parent))
    return surface


@pytest.fixture(scope="module")
def our_surface() -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(SURFACE_DUMP)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    surface: dict[str, Any] = json.loads(completed.stdout)
    assert surface["package_file"] == memoryos.__file__
    return surface


def test_surface_is_a_superset_of_the_published_sdk(
    published_surface: dict[str, Any], our_surface: dict[str, Any]
) -> None:
    problems = surface_problems(published_surface, our_surface)
    assert not problems, "incompatible with memoryo-sdk 0.1.1:\n  " + "\n  ".join(problems)


def test_the_comparison_catches_incompatible_changes(published_surface: dict[str, Any]) -> None:
    """Guard the guard: break a copy of the published surface in a few ways and expect reports."""
    broken = json.loads(json.dumps(published_surface))
    memory = broken["modules"]["memoryos.client"]["Memory"]["members"]
    add_params = memory["add"]["params"]
    add_params[1], add_params[2] = add_params[2], add_params[1]  # reorder messages / external_user_id
    memory["get"]["params"][3]["default"] = "20"  # limit=10 → 20
    del memory["list"]
    memory["delete"]["params"].append({"name": "force", "kind": "KEYWORD_ONLY", "default": REQUIRED})
    broken["modules"]["memoryos.types"]["AddResult"]["fields"]["job_id"]["default"] = REQUIRED
    del broken["modules"]["memoryos.errors"]["RateLimitError"]
    broken["modules"]["memoryos.universal"]["UniversalMemory"]["members"]["get"]["coroutine"] = True

    problems = "\n".join(surface_problems(published_surface, broken))
    for expected in (
        "Memory.add: positional parameter 1",
        "Memory.get: parameter 'limit' default",
        "Memory.list: missing",
        "Memory.delete: new parameter 'force' has no default",
        "AddResult.job_id: default",
        "memoryos.errors.RateLimitError: missing",
        "UniversalMemory.get: sync/async differs",
    ):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"


def surface_problems(published: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    problems = [f"memoryos.__all__ lacks {name}" for name in published["all"] if name not in ours["all"]]
    for module, entries in published["modules"].items():
        our_entries = ours["modules"].get(module, {})
        for name, theirs in entries.items():
            path = f"{module}.{name}"
            mine = our_entries.get(name)
            if mine is None:
                problems.append(f"{path}: missing")
            elif theirs["kind"] != mine["kind"]:
                problems.append(f"{path}: is a {mine['kind']}, was a {theirs['kind']}")
            elif theirs["kind"] == "literal" and theirs["values"] != mine["values"]:
                problems.append(f"{path}: values {mine['values']}, were {theirs['values']}")
            elif theirs["kind"] == "function":
                problems += _signature_problems(path, theirs, mine, owner="")
            elif theirs["kind"] == "class":
                problems += _class_problems(module, theirs, mine)
    return problems


def _class_problems(module: str, theirs: dict[str, Any], mine: dict[str, Any]) -> list[str]:
    owner = theirs["name"]
    where = f"{module}.{owner}"
    problems = [
        f"{where}: no longer a subclass of {base}" for base in theirs["bases"] if base not in mine["bases"]
    ]

    for name, member in theirs["members"].items():
        our_member = mine["members"].get(name)
        path = f"{where}.{name}"
        if our_member is None:
            problems.append(f"{path}: missing")
        elif member["kind"] != our_member["kind"]:
            problems.append(f"{path}: is a {our_member['kind']}, was a {member['kind']}")
        elif member["kind"] == "attribute":
            if member["value"] != our_member["value"] and (owner, name) not in INTENDED_VALUE_CHANGES:
                problems.append(f"{path}: value {our_member['value']}, was {member['value']}")
        elif "params" in member:
            problems += _signature_problems(path, member, our_member, owner=owner)

    if "fields" in theirs:
        if mine.get("extra") == "forbid":
            problems.append(f"{where}: rejects unknown fields")
        for name, field in theirs["fields"].items():
            our_field = mine["fields"].get(name)
            path = f"{where}.{name}"
            if our_field is None:
                problems.append(f"{path}: missing field")
                continue
            for aspect in ("default", "annotation", "validation_alias"):
                if field[aspect] != our_field[aspect]:
                    problems.append(f"{path}: {aspect} {our_field[aspect]}, was {field[aspect]}")
        for name, our_field in mine["fields"].items():
            if name not in theirs["fields"] and our_field["default"] == REQUIRED:
                problems.append(f"{where}.{name}: new field is required")
    return problems


def _signature_problems(path: str, theirs: dict[str, Any], mine: dict[str, Any], *, owner: str) -> list[str]:
    method = path.rsplit(".", 1)[-1]
    problems: list[str] = []
    if theirs["coroutine"] != mine["coroutine"]:
        problems.append(
            f"{path}: sync/async differs (coroutine={mine['coroutine']}, was {theirs['coroutine']})"
        )

    def default_problem(param: dict[str, Any], ours: dict[str, Any]) -> str | None:
        if param["default"] == ours["default"] or (owner, method, param["name"]) in INTENDED_DEFAULT_CHANGES:
            return None
        return f"{path}: parameter {param['name']!r} default {ours['default']}, was {param['default']}"

    their_positional = [p for p in theirs["params"] if p["kind"] in POSITIONAL]
    our_positional = [p for p in mine["params"] if p["kind"] in POSITIONAL]
    for index, param in enumerate(their_positional):
        ours = our_positional[index] if index < len(our_positional) else None
        if ours is None or (ours["name"], ours["kind"]) != (param["name"], param["kind"]):
            problems.append(
                f"{path}: positional parameter {index} is {ours and ours['name']!r}, was {param['name']!r}"
            )
        elif problem := default_problem(param, ours):
            problems.append(problem)

    our_by_name = {p["name"]: p for p in mine["params"]}
    their_names = {p["name"] for p in theirs["params"]}
    for param in theirs["params"]:
        if param["kind"] in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            if not any(p["kind"] == param["kind"] for p in mine["params"]):
                problems.append(f"{path}: no longer accepts {param['kind']}")
        elif param["kind"] == "KEYWORD_ONLY":
            ours = our_by_name.get(param["name"])
            if ours is None or ours["kind"] not in ("KEYWORD_ONLY", "POSITIONAL_OR_KEYWORD"):
                problems.append(f"{path}: keyword parameter {param['name']!r} missing")
            elif problem := default_problem(param, ours):
                problems.append(problem)

    for param in mine["params"]:
        added = param["name"] not in their_names and param["kind"] not in ("VAR_POSITIONAL", "VAR_KEYWORD")
        if added and param["default"] == REQUIRED:
            problems.append(f"{path}: new parameter {param['name']!r} has no default")
    return problems
