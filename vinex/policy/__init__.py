"""The privacy policy kernel: how contact data is encrypted and indexed, what each audience may see of a
subject (``disclose``), what an agency shares with partners, and what logs may carry.

Pure policy with no knowledge of the apps above it: every layer calls it, it calls none of them.
"""
