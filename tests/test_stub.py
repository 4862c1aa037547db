"""python/fastrnn/_C.pyi, the extension's type stub, names what the built extension defines: every
public function and class (CUDA builds define a few more, cuda_*), every class member, and each
function's parameters in order, so an editor's or mypy's view of fastrnn._C stays true. The
installed package carries the PEP 561 marker, so type checkers read its annotations and the stub."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import fastrnn
import pytest
from fastrnn import _C

STUB = Path(__file__).resolve().parent.parent / "python" / "fastrnn" / "_C.pyi"


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf8"))


def stub_functions() -> dict:
    """{name: [parameter names]} of the stub's top-level functions."""
    return {
        node.name: [a.arg for a in node.args.args + node.args.kwonlyargs]
        for node in stub_tree().body
        if isinstance(node, ast.FunctionDef)
    }


def stub_constants() -> set:
    """The names of the stub's top-level annotated constants (other than __all__)."""
    return {
        node.target.id
        for node in stub_tree().body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id != "__all__"
    }


def stub_classes() -> dict:
    """{class name: {member names}} of the stub's classes."""
    return {
        node.name: {
            m.name if isinstance(m, ast.FunctionDef) else m.target.id
            for m in node.body
            if isinstance(m, ast.FunctionDef)
            or (isinstance(m, ast.AnnAssign) and isinstance(m.target, ast.Name))
        }
        for node in stub_tree().body
        if isinstance(node, ast.ClassDef)
    }


def extension_parameters(fn) -> list:
    """The parameter names pybind11 writes in the first line of a function's docstring."""
    first = (fn.__doc__ or "").splitlines()[0]
    inside = first[first.index("(") + 1 : first.rindex(")")]
    return re.findall(r"(?:^|, )\*?(\w+)(?=: |=|$|, )", inside)


def test_the_stub_names_every_public_function_and_class():
    public = {n for n in dir(_C) if not n.startswith("__")}
    stubbed = set(stub_functions()) | set(stub_classes()) | stub_constants()
    assert public - stubbed == set(), "defined by the extension, missing from _C.pyi"
    only_in_stub = stubbed - public
    assert all(n.startswith("cuda_") for n in only_in_stub), only_in_stub  # CUDA builds only


@pytest.mark.parametrize("name", sorted(stub_functions()))
def test_each_functions_parameters_are_the_extensions(name):
    if not hasattr(_C, name):
        pytest.skip(f"{name} is defined by CUDA builds only")
    assert stub_functions()[name] == extension_parameters(getattr(_C, name))


@pytest.mark.parametrize("name", sorted(stub_classes()))
def test_each_classs_members_are_the_extensions(name):
    cls = getattr(_C, name)
    members = {m for m in vars(cls) if not m.startswith("_") or m in ("__init__", "__len__")}
    stubbed = {
        m for m in stub_classes()[name] if not m.startswith("_") or m in ("__init__", "__len__")
    }
    assert members == stubbed


def stub_init_parameters(name: str) -> list:
    """The parameter names of a stub class's __init__, self left out."""
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            for m in node.body:
                if isinstance(m, ast.FunctionDef) and m.name == "__init__":
                    return [a.arg for a in m.args.args[1:] + m.args.kwonlyargs]
    return []


@pytest.mark.parametrize("name", sorted(stub_classes()))
def test_each_constructors_parameters_are_the_extensions(name):
    doc = getattr(_C, name).__init__.__doc__ or ""
    if not doc.startswith("__init__("):  # CoreError (Python's), or an overloaded constructor
        pytest.skip(f"{name}'s constructor has no single pybind11 signature")
    assert stub_init_parameters(name) == extension_parameters(getattr(_C, name).__init__)[1:]


def test_the_installed_package_is_marked_typed_and_ships_the_stub():
    installed = Path(fastrnn.__file__).resolve().parent
    assert (installed / "py.typed").is_file()
    assert (installed / "_C.pyi").is_file()
