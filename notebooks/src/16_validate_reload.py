# %% [markdown]
# # 16 · Validate, reload, read the log
#
# **What we show.** The guide's three checks after editing the configuration -- `pg_file_settings`,
# `pg_hba_file_rules`, and the server log after the reload -- each catching a different mistake: a bad value,
# an unknown parameter, a broken pg_hba.conf line, a certificate file that does not exist. For each we
# measure that the server **keeps serving with its previous configuration**, then fix and reload cleanly.
#
# **Why it matters.** On a production server a reload with a typo does not take the database down, which is
# exactly why mistakes go unnoticed: the file says one thing, the server does another, and the next restart
# (or the next unrelated reload) brings the surprise. Knowing where each mistake shows up is the whole skill.
#
# **Guide coverage.** Fase #2, paso 9 (the two `SELECT … WHERE error IS NOT NULL` queries), paso 10
# (`pg_ctl reload`), the following step (`grep -A 14 -Ei "SIGHUP|reload" postgresql-*.log`).

# %% [markdown]
# ## Objectives · time
#
# - Check a configuration change with `pg_file_settings`, `pg_hba_file_rules` and the server log
# - Tell which mistakes each check catches (bad value, unknown parameter, broken pg_hba line, missing file)
# - Reload cleanly and prove it
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (692 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
bad_min_protocol = "TLSv1.5"  # the typo injected into ssl_min_protocol_version

# %%
import pandas as pd

import labkit as lk

# %%
if not isinstance(bad_min_protocol, str) or bad_min_protocol in lk.TLS_VERSIONS or not bad_min_protocol:
    raise lk.InvalidValue("bad_min_protocol", bad_min_protocol, "a non-empty string that is NOT one of "
                       + ", ".join(lk.TLS_VERSIONS), "the lesson needs a value the server will reject")
lk.quoting.conf_value(bad_min_protocol, "bad_min_protocol")  # one line: it can never add a setting
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## 0. A working baseline
#
# TLS on with the lab certificate, TLS 1.2-1.3, and a `hostssl` rule for `conssl`. After each step a
# `verify-full` client tells us what the server is really doing, and `SHOW` tells us what it believes.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"),
               lk.layers.layer_hostssl("scram-sha-256", ("conssl",))).ok
state_rows = []

# %%
def observe(step: str, report: lk.transaction.ReloadCheck | None = None, **shown: str) -> object:
    """One row: what the reload reported, what the server shows, and whether a client still connects."""
    probe = lk.attempt(lab, label=step, user="conssl", password=lesson.password("conssl"), sslmode="verify-full",
                       sslrootcert=pki.paths.combined_crt)
    state_rows.append({
        "step": step, "reload clean": None if report is None else report.ok,
        "pg_file_settings errors": 0 if report is None else len(report.file_errors),
        "pg_hba_file_rules errors": 0 if report is None else len(report.hba_errors),
        "conf load time moved": None if report is None else report.conf_load_time_moved,
        "SHOW ssl_min_protocol_version": lab.show("ssl_min_protocol_version"),
        "client connects": probe.connected, "client TLS": probe.tls_version})
    return lk.tables.table(pd.DataFrame(state_rows[-1:]).assign(**shown), f"l16_step{len(state_rows)}")


# %%
observe("baseline")

# %% [markdown]
# ## 1. A bad value: `pg_file_settings` shows it, the rest of the file is applied
#
# We append two lines to the lesson's configuration file: `ssl_min_protocol_version` with a value that does
# not exist, and a valid change to `ssl_ciphers`. The guide's first query finds the bad line **before** any
# reload (the view re-reads the files each time it is queried):

# %%
lab.trial_settings({"ssl_min_protocol_version": bad_min_protocol, "ssl_ciphers": "HIGH:!aNULL:!MD5"})
before = lab.file_setting_errors()
before.assign(sourcefile=before.sourcefile.str.replace(lab.facts()["data_dir"], "$PGDATA", regex=False))

# %%
report = lk.transaction.checked_reload(lab)
report.messages()

# %% [markdown]
# Read the last line: *contains errors; unaffected changes were applied*. The new cipher list took effect,
# the bad protocol line did not, and the minimum stays at its previous value. This is the state the guide's
# check catches.

# %%
observe("1. bad value reloaded", report)

# %%
assert report.file_errors.name.tolist() == ["ssl_min_protocol_version"]
assert report.file_errors.error.tolist() == ["setting could not be applied"]
assert lk.messages.says(report.messages().message, "unaffected changes were applied")
assert lab.show("ssl_min_protocol_version") == "TLSv1.2" and lab.show("ssl_ciphers") == "HIGH:!aNULL:!MD5"

# %% [markdown]
# ## 2. An unknown parameter: nothing at all is applied
#
# A misspelt name (`ssl_ciphres`) is worse: PostgreSQL then applies **no** line of the file, not even the
# correct ones next to it (here `ssl_min_protocol_version = 'TLSv1.3'`). It does not even record a reload
# time (`pg_conf_load_time()` stays put), which is why our reload helper watches the log instead.

# %%
lab.trial_settings({"ssl_min_protocol_version": "TLSv1.3", "ssl_ciphres": "HIGH"})
report = lk.transaction.checked_reload(lab)
display(report.setting_errors()[["sourceline", "name", "setting", "applied", "error"]])
report.messages()

# %%
observe("2. unknown parameter reloaded", report)

# %%
assert report.file_errors.error.tolist() == ["unrecognized configuration parameter"]
assert lk.messages.says(report.messages().message, "no changes were applied")
assert not report.conf_load_time_moved and lab.show("ssl_min_protocol_version") == "TLSv1.2"

# %% [markdown]
# ## 3. A broken pg_hba.conf line: the whole file is kept as it was
#
# A rule with an authentication method that does not exist (`sha256`). The guide's second query shows it;
# the log says *pg_hba.conf was not reloaded*: the server keeps using all of its previous rules.

# %%
lab.set_settings({})  # labkit.conf back to the recorded (good) settings
lab.trial_hba_rules([*lab.hba_rules, "hostssl  all  reporter  0.0.0.0/0  sha256"])
report = lk.transaction.checked_reload(lab)
display(report.hba_errors[["line_number", "error"]])
report.messages()

# %%
observe("3. broken pg_hba line reloaded", report)

# %%
assert report.hba_errors.error.tolist() == ['invalid authentication method "sha256"']
assert lk.messages.says(report.messages().message, "pg_hba.conf was not reloaded")

# %% [markdown]
# ## 4. A certificate file that does not exist: only the log tells
#
# `ssl_cert_file` pointing to a missing file is a valid *setting*, so neither view shows an error. The log
# does: *could not load server certificate file …* and *SSL configuration was not reloaded*. Meanwhile `SHOW
# ssl_cert_file` already reports the new (missing) path while connections still get the old certificate.

# %%
lab.set_hba_rules(lab.state.hba_rules)  # pg_hba.conf back to the good rules
lab.trial_settings({"ssl_cert_file": "/nonexistent/server.crt"})
report = lk.transaction.checked_reload(lab)
report.messages()

# %%
observe("4. missing certificate reloaded", report, **{"SHOW ssl_cert_file": lab.show("ssl_cert_file")})

# %%
assert report.file_errors.empty and report.hba_errors.empty and not report.ok
assert lk.messages.says(report.messages().message, "SSL configuration was not reloaded")
assert lab.show("ssl_cert_file") == "/nonexistent/server.crt" and state_rows[-1]["client connects"]

# %% [markdown]
# ## 5. Fix and reload cleanly
#
# Writing the files back from the lab's recorded state and reloading: both views are empty, the log holds
# only routine lines, and `SHOW` agrees with the files again.

# %%
lab.set_settings({})  # rewrites labkit.conf from the recorded (good) settings
report = lk.transaction.checked_reload(lab)
display(report.messages())
observe("5. fixed and reloaded", report)

# %%
assert report.ok and report.conf_load_time_moved

# %% [markdown]
# ## Summary: which check catches which mistake
#
# The server kept serving clients through every mistake; the only trace was in the views and the log.

# %% tags=["key-result"]
summary = pd.DataFrame(state_rows)
lk.tables.verdict(summary, "reload clean", good=(True, None), uuid="l16_summary", columns=["step", "reload clean"])

# %%
assert all(summary["client connects"])
assert summary["reload clean"].tolist() == [None, False, False, False, False, True]

# %% [markdown]
# ## The guide's commands and ours
#
# * **Reload.** `pg_ctl reload -D <data dir>` (as the server's OS user) and `SELECT pg_reload_conf();` (as a
#   superuser, or a role granted `EXECUTE` on it) do the same: send SIGHUP to the postmaster. Both return at
#   once and report nothing about errors; `pg_reload_conf()` returns `true` even for a broken file.
# * **Check the views.** `SELECT * FROM pg_file_settings WHERE error IS NOT NULL;` and
#   `SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL;` read the files as they are on disk now, so
#   run them *before* reloading. They miss mistakes that only show when files are loaded (missing or
#   unreadable certificate, key that does not match, bad cipher list).
# * **Read the log.** The guide's `grep -A 14 -Ei "SIGHUP|reload" postgresql-250214.log` shows the 14 lines
#   after each reload, which may include unrelated lines or miss some. `reload_and_report` above keeps exactly
#   the postmaster's lines written after this SIGHUP: the same idea, scoped to one reload. The equivalent
#   by hand is to note the log size, reload, and read from that offset.

# %%
print(report.log[0].split("]", 1)[-1].strip())  # what the grep would find first: the SIGHUP line

# %% [markdown]
# ## Key points
#
# - `pg_reload_conf()` returns true even for a broken file: check the views before reloading and the log after.
# - A bad pg_hba.conf line keeps the whole old file; a bad value in postgresql.conf skips that value only; a missing certificate shows only in the log.
# - The server keeps serving through every mistake, which is why the evidence must be read, not assumed.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
