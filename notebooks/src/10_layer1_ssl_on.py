# %% [markdown]
# # 10 · Layer 1: `ssl = on` with a certificate clients can verify
#
# The guide's first server layer (Fase #2, step 2) is three lines in `postgresql.conf`: `ssl = on`,
# `ssl_cert_file`, `ssl_key_file`. This lesson measures what those lines change for a client, for each
# `sslmode` a client may use:
#
# * with `ssl = off`, what `disable`, `prefer` and `require` do;
# * with TLS on but a certificate nobody trusts (the lab's throw-away *bootstrap* certificate), why
#   `require` still connects -- it encrypts but does not check *whom* it talks to -- while `verify-full`
#   refuses;
# * with the lab's server certificate (layer 1), `verify-full` finally connects.
#
# For a bank, `require` is not enough: a machine in the middle can present any certificate and relay the
# traffic. Encryption without authentication protects against eavesdroppers only.

# %% [markdown]
# ## Objectives · time
#
# - Turn TLS on with a certificate a client can verify
# - Tell apart encryption (`require`) from verification (`verify-ca`, `verify-full`)
# - See why a certificate nobody trusts protects against listeners only
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (719 words of prose at 150 words a minute) and running ≈ 7 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown]
# ### How a PostgreSQL connection becomes a TLS connection
#
# PostgreSQL speaks TLS on its ordinary port: the client first sends an 8-byte *SSLRequest*; a server
# with `ssl = on` answers `S` and the TLS handshake follows, a server with `ssl = off` answers `N`
# (and `prefer` then carries on in clear text). Only after the handshake do the start-up packet and the
# authentication exchange flow, inside the encrypted channel.
#
# ```mermaid
# sequenceDiagram
#     participant C as client (libpq)
#     participant S as server (postmaster / backend)
#     C->>S: SSLRequest (8 bytes, in clear)
#     alt ssl = on
#         S-->>C: 'S'
#         C->>S: TLS ClientHello (versions, suites)
#         S-->>C: ServerHello, certificate chain (L1), [CertificateRequest if ssl_ca_file (L6)]
#         Note over C: verify-ca / verify-full check the chain (and the host name)
#         C->>S: [client certificate], Finished
#         Note over S: L2 protocol range, L4 suites, L5 CRLs, L6 client chain apply here
#         C->>S: start-up packet: user, database (encrypted)
#         Note over S: pg_hba.conf (L3): first matching line decides hostssl / cert / scram
#         S-->>C: authentication, then query results (encrypted)
#     else ssl = off
#         S-->>C: 'N'
#         C->>S: start-up packet in clear (prefer / allow / disable) or give up (require and above)
#     end
# ```
#
# Where each of the guide's six server layers acts:
#
# ```mermaid
# flowchart LR
#     L1["L1 ssl=on, cert + key"] --> H(("TLS handshake"))
#     L2["L2 min / max protocol"] --> H
#     L4["L4 ssl_ciphers"] --> H
#     L6["L6 ssl_ca_file"] --> CC{"client certificate check"}
#     L5["L5 CRL file / dir"] --> CC
#     H --> CC --> HBA{"pg_hba.conf"}
#     L3["L3 hostssl, scram / cert"] --> HBA
#     HBA --> OK["session"]
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"

# %%
import pandas as pd

import labkit as lk

# %%
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
SSL_SETTINGS = ["ssl", "ssl_cert_file", "ssl_key_file"]
MODES = ["disable", "prefer", "require", "verify-full"]


def try_modes(phase):
    """One attempt per sslmode; verify-full trusts the guide's combined.crt (intermediate + root)."""
    return [lk.attempt(lab, label=f"{phase} · {mode}", sslmode=mode,
                             sslrootcert=pki.paths.combined_crt if mode == "verify-full" else None)
            for mode in MODES]


# %% [markdown]
# ## Before: `ssl = off`
#
# The lab starts with TLS on, so we switch it off first. Settings read from `pg_settings` (file names
# only, since where the data directory lives depends on the backend):

# %%
lab.set_settings({"ssl": False})
assert lab.reload().ok
lk.tables.table(lk.monitoring.settings_frame(lab, SSL_SETTINGS), "off_settings")

# %%
off = try_modes("ssl off")
sessions = pd.DataFrame([lk.monitoring.session_ssl(r) for r in off])
lk.tables.table(lk.tables.outcomes(off).assign(**sessions), "off")

# %% [markdown]
# `disable` and `prefer` both connect **in clear text** (`pg_stat_ssl.ssl` is false for the session):
# `prefer`, libpq's default, silently falls back. Only `require` and stronger refuse, and the server logs
# nothing about it -- it answered "no TLS here" and the client hung up.
#
# ## TLS on, but with a certificate nobody trusts
#
# Back to the lab's starting point: `ssl = on` with a self-signed bootstrap certificate that is not part
# of the lab PKI (any attacker can make one like it).

# %%
lab.reset_config()
assert lab.reload().ok
lk.tables.table(lk.monitoring.settings_frame(lab, SSL_SETTINGS), "boot_settings")

# %%
bootstrap = try_modes("bootstrap cert")
sessions = pd.DataFrame([lk.monitoring.session_ssl(r) for r in bootstrap])
lk.tables.table(lk.tables.outcomes(bootstrap).assign(**sessions), "bootstrap")

# %% [markdown]
# `require` connects with TLS 1.3 to a server whose certificate it never looked at. `verify-full`
# checks the certificate against the CA file it was given and refuses: the client says
# *certificate verify failed*, and the server's log shows the client aborting with *unknown ca*.
#
# ## After: layer 1 with the lab's server certificate

# %%
l1 = lk.layers.layer_ssl_on(pki)
lk.tables.table(lk.layers.describe([l1])[["key", "title", "settings", "needs", "guide_ref"]], "l1")

# %%
applied = lk.apply(lab, l1)
assert applied.ok, applied.summary()
lk.tables.table(lk.monitoring.settings_frame(lab, SSL_SETTINGS), "on_settings")

# %%
after = try_modes("layer 1")
sessions = pd.DataFrame([lk.monitoring.session_ssl(r) for r in after])
lk.tables.table(lk.tables.outcomes(after).assign(**sessions), "after")

# %% [markdown]
# ## Before and after, side by side
#
# One row per `sslmode`; each cell is the outcome (the negotiated protocol, `no TLS`, or the error key
# from labkit's catalogue).

# %%
summary = pd.DataFrame({
    "sslmode": MODES,
    "ssl = off": [r.outcome for r in off],
    "ssl = on, bootstrap cert": [r.outcome for r in bootstrap],
    "layer 1 (server.crt)": [r.outcome for r in after],
    "what the mode checks": ["nothing: never encrypts", "nothing: encrypts if the server offers it",
                             "only that the session is encrypted", "CA chain and host name"],
})


# %% tags=["key-result"]
lk.tables.cells(summary, [c for c in summary.columns if c.startswith(("ssl =", "layer"))], rule=lk.tables.outcome,
                uuid="summary")

# %%
o = {(r.label.split(" · ")[0], r.params["sslmode"]): r for r in off + bootstrap + after}
assert o["ssl off", "disable"].outcome == "no TLS" and o["ssl off", "prefer"].outcome == "no TLS"
assert o["ssl off", "require"].error_key == "server_no_ssl"
assert o["bootstrap cert", "require"].connected and o["bootstrap cert", "require"].tls_version
assert o["bootstrap cert", "verify-full"].error_key == "server_cert_untrusted"
assert o["layer 1", "verify-full"].connected and o["layer 1", "disable"].outcome == "no TLS"
assert all(r.pg_stat_ssl.get("ssl") for r in after[1:])

# %% [markdown]
# > **The guide says** layer 1 is "enable TLS". **Measured:** TLS was already usable with *any*
# > certificate, and `require` accepted it; what layer 1 really adds is a certificate that chains to a
# > CA the clients trust, which only matters to clients that use `verify-ca`/`verify-full`. And layer 1
# > alone still lets `disable`/`prefer` clients in without encryption -- that is layer 3's job (lesson 12).
#
# ## What `require` and `verify-ca` do not check: the host name
#
# The same point with a certificate from the *right* CA but for the *wrong* host
# (`db.wrong-host.example`): only `verify-full` compares the name with the host the client dialled.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, "wrong_host")).ok
wrong = [lk.attempt(lab, label=f"wrong-host cert · {mode}", sslmode=mode,
                          sslrootcert=pki.paths.combined_crt if mode.startswith("verify") else None)
         for mode in ("require", "verify-ca", "verify-full")]
lk.tables.verdict(lk.tables.outcomes(wrong), uuid="wrong")

# %%
assert wrong[0].connected and wrong[1].connected and wrong[2].error_key == "hostname_mismatch"

# %% [markdown]
# The server never sees this failure: the handshake completed, then the client closed the connection
# after comparing names, exactly as the guide's example message (*server certificate for "127.0.0.1"
# does not match host name …*) describes.

# %% [markdown]
# ## Key points
#
# - `ssl = on` with a trusted certificate is the first layer; without a trusted certificate clients can encrypt but not verify.
# - `require` and `verify-ca` do not check the host name; only `verify-full` does.
# - Every TLS fact in the tables comes from both ends: the client's view and the server's `pg_stat_ssl` row.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
