"""Graphs over issues, causes, measures and units, as pure functions over plain data (networkx).
Shared by the services, the app, the Word pack and the CLI."""
from __future__ import annotations

from typing import Iterable

import networkx as nx


def dependency_graph(edges: Iterable[tuple[int, int]]) -> nx.DiGraph:
    """Measure dependencies as a DiGraph with an edge measure → the measure it depends on."""
    g = nx.DiGraph()
    g.add_edges_from(edges)
    return g


def cycle_if_added(edges: Iterable[tuple[int, int]], measure_id: int, depends_on_id: int
                   ) -> list[int] | None:
    """The cycle (as a list of measure ids, first repeated at the end) that the dependency
    measure → depends_on would close, or None when it is safe."""
    if measure_id == depends_on_id:
        return [measure_id, measure_id]
    g = dependency_graph(edges)
    if depends_on_id in g and measure_id in g and nx.has_path(g, depends_on_id, measure_id):
        path = nx.shortest_path(g, depends_on_id, measure_id)
        return [measure_id, *path]
    return None
