"""nbval collects every notebook under notebooks/; the blank exercise notebooks are not among them.

A blank (``notebooks/exercises/``) is the learner's starting point: its checks say "no answer yet" and its
last cell fails on purpose, so running it proves nothing. Its executed twin in ``notebooks/solutions/`` is
what nbval checks (tests/test_exercises.py checks that both are built from the same source).
"""
collect_ignore = ["exercises", "src"]
