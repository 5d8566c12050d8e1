"""Real-data validation figures: Divorce Predictors Scale, ECR held-out design, Fair (1978).

Run from the repository root (the data are read in place, never copied):

    PYTHONPATH=src nice -n 10 python benchmarks/validation_real.py \
        --data /work/shared/data/external --out /tmp/validation_real.json [--only dps,ecr]

Every number in docs/validation.md (sections DPS and ECR) is printed by this script; the JSON
file holds them all. Nothing here fits to an outcome: the DPS class and the held-out ECR
items are used only to score. The ECR part fits the numbers the mapping touches by EM on a
seeded random half (the premise left out unless --premises; to convergence, --tol per row)
and compares, on the other half, P(avoidant attachment) fitted and unfitted with the
unweighted mean of the mapped avoidance items (paired bootstrap intervals on the differences).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from distancing_bn import load_model  # noqa: E402
from distancing_bn.batch import _evidence, _Plan  # noqa: E402
from distancing_bn.mapping import load_mapping  # noqa: E402

N_BOOT = 2000


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), from ranks."""
    s = pd.Series(score).rank(method="average").to_numpy()
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((s[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def boot_auc(score: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile bootstrap interval of the AUC (rows resampled within each class)."""
    i1, i0 = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    vals = []
    for _ in range(N_BOOT):
        idx = np.concatenate([rng.choice(i1, i1.size), rng.choice(i0, i0.size)])
        vals.append(auc(score[idx], y[idx]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


def posteriors(model: Any, frame: pd.DataFrame, mapping: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """P(present) of every cause per row and P(at least one cause present) (from the joint)."""
    plan = _Plan(model, list(frame.columns), mapping, None, False)
    ev, _status, _ = _evidence(model, frame, plan, 0, "raise")
    res = model.engine.query(ev.likelihoods, ev.rows, marginals=list(model.causes), joint=model.engine.has_joint)
    p = pd.DataFrame({c: res.marginals[c][:, 1] for c in model.causes}, index=frame.index)
    any_cause = 1.0 - res.target_joint.reshape(ev.rows, -1)[:, 0] if res.target_joint is not None else p.max(axis=1)
    return p, np.asarray(any_cause)


def pc1_share(p: pd.DataFrame, *, correlation: bool = False) -> float:
    """Share of the posteriors' total variance on their first principal component."""
    x = p.to_numpy()
    ev = np.linalg.eigvalsh(np.corrcoef(x.T) if correlation else np.cov(x.T))
    return float(ev[-1] / ev.sum())


# ----------------------------------------------------------------------------- DPS
def dps(data: Path, model: Any, rng: np.random.Generator) -> dict[str, Any]:
    frame = pd.read_csv(data / "divorce" / "divorce.csv", sep=";")
    mpath = REPO / "models" / "mappings" / "divorce.yaml"
    mapping = load_mapping(mpath, model.network, model_id=model.id)
    y = frame["Class"].to_numpy()
    items = frame.drop(columns=["Class"])
    p, any_cause = posteriors(model, items, mapping)
    mapped = sorted({cm.column for cm in mapping.columns}, key=lambda c: int(c[3:]))
    raw = items[mapped].astype(float)
    rev = {cm.column for cm in mapping.columns if getattr(cm, "reverse", False)}
    for c in rev:
        raw[c] = 4 - raw[c]
    item_mean = raw.mean(axis=1).to_numpy()
    out: dict[str, Any] = {"rows": len(frame), "divorced": int(y.sum()), "mapped_items": len(mapped)}
    per = {}
    for c in model.causes:
        s = p[c].to_numpy()
        per[c] = {"auc": auc(s, y), "ci": boot_auc(s, y, rng)}
    out["auc_per_cause"] = per
    out["auc_any_cause"] = {"auc": auc(any_cause, y), "ci": boot_auc(any_cause, y, rng)}
    out["auc_item_mean"] = {"auc": auc(item_mean, y), "ci": boot_auc(item_mean, y, rng)}
    out["pc1_share"] = pc1_share(p)
    out["outside_pc1"] = 1 - out["pc1_share"]
    out["pc1_share_correlation"] = pc1_share(p, correlation=True)
    top = p.to_numpy().argmax(axis=1)
    lead = pd.Series(np.array(model.causes)[top[y == 1]]).value_counts()
    out["top_cause_divorced"] = {str(k): int(v) for k, v in lead.items()}
    lead0 = pd.Series(np.array(model.causes)[top[y == 0]]).value_counts()
    out["top_cause_married"] = {str(k): int(v) for k, v in lead0.items()}
    out["mean_any_cause_married"] = float(any_cause[y == 0].mean())
    out["mean_any_cause_divorced"] = float(any_cause[y == 1].mean())
    out["mean_p_married"] = {c: float(p.loc[y == 0, c].mean()) for c in model.causes}
    return out


# ----------------------------------------------------------------------------- ECR
AVOID = [f"Q{i}" for i in range(1, 37, 2)]
ANX = [f"Q{i}" for i in range(2, 37, 2)]
REVERSED = {"Q3", "Q15", "Q19", "Q22", "Q25", "Q27", "Q29", "Q31", "Q33", "Q35"}


def keyed(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = frame[cols].astype(float).copy()
    for c in cols:
        if c in REVERSED:
            out[c] = 6 - out[c]
    return out


def mapping_without(path: Path, drop: list[str], tmp: Path) -> Path:
    """A copy of a mapping file with some columns moved to ``ignore`` (for before/after)."""
    data = yaml.safe_load(path.read_text())
    for c in drop:
        data["columns"].pop(c, None)
        data["ignore"].append(c)
    out = tmp / f"{path.stem}-without-{'-'.join(drop)}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def ecr_scores(model: Any, frame: pd.DataFrame, mapping: Any, held: list[str], anxiety: np.ndarray) -> dict[str, Any]:
    p, _ = posteriors(model, frame.drop(columns=held), mapping)
    av = keyed(frame, held).mean(axis=1).to_numpy()
    out = {
        "spearman_avoidant_heldout": spearman(p["avoidant_attachment"].to_numpy(), av),
        "spearman_avoidant_anxiety": spearman(p["avoidant_attachment"].to_numpy(), anxiety),
        "corr_overlap": {
            "avoidant~emotional_unavailability": float(p["avoidant_attachment"].corr(p["emotional_unavailability"])),
            "avoidant~fear_of_intimacy": float(p["avoidant_attachment"].corr(p["fear_of_intimacy"])),
            "emotional_unavailability~fear_of_intimacy": float(
                p["emotional_unavailability"].corr(p["fear_of_intimacy"])
            ),
        },
        "spearman_loss_of_attraction_heldout": spearman(p["loss_of_attraction"].to_numpy(), av),
    }
    return out, p


def touched(model: Any, mapping: Any) -> list[str]:
    """The variables whose numbers the mapping's items touch: the questions it feeds, their
    parents (causes and facets), and the causes of those facets (a cause: its prior and links)."""
    spec = model.spec
    questions = sorted({cm.question for cm in mapping.columns})
    parents = {p for q in questions for p in spec.question(q).parents}
    cause_of = {f.id: f.cause for f in spec.facets}
    return questions + sorted(parents | {cause_of.get(p, p) for p in parents})


def boot_spearman(
    scores: dict[str, np.ndarray], target: np.ndarray, pairs: list[tuple[str, str]], rng: np.random.Generator
) -> dict[str, Any]:
    """Paired percentile bootstrap (rows resampled) of Spearman(score, target) and of differences."""
    from scipy.stats import rankdata

    n = target.size
    draws: dict[str, list[float]] = {k: [] for k in scores}
    for _ in range(N_BOOT):
        idx = rng.integers(0, n, n)
        t = rankdata(target[idx])
        t = (t - t.mean()) / t.std()
        for k, s in scores.items():
            r = rankdata(s[idx])
            draws[k].append(float(np.mean(t * (r - r.mean()) / r.std())))
    out: dict[str, Any] = {}
    for k, v in draws.items():
        out[k] = {"estimate": spearman(scores[k], target), "ci": [float(x) for x in np.percentile(v, [2.5, 97.5])]}
    for a, b in pairs:
        d = np.array(draws[a]) - np.array(draws[b])
        out[f"{a} - {b}"] = {
            "estimate": out[a]["estimate"] - out[b]["estimate"],
            "ci": [float(x) for x in np.percentile(d, [2.5, 97.5])],
            "share_above_0": float((d > 0).mean()),
        }
    return out


def pc1_scorer(items: pd.DataFrame) -> Any:
    """First principal component of the items' correlations, as a scoring function (sign: positive sum).

    Means, standard deviations and loadings come from ``items`` (the training half) only.
    """
    x = items.to_numpy()
    mu, sd = x.mean(axis=0), x.std(axis=0)
    _, vecs = np.linalg.eigh(np.corrcoef(x.T))
    w = vecs[:, -1] if vecs[:, -1].sum() > 0 else -vecs[:, -1]

    def score(frame: pd.DataFrame) -> np.ndarray:
        return ((frame.to_numpy() - mu) / sd) @ w

    score.weights = w  # type: ignore[attr-defined]
    return score


def ecr(
    data: Path,
    model: Any,
    rng_seed: int,
    max_iter: int,
    prior_strength: float,
    mpath: Path | None = None,
    *,
    tol: float = 1e-6,
    premises: bool = False,
    learn: str = "touched",
    history: bool = True,
) -> dict[str, Any]:
    raw = pd.read_csv(data / "ecr" / "data.csv")
    q = [f"Q{i}" for i in range(1, 37)]
    complete = raw[(raw[q] > 0).all(axis=1)].reset_index(drop=True)
    mpath = mpath or REPO / "models" / "mappings" / "ecr.yaml"
    mapping = load_mapping(mpath, model.network, model_id=model.id)
    mapped = {cm.column for cm in mapping.columns}
    held = [c for c in AVOID if c not in mapped]
    mapped_avoid = [c for c in AVOID if c in mapped]
    anxiety = keyed(complete, ANX).mean(axis=1).to_numpy()
    avoidance = keyed(complete, AVOID).mean(axis=1).to_numpy()
    out: dict[str, Any] = {
        "complete_rows": len(complete),
        "held_out_items": held,
        "mapped_avoidance_items": mapped_avoid,
    }
    rng = np.random.default_rng(rng_seed)
    train = np.zeros(len(complete), dtype=bool)
    train[rng.permutation(len(complete))[: len(complete) // 2]] = True
    test = complete[~train].reset_index(drop=True)
    tr = complete[train].reset_index(drop=True)
    out["train_rows"], out["test_rows"] = len(tr), len(test)
    held_test = keyed(test, held).mean(axis=1).to_numpy()
    baseline = keyed(test, mapped_avoid).mean(axis=1).to_numpy()
    out["test_spearman_item_mean_baseline"] = spearman(baseline, held_test)
    pc1_of = pc1_scorer(keyed(tr, mapped_avoid))  # weights from the training half only
    pc1 = pc1_of(keyed(test, mapped_avoid))
    out["test_spearman_pc1_baseline"] = spearman(pc1, held_test)
    out["pc1_weights_train"] = dict(zip(mapped_avoid, [float(x) for x in pc1_of.weights], strict=True))
    anx_test = anxiety[~train]
    out["test_spearman_item_mean_anxiety"] = spearman(baseline, anx_test)
    cols = [c for c in [*q, "age", "gender", "country"] if c not in held]
    print("scoring the test half with the unfitted model", flush=True)
    unfit, p_unfit = ecr_scores(model, test[cols + held], mapping, held, anx_test)
    out["test_unfitted"] = unfit
    if history:  # all rows and the mapping revision (section 4 of docs/validation.md)
        allrows, p_all = ecr_scores(model, complete, mapping, held, anxiety)
        out["all_rows_unfitted"] = allrows
        out["all_rows_item_mean_baseline"] = spearman(
            keyed(complete, mapped_avoid).mean(axis=1).to_numpy(), keyed(complete, held).mean(axis=1).to_numpy()
        )
        # construct check: anxious vs secure, P(fear of intimacy), with and without Q2/Q6/Q8
        secure = (anxiety < 3) & (avoidance < 3)
        anxious = (anxiety > 3) & (avoidance < 3)
        out["groups"] = {"secure": int(secure.sum()), "anxious_low_avoidance": int(anxious.sum())}
        out["foi_secure_vs_anxious_before"] = [
            float(p_all.loc[secure, "fear_of_intimacy"].mean()),
            float(p_all.loc[anxious, "fear_of_intimacy"].mean()),
        ]
        with tempfile.TemporaryDirectory() as td:
            anx_items = [c for c in ("Q2", "Q6", "Q8") if c in mapped]
            if anx_items:
                mp2 = mapping_without(mpath, anx_items, Path(td))
                mapping2 = load_mapping(mp2, model.network, model_id=model.id)
                alt, p_alt = ecr_scores(model, complete, mapping2, held, anxiety)
                out["without_anxiety_items"] = {
                    "dropped": anx_items,
                    "all_rows": alt,
                    "foi_secure_vs_anxious": [
                        float(p_alt.loc[secure, "fear_of_intimacy"].mean()),
                        float(p_alt.loc[anxious, "fear_of_intimacy"].mean()),
                    ],
                }
    # the held-out design: fit the numbers the mapping touches on the training half, held-out items never used
    questions = sorted({cm.question for cm in mapping.columns})
    learn_ids = {
        "touched": touched(model, mapping),
        "all": questions + list(model.causes) + list(model.facets),
        "questions": questions,
    }[learn]
    t0 = time.time()
    from distancing_bn.learn import em

    def show(i: int, ll: float) -> None:
        if i % 10 == 0:
            print(f"  EM step {i}: log-likelihood {ll:.2f} ({time.time() - t0:.0f} s)", flush=True)

    res = em(
        model,
        tr[cols],
        mapping=mapping,
        prior_strength=prior_strength,
        max_iter=max_iter,
        tol=tol,
        learn=learn_ids,
        premises=premises,
        progress=show,
    )
    moved = {k: float(np.max(np.abs(np.subtract(b, a)))) for k, (a, b) in res.changes.items()}
    out["fit"] = {
        "seconds": round(time.time() - t0, 1),
        "iterations": res.iterations,
        "converged": res.converged,
        "tol_per_row": tol,
        "premises": premises,
        "prior_strength": prior_strength,
        "rows": res.rows,
        "distinct_rows": res.patterns,
        "learn": learn,
        "learned_variables": learn_ids,
        "log_likelihood": [res.log_likelihood[0], res.log_likelihood[-1]],
        "objective_last_steps": res.objective[-3:],
        "learned": list(res.learned),
        "changes": {
            k: {"before": list(a), "after": list(b), "moved": moved[k]}
            for k, (a, b) in sorted(res.changes.items(), key=lambda kv: -moved[kv[0]])
        },
    }
    fitted, p_fit = ecr_scores(res.model, test[cols + held], mapping, held, anx_test)
    out["test_fitted"] = fitted
    out["test_fitted_prior_means"] = {c: float(p_fit[c].mean()) for c in model.causes}
    out["test_unfitted_prior_means"] = {c: float(p_unfit[c].mean()) for c in model.causes}
    scores = {
        "fitted": p_fit["avoidant_attachment"].to_numpy(),
        "unfitted": p_unfit["avoidant_attachment"].to_numpy(),
        "item_mean": baseline,
        "pc1": pc1,
    }
    pairs = [("fitted", "item_mean"), ("fitted", "unfitted"), ("unfitted", "item_mean"), ("fitted", "pc1")]
    print("bootstrap of the test-half Spearman differences", flush=True)
    out["test_bootstrap_heldout"] = boot_spearman(scores, held_test, pairs, np.random.default_rng(rng_seed + 1))
    # how far the three overlapping causes are told apart, and what each tracks
    trio = ["avoidant_attachment", "emotional_unavailability", "fear_of_intimacy"]
    out["test_overlap_spearman"] = {
        name: {
            f"{a}~{b}": spearman(p[a].to_numpy(), p[b].to_numpy()) for i, a in enumerate(trio) for b in trio[i + 1 :]
        }
        for name, p in (("unfitted", p_unfit), ("fitted", p_fit))
    }
    out["test_heldout_spearman_by_cause"] = {
        name: {c: spearman(p[c].to_numpy(), held_test) for c in model.causes}
        for name, p in (("unfitted", p_unfit), ("fitted", p_fit))
    }
    out["test_anxiety_spearman_by_cause"] = {
        name: {c: spearman(p[c].to_numpy(), anx_test) for c in model.causes}
        for name, p in (("unfitted", p_unfit), ("fitted", p_fit))
    }
    return out


def fair_note(data: Path) -> dict[str, Any]:
    f = pd.read_csv(data / "fair_affairs" / "fair.csv")
    return {
        "rows": len(f),
        "columns": list(f.columns),
        "share_affairs_by_rating": f.groupby("rate_marriage")["affairs"]
        .apply(lambda a: float((a > 0).mean()))
        .to_dict(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/external"))
    ap.add_argument("--model", default=None, help="model file (default: models/distancing.yaml)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/validation_real.json"))
    ap.add_argument("--only", default="dps,ecr,fair")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-iter", type=int, default=500)
    ap.add_argument("--tol", type=float, default=1e-6, help="EM stops when the objective rises less per row")
    ap.add_argument(
        "--premises",
        action="store_true",
        help="enter the model's premise (distance noticed) in every training row; default: left out, "
        "as the ECR respondents are not selected on it",
    )
    ap.add_argument(
        "--learn",
        choices=("touched", "all", "questions"),
        default="touched",
        help="numbers fitted: those the mapping's items touch (default), every cause and facet as well, "
        "or only the mapped questions' tables",
    )
    ap.add_argument("--no-history", action="store_true", help="skip the all-rows and mapping-revision figures")
    ap.add_argument("--prior-strength", type=float, default=10.0)
    ap.add_argument("--ecr-mapping", type=Path, default=None, help="ECR mapping (default: models/mappings/ecr.yaml)")
    args = ap.parse_args()
    model = load_model(args.model or REPO / "models" / "distancing.yaml")
    parts = set(args.only.split(","))
    out: dict[str, Any] = {"model": model.id, "model_sha256": model.spec.sha256 if model.spec else None}
    if "dps" in parts:
        out["dps"] = dps(args.data, model, np.random.default_rng(args.seed))
        print(json.dumps(out["dps"], indent=1))
    if "fair" in parts:
        out["fair"] = fair_note(args.data)
    if "ecr" in parts:
        out["ecr"] = ecr(
            args.data,
            model,
            args.seed,
            args.max_iter,
            args.prior_strength,
            args.ecr_mapping,
            tol=args.tol,
            premises=args.premises,
            learn=args.learn,
            history=not args.no_history,
        )
        e = dict(out["ecr"])
        e["fit"] = {k: v for k, v in e["fit"].items() if k not in ("changes", "learned")}
        print(json.dumps(e, indent=1))
    args.out.write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
