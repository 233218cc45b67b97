"""The committed stubs (`keyshift/_native.pyi`) match the built module: the same names, the same
members per class, and the same parameter names and kinds for every function and method (read
from the native `__text_signature__`). Fails on any drift."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import keyshift
import keyshift._native as native

STUB = Path(keyshift.__file__).with_name("_native.pyi")
TREE = ast.parse(STUB.read_text("utf-8"))
EXC_ATTRS = {"code", "status", "request_id", "field", "record", "retry_after"}


def stub_names() -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in TREE.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
    return {k: v for k, v in out.items() if not k.startswith("_") or k == "__version__"}


def runtime_names() -> set[str]:
    return {n for n in dir(native) if not n.startswith("_") or n == "__version__"}


def test_same_top_level_names() -> None:
    assert set(stub_names()) == runtime_names()


def stub_params(fn: ast.FunctionDef, method: bool) -> list[tuple[str, str]]:
    a = fn.args
    out = [(p.arg, "POSITIONAL_OR_KEYWORD") for p in a.posonlyargs + a.args]
    if a.vararg:
        out.append((a.vararg.arg, "VAR_POSITIONAL"))
    out += [(p.arg, "KEYWORD_ONLY") for p in a.kwonlyargs]
    if a.kwarg:
        out.append((a.kwarg.arg, "VAR_KEYWORD"))
    if method and not any(isinstance(d, ast.Name) and d.id == "staticmethod"
                          for d in fn.decorator_list):
        out = out[1:]
    return out


def runtime_params(obj: Any) -> list[tuple[str, str]] | None:
    try:
        sig = inspect.signature(obj)
    except (ValueError, TypeError):
        return None
    kinds = {"POSITIONAL_ONLY": "POSITIONAL_OR_KEYWORD"}
    return [(p.name, kinds.get(p.kind.name, p.kind.name)) for p in sig.parameters.values()]


def test_functions_have_the_stub_signatures() -> None:
    for name, node in stub_names().items():
        if isinstance(node, ast.FunctionDef):
            assert runtime_params(getattr(native, name)) == stub_params(node, False), name


def class_members(cls: type) -> set[str]:
    base = set(dir(Exception)) if issubclass(cls, BaseException) else set(dir(object))
    return {n for n in dir(cls) if n not in base and (not n.startswith("_") or n in {
        "__iter__", "__next__", "__aiter__", "__anext__", "__enter__", "__exit__",
        "__aenter__", "__aexit__", "__bool__"})}


def test_classes_have_the_stub_members_and_signatures() -> None:
    for name, node in stub_names().items():
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(native, name)
        assert isinstance(cls, type), name
        declared: dict[str, ast.AST] = {}
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                declared[item.name] = item
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                declared[item.target.id] = item
        wanted = {n for n in declared if n not in {"__init__", "__eq__", "__hash__"}}
        if issubclass(cls, BaseException):
            assert wanted <= EXC_ATTRS, name
            continue
        assert wanted == class_members(cls), name
        for member, item in declared.items():
            if member in {"__eq__", "__hash__"}:
                continue
            if isinstance(item, ast.FunctionDef) and not any(
                    isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                target = cls if member == "__init__" else getattr(cls, member)
                got = runtime_params(target)
                if got and member != "__init__" and got[0][0] in {"self", "slf"}:
                    got = got[1:]
                if got is not None:
                    assert got == stub_params(item, True), f"{name}.{member}"


def test_exceptions_carry_the_stub_attributes(client: keyshift.Client) -> None:
    try:
        client.get_key("key_missing_for_stub_test")
    except keyshift.NotFoundError as e:
        assert EXC_ATTRS <= set(vars(e)), vars(e)
    else:
        raise AssertionError("expected NotFoundError")
