"""The package's structure, read from its source: the imports form a DAG (the core's, and the
tools' too), the core never imports a tool, and the tools (specsep.tools, and specsep.oracle, its public name) use the
public API only. ``import specsep`` loads no tool module."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "specsep"
TOOL_PREFIXES = ("specsep.tools", "specsep.oracle")


def _module_name(path):
    parts = ("specsep",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
# the compiled modules (pybind11; present only once built): leaves of the graph
EXTENSIONS = {"specsep._cpu", "specsep._cpu_avx2", "specsep._emu", "specsep._emu_selftest", "specsep._emu_profile",
              "specsep._emu_selftest_profile"}


def _is_tool(module):
    return any(module == prefix or module.startswith(prefix + ".") for prefix in TOOL_PREFIXES)


def _imports(module):
    """``(imported module, names)`` of every import in ``module``, in-function ones included;
    ``from package import submodule`` counts as importing the submodule."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names if alias.name.split(".")[0] == "specsep"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            if target.split(".")[0] != "specsep":
                continue
            names = tuple(alias.name for alias in node.names)
            modules = [n for n in names if f"{target}.{n}" in MODULES.keys() | EXTENSIONS]
            if len(modules) < len(names):
                found.append((target, tuple(n for n in names if n not in modules)))
            found += [(f"{target}.{n}", ()) for n in modules]
    return found


def _private(module):
    return any(part.startswith("_") for part in module.split(".")[1:])


def _graph(modules):
    return {module: {target for target, _ in _imports(module) if target in MODULES and target != module}
            for module in modules}


def _core_graph():
    return _graph(m for m in MODULES if not _is_tool(m))


def _cycle(graph):
    """One cycle of ``graph`` as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                return stack[stack.index(successor):] + [successor]
            if successor not in state and (found := visit(successor)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_imports_form_a_dag():
    """In the core, and in the tools too (in-function imports included: they hide a cycle, not
    remove it)."""
    assert _cycle(_core_graph()) is None, f"import cycle in the core: {' -> '.join(_cycle(_core_graph()))}"
    assert _cycle(_graph(MODULES)) is None, f"import cycle: {' -> '.join(_cycle(_graph(MODULES)))}"


def test_the_core_never_imports_a_tool():
    wrong = [(module, target) for module, targets in _core_graph().items() for target in targets if _is_tool(target)]
    assert wrong == []


def _private_uses(module):
    """Private core names a tool module uses: imports of private modules or names, and attributes
    ``specsep._name``."""
    uses = [target for target, _ in _imports(module) if not _is_tool(target) and _private(target)]
    uses += [f"{target}.{name}" for target, names in _imports(module) if not _is_tool(target)
             for name in names if name.startswith("_") and not name.startswith("__")]
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "specsep"
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            uses.append(f"specsep.{node.attr}")
    return uses


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is_tool(m)))
def test_tools_use_the_public_api_only(module):
    assert _private_uses(module) == []


def test_import_specsep_loads_no_tool_module():
    code = ("import sys, specsep; "
            "print(sorted(m for m in sys.modules if m.startswith(('specsep.tools', 'specsep.oracle'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    assert specsep_oracle_is_the_tool()


def specsep_oracle_is_the_tool():
    import specsep
    import specsep.oracle
    from specsep.tools import oracle

    return specsep.oracle is oracle and specsep.oracle.evaluate is oracle.evaluate
