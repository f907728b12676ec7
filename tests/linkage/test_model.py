from __future__ import annotations

import importlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from django.core.exceptions import ImproperlyConfigured

from vinex.linkage import conf
from vinex.linkage import model as linkage_model
from vinex.linkage.engine import model_predict
from vinex.linkage.features import features_build
from vinex.linkage.training import model_train


def test_committed_model_covers_every_comparison_with_trained_weights() -> None:
    document = json.loads(linkage_model.MODEL_PATH.read_text())
    assert [c["output_column_name"] for c in document["comparisons"]] == [c.name for c in linkage_model.COMPARISONS]
    for comparison in document["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                assert 0 < level["m_probability"] <= 1 and 0 < level["u_probability"] <= 1, level
    assert document["vinex"]["trained_with"]["command"].startswith("vinex linkage train")


def test_committed_model_predicts_in_an_offline_duckdb() -> None:
    records = pl.DataFrame({"record_id": ["a", "b", "c"], "first_name": ["Rosa", "ROSA", "Tomasz"],
                            "last_name": ["Méndez", "Mendez", "Kowalski"],
                            "date_of_birth": ["1977-05-06", "19770605", "1950-12-30"]})
    predictions = model_predict(features_build(records), None, threshold=0.5)
    assert predictions.select("unique_id_l", "unique_id_r").rows() == [("a", "b")]


def test_matching_duckdb_cannot_install_or_load_extensions() -> None:
    with linkage_model.duckdb_offline(memory_limit="256MB") as connection:
        settings = dict(connection.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoinstall_known_extensions', 'autoload_known_extensions')").fetchall())
        assert settings == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
        with pytest.raises(duckdb.Error):  # would otherwise fetch httpfs
            connection.execute("SELECT * FROM read_csv('https://example.invalid/people.csv')").fetchall()
        spill = connection.execute("SELECT current_setting('temp_directory')").fetchone()
    assert spill is not None and "vinex-linkage-" in spill[0] and not Path(spill[0]).exists()


def test_training_is_reproducible() -> None:
    first = model_train(people=500, seed=11, memory_limit="512MB")
    again = model_train(people=500, seed=11, memory_limit="512MB")
    assert first.model == again.model
    assert first.model != model_train(people=500, seed=12, memory_limit="512MB").model


@pytest.mark.parametrize(("link", "review"), [("0.5", "0.9"), ("1.5", "0.5"), ("0.99", "0"), ("high", "0.5")])
def test_thresholds_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch, link: str, review: str) -> None:
    monkeypatch.setenv("VINEX_LINKAGE_LINK_THRESHOLD", link)
    monkeypatch.setenv("VINEX_LINKAGE_REVIEW_THRESHOLD", review)
    try:
        with pytest.raises(ImproperlyConfigured):
            importlib.reload(conf)
    finally:
        monkeypatch.undo()
        importlib.reload(conf)
