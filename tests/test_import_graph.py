"""The house arrows, read from the source: api -> dialects -> calls -> callflow -> engine
-> media -> sip, rtp -> codecs; store, webhooks, httpclient beside, never below engine.
Imports are parsed with ``ast`` (``TYPE_CHECKING`` ones count too)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import callbridge

ROOT = Path(callbridge.__file__).parent

# A package may import only packages of a higher rank than its own.
RANK = {
    "api": 0,
    "dialects": 1,
    "calls": 2,
    "callflow": 3,
    "engine": 4,
    "media": 5,
    "sip": 6,
    "rtp": 6,
    "codecs": 7,
}
BESIDE = {"store", "webhooks", "httpclient", "config", "main", "wiring", "cli"}
# The composition root: the only packages that wire implementations together; nothing
# imports them but the command line (main and the wiring package import each other's way).
COMPOSITION_ROOT = {"main", "wiring"}
ENTRY = {"cli"}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        package = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                names = module.split(".")
                if names[0] == "callbridge" and len(names) > 1 and names[1] != package:
                    graph[package].add(names[1])
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_the_graph_is_read_from_the_source() -> None:
    graph = package_graph()
    assert "codecs" in graph["rtp"]
    assert "rtp" in graph["media"]


def test_no_package_cycle() -> None:
    assert cycle(package_graph()) is None


def test_rtp_and_media_do_not_import_each_other_both_ways() -> None:
    graph = package_graph()
    assert "media" not in graph["rtp"], "rtp/ must not import media/ (media drives rtp)"


def test_codecs_is_a_leaf() -> None:
    assert not package_graph().get("codecs")


def test_arrows_point_down() -> None:
    wrong = [
        f"{source} -> {target}"
        for source, targets in package_graph().items()
        for target in targets
        if source in RANK and target in RANK and RANK[target] <= RANK[source]
    ]
    assert wrong == []


def test_engine_and_below_stand_alone() -> None:
    graph = package_graph()
    wrong = [
        f"{source} -> {target}"
        for source in ("engine", "media", "sip", "rtp", "codecs")
        for target in graph.get(source, ())
        if target in BESIDE
    ]
    assert wrong == []


def test_only_the_entry_imports_the_composition_root() -> None:
    wrong = [
        f"{source} -> {target}"
        for source, targets in package_graph().items()
        for target in targets & COMPOSITION_ROOT
        if source not in COMPOSITION_ROOT | ENTRY
    ]
    assert wrong == []


def test_the_wiring_package_does_not_import_main() -> None:
    assert "main" not in package_graph().get("wiring", set())


def test_a_cycle_is_found() -> None:
    assert cycle({"rtp": {"media"}, "media": {"rtp"}}) == ["media", "rtp", "media"]
