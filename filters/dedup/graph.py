"""Connected components of the duplicate graph, in numpy: nodes are int64 document numbers.

`components` labels the nodes of one edge list held in memory (each node with the smallest node of
its component). When the edges do not fit in one process, the graph is partitioned by node and
reduced by the alternating large-star / small-star steps of Kiveris et al., "Connected Components
in MapReduce and Beyond" (SoCC 2014): each step is a pure function of the edges incident to the
nodes of one partition, and at the fixed point every component is a star whose centre is its
smallest node. `star_violations` counts the nodes that are neither a centre nor a leaf of such a
star; when no partition has any, the components are read off the edges.
"""

from __future__ import annotations

import numpy as np


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs (a, b) with a != b, sorted by a then b."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    keep = a != b
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return a, b
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first]


def _groups(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and size of each run of equal values in sorted `a`."""
    starts = np.flatnonzero(np.concatenate(([True], a[1:] != a[:-1])))
    sizes = np.diff(np.append(starts, len(a)))
    return starts, sizes


def components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, labels): every node of the edges (a, b), labelled with its component's minimum.

    Hooking and pointer jumping (Shiloach-Vishkin style), each round vectorized over all edges.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inverse[: len(a)], inverse[len(a) :]
    label = np.arange(len(nodes))  # indices into the sorted nodes: a smaller index, a smaller node
    while True:
        lu, lv = label[u], label[v]
        differ = lu != lv
        if not differ.any():
            break
        lu, lv = lu[differ], lv[differ]
        low = np.minimum(lu, lv)
        np.minimum.at(label, np.maximum(lu, lv), low)  # hook the larger root under the smaller
        while True:  # jump every pointer to its root
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
    return nodes, nodes[label]


def large_star(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One large-star step over directed edges (a, b), both directions of every edge present,
    for the nodes `a` of one partition.

    Each node u links its larger neighbours to m(u), the smallest of u and its neighbours.
    Returns the new edges as (larger, smaller) and how many nodes broke the star condition.
    """
    a, b = unique_pairs(a, b)
    if len(a) == 0:
        return a, b, 0
    starts, sizes = _groups(a)
    first = b[starts]  # each node's smallest neighbour
    centre = first > a[starts]
    leaf = (sizes == 1) & (first < a[starts])
    violations = int(np.count_nonzero(~(centre | leaf)))
    m = np.repeat(np.minimum(a[starts], first), sizes)
    larger = b > a
    return b[larger], m[larger], violations


def small_star(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One small-star step over edges (a, b) with b < a, for the nodes `a` of one partition.

    Each node u links itself and its smaller neighbours to the smallest of them.
    Returns the new edges as (larger, smaller).
    """
    a, b = unique_pairs(a, b)
    if len(a) == 0:
        return a, b
    starts, sizes = _groups(a)
    m_group = b[starts]
    m = np.repeat(m_group, sizes)
    moved = b != m
    larger = np.concatenate([b[moved], a[starts]])
    smaller = np.concatenate([m[moved], m_group])
    return larger, smaller


def star_labels(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, labels) of the nodes `a` of a star forest given as both-direction edges: a leaf is
    labelled with its centre, a centre with itself."""
    a, b = unique_pairs(a, b)
    if len(a) == 0:
        return a, b
    starts, _ = _groups(a)
    nodes, first = a[starts], b[starts]
    return nodes, np.minimum(nodes, first)
