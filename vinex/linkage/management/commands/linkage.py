"""``vinex linkage match LEFT.csv [RIGHT.csv] --out LINKS.csv`` and ``vinex linkage train``.

``match`` is a public contract: one file is deduplicated, two are linked across, with the same model
and rules production uses. Bad input ends with a one-line message and exit status 2.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import polars as pl
from django.core.management.base import BaseCommand, CommandError

from vinex.linkage import model as linkage_model
from vinex.linkage.engine import pairs_score
from vinex.linkage.features import LinkageInputError, record_ids_check
from vinex.linkage.training import TRAIN_PEOPLE, TRAIN_SEED, model_train

OUTPUT_COLUMNS = ["left_id", "right_id", "probability", "decision"]


def _read_records(path: Path) -> pl.DataFrame:
    """A CSV file as text columns (names trimmed), or CommandError(returncode=2) saying what is wrong."""
    if not path.exists():
        raise CommandError(f"{path}: no such file", returncode=2)
    if not path.is_file():
        raise CommandError(f"{path}: not a file", returncode=2)
    try:
        records = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (OSError, pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"{path}: cannot read it as a CSV file with a header ({reason})", returncode=2) from None
    records = records.rename({name: name.strip() for name in records.columns})
    try:
        record_ids_check(records, label=str(path))
    except LinkageInputError as error:
        raise CommandError(str(error), returncode=2) from None
    return records


class Command(BaseCommand):
    help = "Find records that are one person: deduplicate one CSV file or link two; or train the model."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        match = sub.add_parser("match", help="write the pairs of records that are one person (link) or may be (review)")
        match.add_argument("left", type=Path, help="CSV with a header: record_id and any known fields")
        match.add_argument("right", type=Path, nargs="?", help="a second CSV to link the first one with")
        match.add_argument("--out", type=Path, required=True, help="the pairs file to write")
        train = sub.add_parser("train", help="train the model on a seeded synthetic population and write it as JSON")
        train.add_argument("--people", type=int, default=TRAIN_PEOPLE)
        train.add_argument("--seed", type=int, default=TRAIN_SEED)
        train.add_argument("--out", type=Path, default=linkage_model.MODEL_PATH)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "match":
            self._match(options["left"], options["right"], options["out"])
        else:
            self._train(options["people"], options["seed"], options["out"])

    def _match(self, left_path: Path, right_path: Path | None, out: Path) -> None:
        left = _read_records(left_path)
        right = _read_records(right_path) if right_path is not None else None
        pairs = pairs_score(left, right)
        try:
            pairs.select(OUTPUT_COLUMNS).write_csv(out)
        except OSError as error:
            raise CommandError(f"{out}: cannot write it ({error.strerror})", returncode=2) from None
        links = pairs.filter(pl.col("decision") == "link").height
        self.stdout.write(f"{links} pairs to link and {pairs.height - links} to review, written to {out}")

    def _train(self, people: int, seed: int, out: Path) -> None:
        training = model_train(people=people, seed=seed)
        out.write_text(json.dumps(training.model, indent=2, sort_keys=True) + "\n")
        self.stdout.write(f"model trained on {training.records} records ({training.true_pairs} true pairs), "
                          f"written to {out}")
