# %% [markdown]
# # 35 · Troubleshooting: every documented error, reproduced and explained
#
# When a TLS connection fails, the client and the server each print half of the story — often in words
# that seem to blame the wrong party (`tlsv1 alert unknown ca` on the *client* means the *server* rejected
# the client's certificate). This lesson makes every error the course documents happen on purpose, on one
# lab, and puts both halves side by side with the cause and the fix from the course's error catalogue
# (`labkit.catalogue`).
#
# Use it as a lookup table: find the words you see, read the other side's words, apply the fix. Each row
# is asserted — the error really occurred, and the catalogue classified it to the expected entry — so the
# table cannot drift from what PostgreSQL and libpq actually print.
#
# Guide coverage: *Conceptos información extra › Mensajes de Error* #1–#4, the errors quoted in *Fase #2*
# (revoked certificate, user "otros", `clientcert=1`), and the errors the guide's steps lead to
# without naming them (protocol ranges, key files). Errors that stop the server from **starting** (a
# server key with open permissions, a missing certificate file at start) are left to lesson 33 and to
# `tests/test_catalogue.py`: reproducing them needs restarts, which do not fit this lesson's 20 seconds.
#
# ```mermaid
# flowchart LR
#   E[error text] --> W{which side printed it?}
#   W -- client --> C[libpq / psql message]
#   W -- server --> L[server log line]
#   C & L --> K[lk.catalogue.classify] --> F[cause + fix]
# ```

# %% [markdown]
# ## Objectives · time
#
# - Reproduce every documented TLS error and read it on both sides
# - Use the catalogue's cause and fix for each message
# - Know which side's log names the real cause
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (817 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
include_reload_errors = True  # also reproduce the two configurations the server refuses at reload

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_bool("include_reload_errors", include_reload_errors)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## 1 · The recipes
#
# One row per documented error: which server configuration (layers applied with a reload) and which
# client parameters produce it. Cases that share a server configuration share one reload; the last two
# are configurations the server itself refuses — there is no client attempt, only the reload's log.

# %%
scratch = lab.workspace.path / "client" / "troubleshooting"
recipes = pd.DataFrame([{"expected key": c.key, "how we make it happen": c.what,
                         "client attempt": "none (reload only)" if c.reload_only else "yes"}
                        for c in lk.scenarios.troubleshooting_cases(lab, pki, scratch)
                        if include_reload_errors or not c.reload_only])
recipes

# %% [markdown]
# ## 2 · The table
#
# `client message` is libpq's text without the `connection to server at …, port … failed:` head; file
# paths and the client's address are masked so the table reads the same on every machine (the raw text
# follows below). `server log` is what the server wrote for the same attempt, summarised the same way.

# %%
table, results = lk.scenarios.troubleshooting_rows(lab, pki, scratch, include_reload_errors=include_reload_errors)

# %% tags=["key-result"]
shown = table[["expected", "classified as", "reproduced", "client message", "server log", "cause", "fix"]]
lk.tables.cells(shown, ["reproduced"], uuid="nb35-table").set_properties(
    subset=["cause", "fix", "server log"], **{"min-width": "260px"})

# %%
assert table["reproduced"].all(), table.loc[~table["reproduced"], ["expected", "classified as", "raw client text"]]
assert (table["expected"] == table["classified as"]).all()
required = {"unknown_ca", "crl_missing", "hostname_mismatch", "cert_revoked", "server_cert_untrusted",
            "root_cert_missing", "cert_auth_failed", "client_cert_required", "no_hba_no_encryption",
            "protocol_mismatch", "key_permissions", "key_bad_decrypt", "protocol_range_invalid", "cert_expired"}
if include_reload_errors:
    required.add("clientcert_invalid")
assert required <= set(table["documented as"]), required - set(table["documented as"])
len(table), sorted(set(table["expected"]))

# %% [markdown]
# The raw client text and server log lines of every row (addresses, pids, paths and timestamps included —
# this cell is not compared between runs):

# %% tags=["nbval-ignore-output"]
lk.tables.table(table[["expected", "raw client text", "raw server log", "psql"]], "nb35-raw")

# %% [markdown]
# ## 3 · What the table teaches
#
# **Read which side printed the words.** `tlsv1 alert unknown ca` appears on the *client* when the
# *server* could not chain the client's certificate (rows `unknown_ca`, `crl_missing`), and in the
# *server log* when the *client* rejected the server's certificate (row `server_cert_untrusted`). The
# catalogue matches each pattern only on the side where it means what its entry says.
#
# **The client often sees a generic alert; the server log has the reason.** For a missing CRL the
# client reads the same `unknown ca` as for a missing intermediate; only the server's DETAIL line says
# `verification failed at depth 1: unable to get certificate CRL` — the guide's error #2. The depth
# tells you *which* certificate failed: 0 is the client's own, 1 the intermediate above it.
#
# **Some failures never reach the server.** A missing root file, a key with open permissions, a wrong
# key passphrase and an impossible protocol range are refused by libpq before or during its first
# handshake message: the server logs only `EOF detected` (or nothing), so on the server side there is
# nothing to find. A host-name mismatch is decided by the client *after* a successful handshake, and the
# server logs nothing at all.
#
# > **The guide says** (*Mensajes de Error* #1) to fix `unknown ca` with
# > `cat root.crt intermediate.crt > combined.crt` and then sets `ssl_ca_file = '/tmp/pki/CA/ca-chain.crt'`
# > — a different file name than the one it just built. **Measured:** `ssl_ca_file` must point at the
# > combined file (the lab's `combined.crt`: intermediate + root). A second fix needs no server change: a
# > client whose `sslcert` file holds its leaf **plus** the intermediate is accepted by a server that
# > trusts the root alone (measured in `tests/test_layers.py`).
#
# > **The guide says** (#2) that "certificate verify failed at depth 1" means PostgreSQL checks whether
# > the intermediate itself is revoked. **Measured:** right, and the exact log line on PostgreSQL 16 is
# > `Client certificate verification failed at depth 1: unable to get certificate CRL` — the server has a
# > CRL for the intermediate's *children* but none from the root; `ssl_crl_file` must hold both CRLs.
#
# > **The guide says** (#4) the error reads `hostname does not match certificate`. **Measured:** libpq
# > prints `server certificate for "…" (and N other names) does not match host name "…"` (lesson 21).

# %% [markdown]
# ## 4 · The whole catalogue
#
# Every entry the classifier knows, including the ones not reproduced here (start-time failures, the
# TLS 1.0/1.1 security-level trap, generic connection failures) and which guide section shows each. The
# catalogue is reference text that grows with the course, so this listing is not compared between runs.

# %% tags=["nbval-ignore-output"]
full = lk.catalogue.as_dataframe()[["key", "error_class", "side", "guide_ref"]]
full["reproduced above"] = full["key"].isin(set(table["expected"]))
full

# %% [markdown]
# ## 5 · The same words on the other end
#
# An alert in the **server log** is what the *client* sent before hanging up. Here the server presents a
# certificate that the lab CA has revoked, and the client checks it against the lab's CRLs (`sslcrl`):
# the client prints only `certificate verify failed`, the server logs `sslv3 alert certificate revoked`.
# That line names the *server's* certificate — renewing a client certificate would change nothing.
# (`lk.catalogue.explain(text)` reads any client's message the same way: psql, node-postgres, or a
# client message pasted together with server-log lines; `tests/test_catalogue_ends.py` reproduces each
# wording with psql 15 and node-postgres.)

# %%
crt, key = pki.issue_server(("localhost", "127.0.0.1"), name="server-l35-revoked", space="35")  # lesson's own
pki.revoke(crt)
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, cert=crt, key=key)).ok
checked = lk.attempt(lab, label="client checks the server against the lab CRLs", sslmode="verify-ca",
                     sslrootcert=pki.paths.combined_crt, extra={"sslcrl": pki.paths.combined_crl})
lk.tables.verdicts([checked], ("label", "outcome", "client says", "server says"), uuid="nb35-ends")

# %%
assert checked.error_key == "server_cert_revoked" and "alert certificate revoked" in checked.server_log
print(lk.catalogue.explain(checked.error_text, checked.server_log))

# %% [markdown]
# ## Key points
#
# - The same words mean different things on the two ends: read which side printed them.
# - The server log often names the real cause when the client only receives an alert (e.g. depth 1 CRL).
# - Every key in the table is explained in the catalogue and in docs/glossary.md.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
