"""Print, as JSON, the public surface of whichever ``memoryos`` this interpreter imports.

``test_sdk_surface.py`` runs it under the published SDK's virtual environment and under
ours, then compares: module names, classes and their bases, method signatures (parameter
names, kinds, order, defaults), sync-or-async, and the fields of every pydantic model.
It uses only the standard library and pydantic, which both environments have.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import typing
from typing import Any

import pydantic

MODULES = (
    "memoryos",
    "memoryos.types",
    "memoryos.errors",
    "memoryos.client",
    "memoryos.async_client",
    "memoryos.universal",
)
# Dunder methods that are part of a class's behaviour for callers.
CALLER_DUNDERS = frozenset(
    {"__init__", "__enter__", "__exit__", "__aenter__", "__aexit__", "__iter__", "__len__", "__getitem__"}
)
REQUIRED = "<required>"


def _ours(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "") or "").split(".")[0] == "memoryos"


def _default(value: Any) -> str:
    return REQUIRED if value is inspect.Parameter.empty else repr(value)


def _callable(func: Any) -> dict[str, Any]:
    signature = inspect.signature(func)
    return {
        "params": [
            {"name": p.name, "kind": p.kind.name, "default": _default(p.default)}
            for p in signature.parameters.values()
        ],
        "coroutine": inspect.iscoroutinefunction(func),
    }


def _member(cls: type, name: str) -> dict[str, Any]:
    raw = inspect.getattr_static(cls, name)
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", **_callable(getattr(cls, name))}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", **_callable(getattr(cls, name))}
    if isinstance(raw, property):
        return {"kind": "property"}
    if inspect.isfunction(raw):
        return {"kind": "method", **_callable(raw)}
    if type(raw).__name__ == "PydanticDescriptorProxy":
        return {"kind": "validator"}
    return {"kind": "attribute", "value": repr(raw)}


def _annotation(annotation: Any) -> str:
    """The annotation's text without module paths, which legitimately differ between the two
    packages (``memoryos.types.MemoryResult`` there, ``memoryos._models.MemoryResult`` here)."""
    text = re.sub(r"<class '([\w.]+)'>", r"\1", repr(annotation))
    return re.sub(r"\bmemoryos(?:\.\w+)*\.(\w+)", r"\1", text)


def _field_default(field: Any) -> str:
    if field.is_required():
        return REQUIRED
    if field.default_factory is not None:
        return repr(field.default_factory())
    return repr(field.default)


def _class(cls: type) -> dict[str, Any]:
    is_model = issubclass(cls, pydantic.BaseModel)
    fields = cls.model_fields if is_model else {}  # type: ignore[attr-defined]
    names: set[str] = set()
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        names.update(
            name
            for name in vars(klass)
            if (not name.startswith("_") or name in CALLER_DUNDERS)
            and name not in fields
            and not (is_model and name.startswith("model_"))
        )
    described: dict[str, Any] = {
        "name": cls.__name__,
        "bases": [klass.__name__ for klass in cls.__mro__ if _ours(klass)],
        "members": {name: _member(cls, name) for name in sorted(names)},
    }
    if is_model:
        described["extra"] = cls.model_config.get("extra")  # type: ignore[attr-defined]
        described["fields"] = {
            name: {
                "required": field.is_required(),
                "default": _field_default(field),
                "annotation": _annotation(field.annotation),
                "validation_alias": repr(field.validation_alias),
            }
            for name, field in fields.items()
        }
    return described


def _module(module: Any) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or inspect.ismodule(obj):
            continue
        if inspect.isclass(obj) and _ours(obj):
            entries[name] = {"kind": "class", **_class(obj)}
        elif inspect.isfunction(obj) and _ours(obj):
            entries[name] = {"kind": "function", **_callable(obj)}
        elif typing.get_origin(obj) is typing.Literal:
            entries[name] = {"kind": "literal", "values": list(typing.get_args(obj))}
    return entries


def dump() -> dict[str, Any]:
    import importlib

    modules = {name: importlib.import_module(name) for name in MODULES}
    package = modules["memoryos"]
    return {
        "package_file": package.__file__,
        "all": list(getattr(package, "__all__", [])),
        "modules": {name: _module(module) for name, module in modules.items()},
    }


if __name__ == "__main__":
    json.dump(dump(), sys.stdout, indent=1, sort_keys=True)
