from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vinex.audit.merkle import EMPTY_ROOT, Frontier, tree_head

# The Certificate Transparency test leaves (RFC 6962/9162 implementations share them) and their roots.
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_the_empty_tree_head_is_the_hash_of_nothing() -> None:
    assert tree_head([]) == EMPTY_ROOT == Frontier().root() == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_heads_match_the_published_test_vectors(size: int) -> None:
    frontier = Frontier()
    for leaf in CT_LEAVES[:size]:
        frontier.append(leaf)
    assert tree_head(CT_LEAVES[:size]).hex() == frontier.root().hex() == CT_ROOTS[size - 1]


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=80), st.data())
def test_appending_in_any_batches_gives_the_reference_head(leaves: list[bytes], data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(leaves)), max_size=5)))
    frontier = Frontier()
    start = 0
    for cut in [*cuts, len(leaves)]:
        frontier.extend(leaves[start:cut])
        start = cut
    assert frontier.root() == tree_head(leaves)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40))
def test_a_saved_frontier_continues_where_it_left_off(leaves: list[bytes]) -> None:
    half = len(leaves) // 2
    saved = Frontier()
    saved.extend(leaves[:half])
    restored = Frontier.loads(saved.size, saved.dumps())
    restored.extend(leaves[half:])
    assert restored.root() == tree_head(leaves)


def test_a_frontier_with_the_wrong_number_of_roots_is_refused() -> None:
    with pytest.raises(ValueError, match="one root per set bit"):
        Frontier(3, [b"\x00" * 32])
