"""What a stream builds, as the verifier sees it: nodes with a depth, a size and a hash cost.

The verifier's symbolic stack holds plain values as one shared marker; every value that
*contains* others (a list, dict, set, tuple, the result of a call) is a :class:`Node`, shared by
identity through the memo and ``DUP`` exactly as the object it stands for will be. A node knows

* ``depth``: how deeply the value nests (1 for an empty container, scalars count 0). CPython
  hashes tuples and frees slices and deques recursively in C without a guard, so anything deeper
  than ``Limits.max_depth`` is refused;
* ``cost``: how many values it holds *unfolded* (a tuple built from itself with ``DUP`` n times
  holds 2**n), saturating at :data:`COST_CAP`; ``hcost``: what hashing it walks (through tuples
  and frozensets; a list stops a hash at once, a call's result is charged its whole cost);
* ``items``: how many items it holds (what a ``BUILD`` copies into an instance's ``__dict__``).

Depth is tracked when a value is built and when items go into it. That is exact while every
value is complete before it goes into another, which is how a pickler writes acyclic data. A
node can also go into a value that already sits inside another (a *sealed* one: recursive data,
or an attacker growing a chain out of order through the memo); then the containers above it
grow too without being told. The tally notes such a *late* insertion and, at the end, computes
the depth from the edges recorded on the way (:func:`graph_depth`): the longest path, where a
strongly connected group counts as its size (freeing a cycle frees its members recursively).

An item put into a call's result by ``APPEND(S)``/``SETITEM(S)``/``ADDITEMS`` may not stay
there: ``UserList.append`` appends to its ``data``, ``ChainMap.__setitem__`` writes into its
first map, and an allowed class's own ``append`` may put it anywhere the object reaches. Unless
the callee is a container that holds its items itself (:data:`HOLDS_ITS_ITEMS`), such an item
is *aliased*: at the end it counts as held by every value its target reaches (see
:func:`graph_depth`), so a chain grown through wrappers is as deep as it really is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import LimitExceeded

__all__ = ["COST_CAP", "HASHY", "HOLDS_ITS_ITEMS", "SPECIAL", "Node", "Tally", "graph_depth"]

#: costs saturate here, so that 2**n leaves do not make a 2**n-bit Python int (and C agrees)
COST_CAP = 1 << 62

#: the callees whose results keep what APPEND(S)/SETITEM(S)/ADDITEMS put into them in
#: themselves (their own item storage, no method of Python code in between); an item put into
#: any other call's result is aliased (see the module docstring)
HOLDS_ITS_ITEMS = frozenset(
    {
        "builtins.list",
        "builtins.dict",
        "builtins.set",
        "builtins.frozenset",
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.deque",
        "collections.Counter",
    }
)

#: callees whose results CPython frees recursively in C with more stack per level than the
#: containers ``max_depth`` was measured for: each level of one counts as this many.
#: (``defaultdict``'s dealloc calls dict's without the trashcan that bounds dict's recursion;
#: a chain of them crashed a 1 MiB thread at 6,500-7,000 levels on CPython 3.12.)
LEVELS_PER_NESTING = {"collections.defaultdict": 2}


def levels(node: Node) -> int:
    """How many levels of ``max_depth`` one nesting of ``node`` counts for."""
    owner = node.owner
    return 1 if owner is None else _levels_of_results(owner)


def _levels_of_results(owner: Any) -> int:
    """:func:`levels` of what calling ``owner`` (a verifier global) returns."""
    return LEVELS_PER_NESTING.get(owner.ref.dotted, 1)


#: what :func:`graph_depth` may walk to find the values aliased items may really be in, as a
#: multiple of the edges recorded (plus a floor); past it the depth cannot be bounded cheaply
ALIAS_WALK_PER_EDGE = 8
ALIAS_WALK_FLOOR = 1 << 20


class _HashyInt:
    """The type of :data:`HASHY` (a type of its own, so that one C-speed pass over a batch's
    types finds both nodes and hashy ints: ``SPECIAL.isdisjoint(map(type, items))``)."""

    __slots__ = ()


#: the marker of a plain value whose hash an attacker can choose: an int of 8 bytes or more
#: (ints hash modulo 2**61-1; smaller ones hash to themselves, so distinct ones never collide)
HASHY = _HashyInt()


class Node:
    """One value that contains others; see the module docstring.

    Call results also say who made them (``owner``, the callee's ``_Global``; ``args`` when the
    call named classes in its arguments) and whether a change to one was already recorded
    (``done``). A tuple whose first item is a global (``(cls, base, state)`` for copyreg's
    constructors, ``(Outer, "Inner")`` for a nested class) keeps that global as ``parent``,
    its second item when that is a global too as ``second``, the name in the getattr shape as
    ``attr``. ``frozen`` nodes are shared by every tuple of a few plain values: never changed.
    """

    __slots__ = (
        "args",
        "attr",
        "cost",
        "depth",
        "done",
        "frozen",
        "has_range",
        "hashy",
        "hcost",
        "items",
        "owner",
        "parent",
        "sealed",
        "second",
    )

    # Only what every node needs is set in __init__ (it runs once per container the stream
    # makes): ``args`` and ``done`` are set on call results (``owner`` is not None), ``second``,
    # ``attr`` and ``has_range`` on tuples that start with a global (``parent`` is not None).
    args: Node | None
    done: bool
    second: Any
    attr: str | None
    has_range: bool

    def __init__(
        self,
        depth: int = 1,
        cost: int = 1,
        hcost: int = 1,
        items: int = 0,
        hashy: bool = False,
        owner: Any = None,
    ) -> None:
        self.depth = depth
        self.cost = cost
        self.hcost = hcost
        self.items = items
        self.hashy = hashy
        self.owner = owner
        self.sealed = False
        self.frozen = False
        self.parent: Any = None


#: the types of the values a batch must look at one by one: nodes and hashy ints
SPECIAL = frozenset({Node, _HashyInt})


def _flat(size: int) -> Node:
    node = Node(1, 1 + size, 1 + size, size)
    node.frozen = True
    return node


#: the node of every tuple of 0-3 plain values (TUPLE1/2/3 of scalars): nothing to track
FLAT_TUPLES = (_flat(0), _flat(1), _flat(2), _flat(3))


class Tally:
    """What one pass counts beyond the symbolic stack: depth edges, hash work, allocation."""

    __slots__ = (
        "alias_children",
        "alias_parents",
        "build_items",
        "calls",
        "children",
        "empty_sets",
        "hash_work",
        "late",
        "max_depth",
        "max_hash_work",
        "max_slow_path_bytes",
        "parents",
        "slow",
        "slow_end",
        "unknown_keys",
    )

    def __init__(self, max_depth: int, max_hash_work: int) -> None:
        self.max_depth = max_depth
        self.max_hash_work = max_hash_work
        #: an item went into a value that was already inside another
        self.late = False
        #: every (container, contained node) pair, for :func:`graph_depth`
        self.parents: list[Node] = []
        self.children: list[Node] = []
        #: every (call result, node put into it) pair where the node may really have gone
        #: into something the result holds (see the module docstring)
        self.alias_parents: list[Node] = []
        self.alias_children: list[Node] = []
        #: values hashed (unfolded) as dict keys and set members by opcodes
        self.hash_work = 0
        #: of those keys, the ones whose hash the stream could have chosen (see HASHY)
        self.unknown_keys = 0
        #: calls (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST): each makes an object
        self.calls = 0
        #: EMPTY_SET and FROZENSET: a set costs 216 bytes from one opcode
        self.empty_sets = 0
        #: items BUILD copies from a state into an instance
        self.build_items = 0
        #: the first thing in the stream that only the pure-Python verifier handles (what, and
        #: its offset), or None: then the stream may be at most max_slow_path_bytes long
        self.slow: tuple[str, int] | None = None
        #: Limits.max_slow_path_bytes, and where such a stream must have ended (its start plus
        #: that): both set by the verifier
        self.max_slow_path_bytes = 1 << 62
        self.slow_end = 1 << 62

    def slow_path(self, what: str, pos: int) -> None:
        """Note that the stream uses ``what`` at ``pos``, which the compiled verifier leaves to
        the pure-Python one: refused at once past ``slow_end`` (the compiled pass refuses it
        there too), and later by :meth:`check_slow` once the stream goes on past it."""
        if self.slow is None:
            self.slow = (what, pos)
            if pos > self.slow_end:
                raise self.too_slow()

    def check_slow(self, pos: int) -> None:
        """The Python pass reached ``pos``: refuse if a slow stream went on past ``slow_end``."""
        if self.slow is not None and pos > self.slow_end:
            raise self.too_slow()

    def too_slow(self) -> LimitExceeded:
        what, at = self.slow  # type: ignore[misc]
        return LimitExceeded.of(
            "max_slow_path_bytes",
            self.max_slow_path_bytes,
            f"the length of a stream that uses {what} (at offset {at:,}), which only the "
            "pure-Python verifier handles (at about a microsecond a byte),",
            at,
        )

    def too_deep(self, depth: int, pos: int) -> LimitExceeded:
        if depth >= COST_CAP:  # graph_depth gave up (see ALIAS_WALK_PER_EDGE)
            what = (
                "the depth of values put into call results that may pass them on (UserList, "
                "ChainMap, an allowed class's own append), which reach too many others to "
                "bound,"
            )
        else:
            what = f"a value nested {depth:,} deep"
        return LimitExceeded.of("max_depth", self.max_depth, what, pos)

    def container(self, items: Sequence[object], pos: int) -> Node:
        """The node of a list, dict or set built from ``items`` at once (LIST, DICT)."""
        node = Node(1, 1, 1, 0)
        if items:
            self.insert(node, items, pos)
        return node

    def tuple_of(
        self, items: Sequence[object], pos: int, frozenset_: bool = False, fresh: bool = False
    ) -> Node:
        """The node of a tuple (or frozenset) of ``items``: immutable, so exact from now on.

        A tuple of up to three plain values shares one node of its size, unless ``fresh``."""
        size = len(items)
        if size <= 3 and not (frozenset_ or fresh) and SPECIAL.isdisjoint(map(type, items)):
            return FLAT_TUPLES[size]
        depth = 1
        cost = hcost = 1 + size
        hashy = frozenset_
        inner: list[Node] = []
        for value in items:
            if value.__class__ is Node:
                node: Node = value
                node.sealed = True
                inner.append(node)
                if node.depth >= depth:
                    depth = node.depth + 1
                cost += node.cost - 1
                hcost += node.hcost - 1
                hashy = hashy or node.hashy
            elif value is HASHY:
                hashy = True
        if depth > self.max_depth:
            raise self.too_deep(depth, pos)
        result = Node(depth, min(cost, COST_CAP), min(hcost, COST_CAP), size, hashy)
        self.parents.extend([result] * len(inner))
        self.children.extend(inner)
        return result

    def call(self, owner: Any, args: object, pos: int) -> Node:
        """The node of what calling ``owner`` on ``args`` returns: it may hold all of args."""
        self.calls += 1
        if args.__class__ is not Node:
            result = Node(1, 2, 2, 0, True, owner)
            result.args = None
            result.done = False
            return result
        node: Node = args
        node.sealed = True
        depth = node.depth
        if owner.ref.dotted in HOLDS_ITS_ITEMS:
            # list(x), frozenset(x), deque(x), dict(x), OrderedDict(x)...: the result holds
            # what iterating x gives, at most 2 levels below the arguments ((x,) and x)
            depth = max(1, depth - 2 + _levels_of_results(owner))
        result = Node(depth, node.cost, node.cost, node.items, True, owner)
        result.args = node if node.parent is not None else None
        result.done = False
        self.parents.append(result)
        self.children.append(node)
        return result

    def call_with_items(self, owner: Any, items: Sequence[object], pos: int) -> Node:
        """OBJ, INST, NEWOBJ_EX: the call holds the items it was given (above a MARK)."""
        result = Node(1, 1, 1, 0, True, owner)
        result.args = None
        result.done = False
        self.calls += 1
        if items:
            self.insert(result, items, pos)
        return result

    def insert(self, target: Node, items: Sequence[object], pos: int) -> None:
        """``items`` go into ``target``: APPEND(S), SETITEM(S), ADDITEMS, BUILD, a call."""
        if target.frozen:
            return  # a tuple: the opcode fails when it runs
        count = len(items)
        target.items += count
        cost = target.cost + count
        if not SPECIAL.isdisjoint(map(type, items)):
            depth = target.depth
            step = levels(target)
            parents = self.parents
            children = self.children
            before = len(children)
            for value in items:
                if value.__class__ is Node:
                    node: Node = value
                    node.sealed = True
                    parents.append(target)
                    children.append(node)
                    depth = max(depth, node.depth + step)
                    cost += node.cost - 1
            if depth > self.max_depth:
                raise self.too_deep(depth, pos)
            if target.sealed and len(children) != before:  # a node into a value inside another
                self.late = True
            target.depth = depth
        cost = min(cost, COST_CAP)
        target.cost = cost
        if target.owner is not None:
            target.hcost = cost  # an object's own __hash__ may walk all it holds

    def alias(self, target: Node, items: Sequence[object]) -> None:
        """``items`` went into a call's result that may pass them on to what it holds: record
        them for :func:`graph_depth` (which then runs: the tally is ``late``)."""
        for value in items:
            if value.__class__ is Node:
                self.alias_parents.append(target)
                self.alias_children.append(value)
                self.late = True

    def depth_of_graph(self) -> int:
        """The depth :func:`graph_depth` finds from every edge recorded."""
        return graph_depth(self.parents, self.children, self.alias_parents, self.alias_children)

    def hash_keys(self, keys: Sequence[object], pos: int) -> None:
        """``keys`` are hashed (dict keys, set members): charge what hashing them walks."""
        work = len(keys)
        if not SPECIAL.isdisjoint(map(type, keys)):
            for key in keys:
                if key.__class__ is Node:
                    work += key.hcost - 1
                    if key.hashy:
                        self.unknown_keys += 1
                elif key is HASHY:
                    self.unknown_keys += 1
        self.hash_work += work
        if self.hash_work > self.max_hash_work:
            raise hash_work_limit(self.max_hash_work, pos)

    def build(self, target: Node, state: object, pos: int) -> None:
        """BUILD: ``state`` goes into ``target``, and its items are copied into the instance."""
        if state.__class__ is Node:
            self.build_items += state.items
        self.insert(target, (state,), pos)


def hash_work_limit(maximum: int, pos: int) -> LimitExceeded:
    """Hashing past ``max_hash_work``, at the opcode at ``pos``."""
    return LimitExceeded.of("max_hash_work", maximum, "the values hashed as keys, unfolded,", pos)


def graph_depth(
    parents: Sequence[Node],
    children: Sequence[Node],
    alias_parents: Sequence[Node] = (),
    alias_children: Sequence[Node] = (),
) -> int:
    """The depth of the deepest value, from every (container, item) edge of a stream.

    The longest path through the containment graph, where a strongly connected group of values
    (a cycle) counts as many levels as it has members. Iterative Tarjan, then the longest path
    over the groups in the order Tarjan finishes them (every group after all it reaches). A
    value that holds no node (most of a flood of empty containers) is no vertex: its parent
    notes the deepest such leaf it holds.

    An aliased item (``alias_children[i]`` put into ``alias_parents[i]``) may really be held
    by any value its target reaches through the other edges: each aliased target gets a
    weightless hub that everything it reaches points to and that points to its aliased items,
    a superset of the real edges (so the path found is at least the real one, one level of the
    hub aside; a leaf it reaches points to the hub through a second hub of a leaf's weight).
    Finding what a target reaches walks the graph; past ``ALIAS_WALK_PER_EDGE`` steps per edge
    (and a floor) the depth is returned as :data:`COST_CAP`, which no limit admits.
    """
    index_of: dict[int, int] = {}
    nodes: list[Node] = []
    for node in (*parents, *alias_parents, *alias_children):
        if id(node) not in index_of:
            index_of[id(node)] = len(nodes)
            nodes.append(node)
    count = len(nodes)
    adjacency: list[list[int]] = [[] for _ in range(count)]
    leaf = [0] * count  # the weight of the deepest leaf each vertex holds
    find = index_of.get
    for parent, child in zip(parents, children, strict=True):
        vertex = index_of[id(parent)]
        inner = find(id(child))
        if inner is not None:
            adjacency[vertex].append(inner)
        elif leaf[vertex] < _MAX_LEVELS:
            step = 1 if child.owner is None else levels(child)
            if step > leaf[vertex]:  # noqa: PLR1730  (no max() call per leaf: floods)
                leaf[vertex] = step
    weight = [levels(node) for node in nodes]
    if alias_parents:
        hubs = _alias_hubs(adjacency, leaf, index_of, alias_parents, alias_children, len(parents))
        if hubs is None:
            return COST_CAP
        count = len(adjacency)
        weight += hubs
        leaf += [0] * len(hubs)
    order = [-1] * count  # Tarjan's discovery index
    low = [0] * count
    group = [-1] * count
    on_stack = [False] * count
    stack: list[int] = []
    group_size: list[int] = []
    group_depth: list[int] = []
    counter = 0
    for root in range(count):
        if order[root] >= 0:
            continue
        work = [(root, 0)]
        order[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            vertex, edge = work[-1]
            edges = adjacency[vertex]
            if edge < len(edges):
                work[-1] = (vertex, edge + 1)
                nxt = edges[edge]
                if order[nxt] < 0:
                    order[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    work.append((nxt, 0))
                elif on_stack[nxt] and order[nxt] < low[vertex]:
                    low[vertex] = order[nxt]
                continue
            work.pop()
            if work and low[vertex] < low[work[-1][0]]:
                low[work[-1][0]] = low[vertex]
            if low[vertex] != order[vertex]:
                continue
            members = []
            while True:
                member = stack.pop()
                on_stack[member] = False
                group[member] = len(group_size)
                members.append(member)
                if member == vertex:
                    break
            this = len(group_size)
            below = 0
            for member in members:
                if leaf[member] > below:  # noqa: PLR1730
                    below = leaf[member]
                for nxt in adjacency[member]:
                    other = group[nxt]
                    if other != this and group_depth[other] > below:
                        below = group_depth[other]
            size = sum([weight[member] for member in members])
            group_size.append(size)
            group_depth.append(size + below)
    return max(group_depth, default=0)


#: the most levels one nesting counts (see LEVELS_PER_NESTING)
_MAX_LEVELS = max(LEVELS_PER_NESTING.values(), default=1)


def _alias_hubs(
    adjacency: list[list[int]],
    leaf: list[int],
    index_of: dict[int, int],
    alias_parents: Sequence[Node],
    alias_children: Sequence[Node],
    edges: int,
) -> list[int] | None:
    """Add two hubs per aliased target to ``adjacency`` (see :func:`graph_depth`); returns
    their weights, or None when finding what the targets reach took more than its budget."""
    aliased: dict[int, list[int]] = {}
    for parent, child in zip(alias_parents, alias_children, strict=True):
        aliased.setdefault(index_of[id(parent)], []).append(index_of[id(child)])
    reaches = [list(out) for out in adjacency]  # the edges the walks follow: no hub edges
    budget = ALIAS_WALK_FLOOR + ALIAS_WALK_PER_EDGE * edges
    weights: list[int] = []
    for target, items in aliased.items():
        hub = len(adjacency)
        adjacency.append(items)  # the hub: weightless, holding the aliased items
        adjacency.append([hub])  # the hub of the leaves: as heavy as a leaf can be
        weights += [0, _MAX_LEVELS]
        seen = {target}
        todo = [target]
        while todo:
            vertex = todo.pop()
            adjacency[vertex].append(hub)
            if leaf[vertex]:
                adjacency[vertex].append(hub + 1)
            budget -= 1 + len(reaches[vertex])
            if budget < 0:
                return None
            for nxt in reaches[vertex]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
    return weights
