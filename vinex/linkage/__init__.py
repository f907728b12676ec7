"""Identity linkage: which records of different agencies are one person.

The public surface is ``vinex.linkage.engine.pairs_score`` (and the ``vinex linkage`` command over
it); everything else here may change. See README.md beside this file.
"""
