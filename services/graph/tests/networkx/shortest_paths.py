"""Shortest path lengths under the graph service's privacy rule, computed with
networkx: the independent answer tests/conformance/generated.rs checks the
service's paths against.

Reads JSON on stdin:

    {"discoverable": [person, ...],        # the discoverable users
     "entries": [[owner, person], ...],    # one per contact entry (a KNOWS edge)
     "queries": [[viewer, target], ...]}

with persons as integers, and prints a JSON list with, for each query, the number
of hops of the shortest path from the viewer to the target, or null when there is
none. No cutoff: the caller applies max_hops.

The rule (docs/graph.md, "Privacy"), for one viewer:
- an edge may be crossed, in either direction, when its owner is the viewer or a
  discoverable user;
- a person may be walked through when they are the viewer, one of the viewer's
  contacts (the persons the viewer's own entries name) or a discoverable user; the
  target is reached whoever they are.
"""

import json
import sys

import networkx as nx


def crossable_graph(viewer, entries, discoverable):
    """The edges the viewer may cross, undirected, between persons they may walk
    through."""
    contacts = {person for owner, person in entries if owner == viewer}
    passable = {viewer} | contacts | discoverable
    graph = nx.Graph()
    graph.add_edges_from(
        (owner, person)
        for owner, person in entries
        if owner == viewer or owner in discoverable
    )
    return graph, passable


def shortest_length(graph, passable, viewer, target):
    """Hops of the shortest path, or None."""
    walkable = graph.subgraph(passable | {target})
    if viewer not in walkable or target not in walkable:
        return None
    try:
        return nx.shortest_path_length(walkable, viewer, target)
    except nx.NetworkXNoPath:
        return None


def main():
    problem = json.load(sys.stdin)
    discoverable = set(problem["discoverable"])
    entries = [tuple(entry) for entry in problem["entries"]]
    graphs = {}
    lengths = []
    for viewer, target in problem["queries"]:
        if viewer not in graphs:
            graphs[viewer] = crossable_graph(viewer, entries, discoverable)
        graph, passable = graphs[viewer]
        lengths.append(shortest_length(graph, passable, viewer, target))
    json.dump(lengths, sys.stdout)


if __name__ == "__main__":
    main()
