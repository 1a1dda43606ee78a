# %% [markdown]
# # 13 · Layer 4: the cipher list (`ssl_ciphers`, `ssl_prefer_server_ciphers`)
#
# **What we show.** Which TLS 1.2 suites the guide's two cipher strings really switch on; a suite the server
# accepts, then refuses once `ssl_ciphers` is tightened (seen by a raw TLS probe that offers exactly one
# suite, and by `psql` capped at TLS 1.2); that TLS 1.3 ignores `ssl_ciphers` completely; what
# `ssl_prefer_server_ciphers` changes; and what happens to a cipher string with a typo.
#
# **Why it matters.** An auditor at a bank will ask "which cipher suites does the database accept?". The
# honest answer is not the string in `postgresql.conf` but the list it expands to *on the server's OpenSSL*,
# and it only covers TLS 1.2 and older. A typo in the string can silently switch TLS 1.2 off.
#
# **Guide coverage.** Fase #2, paso 5 ("Cuarta capa": `ssl_prefer_server_ciphers = on`,
# `ssl_ciphers = 'HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2'` for critical systems, `'HIGH:MEDIUM:!aNULL:!MD5:!RC4'`
# for normal ones); parameters 4 and 15 of the guide's parameter list; Fase #3 #1 (TLS 1.2 vs 1.3 suites).

# %% [markdown]
# ## Objectives · time
#
# - Read what the guide's cipher strings expand to on this OpenSSL
# - Restrict the TLS 1.2 suites with `ssl_ciphers` and verify it with a probe
# - Know that TLS 1.3 suites are not governed by `ssl_ciphers`
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (833 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
key_type = "ecdsa-p256"
ciphers = "HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2"  # what layer 4 applies first (the guide's "critical")
strict_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"  # the tighter list we restrict to afterwards
prefer_server_ciphers = True

# %%
import pandas as pd

import labkit as lk

# %%
layer4 = lk.layers.layer_ciphers(ciphers, lk.check_bool("prefer_server_ciphers", prefer_server_ciphers))
strict4 = lk.layers.layer_ciphers(strict_ciphers, prefer_server_ciphers)  # both strings checked before anything starts
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server)
lab, pki = lesson.lab, lesson.pki
AUTH = "ECDSA" if key_type.startswith("ecdsa") else "RSA"  # the server key decides which suites can be used

# %% [markdown]
# ## 1. What the guide's strings expand to
#
# A cipher string is a small program for OpenSSL: `HIGH` adds every "high" suite, `!X` removes suites with X
# for good. `SSLContext.set_ciphers()` + `get_ciphers()` in Python run the same program as
# `openssl ciphers -v '<string>'`. We compare the guide's "critical" and "normal" strings and a stricter one.
# TLS 1.3 suites are left out of this list: as we will measure, `ssl_ciphers` does not govern them.

# %% tags=["nbval-ignore-output"]
suites = lk.guide.compare_cipher_strings({"critical": lk.guide.CIPHERS_CRITICAL, "normal": lk.guide.CIPHERS_NORMAL,
                                   "strict": strict_ciphers})
counts = pd.DataFrame({
    "string": ["critical (guide)", "normal (guide)", "strict (ours)"],
    "suites": [int(suites[c].sum()) for c in ("critical", "normal", "strict")],
    "without forward secrecy (static RSA / PSK)": [int((suites[c] & ~suites.key_exchange.str.contains("dhe")).sum())
                                                  for c in ("critical", "normal", "strict")],
    "CBC (not AEAD)": [int((suites[c] & ~suites.aead).sum()) for c in ("critical", "normal", "strict")],
})
counts  # the numbers depend on this host's OpenSSL build

# %%
same = suites["critical"].equals(suites["normal"])
strict_all_aead_fs = bool(suites[suites.strict].aead.all() and suites[suites.strict].key_exchange.eq("ecdhe").all())
print(f"'critical' and 'normal' select the same suites here: {same}")
print(f"every suite of the strict list is AEAD with ECDHE (forward secrecy): {strict_all_aead_fs}")
assert strict_all_aead_fs

# %% [markdown]
# With this host's OpenSSL 3 the "critical" and "normal" strings select **the same** suites: `MEDIUM` is
# empty in OpenSSL 3's default provider, and `!3DES:!RC4:!DES:!IDEA:!RC2` remove nothing that `HIGH` had
# added (since OpenSSL 1.1.0, 3DES is `MEDIUM`, and RC4/DES/IDEA/RC2 were never `HIGH`). Both still allow
# suites without forward secrecy (`AES256-GCM-SHA384`, static RSA key exchange) and CBC suites with SHA-1
# MACs from the SSLv3 era. The server's OpenSSL (1.1.1 here) may expand `MEDIUM` differently; only a probe
# against the server tells what it really accepts, which is what the next steps do.
#
# > **The guide says** the "critical" string is the one for banks. **Measured:** it is no stricter than the
# > "normal" one on OpenSSL 3, and it keeps dozens of CBC suites and of suites without forward secrecy. A list such as
# > `ECDHE+AESGCM:ECDHE+CHACHA20` is what actually removes them.

# %% tags=["nbval-ignore-output"]
suites  # the whole table (its length depends on the OpenSSL build of this host)

# %% [markdown]
# ## 2. Layer 4 with the guide's string: an old CBC suite is still accepted
#
# We turn TLS on (layer 1, range TLS 1.2-1.3 as in layer 2) and apply `ciphers`. Then a raw probe
# (`lk.handshake`, independent of libpq) offers exactly one TLS 1.2 suite: first a modern AEAD one, then
# `ECDHE-…-AES128-SHA`, CBC with a SHA-1 MAC. `psql` cannot pin a suite, so beside it we show what a libpq
# client capped at TLS 1.2 gets.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"), layer4).ok
modern, legacy = f"ECDHE-{AUTH}-AES256-GCM-SHA384", f"ECDHE-{AUTH}-AES128-SHA"
probes = [lk.handshake.probe_with_log(lab, "TLSv1.2", modern, label="guide list, modern suite"),
          lk.handshake.probe_with_log(lab, "TLSv1.2", legacy, label="guide list, CBC/SHA-1 suite")]
tls12 = lk.attempt(lab, label="libpq capped at TLS 1.2", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                  ssl_max_protocol_version="TLSv1.2")
pd.DataFrame(probes)[["label", "offered_cipher", "result", "negotiated_cipher", "client_error"]]

# %%
lk.tables.verdicts([tls12], ["label", "connected", "outcome", "tls_version", "cipher", "bits", "psql"],
                   uuid="l13_libpq")

# %% [markdown]
# ## 3. Restricting `ssl_ciphers`: the same suite is now refused
#
# Now layer 4 is applied again with `strict_ciphers`. The CBC suite gets a `handshake failure` alert and the
# server logs why ("no shared cipher"); the libpq client capped at TLS 1.2 still connects, with an AEAD suite.

# %%
assert lk.apply(lab, strict4).ok
after = [lk.handshake.probe_with_log(lab, "TLSv1.2", modern, label="strict list, modern suite"),
         lk.handshake.probe_with_log(lab, "TLSv1.2", legacy, label="strict list, CBC/SHA-1 suite")]
tls12_strict = lk.attempt(lab, label="libpq capped at TLS 1.2 (strict list)", sslmode="verify-full",
                         sslrootcert=pki.paths.combined_crt, ssl_max_protocol_version="TLSv1.2")
verdict = pd.DataFrame(probes + after)[["label", "offered_cipher", "result", "negotiated_cipher", "client_error"]]
verdict.insert(1, "ssl_ciphers", ["guide (critical)"] * 2 + ["strict"] * 2)
lk.tables.verdict(verdict, "result", good="accepted", uuid="l13_probe")

# %% tags=["nbval-ignore-output"]
pd.DataFrame(after)[["label", "server_log"]]  # the server's side of the refused handshake

# %%
assert [p["result"] for p in probes + after] == ["accepted", "accepted", "accepted", "refused"]
assert "handshake failure" in after[1]["client_error"] and "no shared cipher" in after[1]["server_log"]
assert tls12_strict.connected and tls12_strict.cipher in lk.guide.cipher_suites(strict_ciphers).suite.tolist()

# %% [markdown]
# ## 4. TLS 1.3 does not read `ssl_ciphers`
#
# To prove it, we set `ssl_ciphers` to a single TLS 1.2 suite that the server key **cannot** use (an ECDSA
# key cannot sign for an `ECDHE-RSA` suite, and vice versa): no TLS 1.2 handshake can succeed any more. A
# TLS 1.3 client still connects, with `TLS_AES_256_GCM_SHA384`, exactly as the guide's expected output shows.
# TLS 1.3 suites are a separate OpenSSL setting (`SSL_CTX_set_ciphersuites`) that PostgreSQL 16 does not
# expose; its defaults are all AEAD.

# %% tags=["key-result"]
other = "RSA" if AUTH == "ECDSA" else "ECDSA"
assert lk.apply(lab, lk.layers.layer_ciphers(f"ECDHE-{other}-AES256-GCM-SHA384")).ok
by_version = [lk.attempt(lab, label=f"client capped at {v}", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                        ssl_min_protocol_version=v, ssl_max_protocol_version=v) for v in ("TLSv1.2", "TLSv1.3")]
frame = lk.tables.attempts_frame(by_version)[["label", "connected", "outcome", "tls_version", "cipher", "psql"]]
frame.insert(1, "ssl_ciphers", lab.show("ssl_ciphers"))
lk.tables.verdict(frame, "connected", uuid="l13_tls13")

# %%
assert not by_version[0].connected and by_version[0].error_key is None and "handshake failure" in by_version[0].error_text
assert (by_version[1].tls_version, by_version[1].cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")

# %% [markdown]
# The refused TLS 1.2 client has no catalogue key: its message is OpenSSL's bare alert, `ssl/tls alert handshake
# failure` from libpq 18 (OpenSSL 3.5) and `sslv3 alert handshake failure` from the probe (Python's OpenSSL
# 3.0: the wording changed in a later OpenSSL 3 release). Only the server log says why: *no shared cipher*.

# %% tags=["nbval-ignore-output"]
print(by_version[0].error_text, by_version[0].server_log, sep="\n")

# %% [markdown]
# ## 5. `ssl_prefer_server_ciphers`: who picks among the shared suites
#
# The probe offers two suites, AES-128 first. With server preference on, the server picks by its own
# order (`HIGH` sorts AES-256 first); with it off, the client's first choice wins.

# %%
client_order = f"ECDHE-{AUTH}-AES128-GCM-SHA256:ECDHE-{AUTH}-AES256-GCM-SHA384"
picks = []
for prefer in (True, False):
    assert lk.apply(lab, lk.layers.layer_ciphers(lk.guide.CIPHERS_CRITICAL, prefer)).ok
    picks.append({"ssl_prefer_server_ciphers": prefer, "client offers (in order)": client_order,
                  **{k: v for k, v in lk.handshake.probe_with_log(lab, "TLSv1.2", client_order).items()
                     if k in ("result", "negotiated_cipher")}})
pd.DataFrame(picks)

# %%
assert [p["negotiated_cipher"] for p in picks] == [f"ECDHE-{AUTH}-AES256-GCM-SHA384", f"ECDHE-{AUTH}-AES128-GCM-SHA256"]

# %% [markdown]
# ## 6. A cipher string with a typo
#
# `labkit` expands every string before writing it and refuses one that selects nothing:

# %%
try:
    lk.layers.layer_ciphers("NOPE-NOTHING")
except lk.InvalidValue as exc:
    refused = str(exc).split("\n")[0]
print(refused.split(" (OpenSSL")[0])

# %% [markdown]
# What would the server do with it? We write both kinds of mistake unchecked: an unknown suite name, and a
# broken command (`@NOPE`). They behave very differently:

# %%
typos = []
for text in ("NOPE-NOTHING", "HIGH:@NOPE"):
    result = lk.apply(lab, lk.layers.layer_ciphers(text, unchecked=True))
    row = lk.handshake.probe_with_log(lab, "TLSv1.2")
    typos.append({"ssl_ciphers written": text, "reload ok": result.ok, "rolled back": result.rolled_back,
                  "ssl_ciphers now": lab.show("ssl_ciphers"), "TLS 1.2 probe": row["result"],
                  "TLS 1.3 probe": lk.handshake.probe_with_log(lab, "TLSv1.3")["result"]})
    if not result.ok:
        problems = result.problems
    assert lk.apply(lab, lk.layers.layer_ciphers(lk.guide.CIPHERS_CRITICAL)).ok
lk.tables.verdict(pd.DataFrame(typos), "TLS 1.2 probe", good="accepted", uuid="l13_typo")

# %% tags=["nbval-ignore-output"]
print("\n".join(problems))  # the server log of the rejected '@NOPE' reload

# %% [markdown]
# * `NOPE-NOTHING`: a server linked with OpenSSL 1.1.1 (the lab's PostgreSQL 16 build) **accepts** it
#   without a word in the log or in `pg_file_settings` and from then on refuses every TLS 1.2 handshake;
#   only TLS 1.3 clients still connect. Nothing warns you until older clients start failing. OpenSSL 3
#   (Debian's PostgreSQL 15, the official `postgres:16` image) rejects it like the next one.
# * `HIGH:@NOPE`: OpenSSL rejects the string, the server logs *could not set the cipher list* and *SSL
#   configuration was not reloaded*, keeps the old list, and labkit rolls the file back.
#
# So after changing `ssl_ciphers`, check the result with a probe at TLS 1.2, not just the reload log.

# %%
silent = str(lab.facts()["server_openssl"] or "").startswith("1.")  # OpenSSL 1.1.1 takes the unknown name
if silent:
    assert typos[0]["reload ok"] and typos[0]["TLS 1.2 probe"] == "refused" and typos[0]["TLS 1.3 probe"] == "accepted"
else:
    assert not typos[0]["reload ok"] and typos[0]["rolled back"] and typos[0]["TLS 1.2 probe"] == "accepted"
assert not typos[1]["reload ok"] and typos[1]["rolled back"] and typos[1]["TLS 1.2 probe"] == "accepted"
assert any("could not set the cipher list" in line for line in problems)

# %% [markdown]
# ## Key points
#
# - `ssl_ciphers` only affects TLS 1.2 and below; TLS 1.3 suites are not configurable there.
# - A cipher string can be accepted and still select nothing useful (OpenSSL 1.1.1): probe at TLS 1.2 after every change.
# - `ssl_prefer_server_ciphers = on` lets the server's order decide among shared suites.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
