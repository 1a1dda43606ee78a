"""nbval collects every notebook under notebooks/, in both editions; the blank exercise notebooks are not among them.

A blank (``notebooks/exercises/``, and its Spanish edition ``notebooks/es/exercises/``) is the learner's
starting point: its checks say "no answer yet" and its last cell fails on purpose, so running it proves
nothing. Its executed twin in ``notebooks/solutions/`` (``notebooks/es/solutions/``) is what nbval checks
(tests/test_exercises.py checks that both are built from the same source). The Spanish lessons in
``notebooks/es/`` are executed and compared like the English ones (tests/test_editions.py checks that they
run the same code).
"""
collect_ignore = ["exercises", "src", "es/exercises"]
