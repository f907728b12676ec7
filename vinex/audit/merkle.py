"""RFC 9162 Merkle tree heads over the audit entries.

Leaves are entry hashes: leaf = SHA-256(0x00 ‖ entry_hash), node = SHA-256(0x01 ‖ left ‖ right), and
the head of n leaves splits at the largest power of two below n (RFC 9162 §2.1.1). ``Frontier`` keeps
only the roots of the perfect subtrees that make up the tree so far (at most 64 of them), so the head
of a growing log is computed without rereading it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def tree_head(entries: Sequence[bytes]) -> bytes:
    """The Merkle tree head of ``entries`` by the RFC's recursive definition (a reference, O(n) memory)."""
    if not entries:
        return EMPTY_ROOT
    if len(entries) == 1:
        return leaf_hash(entries[0])
    split = 1 << ((len(entries) - 1).bit_length() - 1)
    return node_hash(tree_head(entries[:split]), tree_head(entries[split:]))


class Frontier:
    """The compact state of a Merkle tree: its size and the roots of its perfect subtrees, left to right."""

    __slots__ = ("roots", "size")

    def __init__(self, size: int = 0, roots: Iterable[bytes] = ()) -> None:
        self.size = size
        self.roots = list(roots)
        if len(self.roots) != size.bit_count():
            raise ValueError("a frontier of this size needs one root per set bit of the size")

    def append(self, entry: bytes) -> None:
        node = leaf_hash(entry)
        size = self.size
        roots = self.roots
        # Each trailing one bit of the old size is a perfect subtree of the new leaf's height: merge it.
        while size & 1:
            node = _sha256(b"\x01" + roots.pop() + node).digest()
            size >>= 1
        roots.append(node)
        self.size += 1

    def extend(self, entries: Sequence[bytes]) -> None:
        """Append many entries at once: the same result as ``append`` one by one, several times faster."""
        level = [_sha256(b"\x00" + e).digest() for e in entries]
        start, count = 0, len(level)
        while start < count:
            # The largest perfect subtree that starts where the tree ends and fits in what is left.
            aligned = (self.size & -self.size).bit_length() - 1 if self.size else 63
            height = min(aligned, (count - start).bit_length() - 1)
            self._push(_perfect_root(level[start : start + (1 << height)]), height)
            start += 1 << height

    def _push(self, node: bytes, height: int) -> None:
        size = self.size >> height
        while size & 1:
            node = _sha256(b"\x01" + self.roots.pop() + node).digest()
            size >>= 1
        self.roots.append(node)
        self.size += 1 << height

    def root(self) -> bytes:
        """The tree head of everything appended so far."""
        if not self.roots:
            return EMPTY_ROOT
        node = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            node = node_hash(left, node)
        return node

    def dumps(self) -> str:
        return "".join(r.hex() for r in self.roots)

    @classmethod
    def loads(cls, size: int, text: str) -> Frontier:
        raw = bytes.fromhex(text)
        return cls(size, (raw[i : i + 32] for i in range(0, len(raw), 32)))


def _perfect_root(nodes: list[bytes]) -> bytes:
    """The root over a power-of-two number of leaf hashes, one tree level per pass."""
    while len(nodes) > 1:
        pairs = iter(nodes)
        nodes = [_sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
    return nodes[0]
