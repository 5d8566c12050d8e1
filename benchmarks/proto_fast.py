"""Prototype (not used by the library): the same junction tree as ``Engine``, queried for hard
(one-hot or all-ones) evidence with flat 2-D arrays and BLAS products only.

Per clique k with S_k configurations:
* log belief = log φ_k + E_k @ W_k, where E_k (rows × Σ answers of the observables hosted in
  k) is the one-hot evidence with unanswered rows zeroed, and W_k = log P(answer | config);
* each child's message is added in log space by a gather ``log_up[:, idx]``;
* one ``exp`` after subtracting the row max (kept in the log scale);
* the message up is ``B @ Σ_k`` with Σ_k the 0/1 (S_k × S_sep) summing matrix;
* marginals of every variable homed in k are ``full_k @ M_k`` (one 0/1 matrix).

Run: ``python benchmarks/proto_fast.py`` — checks against Engine.query and times both.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from distancing_bn.inference import Engine  # noqa: E402
from synthetic import make_diagnostic_network, sample_evidence  # noqa: E402

NEG = -1e4  # log of an impossible entry (exp underflows to exactly 0 after the row max)


def _flatlog(a: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        out = np.log(a)
    return np.where(np.isfinite(out), out, NEG)


class FastHard:
    def __init__(self, engine: Engine, wanted: list[str]) -> None:
        self.e = engine
        net = engine.network
        self.wanted = wanted
        self.ck = []
        for k, c in enumerate(engine.cliques):
            S = int(np.prod(c.cards)) if c.cards else 1
            cfg = np.indices(c.cards).reshape(len(c.cards), -1) if c.cards else np.zeros((0, 1), int)
            rows_w, obs = [], []
            for v, table_t, shape in c.leaves:
                full = np.broadcast_to(table_t.reshape(table_t.shape[0], *shape[1:]), (table_t.shape[0], *c.cards))
                rows_w.append(_flatlog(full.reshape(table_t.shape[0], S)))
                obs.append(v)
            for v, _shape in c.evidence:
                ax = c.vars.index(v)
                ind = (cfg[ax][None, :] == np.arange(engine.cards[v])[:, None]).astype(float)
                rows_w.append(_flatlog(ind))
                obs.append(v)
            W = np.ascontiguousarray(np.vstack(rows_w)) if rows_w else None
            d = {"S": S, "logphi": _flatlog(c.potential.reshape(-1)), "W": W, "obs": [net.variables[v] for v in obs]}
            if c.parent != -1:
                par = engine.cliques[c.parent]
                sep = [v for v in c.vars if v in par.vars]
                sep_cards = [engine.cards[v] for v in sep]
                # index of each clique config (and each parent config) in the separator's flat space
                idx = np.zeros(S, dtype=np.intp)
                for v, card in zip(sep, sep_cards):
                    idx = idx * card + cfg[c.vars.index(v)]
                pcfg = np.indices(par.cards).reshape(len(par.cards), -1)
                pidx = np.zeros(pcfg.shape[1], dtype=np.intp)
                for v, card in zip(sep, sep_cards):
                    pidx = pidx * card + pcfg[par.vars.index(v)]
                ssep = int(np.prod(sep_cards)) if sep_cards else 1
                d["idx"] = idx  # child config -> sep index
                d["pidx"] = pidx  # parent config -> sep index
                d["sum_up"] = (idx[:, None] == np.arange(ssep)[None, :]).astype(float)  # S × ssep
                d["sum_down"] = (pidx[:, None] == np.arange(ssep)[None, :]).astype(float)  # S_par × ssep
            self.ck.append(d)
        # marginals: per home clique one 0/1 matrix
        self.marg = {}
        for name in wanted:
            v = net.index[name]
            k = engine.home[v]
            c = engine.cliques[k]
            cfg = np.indices(c.cards).reshape(len(c.cards), -1)
            self.marg.setdefault(k, []).append((name, cfg[c.vars.index(v)], engine.cards[v]))
        self.marg_mats = {}
        for k, items in self.marg.items():
            cols = [(c_idx[:, None] == np.arange(card)[None, :]).astype(float) for _, c_idx, card in items]
            self.marg_mats[k] = (np.hstack(cols), [(n, card) for n, _, card in items])

    def query(self, lik: dict[str, np.ndarray], rows: int):  # noqa: ANN201
        e = self.e
        # E: hard evidence, unanswered (all-ones) rows zeroed
        ans = {v: (m * (m.sum(axis=1, keepdims=True) == 1)) for v, m in lik.items()}
        logscale = np.zeros(rows)
        B: dict[int, np.ndarray] = {}
        logup: dict[int, np.ndarray] = {}
        up: dict[int, np.ndarray] = {}
        for k in reversed(e.order):
            c = e.cliques[k]
            d = self.ck[k]
            if d["W"] is not None:
                E = np.hstack([ans[v] if v in ans else np.zeros((rows, e.network.card(v))) for v in d["obs"]])
                L = E @ d["W"]
                L += d["logphi"]
            else:
                L = np.broadcast_to(d["logphi"], (rows, d["S"])).copy()
            for ch in c.children:
                L += logup[ch][:, self.ck[ch]["idx_in_parent"]] if False else logup[ch][:, self.ck[ch]["pidx"]]
            m = L.max(axis=1, keepdims=True)
            L -= m
            np.exp(L, out=L)
            logscale += m[:, 0]
            B[k] = L
            if k != e.root:
                msg = L @ d["sum_up"]
                s = msg.sum(axis=1, keepdims=True)
                msg /= s
                logscale += np.log(s[:, 0])
                up[k] = msg
                with np.errstate(divide="ignore"):
                    logup[k] = np.log(msg)
        total = B[e.root].sum(axis=1)
        log_evidence = logscale + np.log(total)
        full = {e.root: B[e.root]}
        for k in e.order:
            for ch in e.cliques[k].children:
                dch = self.ck[ch]
                down = full[k] @ dch["sum_down"]
                down = np.divide(down, up[ch], out=np.zeros_like(down), where=up[ch] > 0)
                down /= down.sum(axis=1, keepdims=True)
                full[ch] = B[ch] * down[:, dch["idx"]]
        out = {}
        for k, (M, items) in self.marg_mats.items():
            r = full[k] @ M
            j = 0
            for n, card in items:
                blk = r[:, j:j + card]
                out[n] = blk / blk.sum(axis=1, keepdims=True)
                j += card
        return log_evidence, out


def bench(net, label: str, rows: int = 100_000, chunk: int = 16384) -> None:  # noqa: ANN001
    eng = Engine(net)
    wanted = list(net.targets) + list(net.reported)
    fh = FastHard(eng, wanted)
    lik, _, _ = sample_evidence(net, rows, 0.25, seed=5)
    ref = eng.query({v: m[:2000] for v, m in lik.items()}, 2000, marginals=wanted)
    le, mg = fh.query({v: m[:2000] for v, m in lik.items()}, 2000)
    diff = max(np.abs(mg[w] - ref.marginals[w]).max() for w in wanted)
    print(f"{label}: max diff marginals {diff:.1e}, log P(e) {np.abs(le - ref.log_evidence).max():.1e}")

    def run(fn):  # noqa: ANN001, ANN202
        for s in range(0, rows, chunk):
            fn({v: m[s:s + chunk] for v, m in lik.items()}, min(chunk, rows - s))

    for name, fn in [("Engine.query", lambda l, n: eng.query(l, n, marginals=wanted)), ("prototype", fh.query)]:
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            run(fn)
            ts.append(time.perf_counter() - t0)
        print(f"  {name:13s} {rows / np.median(ts):>12,.0f} rows/s  (chunk {chunk}, median of 3)")


if __name__ == "__main__":
    from distancing_bn.network import compile_spec
    from distancing_bn.spec import load_spec

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 16384
    bench(make_diagnostic_network(), "synthetic 9x40", rows, chunk)
    try:
        bench(compile_spec(load_spec(HERE.parent / "models" / "distancing.yaml")), "default model", rows, chunk)
    except Exception as exc:  # noqa: BLE001
        print("default model:", type(exc).__name__, exc)
