# %% [markdown]
# # 15 · Layer 6: `ssl_ca_file`, the CAs the server trusts for client certificates
#
# **What we show.** `ssl_ca_file` with root + intermediate verifies a client certificate; with the root alone
# it does not (the client sends only its leaf, the server cannot build the chain: `tlsv1 alert unknown ca`),
# unless the client sends its chain; and what `ssl_ca_file` is **not** for: a `verify-full` client checking
# the server does not need it at all, a certificate-authenticated client does.
#
# **Why it matters.** Teams often set `ssl_ca_file` "because clients use verify-full", or leave it out
# because "we don't use verify-ca". Both are based on a misreading: the setting is about the *server*
# verifying *clients*. Getting it wrong either breaks certificate logins or leaves them impossible.
#
# **Guide coverage.** Fase #2, paso 8 ("Sexta capa": `ssl_ca_file = '/tmp/pki/CA/combined.crt'`); "Información
# importante" (root/intermediate/combined options); "Mensajes de Error" #1 (`tlsv1 alert unknown ca`);
# parameter 2 of the guide's list (`ssl_ca_file`, "only when using verify-full or verify-ca").

# %% [markdown]
# ## Objectives · time
#
# - Set `ssl_ca_file` so the server can verify client certificates
# - Fix a root-only CA file: a complete CA file, or a client that sends its chain
# - Keep apart `ssl_ca_file` (the server's trust) and `sslrootcert` (the client's)
#
# **Time:** about 5 minutes on your own: reading ≈ 4 min (549 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
ca_bundle = "root_only"  # the bundle that shows the problem: root_only | intermediate_only

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("ca_bundle", ca_bundle, ("root_only", "intermediate_only"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
p = pki.paths

# %% [markdown]
# ## 1. Which file verifies what
#
# There are two independent verifications in a TLS connection, and each side configures its own:
#
# ```mermaid
# flowchart LR
#     subgraph client["client (libpq)"]
#         rootcert["sslrootcert<br/>+ sslmode=verify-ca / verify-full"]
#         ccert["sslcert + sslkey"]
#     end
#     subgraph server["server (postgresql.conf)"]
#         scert["ssl_cert_file + ssl_key_file"]
#         cafile["ssl_ca_file<br/>(+ ssl_crl_file)"]
#     end
#     scert -- "server certificate, checked by" --> rootcert
#     ccert -- "client certificate, checked by" --> cafile
# ```
#
# `verify-ca` / `verify-full` are client-side modes: they decide how hard the **client** checks the
# **server's** certificate with `sslrootcert`. `ssl_ca_file` is what the **server** uses to check a
# **client's** certificate (and with it set, the server asks every client for one).
#
# The server here presents `server-chain.crt` (leaf + intermediate), so clients can trust `root.crt` alone.

# %%
def client(label: str, crt, key, root=p.root_crt, **kw):
    return lk.attempt(lab, label=label, user="conssl", password=None, sslmode="verify-full",
                     sslrootcert=root, sslcert=crt, sslkey=key, **kw)


COLUMNS = ["label", "connected", "outcome", "error_key", "ssl_client_dn", "ssl_issuer_dn", "psql"]
base = [lk.layers.layer_ssl_on(pki, "server_chain"), lk.layers.layer_protocols(),
        lk.layers.layer_hostssl("cert", ("conssl",), "verify-full")]
assert lk.apply(lab, *base, lk.layers.layer_ca(pki, "combined")).ok
combined = client("ssl_ca_file=combined, client sends its leaf", p.client_crt, p.client_key)
lk.tables.verdicts([combined], COLUMNS, uuid="l15_combined")

# %% [markdown]
# ## 2. Root only: the server cannot build the chain

# %%
assert lk.apply(lab, lk.layers.layer_ca(pki, ca_bundle)).ok
leaf_only = client(f"ssl_ca_file={ca_bundle}, client sends its leaf", p.client_crt, p.client_key)
lk.tables.verdicts([leaf_only], COLUMNS, uuid="l15_rootonly")

# %% tags=["nbval-ignore-output"]
print("client:", leaf_only.error_text)
print("server:", leaf_only.server_log)

# %% [markdown]
# The client's certificate was issued by the intermediate. With only the root in `ssl_ca_file`, the server
# has no way from the leaf to the root: its log says *depth 0: unable to get local issuer certificate*, and
# the alert it sends makes the client print `tlsv1 alert unknown ca` (the guide's error #1).
# (With `ca_bundle="intermediate_only"` the anchor is missing instead, with the same client message.)

# %%
assert not leaf_only.connected and leaf_only.error_key == "unknown_ca"
assert "tlsv1 alert unknown ca" in leaf_only.error_text

# %% [markdown]
# ## 3. Two fixes: a complete CA file, or a client that sends its chain
#
# The guide's fix is the combined file on the server. The other option keeps `ssl_ca_file` = root and has
# the client send leaf + intermediate (`client-chain.crt` as `sslcert`): the server then has every link.
# This is handy when many intermediates issue client certificates and the server should trust only the root.

# %% tags=["key-result"]
chain = client(f"ssl_ca_file={ca_bundle}, client sends leaf + intermediate", p.client_chain_crt, p.client_key)
table = lk.tables.attempts_frame([combined, leaf_only, chain])[COLUMNS]
lk.tables.attempts(table).set_uuid("l15_main")

# %%
assert combined.connected and not leaf_only.connected
assert chain.connected == (ca_bundle == "root_only")  # an intermediate-only file has no anchor to reach

# %% [markdown]
# ## 4. `ssl_ca_file` is not what `verify-full` needs
#
# > **The guide says** `ssl_ca_file` is to be used "only when using sslmode verify-full or verify-ca".
# > **Measured:** those modes work with no `ssl_ca_file` at all; what needs it is certificate authentication
# > of clients (`cert`, or `clientcert=` in pg_hba.conf).
#
# We remove `ssl_ca_file` and try (a) a password client with `sslmode=verify-full` against a `scram-sha-256`
# rule, (b) a certificate client against the `cert` rule, then (c) the same client with the CA file back.

# %%
lesson.ensure_role("conssl")
lab.set_settings({"ssl_ca_file": None})
assert lk.apply(lab, lk.layers.layer_hostssl("scram-sha-256", ("conssl",))).ok
checks = [lk.attempt(lab, label="verify-full + password, no ssl_ca_file", user="conssl",
                     password=lesson.password("conssl"), sslmode="verify-full", sslrootcert=p.root_crt)]
assert lk.apply(lab, lk.layers.layer_hostssl("cert", ("conssl",), "verify-full")).ok
checks.append(client("verify-full + certificate login, no ssl_ca_file", p.client_crt, p.client_key))
assert lk.apply(lab, lk.layers.layer_ca(pki, "combined")).ok
checks.append(client("verify-full + certificate login, ssl_ca_file=combined", p.client_crt, p.client_key))

# %% tags=["erratum-ca-file-client-side"]
lk.tables.verdicts(checks, ("label", "connected", "outcome", "client says", "psql"), uuid="l15_nocafile")

# %%
assert [c.connected for c in checks] == [True, False, True]
assert "client certificates can only be checked if a root certificate store is available" in checks[1].error_text

# %% [markdown]
# Without `ssl_ca_file` the server does not even ask for a client certificate, so the `cert` rule fails with
# *client certificates can only be checked if a root certificate store is available* (no catalogue key: the
# guide never shows it). The `verify-full` password client does not care: it checks the server with its own
# `sslrootcert`.

# %% [markdown]
# ## Key points
#
# - With the root alone the server cannot chain a leaf issued by the intermediate; the client reads `tlsv1 alert unknown ca` (`unknown_ca`).
# - Root + intermediate in `ssl_ca_file`, or `sslcert` holding leaf + intermediate, both fix it.
# - `ssl_ca_file` plays no part in the client's `verify-full`.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
