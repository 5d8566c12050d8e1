"""The reduced graph of one set of coupling answers: its plan (pendants, cliques, tree) and its passes.

Used by :class:`distancing_bn.engine.noisyor.NoisyEngine`, which keeps one :class:`Plan` per set of
coupling answers and runs it on every row with that set (see that module for the method). A plan
reads the engine's fixed parts (variables, tables, pendant matrices); everything per row comes in
as arrays. Layout: every clique array is ``(*clique states, rows)``, the row axis last (measured
25× faster sums over clique axes than rows first, for a few hundred rows), with ``rows = 1`` for a
part that is the same in every row.

Imports numpy and :mod:`distancing_bn.engine.local`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .local import NoisyMax

if TYPE_CHECKING:
    from .noisyor import NoisyEngine

__all__ = ["FLOOR", "LOG0", "Leaf", "Plan", "bits", "configs", "eliminate", "safe_log"]

FloatArray = NDArray[np.float64]
LOG0 = -1e250  # stands for log 0 in the log-factor matrices (0 · log 0 stays 0 in a product)
FLOOR = -1e3  # exp of anything this far below a variable's largest log-likelihood is 0
_FOLD_SIZE = 256  # cliques up to this many states get their potentials from one gather
_TINY = 1e-300


@dataclass(frozen=True, eq=False)
class Leaf:
    """An observable leaf (or an always-observed premise) and how its answers enter."""

    name: str
    parents: tuple[int, ...]  # latent ids, increasing
    cards: tuple[int, ...]  # of those parents
    levels: int
    start: int  # first column of its block of likelihoods
    noisy: NoisyMax | None
    table: FloatArray  # (K, Π cards): P(y | parents), parents in increasing id order
    wide: bool  # coupling answers get an auxiliary term variable


# ---------------------------------------------------------------------------- elimination
def eliminate(adj: Sequence[int], logc: Sequence[float], nodes: int) -> list[tuple[int, int]]:
    """Greedy minimum-weight elimination of the nodes in mask ``nodes``: [(variable, its neighbours then)].

    The weight of a node is the log-size of the clique it would make (its degree when every
    variable is binary). Min-fill gives cliques of about the same size on the benchmark tiers
    (within a few percent) but costs 10 to 20 times more to run in Python, and the elimination
    is redone for every new set of coupling answers.
    """
    adj = list(adj)
    odd = 0  # nodes with other than two states: their weight is corrected
    for v, c in enumerate(logc):
        if c != 1.0:
            odd |= 1 << v
    alive = nodes
    out: list[tuple[int, int]] = []
    while alive:
        best_v = -1
        best = math.inf
        m = alive
        while m:
            low = m & -m
            m ^= low
            v = low.bit_length() - 1
            nb = adj[v]
            w = nb.bit_count()
            if nb & odd:
                w += sum(logc[u] - 1.0 for u in bits(nb & odd))
            if w < best:
                best = w
                best_v = v
                if w <= 1:
                    break
        v = best_v
        nb = adj[v]
        out.append((v, nb))
        keep = ~(1 << v)
        t = nb
        while t:
            lu = t & -t
            t ^= lu
            u = lu.bit_length() - 1
            adj[u] = (adj[u] | nb) & ~lu & keep
        alive &= keep
    return out


def bits(mask: int) -> tuple[int, ...]:
    out = []
    while mask:
        low = mask & -mask
        mask ^= low
        out.append(low.bit_length() - 1)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def configs(cards: tuple[int, ...]) -> NDArray[np.intp]:
    """(Π cards, len(cards)): every configuration, the last variable fastest (C order); read-only."""
    out = np.indices(cards).reshape(len(cards), -1).T.copy() if cards else np.zeros((1, 0), dtype=np.intp)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=4096)
def _projection(cards: tuple[int, ...], positions: tuple[int, ...]) -> FloatArray:
    """(Π cards, Σ cards[positions]): 0/1, a clique's belief -> the marginals of those positions, side by side."""
    conf = configs(cards)
    width = sum(cards[i] for i in positions)
    proj = np.zeros((conf.shape[0], width))
    w0 = 0
    rows = np.arange(conf.shape[0])
    for i in positions:
        proj[rows, w0 + conf[:, i]] = 1.0
        w0 += cards[i]
    proj.setflags(write=False)
    return proj


# ---------------------------------------------------------------------------- plans
class _Clique:
    __slots__ = (
        "aux",
        "cards",
        "children",
        "const",
        "couplings",
        "down_axes",
        "down_bshape",
        "homes",
        "parent",
        "seg",
        "shape",
        "size",
        "unaries",
        "up_axes",
        "up_bshape",
        "vars",
    )

    def __init__(self, variables: tuple[int, ...], cards: Sequence[int]) -> None:
        self.vars = variables
        self.cards = tuple(cards[v] for v in variables)
        self.shape = self.cards
        self.size = math.prod(self.cards)
        self.parent = -1
        self.children: list[int] = []
        self.seg: slice | None = None  # columns of the folded potentials (small cliques), or None
        self.const: FloatArray | None = None  # (*shape, 1): constant tables (cliques not folded)
        self.unaries: list[tuple[int, int, tuple[int, ...]]] = []  # (first column, card, broadcast shape)
        self.couplings: list[tuple[int, int, tuple[int, ...]]] = []  # (first ψ column, configs, broadcast shape)
        self.aux: list[tuple[Leaf, tuple[int, ...]]] = []  # signed term weights of wide coupling answers
        self.homes: tuple[FloatArray, NDArray[np.intp]] | None = None  # marginal projection, latent columns
        self.up_axes: tuple[int, ...] = ()  # axes summed for the message to the parent
        self.up_bshape: tuple[int, ...] = ()  # the message broadcast into the parent
        self.down_axes: tuple[int, ...] = ()  # the parent's axes summed for the message back
        self.down_bshape: tuple[int, ...] = ()  # the message back broadcast into this clique


@functools.lru_cache(maxsize=4096)
def _strides(cards: tuple[int, ...]) -> tuple[int, ...]:
    """C-order strides of a flat index over ``cards`` (the last one 1)."""
    out = [1] * len(cards)
    for i in range(len(cards) - 2, -1, -1):
        out[i] = out[i + 1] * cards[i + 1]
    return tuple(out)


class _Entries:
    """Factors of folded cliques as flat lists: per entry (row, first column, states, base), per term."""

    __slots__ = ("base", "card", "cs", "first", "fs", "owner", "rows", "sizes")

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.first: list[int] = []
        self.sizes: list[int] = []
        self.base: list[int] = []
        self.owner: list[int] = []
        self.cs: list[int] = []
        self.card: list[int] = []
        self.fs: list[int] = []

    def add(self, row: int, first: int, size: int, base: int, terms: Sequence[tuple[int, int, int]]) -> None:
        e = len(self.rows)
        self.rows.append(row)
        self.first.append(first)
        self.sizes.append(size)
        self.base.append(base)
        for cs, card, fs in terms:
            self.owner.append(e)
            self.cs.append(cs)
            self.card.append(card)
            self.fs.append(fs)

    def extend(self, other: _Entries, row_offset: int) -> None:
        """Append ``other``'s entries, their rows shifted by ``row_offset``."""
        e0 = len(self.rows)
        self.rows += [r + row_offset for r in other.rows]
        self.first += other.first
        self.sizes += other.sizes
        self.base += other.base
        self.owner += [o + e0 for o in other.owner]
        self.cs += other.cs
        self.card += other.card
        self.fs += other.fs

    def expand(self, width: int, fill: int, split: tuple[int, int] | None = None) -> NDArray[np.intp]:
        """(depth, width) indices: entry (row j, first column g, states S, base) fills row j, columns g … g+S-1.

        State t of the clique gets ``base + Σ_terms ((t // clique stride) % card) · factor stride``: the
        flat index, in its factor's table, of the configuration state t restricts to. Every entry
        of every clique at once (a dozen array operations per plan, none per clique or term).
        """
        depth = 1 + max(self.rows, default=0)
        if split is not None:  # rows from split[0] on are filled with split[1] instead
            depth = max(depth, split[0] + 1)
        out = np.full((depth, width), fill, dtype=np.intp)
        if split is not None:
            out[split[0] :] = split[1]
        if not self.rows:
            return out
        sizes = np.array(self.sizes, dtype=np.intp)
        offsets = np.cumsum(sizes) - sizes
        total = int(offsets[-1] + sizes[-1])
        val = np.repeat(np.array(self.base, dtype=np.intp), sizes)
        if self.owner:
            owner = np.array(self.owner, dtype=np.intp)
            tsz = sizes[owner]
            toff = np.cumsum(tsz) - tsz
            t = np.arange(int(tsz.sum()), dtype=np.intp) - np.repeat(toff, tsz)
            where = np.repeat(offsets[owner], tsz) + t
            fs = np.repeat(np.array(self.fs, dtype=np.intp), tsz)
            if all(c == 2 for c in self.card) and all(x & (x - 1) == 0 for x in self.cs):  # bits: shifts, not // and %
                shift = np.repeat(np.array([c.bit_length() - 1 for c in self.cs], dtype=np.intp), tsz)
                digit = (t >> shift) & 1
            else:
                cs, card = (np.repeat(np.array(x, dtype=np.intp), tsz) for x in (self.cs, self.card))
                digit = (t // cs) % card
            val += np.bincount(where, weights=digit * fs, minlength=total).astype(np.intp)
        t = np.arange(total, dtype=np.intp) - np.repeat(offsets, sizes)
        out[
            np.repeat(np.array(self.rows, dtype=np.intp), sizes),
            np.repeat(np.array(self.first, dtype=np.intp), sizes) + t,
        ] = val
        return out


def _bshape(clique: tuple[int, ...], cards: Sequence[int], scope: Sequence[int]) -> tuple[int, ...]:
    """Broadcast shape (without the row axis) of a factor over ``scope`` inside ``clique``."""
    return tuple(cards[v] if v in scope else 1 for v in clique)


class Plan:
    """Everything one set of coupling answers needs: pendants, cliques, tree, fixed matrices."""

    def __init__(self, eng: NoisyEngine, coupled: tuple[int, ...], joint: bool, narrow: frozenset[int]) -> None:
        cards = list(eng.cards)
        adj = list(eng.base_adj)
        busy = 0  # nodes in a per-row factor over several variables (never pendants)
        extra: list[tuple[str, Any, tuple[int, ...]]] = []  # factors besides the latent tables

        def connect(nodes: Sequence[int]) -> int:
            m = 0
            for u in nodes:
                m |= 1 << u
            for u in nodes:
                adj[u] |= m & ~(1 << u)
            return m

        psi_leaves: list[tuple[Leaf, int]] = []  # narrow coupling answers and their first ψ column
        col = 0
        for q in coupled:
            leaf = eng.multi[q]
            if leaf.wide and q not in narrow:
                a = len(cards)
                cards.append(leaf.levels)
                adj.append(0)
                for i, p in enumerate(leaf.parents):
                    busy |= connect((p, a))
                    extra.append(("pair", (leaf, i), (p, a) if p < a else (a, p)))
                extra.append(("aux", leaf, (a,)))
            else:
                busy |= connect(leaf.parents)
                extra.append(("coupling", (leaf, col), leaf.parents))
                psi_leaves.append((leaf, col))
                col += leaf.table.shape[1]
        if joint:
            busy |= connect(eng.target_ids)
            extra.append(("joint", None, eng.target_ids))
        self.n_psi = col
        self.unary_cols = eng.unary_cols
        if psi_leaves:
            self.psi_idx = np.concatenate([np.arange(lf.start, lf.start + lf.levels) for lf, _ in psi_leaves])
            self.psi_table = np.zeros((len(self.psi_idx), col))
            r = 0
            for lf, c in psi_leaves:
                self.psi_table[r : r + lf.levels, c : c + lf.table.shape[1]] = lf.table
                r += lf.levels
        # pendants: latent variables joined to at most one other, by constant tables only
        pend: dict[int, int] = {}
        for v in eng.pend_candidates:
            if (busy >> v) & 1:
                continue
            u = eng.pend_neighbour[v]
            if u not in pend:  # of an isolated pair, the first one goes
                pend[v] = u
        self._pendants(eng, pend)
        consumed = set()
        nodes = (1 << len(cards)) - 1
        for v, u in pend.items():
            consumed.update(eng.pend_families[v])
            nodes &= ~(1 << v)
            if u >= 0:
                adj[u] &= ~(1 << v)
        logc = [math.log2(c) for c in cards]
        elim = eliminate(adj, logc, nodes)
        factors = [("cpt", v, eng.families[v]) for v in range(eng.n_latent) if v not in consumed]
        self._tree(eng, elim, cards, logc, factors + extra, pend)

    # ------------------------------------------------------------------ building
    def _pendants(self, eng: NoisyEngine, pend: Mapping[int, int]) -> None:
        """Select the engine's precomputed pendant matrices (every pendant eliminated at once)."""
        self.n_pend = len(pend)
        self.pendants = frozenset(pend)
        if not pend:
            return
        sel = np.concatenate([eng.pend_slots[v] for v in pend])
        self.pend_msg = eng.pend_msg[:, sel]  # E (linear unaries) -> m(u) per slot
        self.pend_scatter = eng.pend_scatter[sel]  # log m -> log-likelihoods of u (or the constant)
        self.pend_back = eng.pend_back[sel]  # P(u | e) / m(u) -> the pendant's marginal factor
        self.pend_gather = eng.pend_gather[sel]  # the marginal column each slot reads (ns: a constant 1)
        cols = np.concatenate([np.arange(eng.offsets[v], eng.offsets[v] + eng.cards[v]) for v in pend])
        self.pend_cols = cols

    def _tree(
        self,
        eng: NoisyEngine,
        elim: list[tuple[int, int]],
        cards: list[int],
        logc: list[float],
        factors: list[tuple[str, Any, tuple[int, ...]]],
        pend: Mapping[int, int],
    ) -> None:
        pos = {v: k for k, (v, _) in enumerate(elim)}
        sets = {v: nb | (1 << v) for v, nb in elim}
        parent_node = {}
        for v, nb in elim:
            best, bp = len(elim), -1
            t = nb
            while t:
                low = t & -t
                t ^= low
                u = low.bit_length() - 1
                if pos[u] < best:
                    best, bp = pos[u], u
            parent_node[v] = bp
        binary = all(c == 1.0 for c in logc)
        limit = math.log2(eng.merge_limit)
        merged: dict[int, int] = {}

        def find(v: int) -> int:
            while v in merged:
                v = merged[v]
            return v

        for v, _ in elim:
            p = parent_node[v]
            if p < 0:
                continue
            p = find(p)
            union = sets[v] | sets[p]
            size = union.bit_count() if binary else sum(logc[u] for u in bits(union))
            if size <= limit or union == sets[p] or union == sets[v]:
                sets[p] = union
                merged[v] = p
                del sets[v]
        alive = [v for v, _ in elim if v not in merged]  # post-order: children first
        cid = {v: k for k, v in enumerate(alive)}
        cl = [_Clique(bits(sets[v]), cards) for v in alive]
        self.cliques = cl
        self.roots: list[int] = []
        for v in alive:
            k = cid[v]
            p = parent_node[v]
            if p < 0:
                self.roots.append(k)
            else:
                pk = cid[find(p)]
                cl[k].parent = pk
                cl[pk].children.append(k)
        self.cards = cards
        home: dict[int, int] = {}
        for k in sorted(range(len(cl)), key=lambda k: cl[k].size):
            for v in cl[k].vars:
                home.setdefault(v, k)
        self.home = home
        consts: dict[int, list[tuple[str, Any, tuple[int, ...]]]] = {}
        couplings: dict[int, list[tuple[Leaf, int]]] = {}
        self.joint_clique = -1
        self.leaf_clique: dict[str, int] = {}
        self.signed = False
        for kind, payload, scope in factors:
            first = scope[0]
            for u in scope:
                if pos[u] < pos[first]:
                    first = u
            k = cid[find(first)]
            if kind == "cpt":
                consts.setdefault(k, []).append(("cpt", payload, scope))
            elif kind == "pair":
                leaf, i = payload
                g = leaf.noisy.factors[eng.parent_order[leaf.name][i]]  # (K, card of the parent): scope (parent, aux)
                consts.setdefault(k, []).append(("pair", np.ascontiguousarray(g.T), scope))
            elif kind == "aux":
                cl[k].aux.append((payload, _bshape(cl[k].vars, cards, scope)))
                self.signed = True
            elif kind == "coupling":
                couplings.setdefault(k, []).append(payload)
                self.leaf_clique[payload[0].name] = k
            else:
                self.joint_clique = k
        # folded cliques: the potentials of all of them from one log-space product
        fold_cols = 0
        for c in cl:
            if c.size <= max(_FOLD_SIZE, eng.merge_limit):
                c.seg = slice(fold_cols, fold_cols + c.size)
                fold_cols += c.size
        ns = eng.n_states
        zero = ns + self.n_psi  # the index of a zero column of X = [log unaries | log ψ | 0]
        # a folded state's log-potential is a sum of entries of X (unaries, ψ) and of constant logs
        # (tables): one "entry" per factor of a clique, expanded for all states at once below
        row_entries = _Entries()
        const_entries = _Entries()
        pool = [eng.cpt_log_flat]
        pool_size = eng.cpt_log_flat.shape[0]
        n_lat = eng.n_latent
        for k, c in enumerate(cl):
            mine = [i for i, v in enumerate(c.vars) if v < n_lat and home[v] == k]
            if mine:
                cols = (
                    eng.var_cols[c.vars[mine[0]]]
                    if len(mine) == 1
                    else np.concatenate([eng.var_cols[c.vars[i]] for i in mine])
                )
                c.homes = (_projection(c.cards, tuple(mine)), cols)
            if c.seg is not None:
                at = {v: i for i, v in enumerate(c.vars)}
                cs = _strides(c.cards)
                g0, size = c.seg.start, c.size
                j = 0
                for i in mine:
                    row_entries.add(j, g0, size, eng.offsets[c.vars[i]], ((cs[i], c.cards[i], 1),))
                    j += 1
                for leaf, pc in couplings.get(k, []):
                    fs = _strides(leaf.cards)
                    terms = [(cs[at[p]], cards[p], fs[b]) for b, p in enumerate(leaf.parents)]
                    row_entries.add(j, g0, size, ns + pc, terms)
                    j += 1
                for jc, (kind, payload, scope) in enumerate(consts.get(k, [])):
                    if kind == "cpt":
                        base = eng.cpt_offsets[payload]
                    else:  # an auxiliary variable's factor towards one parent: a table of this plan
                        base = pool_size
                        pool.append(safe_log(payload.reshape(-1)))
                        pool_size += payload.size
                    fs = _strides(tuple(cards[v] for v in scope))
                    const_entries.add(jc, g0, size, base, [(cs[at[v]], cards[v], fs[b]) for b, v in enumerate(scope)])
            else:
                const: FloatArray | None = None
                for kind, payload, scope in consts.get(k, []):
                    table = eng.family_tables[payload] if kind == "cpt" else payload
                    t = table.reshape((*_bshape(c.vars, cards, scope), 1))
                    const = t if const is None else const * t
                c.const = None if const is None else np.ascontiguousarray(np.broadcast_to(const, (*c.shape, 1)))
                c.unaries = [(eng.offsets[c.vars[i]], c.cards[i], _bshape(c.vars, cards, (c.vars[i],))) for i in mine]
                c.couplings = [
                    (pc, leaf.table.shape[1], _bshape(c.vars, cards, leaf.parents)) for leaf, pc in couplings.get(k, [])
                ]
        self.fold_cols = fold_cols
        consts_pool = np.concatenate([*pool, [0.0]])
        depth = 1 + max(row_entries.rows, default=0)
        row_entries.extend(const_entries, depth)  # one expansion for both kinds of entries
        both = row_entries.expand(fold_cols, zero, split=(depth, len(consts_pool) - 1))
        self.gather = both[:depth]  # (depth, folded states): the rows of X summed per state
        self.f_bias = consts_pool[both[depth:]].sum(axis=0)  # the constant tables' logs, per state
        self.any_unfolded = any(c.seg is None for c in cl)
        for c in cl:
            if c.parent < 0:
                continue
            par = cl[c.parent]
            sep = [v for v in c.vars if v in par.vars]
            c.up_axes = tuple(i for i, v in enumerate(c.vars) if v not in sep)
            c.up_bshape = _bshape(par.vars, cards, sep)
            c.down_axes = tuple(i for i, v in enumerate(par.vars) if v not in sep)
            c.down_bshape = _bshape(c.vars, cards, sep)
        self.states = sum(c.size for c in cl)
        self.largest = max(cl, key=lambda c: c.size) if cl else _Clique((), cards)
        self.calls = 20 + sum(20 + 2 * (len(c.unaries) + len(c.couplings) + len(c.aux)) for c in cl)
        self.row_bytes = 8 * (4 * self.states + 4 * ns + 2 * self.n_psi + (1 + self.gather.shape[0]) * fold_cols)

    # ------------------------------------------------------------------ numerics
    # Every clique array has the row axis LAST, shape (*clique states, n) with n = 1 for a part that
    # is the same in every row: sums over clique axes then run over contiguous rows (measured 25x
    # faster than rows first for a few hundred rows).
    def potentials(
        self, lu: FloatArray, lam: FloatArray, log_const: FloatArray
    ) -> tuple[FloatArray, FloatArray | None, FloatArray, FloatArray | None]:
        """Pendants eliminated, then (log unaries, ψ (n, ·), folded potentials (·, n), pendant messages)."""
        m = None
        if self.n_pend:
            m = np.exp(lu) @ self.pend_msg
            add = safe_log(m) @ self.pend_scatter
            lu = lu + add[:, :-1]
            log_const += add[:, -1]
        psi = None
        parts = [lu]
        if self.n_psi:
            psi = lam[:, self.psi_idx] @ self.psi_table
            parts.append(safe_log(psi))
        parts.append(np.zeros((lu.shape[0], 1)))
        x = np.ascontiguousarray(np.concatenate(parts, axis=1).T)  # (columns, n)
        pot = x[self.gather].sum(axis=0)  # (folded states, n)
        pot += self.f_bias[:, None]
        np.maximum(pot, FLOOR, out=pot)
        np.exp(pot, out=pot)
        return lu, psi, pot, m

    def collect(
        self,
        lu: FloatArray,
        psi: FloatArray | None,
        pot: FloatArray | None,
        weights: FloatArray,
        log_scale: FloatArray,
    ) -> tuple[list[FloatArray], list[FloatArray | None]]:
        """Collect pass for ``n`` rows: (clique beliefs, messages up); ``log_scale`` gets the scales."""
        n = lu.shape[0]
        cl = self.cliques
        unary = np.ascontiguousarray(np.exp(lu).T) if self.any_unfolded else None
        psi_t = np.ascontiguousarray(psi.T) if (psi is not None and self.any_unfolded) else None
        belief: list[FloatArray] = [None] * len(cl)  # type: ignore[list-item]
        up: list[FloatArray | None] = [None] * len(cl)
        for k, c in enumerate(cl):
            owned = False
            if c.seg is not None:
                b: FloatArray | None = pot[c.seg].reshape((*c.shape, n))  # type: ignore[index]
            else:
                b = c.const
                for start, card, bshape in c.unaries:
                    b, owned = _mul(b, unary[start : start + card].reshape((*bshape, n)), owned)  # type: ignore[index]
                for start, width, bshape in c.couplings:
                    b, owned = _mul(b, psi_t[start : start + width].reshape((*bshape, n)), owned)  # type: ignore[index]
            for leaf, bshape in c.aux:
                w0 = leaf.start - self.unary_cols
                w = (weights[:, w0 : w0 + leaf.levels] * leaf.noisy.cumulative_leak).T  # type: ignore[union-attr]
                b, owned = _mul(b, np.ascontiguousarray(w).reshape((*bshape, n)), owned)
            for ch in c.children:
                msg = up[ch]
                b, owned = _mul(b, msg.reshape((*cl[ch].up_bshape, msg.shape[-1])), owned)  # type: ignore[union-attr]
            if b is None:
                b = np.ones((*c.shape, 1))
            belief[k] = b
            if c.parent >= 0:
                msg = b.sum(axis=c.up_axes) if c.up_axes else b.copy()
                flat = msg.reshape(-1, msg.shape[-1])  # a view: sums are contiguous
                top = np.abs(flat).max(axis=0) if self.signed else flat.max(axis=0)
                np.maximum(top, _TINY, out=top)
                flat /= top
                log_scale += np.log(top)
                up[k] = msg
        return belief, up

    def distribute(self, belief: list[FloatArray], up: list[FloatArray | None]) -> list[FloatArray]:
        """Hugin distribute pass: every clique's belief proportional (per row) to P(clique, e)."""
        cl = self.cliques
        full = list(belief)
        for k in range(len(cl) - 1, -1, -1):
            c = cl[k]
            if c.parent < 0:
                continue
            par = full[c.parent]
            s = par.sum(axis=c.down_axes) if c.down_axes else par
            m = up[k]
            down = s / np.where(m != 0, m, 1.0)  # where m = 0, s = 0 too (m is one of its factors)
            full[k] = belief[k] * down.reshape((*c.down_bshape, down.shape[-1]))
        return full

    def latent_marginals(
        self, full: list[FloatArray], lu: FloatArray, m: FloatArray | None, n: int, ns: int
    ) -> FloatArray:
        """(n, latent states): every latent variable's unnormalised posterior (pendants included)."""
        out = np.ones((ns + 1, n))
        for c, b in zip(self.cliques, full, strict=True):
            if c.homes is not None:
                proj, cols = c.homes
                out[cols] = proj.T @ b.reshape(c.size, b.shape[-1])
        out = out.T
        if self.n_pend:
            r = out[:, self.pend_gather] / np.where(m > 0, m, np.inf)  # type: ignore[operator]
            out[:, self.pend_cols] = (r @ self.pend_back)[:, self.pend_cols] * np.exp(lu[:, self.pend_cols])
        return out[:, :ns]


def _mul(b: FloatArray | None, f: FloatArray, owned: bool) -> tuple[FloatArray, bool]:
    """``b * f``, in place when ``b`` is ours and already has the result's shape."""
    if b is None:
        return f, False
    if owned and b.ndim == f.ndim and all(x >= y for x, y in zip(b.shape, f.shape, strict=True)):
        b *= f
        return b, True
    return b * f, True


def safe_log(x: FloatArray) -> FloatArray:
    """Natural log, with the stand-in ``LOG0`` for log 0 (``x >= 0``)."""
    return np.log(x, out=np.full(x.shape, LOG0), where=x > 0)
