"""The public face of matching: ``pairs_score`` decides which records are one person.

Used by ``vinex linkage match`` and by ingest alike, so both give the same answer for the same records.
Deterministic rules decide first (``vinex.linkage.rules``); the trained Splink model
(``vinex.linkage.model``) scores every other candidate pair. A pair linked by a rule has probability
1.0 and names its rule; a pair a block rule holds apart (two different A-numbers) is never returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from django.conf import settings

from vinex.linkage import model as linkage_model
from vinex.linkage.features import features_build
from vinex.linkage.guards import ALWAYS, GUARDS, IN_VIEW
from vinex.linkage.rules import LINK_RULES, identifier_pairs, rules_apply

LINK = "link"
REVIEW = "review"
RESULT_SCHEMA = {"left_id": pl.Utf8, "right_id": pl.Utf8, "probability": pl.Float64, "decision": pl.Utf8,
                 "rule": pl.Utf8, "evidence": pl.List(pl.Utf8), "contradiction": pl.Utf8}
# The evidence words of a pair that looks like relatives, and whether one is in view.
RELATIVES_PREFIX = "looks like relatives: "
RELATIVE_IN_VIEW = "a relative of the household is in view"
NO_RELATIVE_IN_VIEW = "no relative of the household in view"
# More records than this in one "household" (first surname and street, or birthday) are namesakes, not a family.
_CROWD = 50
_RULE_WORDS = {rule.code: rule.description for rule in LINK_RULES}
_IDS = ["unique_id_l", "unique_id_r"]
# Parents and their children are this many years apart, or more (see contradiction).
_GENERATION_YEARS = 12
# The very same birthday, written either way round (not a digit apart: 1958 and 1985 are a generation).
_SAME_BIRTHDAY = ["same date of birth", "date of birth with day and month swapped"]
_IDENTIFIER_LABELS = ["same A-number", "same FBI number", "same state id"]
# The model's loosest first-name levels: a typo, or a sibling's name that happens to look alike.
_FUZZY_FIRST = ["similar first name", "first name somewhat similar"]
# What a name becomes for a child of the other sex: Daniel → Daniela, Danielle; Juan → Juana; Paul → Pauline.
# A bare "e" is left out: a final "e" dropped (Kyle, Kyl) is a common typo, and Louis and Louise are rare twins.
_GENDER_SUFFIXES = ("a", "le", "lle", "ina", "ine", "ette", "ella", "elle")


def pairs_score(
    left: pl.DataFrame,
    right: pl.DataFrame | None = None,
    *,
    link_threshold: float | None = None,
    review_threshold: float | None = None,
    guard: str | None = None,
    people: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Pairs of records that may be one person, each with a probability, a decision and the evidence.

    ``left`` and ``right`` hold ``record_id`` (unique within each frame) and any of
    ``vinex.linkage.features.INPUT_COLUMNS``. Without ``right`` the records of ``left`` are compared with
    each other and every pair comes once, ``left_id`` before ``right_id`` (in number order when every id
    is a whole number, otherwise in text order); with ``right``, ``left_id`` is from ``left`` and
    ``right_id`` from ``right``.

    Returns columns ``left_id, right_id, probability, decision, rule, evidence, contradiction``:
    ``decision`` is ``link`` at or above the link threshold and ``review`` between the review and link
    thresholds (defaults from settings); ``rule`` names the deterministic rule behind a link, or is null;
    ``evidence`` lists, in words, what agrees; ``contradiction`` says why the pair looks like two relatives
    (``contradiction``), or is null. What a probable pair that looks like relatives becomes depends on
    ``guard`` (default ``VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW``): ``always`` review; ``in_view`` review
    when a relative is in view (``relatives_in_view``), otherwise link; ``off`` link. A deterministic rule
    links whatever the guard. ``people`` (record id → person) names records already known to be one person
    (the product's subjects of one person): they are never each other's relatives. Raises
    ``LinkageInputError`` for records without ids or with an id used twice.
    """
    link_at = settings.VINEX_LINKAGE_LINK_THRESHOLD if link_threshold is None else link_threshold
    review_at = settings.VINEX_LINKAGE_REVIEW_THRESHOLD if review_threshold is None else review_threshold
    guard = guard or settings.VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW
    if guard not in GUARDS:
        raise ValueError(f"guard must be one of {', '.join(GUARDS)}, got {guard!r}")
    features_l = features_build(left, label="left" if right is not None else "the records")
    features_r = features_build(right, label="right") if right is not None else None
    scored = _scored(features_l, features_r, link_at=link_at, review_at=review_at)
    decided = _decide(scored, link_at, guard, _viewed(scored, features_l, features_r, link_at, guard, people))
    if features_r is None:
        decided = _in_order(decided, features_l["unique_id"])
    return decided.sort("left_id", "right_id").select(list(RESULT_SCHEMA))


def _scored(left: pl.DataFrame, right: pl.DataFrame | None, *, link_at: float, review_at: float,
            population: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every candidate pair at or above ``review_at`` that no rule blocks: ids, ``probability`` (1.0 for a rule's
    link), ``rule_link``, ``evidence`` (words) and ``contradiction``, before any decision."""
    scored = _model_scores(left, right, review_at, population)
    candidates = scored.join(identifier_pairs(left, right), on=_IDS, how="full", coalesce=True)
    ruled = rules_apply(_with_features(candidates, left, right)).filter(pl.col("rule_block").is_null())
    probability = (pl.when(pl.col("rule_link").is_not_null()).then(pl.lit(1.0))
                   .otherwise(pl.col("match_probability")).fill_null(0.0))
    rule_words = pl.col("rule_link").replace_strict(_RULE_WORDS, default=None, return_dtype=pl.Utf8)
    evidence = pl.concat_list(rule_words, pl.col("evidence").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))))
    return (ruled
            .with_columns(probability=probability, evidence=evidence.list.drop_nulls())
            .filter(pl.col("probability") >= review_at)
            .with_columns(contradiction=contradiction())
            .select(*_IDS, "probability", "rule_link", "evidence", "contradiction"))


def _with_features(candidates: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame | None) -> pl.DataFrame:
    other = left if right is None else right
    return (candidates
            .join(left.rename(lambda c: f"{c}_l"), on="unique_id_l", how="left")
            .join(other.rename(lambda c: f"{c}_r"), on="unique_id_r", how="left"))


def _suspects(scored: pl.DataFrame, link_at: float) -> pl.DataFrame:
    """The pairs the guard is about: probable enough to link, no rule behind them, and looking like relatives."""
    return scored.filter((pl.col("probability") >= link_at) & pl.col("rule_link").is_null()
                         & pl.col("contradiction").is_not_null()).select(_IDS)


def _viewed(scored: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame | None, link_at: float, guard: str,
            people: Mapping[str, str] | None) -> pl.DataFrame:
    """``unique_id_l, unique_id_r, relative_in_view`` of the suspects, under the ``in_view`` guard (else empty)."""
    suspects = _suspects(scored, link_at) if guard == IN_VIEW else scored.head(0).select(_IDS)
    if suspects.is_empty():
        return suspects.with_columns(relative_in_view=pl.lit(True))
    return relatives_in_view(suspects, left, right, link_at=link_at, people=people)


def _decide(scored: pl.DataFrame, link_at: float, guard: str, viewed: pl.DataFrame) -> pl.DataFrame:
    pairs = scored.join(viewed, on=_IDS, how="left")
    automatic = pl.col("probability") >= link_at
    relatives = pl.col("contradiction").is_not_null() & pl.col("rule_link").is_null()
    if guard == ALWAYS:
        automatic &= ~relatives
    elif guard == IN_VIEW:
        automatic &= ~(relatives & pl.col("relative_in_view").fill_null(True))
    # The contradiction stays in the words a reviewer or an auditor reads, linked or not.
    seen = (pl.when(~relatives).then(pl.lit(None, dtype=pl.Utf8))
            .when(pl.col("relative_in_view").fill_null(False)).then(pl.lit(RELATIVE_IN_VIEW))
            .when(pl.col("relative_in_view").is_not_null()).then(pl.lit(NO_RELATIVE_IN_VIEW))
            .otherwise(pl.lit(None, dtype=pl.Utf8)))
    words = pl.concat_list(pl.col("evidence"), pl.lit(RELATIVES_PREFIX) + pl.col("contradiction"), seen)
    return pairs.select(left_id="unique_id_l", right_id="unique_id_r", probability="probability",
                        decision=pl.when(automatic).then(pl.lit(LINK)).otherwise(pl.lit(REVIEW)),
                        rule="rule_link", evidence=words.list.drop_nulls(), contradiction="contradiction")


def relatives_in_view(suspects: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame | None, *, link_at: float,
                      people: Mapping[str, str] | None = None) -> pl.DataFrame:
    """For each suspect pair (``unique_id_l, unique_id_r`` of the features frames ``left`` and ``right``, or of
    ``left`` alone when deduplicating), whether a relative of it is in view: ``relative_in_view``.

    A relative in view is another record, in either frame, of the household of one side (the same first
    surname and street, or the same first surname and birthday) that is neither side and is not that side's
    own person: not linked to it by the strict pipeline (a rule, or the model at ``link_at`` with nothing
    that looks like relatives), and not of the same person in ``people``. A twin's record beside his
    brother's, a father's beside the son's: then two people exist, and the pair may be either of them.
    A household shared by more than ``_CROWD`` records is a crowd of namesakes, not a household, and shows
    nobody.
    """
    link = right is not None
    frames = [left.with_columns(key=pl.lit("l:") + pl.col("unique_id"))]
    if right is not None:
        frames.append(right.with_columns(key=pl.lit("r:") + pl.col("unique_id")))
    every = pl.concat(frames)
    homes = _households(every)
    pairs = suspects.with_columns(key_l=pl.lit("l:") + pl.col("unique_id_l"),
                                  key_r=pl.lit("r:" if link else "l:") + pl.col("unique_id_r"))
    sides = pl.concat([pairs.with_columns(side="key_l"), pairs.with_columns(side="key_r")])
    mates = (sides.join(homes.rename({"key": "side"}), on="side")
             .join(homes.rename({"key": "mate"}), on="household")
             .filter((pl.col("mate") != pl.col("key_l")) & (pl.col("mate") != pl.col("key_r")))
             .select(*_IDS, "side", "mate").unique())
    if people:
        person = pl.col("side").str.slice(2).replace_strict(people, default=None, return_dtype=pl.Utf8)
        mate_person = pl.col("mate").str.slice(2).replace_strict(people, default=None, return_dtype=pl.Utf8)
        mates = mates.filter((person != mate_person).fill_null(True))
    if not mates.is_empty():
        same = _same_people(every, mates, link_at=link_at)
        mates = mates.join(same, on=["side", "mate"], how="anti")
    found = mates.select(_IDS).unique().with_columns(relative_in_view=pl.lit(True))
    return (suspects.join(found, on=_IDS, how="left")
            .with_columns(pl.col("relative_in_view").fill_null(False)))


def _households(records: pl.DataFrame) -> pl.DataFrame:
    """``key, household`` for each of a record's households: its first surname with its street, its postcode and
    city, or its birthday; and its given name and first surname in its city or postcode (a father and the son
    named after him, when a street is missing or written two ways). Exact keys: equi-joins, whatever the size."""
    surname = pl.col("last_first")

    def beside(kind: str, *columns: str) -> pl.Expr:
        known = pl.all_horizontal(surname.is_not_null(), *(pl.col(c).is_not_null() for c in columns))
        return pl.when(known).then(pl.concat_str(pl.lit(kind), surname, *columns, separator="|"))

    keys = [beside("street", "street_key"), beside("postcode", "postcode", "city"), beside("birthday", "date_of_birth"),
            beside("name in city", "first_key", "city"), beside("name at postcode", "first_key", "postcode")]
    homes = (records.select("key", household=pl.concat_list(keys).list.drop_nulls())
             .explode("household").drop_nulls("household"))
    return homes.filter(pl.len().over("household") <= _CROWD)


def _same_people(every: pl.DataFrame, mates: pl.DataFrame, *, link_at: float) -> pl.DataFrame:
    """``side, mate`` for the mates that are their side's own person: the strict pipeline links them (records
    compared as one file, the prior that of all the records)."""
    keys = pl.concat([mates["side"], mates["mate"]]).unique()
    subset = every.filter(pl.col("key").is_in(keys.implode())).with_columns(unique_id="key").drop("key")
    scored = _scored(subset, None, link_at=link_at, review_at=link_at, population=every)
    linked = scored.filter(pl.col("rule_link").is_not_null() | pl.col("contradiction").is_null())
    one_way = linked.select(side="unique_id_l", mate="unique_id_r")
    return pl.concat([one_way, one_way.select(side="mate", mate="side")]).unique()


def contradiction() -> pl.Expr:
    """Why the pair looks like two relatives rather than one person, in words, or null: what the model cannot see.

    Reads ``evidence`` and the features of both records (``first_name_l``, ``dob_digits_r``, ``sex_l``...).

    The model adds evidence as if fields were independent; within a family they are not. Twins share a
    surname, a birthday and an address, and so outweigh one different first name; a father and a son
    named after him share a name and an address, and so outweigh two birthdays a generation apart.
    So a pair looks like two relatives (and waits for a person when one is in view: ``relatives_in_view``) when
    - its first names are both known and agree at no level (first and last names swapped with a typo
      is a level: a clerk's slip, where a twin's name is another name);
    - its first names are one name's male and female forms, even mistyped (``gendered_names``: Mario
      and Maria, the names parents give twins), or its sexes are both known and differ beside first
      names that are not the same name or nickname;
    - its dates of birth are both known, agree at no level, and are a generation apart (or beside
      first names that agree only loosely);
    - it shares a surname and an address, or a surname and a birthday, and one side lacks the first
      name (the field that would tell twins apart), unless the birthday is the very same and the sex
      not another; or has only its initial beside a sex not known to be the same;
    - it shares a surname and an address and one side lacks the birthday (the field that would tell a
      junior from a senior), unless the first names agree and so does an A-number, FBI number or
      state id.
    A wrong birthday a few years off beside the same first name is a clerk's slip more often than a
    relative (parents do not give two children one name), and is left to the model.
    """
    evidence = pl.col("evidence")

    def agrees(comparison_name: str, labels: list[str] | None = None) -> pl.Expr:
        return evidence.list.eval(pl.element().is_in(labels or _labels(comparison_name))).list.any()

    first_known = pl.col("first_name_l").is_not_null() & pl.col("first_name_r").is_not_null()
    dob_known = pl.col("dob_digits_l").is_not_null() & pl.col("dob_digits_r").is_not_null()
    first_strong = agrees("first_name", ["same first name", "same first name or nickname"])
    first_contradicts = first_known & ~agrees("first_name")
    sex_same = (pl.col("sex_l") == pl.col("sex_r")).fill_null(False)
    sex_differs = (pl.col("sex_l") != pl.col("sex_r")).fill_null(False)
    other_sex = ((first_known & (gendered_names() | (agrees("first_name", _FUZZY_FIRST) & _endings_a_and_o())))
                 | (sex_differs & ~first_strong))
    years_apart = (pl.col("dob_digits_l").str.slice(0, 4).cast(pl.Int32, strict=False)
                   - pl.col("dob_digits_r").str.slice(0, 4).cast(pl.Int32, strict=False)).abs()
    dob_contradicts = (dob_known & ~agrees("date_of_birth")
                       & ((years_apart >= _GENERATION_YEARS).fill_null(True) | ~first_strong))
    household = agrees("last_name") & agrees("address")
    twins_possible = household | (agrees("last_name") & agrees("date_of_birth", ["same date of birth"]))
    initial_only = (pl.col("first_name_l").str.len_chars() == 1) | (pl.col("first_name_r").str.len_chars() == 1)
    # A first name left out beside the very same birthday, surname and sex is no junior or senior, and no
    # twin of the other sex: a form that lacked the field. (A twin of the same sex would be; the hold-out
    # has none, and custody records seldom lack a first name.)
    first_left_out = (~first_known & agrees("date_of_birth", _SAME_BIRTHDAY)
                      & agrees("last_name", ["same last name", "similar last name"]) & ~sex_differs)
    name_unknown = (~first_known & ~first_left_out) | (initial_only.fill_null(False) & ~sex_same)
    # A birthday left out beside the same first name and the same A-number, FBI number or state id: a junior
    # has identifiers of his own.
    one_identified = first_strong & agrees("a_number", _IDENTIFIER_LABELS)
    return (pl.when(first_contradicts).then(pl.lit("first names agree at no level"))
            .when(other_sex).then(pl.lit("first names or sexes of a brother and a sister"))
            .when(dob_contradicts).then(pl.lit("birthdays agree at no level"))
            .when(twins_possible & name_unknown).then(pl.lit("one household, a first name missing or an initial"))
            .when(household & ~dob_known & ~one_identified).then(pl.lit("one household, a birthday missing"))
            .otherwise(pl.lit(None, dtype=pl.Utf8)))


def gendered_names() -> pl.Expr:
    """True where the two first names are one name in its male and female forms (Mario and Maria, Daniel and
    Danielle, Juan and Juana): the names parents give twins. The model finds them "similar", as it finds
    a typo; they are two people as often as one, so they never link without a person.
    """
    # Without spaces: a space slipped into a name ("laur a") is no other name.
    first_l = pl.col("first_name_l").str.replace_all(" ", "")
    first_r = pl.col("first_name_r").str.replace_all(" ", "")

    def extended(short: pl.Expr, long: pl.Expr) -> pl.Expr:
        return long.str.starts_with(short) & long.str.slice(short.str.len_chars()).is_in(_GENDER_SUFFIXES)

    last_l, last_r = first_l.str.slice(-1), first_r.str.slice(-1)
    vowel_swapped = ((first_l.str.len_chars() == first_r.str.len_chars())
                     & (first_l.str.head(-1) == first_r.str.head(-1)) & (last_l != last_r)
                     & last_l.is_in(["a", "e", "o"]) & last_r.is_in(["a", "e", "o"]))
    return (first_l != first_r) & (extended(first_l, first_r) | extended(first_r, first_l) | vowel_swapped)


def _endings_a_and_o() -> pl.Expr:
    """One first name ends in ``a`` and the other in ``o``: Guillerma and Guiillermo, a twin's name mistyped.
    A typo seldom turns one of these letters into the other (they are far apart on a keyboard)."""
    last_l = pl.col("first_name_l").str.replace_all(" ", "").str.slice(-1)
    last_r = pl.col("first_name_r").str.replace_all(" ", "").str.slice(-1)
    return ((last_l == "a") & (last_r == "o")) | ((last_l == "o") & (last_r == "a"))


def _labels(comparison_name: str) -> list[str]:
    comparison = next(c for c in linkage_model.COMPARISONS if c.name == comparison_name)
    return [level.label for level in comparison.levels]


def _in_order(pairs: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """Each deduplicated pair with its lower id on the left, in number order when all ids are numbers."""
    numeric = ids.str.contains(r"^\d{1,18}$").all()
    rank = pl.DataFrame({"id": ids}).with_columns(
        rank=(pl.col("id").cast(pl.Int64) if numeric else pl.col("id")).rank("ordinal"))
    ranked = (pairs.join(rank.rename({"id": "left_id", "rank": "rank_l"}), on="left_id")
              .join(rank.rename({"id": "right_id", "rank": "rank_r"}), on="right_id"))
    swap = pl.col("rank_l") > pl.col("rank_r")
    return ranked.with_columns(
        left_id=pl.when(swap).then("right_id").otherwise("left_id"),
        right_id=pl.when(swap).then("left_id").otherwise("right_id"),
    ).drop("rank_l", "rank_r")


def _model_scores(left: pl.DataFrame, right: pl.DataFrame | None, review_at: float,
                  population: pl.DataFrame | None = None) -> pl.DataFrame:
    """Splink's probability and evidence for every candidate pair at or above ``review_at``."""
    empty = pl.DataFrame(schema={"unique_id_l": pl.Utf8, "unique_id_r": pl.Utf8, "match_probability": pl.Float64,
                                 "evidence": pl.List(pl.Utf8)})
    if left.height + (right.height if right is not None else 0) < 2 or (right is not None and right.is_empty()):
        return empty
    model = linkage_model.model_load()
    predictions = model_predict(left, right, threshold=review_at, model=model, population=population)
    if predictions.is_empty():
        return empty
    return predictions.select(*_IDS, "match_probability", evidence=linkage_model.evidence_expression(model))


def model_predict(left: pl.DataFrame, right: pl.DataFrame | None, *, threshold: float,
                  model: dict[str, Any] | None = None, population: pl.DataFrame | None = None) -> pl.DataFrame:
    """Splink's predictions (ids, ``match_probability``, ``gamma_*``) for features frames, in memory, offline.

    With ``right`` the pairs are across the two frames, ``unique_id_l`` always from ``left``. ``population``
    (deduplication only): the features of all the records ``left`` was picked from; these few are scored with
    the prior and the name frequencies of all of them, as if compared among them all.
    """
    linkage_model.splink_quiet()
    pairs = left.height * (left.height - 1) / 2 if right is None else left.height * right.height
    smaller_side = left.height if right is None else min(left.height, right.height)
    if right is None and population is not None:
        pairs, smaller_side = population.height * (population.height - 1) / 2, population.height
    document = linkage_model.settings_for(model or linkage_model.model_load(), link=right is not None,
                                          smaller_side=smaller_side, pairs=pairs)
    # Splink (and DuckDB under it) load here, not with the module: a process that forks after loading
    # DuckDB has children that abort when they exit (the web server's workers do), and only the
    # scheduler's linkage job and the CLI ever score.
    from splink import DuckDBAPI, Linker

    with linkage_model.duckdb_offline(memory_limit=settings.VINEX_LINKAGE_MEMORY_LIMIT) as connection:
        api = DuckDBAPI(connection)
        tables = [api.register(left.to_arrow(), dataset_display_name="a_left")]
        if right is not None:
            tables.append(api.register(right.to_arrow(), dataset_display_name="b_right"))
        linker = Linker(tables if right is not None else tables[0], document, log_level=None)
        if right is None and population is not None:
            for column in _tf_columns(document):
                counts = population.group_by(column).len().drop_nulls(column)
                lookup = counts.select(column, (pl.col("len") / pl.col("len").sum()).alias(f"tf_{column}"))
                registered = api.register(lookup.to_arrow(), dataset_display_name=f"tf_{column}")
                linker.table_management.register_term_frequency_lookup(registered, column)
        predicted = linker.inference.predict(threshold_match_probability=threshold)
        frame = pl.from_arrow(predicted.as_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    if right is not None and "source_dataset_l" in frame.columns:
        frame = _left_first(frame)
    return frame.select(*_IDS, "match_probability", *linkage_model.weight_columns())


def _tf_columns(document: dict[str, Any]) -> list[str]:
    """The columns whose term frequencies the model's levels adjust by."""
    return sorted({level["tf_adjustment_column"] for comparison in document["comparisons"]
                   for level in comparison["comparison_levels"] if level.get("tf_adjustment_column")})


def _left_first(frame: pl.DataFrame) -> pl.DataFrame:
    swap = pl.col("source_dataset_l") != "a_left"
    return frame.with_columns(
        unique_id_l=pl.when(swap).then("unique_id_r").otherwise("unique_id_l"),
        unique_id_r=pl.when(swap).then("unique_id_l").otherwise("unique_id_r"),
    )
