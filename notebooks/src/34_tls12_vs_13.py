# %% [markdown]
# # 34 · TLS 1.2 vs TLS 1.3, and clients that are too old
#
# **What we show.** What a client gets from the hardened server when it speaks TLS 1.2 and when it speaks
# TLS 1.3 (version, suite, key bits); what an old client limited to TLS 1.1 sees against
# `ssl_min_protocol_version = 'TLSv1.2'`, on both ends of the connection; why a modern libpq cannot even play
# that old client (and how a raw probe can); what to tell application teams; and the handshake cost of each
# version on this machine.
#
# **Why it matters.** Raising the floor to TLS 1.2 is the change that breaks old applications. The DBA has to
# recognise the failure from either side (the application's error, the server's log line) and tell the team
# what to upgrade, not just "update your TLS".
#
# **Guide coverage.** Fase #3, #1 ("Consideraciones entornos productivos": TLS 1.2 vs 1.3 suites, what the
# development area should do); Fase #2 paso 3 (`ssl_min_protocol_version = 'TLSv1.2'`); Fase #1 tables of
# TLS versions per OpenSSL/PostgreSQL release.

# %% [markdown]
# ## Objectives · time
#
# - Compare what TLS 1.2 and TLS 1.3 negotiate
# - Decide what to do with clients too old for the floor
# - Read the handshake cost per version on this machine
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (859 words of prose at 150 words a minute) and running ≈ 6 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
key_type = "ecdsa-p256"
old_client_version = "TLSv1.1"  # the old client's highest version: TLSv1 | TLSv1.1
timing_repeats = 15  # handshakes per version for the timing plot

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("old_client_version", old_client_version, ("TLSv1", "TLSv1.1"))
lk.check_int("timing_repeats", timing_repeats, 1, 100)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## 1. What each version negotiates
#
# The server gets the guide's layers 1, 2 and 4: TLS 1.2-1.3 and the "critical" cipher list. Two `verify-full`
# clients pin one version each (`ssl_min_protocol_version` = `ssl_max_protocol_version`).

# %% tags=["key-result"]
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"),
                lk.layers.layer_ciphers()).ok
per_version = [lk.attempt(lab, label=f"client pinned to {v}", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                         ssl_min_protocol_version=v, ssl_max_protocol_version=v) for v in ("TLSv1.2", "TLSv1.3")]
lk.tables.verdicts(per_version, ["label", "connected", "tls_version", "cipher", "bits", "psql"], uuid="l34_ver")

# %%
assert [a.tls_version for a in per_version] == ["TLSv1.2", "TLSv1.3"]
assert per_version[1].cipher == "TLS_AES_256_GCM_SHA384"
assert per_version[0].cipher.startswith("ECDHE-") and "GCM" in per_version[0].cipher

# %% [markdown]
# Both get a 256-bit AEAD suite with an ephemeral key exchange. The difference is what *else* each version
# could end up with: TLS 1.2 negotiates from whatever `ssl_ciphers` allows (lesson 13 counted over a hundred
# suites for the guide's string, CBC and non-forward-secret ones included); TLS 1.3 only has five suites, all
# AEAD with forward secrecy, and `ssl_ciphers` does not touch them.

# %% [markdown]
# ## 2. An old client against the TLS 1.2 floor
#
# First with libpq (psycopg's libpq 18, OpenSSL 3.5), capped at `old_client_version`. Note that libpq's own
# default `ssl_min_protocol_version` is `TLSv1.2`, so lowering only the maximum is already an error on the
# client; a real old-client imitation must lower both.

# %%
cap_only = lk.attempt(lab, label=f"libpq, max={old_client_version} only", sslmode="require",
                     ssl_max_protocol_version=old_client_version)
old_libpq = lk.attempt(lab, label=f"libpq, TLSv1 .. {old_client_version}", sslmode="require",
                      ssl_min_protocol_version="TLSv1", ssl_max_protocol_version=old_client_version)
frame = lk.tables.attempts_frame([cap_only, old_libpq])[["label", "connected", "error_key", "error_text", "psql"]]
frame["error_text"] = frame["error_text"].str.replace(r'^connection to server at "[^"]*", port \d+ failed: ', "",
                                                      regex=True)
lk.tables.attempts(frame).set_uuid("l34_old")

# %% [markdown]
# libpq refuses before sending anything useful: *no protocols available*. OpenSSL 3 at its default security
# level 1 does not offer TLS 1.0/1.1 at all (they need SHA-1 signatures, which that level forbids), so a modern
# client simply cannot behave like a ten-year-old one. The server log shows only that the client went away:

# %% tags=["nbval-ignore-output"]
print(old_libpq.server_log)

# %% [markdown]
# To see what a *real* old client gets, the raw probe offers exactly `old_client_version` with OpenSSL's
# security level 0. Now the server answers with a `protocol version` alert and logs the reason, with a hint
# naming its allowed range:

# %%
old_probe = lk.handshake.probe_with_log(lab, old_client_version, label=f"raw probe, {old_client_version} only, SECLEVEL=0")
pd.DataFrame([old_probe])[["label", "result", "client_error", "server_log"]]

# %%
assert not cap_only.connected and cap_only.error_key == "protocol_range_invalid"
assert not old_libpq.connected and "no protocols available" in old_libpq.error_text
assert old_libpq.error_key == "protocol_mismatch"
assert old_probe["result"] == "refused" and old_probe["client_error"] == "tlsv1 alert protocol version"
assert "unsupported protocol" in old_probe["server_log"] and "between TLSv1.2 and TLSv1.3" in old_probe["server_log"]

# %% [markdown]
# **What each side sees**, to recognise the failure from an application ticket or from the server log:
#
# | side | message | meaning |
# |---|---|---|
# | old client (OpenSSL 1.x app) | `tlsv1 alert protocol version` | the server refused every version the client offered |
# | modern client capped low | `SSL error: no protocols available` | the client's own OpenSSL refused to offer them |
# | server log | `could not accept SSL connection: unsupported protocol` + `This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.` | a client tried a version below `ssl_min_protocol_version` |

# %% [markdown]
# ## 3. What to tell application teams
#
# Upgrade the piece that does the TLS handshake, which is often not the application itself:
#
# | client stack | does the TLS handshake | TLS 1.2 from | TLS 1.3 from | what to ask for |
# |---|---|---|---|---|
# | psql, libpq-based drivers (psycopg, node-pg native, Ruby pg, PHP pgsql) | libpq + the system OpenSSL | OpenSSL 1.0.1 | OpenSSL 1.1.1 | OpenSSL ≥ 1.1.1 on the app host; libpq ≥ 13 for `ssl_min_protocol_version` |
# | JDBC (pgJDBC) | the JVM's JSSE | Java 8 (default on) | Java 11, 8u261+ | a current JRE; check `jdk.tls.disabledAlgorithms` |
# | .NET (Npgsql) | the OS (SChannel / OpenSSL) | .NET Framework 4.6+ or OS defaults | Windows Server 2022 / recent Linux OpenSSL | current .NET and OS patches |
# | Go (pgx, lib/pq) | Go's crypto/tls | always | Go 1.12+ | a current Go toolchain, rebuild |
# | pure-Python or Node drivers (pg8000, node-postgres JS) | the language's ssl module | runtime linked to OpenSSL 1.0.1+ | runtime with OpenSSL 1.1.1+ | a current runtime |
#
# After the upgrade the team should connect once with `sslmode=verify-full` and read `SELECT version, cipher
# FROM pg_stat_ssl WHERE pid = pg_backend_pid();` to confirm TLS 1.2 or 1.3 with an AEAD suite.

# %% [markdown]
# ## 4. Handshake cost per version (this machine)
#
# The raw probe times complete handshakes (no login), interleaving the two versions. On loopback the network
# round trip TLS 1.3 saves is close to zero, so what remains is CPU work; numbers vary between runs and
# machines, which is why the next two cells are not compared by the tests. The clock stops when the handshake
# completes: TLS 1.3 servers send session tickets right after it, and a client that waits for more (for
# instance for a reply to its close_notify) adds TCP's delayed-ACK pause, about 40 ms, which is not TLS cost.

# %% tags=["nbval-ignore-output"]
times = lk.handshake.handshake_times(lab, ("TLSv1.2", "TLSv1.3"), repeats=timing_repeats)
times

# %% tags=["nbval-ignore-output"]
lk.tables.timing_plot(times, f"TLS handshake on loopback, {timing_repeats} each")

# %%
assert times.handshakes.tolist() == [timing_repeats, timing_repeats]

# %% [markdown]
# Over a real network TLS 1.3 saves one full round trip per new connection (1-RTT instead of 2-RTT), which
# matters for applications that connect per request; connection pooling matters more than the version.

# %% [markdown]
# ## Key points
#
# - TLS 1.3 negotiates only AEAD suites with forward secrecy; TLS 1.2 depends on `ssl_ciphers`.
# - A client that cannot reach the floor fails in the handshake (`protocol_mismatch`): upgrade the client library, do not lower the floor.
# - TLS 1.3 saves a round trip per new connection; pooling matters more than the version.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
