# %% [markdown]
# # 42 · Client trust in 2026: `sslrootcert=system`, `sslcertmode`, `require_auth` and a client CRL
#
# Lessons 20-23 hardened the client with two keywords, `sslmode` and `sslrootcert`. A libpq from 16 on
# (psycopg's wheel bundles libpq 18 with OpenSSL 3.5) gives the client four more ways to refuse a
# server it should not trust:
#
# - `sslrootcert=system`: trust the operating system's CA store instead of a file — and libpq then
#   allows nothing weaker than `verify-full`;
# - `sslcertmode=disable|allow|require`: whether the client's certificate takes part at all;
# - `require_auth`: which authentication methods the *server* may ask for (a rogue server asking for a
#   clear-text password is refused before the password leaves the client);
# - `sslcrl` / `sslcrldir`: a revocation list on the client side, for the *server's* certificate.
#
# Every row below is a real connection to the lab (PostgreSQL 16 server; the features are the client's,
# so the server version does not change them). The "system" store is a bundle we write and point OpenSSL
# at through `SSL_CERT_FILE`, so the machine's own store is never touched.
#
# Why it matters: a client configured by a connection string alone is the weakest part of a hardened
# server; these keywords let the client refuse the wrong server and the wrong way of logging in.
#
# Guide coverage: *Tipos de sslmode*, *Preparar el entorno del cliente* (`sslrootcert`, the files in
# `~/.postgresql`) and *Quinta capa* (CRLs — here on the client's side), taken past the guide. Beyond the guide — PostgreSQL docs: libpq *Connection Parameters*
# `sslrootcert` (the value `system`, libpq 16+), `sslcertmode` (16+), `require_auth` (16+), `sslcrl`,
# `sslcrldir` (14+); *SSL Support › Certificate Revocation*.
#
# ```mermaid
# flowchart LR
#   C[libpq 18<br/>sslrootcert=system<br/>sslcertmode · require_auth · sslcrl] -->|TLS| S[(PostgreSQL 16<br/>pg_hba: cert / scram / trust / password)]
#   T[(SSL_CERT_FILE<br/>the 'system' store)] -.-> C
#   R[(client CRL<br/>revoked server cert)] -.-> C
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
wrong_host = "db.other-host.example"  # a name the lab's server certificate does not list
include_crl_dir = True  # also check the revoked server certificate through a hashed CRL folder (sslcrldir)

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("wrong_host", wrong_host, ("db.other-host.example", "db.wrong-host.example"))
lk.check_bool("include_crl_dir", include_crl_dir)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
secret_password = lesson.password("conssl")  # passed to the client, never printed
trust = lab.workspace.path / "client" / "trust42"
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## 1 · `sslrootcert=system`: which store, which sslmode
#
# Two stand-in "system" stores: one that holds the lab root (as if the lab CA were a public one), one
# that does not. With the first, `verify-full` connects. With `sslmode` left out, libpq 18 does not fall
# back to `prefer`: it verifies fully — a name the certificate does not list fails. `verify-ca` and
# `require` are refused by libpq before any byte is sent.

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_ca(pki),
                   lk.layers.layer_hostssl("scram-sha-256", users=("conssl",)))
assert applied.ok, applied.reason
system_rows = lk.client_trust.system_rows(lab, pki, trust, user="conssl", password=secret_password,
                                         wrong_host=wrong_host)
system = lk.client_trust.frame(system_rows)
lk.tables.verdict(system[["context", "setting", "connected", "server saw", "error key", "client says"]],
                  uuid="system42")

# %%
keys = list(system["error key"])
assert list(system["connected"]) == [True, True, False, False, False, False]
assert keys[2:] == ["hostname_mismatch", "sslrootcert_system_weak", "sslrootcert_system_weak", "server_cert_untrusted"]
assert 'weak sslmode "verify-ca" may not be used with sslrootcert=system' in system["client says"][3]

# %% [markdown]
# Why libpq refuses `verify-ca` here: a system store holds a hundred-odd public CAs, and any of them will
# sign a certificate for *any* name its customer proves to own. `verify-ca` checks only that *some*
# trusted CA signed the certificate — with a public store that is true of every web server on the
# Internet. Only the name check (`verify-full`) ties the certificate to *your* database.
#
# > **The guide says** `verify-ca` fits "cuando se confía en la CA pero el host puede variar".
# > **Measured:** with `sslrootcert=system`, libpq 18 does not even allow it; with your own CA it
# > stays as weak as lesson 40 showed.

# %% [markdown]
# ## 2 · `sslcertmode`: does the client's certificate take part?
#
# The client always holds the lab's certificate for `conssl`; `sslcertmode` decides whether it is sent.
# Four pg_hba rules: `cert`, plain `scram-sha-256`, and `scram-sha-256` with `clientcert=verify-ca` /
# `verify-full`. `server saw` is the session's `pg_stat_ssl.client_dn`.

# %%
certmode = lk.client_trust.frame(lk.client_trust.certmode_rows(lab, pki, user="conssl", password=secret_password))
lk.tables.verdict(certmode[["context", "setting", "connected", "server saw", "error key"]], uuid="certmode42")

# %%
by_rule = certmode.set_index(["context", "setting"])
for rule in ("cert", "scram-sha-256 clientcert=verify-ca", "scram-sha-256 clientcert=verify-full"):
    assert by_rule.loc[(rule, "disable"), "error key"] == "client_cert_required"
    assert by_rule.loc[(rule, "allow"), "connected"] and by_rule.loc[(rule, "require"), "connected"]
assert by_rule.loc[("scram-sha-256", "disable"), "server saw"] == "TLS, no client certificate"
assert by_rule.loc[("scram-sha-256", "allow"), "server saw"].startswith("client certificate")

# %% [markdown]
# Reading it: `allow` (the default) sends the certificate whenever the server asks (it asks because
# `ssl_ca_file` is set), so even a plain SCRAM login shows a DN in `pg_stat_ssl`. `disable` keeps the
# certificate home: rules that need one refuse. `require` refuses a server that did *not* ask for a
# certificate (`client_cert_not_requested`, measured in `tests/test_catalogue_ends.py`): a client that
# logs in by certificate notices a server that suddenly lets anyone in.

# %% [markdown]
# ## 3 · `require_auth`: which way of logging in the client accepts
#
# The same client (password and certificate at hand) against four rules for `conssl`: `trust`,
# `password` (clear text, over TLS), `scram-sha-256` and `cert`. `!password` means "anything but clear
# text"; `none` means "no password exchange at all".

# %%
auth = lk.client_trust.frame(lk.client_trust.require_auth_rows(lab, pki, user="conssl", password=secret_password))
auth_pivot = auth.pivot(index="context", columns="setting", values="outcome")
lk.tables.cells(auth_pivot.reindex(list(lk.client_trust.REQUIRE_AUTH_RULES))[list(lk.client_trust.REQUIRE_AUTH)],
                rule=lk.tables.outcome, hide_index=False, uuid="auth42")

# %%
cell = auth.set_index(["context", "setting"])
assert cell.loc[("scram-sha-256", "scram-sha-256"), "connected"]
assert cell.loc[("password", "scram-sha-256"), "error key"] == "require_auth_failed"
assert "server requested a cleartext password" in cell.loc[("password", "scram-sha-256"), "client says"]
assert "server did not complete authentication" in cell.loc[("trust", "scram-sha-256"), "client says"]
assert cell.loc[("password", "!password"), "error key"] == "require_auth_failed"
assert cell.loc[("cert", "none"), "connected"] and not cell.loc[("cert", "scram-sha-256"), "connected"]
invalid = lk.attempt(lab, sslmode="verify-full", sslrootcert=pki.paths.combined_crt, user="conssl",
                     password=secret_password, extra={"require_auth": "cert"})
assert invalid.error_key == "require_auth_invalid", invalid.error_text
invalid.error_text

# %% [markdown]
# Reading it: `require_auth=scram-sha-256` is the client-side twin of the server's `scram-sha-256` rule.
# A server (or someone posing as it) that asks for a clear-text password is refused *before* the client
# answers, and so is a server that lets the client in with no authentication at all. A certificate
# login counts as "no method" (`none`); there is no `require_auth=cert` — libpq refuses the word, and
# `sslcertmode=require` is the keyword for certificates.

# %% [markdown]
# ## 4 · A revoked *server* certificate, noticed by the client
#
# We issue the server a new certificate (in this lesson's own PKI space), revoke it with the lab
# intermediate and write the revocation lists for the client only: one file (`sslcrl`) and a hashed
# folder (`sslcrldir`). The lab's own CRL files, which the server uses for client certificates, stay
# as they were.

# %%
revoked = lk.client_trust.revoked_server(pki, trust / "crl", space="42")
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki, cert=revoked.crt, key=revoked.key), lk.layers.layer_ca(pki),
                   lk.layers.layer_hostssl("scram-sha-256", users=("conssl",)))
assert applied.ok, applied.reason
crl_rows = lk.client_trust.crl_rows(lab, pki, revoked, user="conssl", password=secret_password,
                                   include_dir=include_crl_dir)
crl = lk.client_trust.frame(crl_rows)
lk.tables.verdict(crl[["setting", "connected", "error key", "client says"]], uuid="crl42")

# %%
crl_by = crl.set_index("setting")
assert crl_by.loc["no CRL", "connected"] and crl_by.loc["sslcrl=lab combined.crl (not listing it)", "connected"]
assert crl_by.loc["sslcrl=revoked.crl", "error key"] == "server_cert_revoked"
assert crl_by.loc["sslcrl=missing file", "connected"]  # no warning, no revocation check
if include_crl_dir:
    assert crl_by.loc["sslcrldir=crl-dir", "error key"] == "server_cert_revoked"
    assert crl_by.loc["sslcrldir=crl-dir + sslcrl=missing file", "connected"]  # the trap: no check at all

# %% [markdown]
# Reading it:
#
# - libpq 18 prints only `certificate verify failed`; the words `certificate revoked` are in the
#   **server log** (`sslv3 alert certificate revoked`: the alert the client sent). The catalogue reads
#   both ends to name it `server_cert_revoked`.
# - A hashed folder works like the file; the names are OpenSSL's subject hashes (`<hash>.r0`), which
#   `openssl rehash` would write.
# - **The trap**: `sslcrl` naming a file that does not exist connects without a word — and so does the
#   same missing file *beside* a good `sslcrldir`: libpq hands both to OpenSSL in one call, the call fails
#   on the missing file, and libpq goes on with no revocation check at all. Check that the file exists.
#
# > **The guide says** a revocation list is for "cuando los clientes utilizan certificados SSL para
# > autenticarse" (the server's `ssl_crl_file` / `ssl_crl_dir`), and the client's `~/.postgresql` gets
# > `root.crt`, `postgresql.crt` and `postgresql.key` — no CRL. **Measured:** the client can check the
# > *server's* certificate against a CRL too (`sslcrl`, `sslcrldir`, or `~/.postgresql/root.crl`); it
# > needs one per CA of the server's chain, and nothing warns when the file is missing.

# %% [markdown]
# ## 5 · Predict, then measure
#
# The pg_hba line for `conssl` says `md5`. The client insists on `require_auth=scram-sha-256`. Is it
# refused, as against the `password` line?

# %%
md5 = lk.client_trust.frame(lk.client_trust.require_auth_rows(lab, pki, user="conssl", password=secret_password,
                                                              rules=("md5",), values=("scram-sha-256",)))
assert md5["connected"].all()  # the server upgrades md5 to SCRAM for a role whose password is stored as SCRAM
md5[["context", "setting", "connected", "outcome"]]

# %% [markdown]
# It connects: a role whose password is stored as a SCRAM verifier (the default since PostgreSQL 14,
# `password_encryption = scram-sha-256`) is asked for SCRAM even on an `md5` line, and `require_auth` judges
# what the server *asked*, not what the file says.

# %% [markdown]
# ## 6 · The key result
#
# Every row of this lesson: the keyword, its value, the server's rule, whether it connected, what the
# server recorded, and the catalogue's key for the refusal.

# %% tags=["key-result"]
everything = pd.concat([system, certmode, auth, md5, crl], ignore_index=True).fillna("")
lk.tables.verdict(everything[["feature", "setting", "context", "connected", "server saw", "error key"]],
                  uuid="key42")

# %%
refused = everything[~everything["connected"]]
assert (refused["error key"] != "?").all(), refused[["setting", "client says"]]  # every refusal classified
assert set(refused["error key"]) >= {"sslrootcert_system_weak", "hostname_mismatch", "server_cert_untrusted",
                                     "client_cert_required", "require_auth_failed", "server_cert_revoked"}
len(everything), sorted(set(refused["error key"]))

# %% [markdown]
# ## 7 · What this means for a DBA
#
# - For a server certificate from a **public CA**, use `sslrootcert=system` and leave `sslmode` out or write
#   `verify-full`; for your own CA, `sslrootcert=<your root>` with `verify-full` (lessons 20-21).
# - Put `require_auth=scram-sha-256` in the connection strings of password logins: a server that
#   suddenly asks for a clear-text password, or asks nothing, is refused before anything leaves.
# - For certificate logins, `sslcertmode=require` makes the client notice a server that stopped asking.
# - A client CRL must cover every CA of the chain, and nothing tells you when its file is missing.
#
# Copy-paste (what the lesson measured):
#
# ```
# psql "host=db.example user=conssl dbname=postgres sslrootcert=system require_auth=scram-sha-256"
# ```

# %% tags=["nbval-ignore-output"]
everything[["feature", "setting", "psql"]].head(4)

# %%
lesson.finish()
