"""``labkit audit``: evidence about a real PostgreSQL server's TLS, from both sides, read-only.

The package is a recipe in modules, one concern each:

- :mod:`~labkit.audit.targets` -- what to audit (libpq strings, ``targets.yaml``) and how a target is shown
  without secrets;
- :mod:`~labkit.audit.outside` -- what anyone on the network sees, without credentials;
- :mod:`~labkit.audit.inside` -- what the server says about itself to a least-privileged role;
- :mod:`~labkit.audit.certs` -- the served chain judged as a verifying client would;
- :mod:`~labkit.audit.profiles` and :mod:`~labkit.audit.checks` -- the thresholds, and the verdicts computed
  from the observations;
- :mod:`~labkit.audit.run` -- several targets at once, one report; :mod:`~labkit.audit.outputs` -- HTML, JSON,
  JUnit and PDF; :mod:`~labkit.audit.cli` -- the command line.
"""
