# %% [markdown]
# # 92 · Exercises, part 2: the clients
#
# **Objectives.** Write a connection string that refuses an impostor; log in with a certificate instead of
# a password; write the pg_hba.conf line that demands a certificate.
# **Time.** About 20 minutes (the checks run in a few seconds; see docs/instructor.md).
#
# **How this works.** Each exercise has an answer cell and a check cell; the check applies your answer to
# the real lab, tries real clients and explains the outcome (the error catalogue's cause and fix where a
# connection fails). The last cell fails while an exercise is not right. Lessons 20 to 23 hold what you
# need; [docs/glossary.md](../../docs/glossary.md) explains the outcome keys.

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
ex = lk.exercises.Exercises(lesson, part=2)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## Predict, then measure
#
# **Predict.** The server presents `wrong-host.crt`: issued by the lab intermediate, but for the name
# `db.wrong-host.example`. Three clients trust `combined.crt`: `sslmode=require`, `verify-ca`,
# `verify-full`. Which of them will connect? Write down your guess, then run the next cell.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, cert="wrong_host")).ok
impostor = [lk.attempt(lab, label=f"sslmode={m}", sslmode=m, sslrootcert=pki.paths.combined_crt)
            for m in ("require", "verify-ca", "verify-full")]
lk.tables.verdicts(impostor, ["label", "connected", "outcome"], uuid="ex2_predict")

# %% [markdown]
# Only `verify-full` refuses it (`hostname_mismatch`): `require` checks nothing and `verify-ca` checks the
# issuer, which is the right one. A certificate from your own CA is not proof that it is *your server's*.

# %%
assert [a.connected for a in impostor] == [True, True, False] and impostor[2].error_key == "hostname_mismatch"

# %% [markdown]
# ## E2.1 · Refuse the impostor
#
# Write a connection string for `conssl` that connects to the real lab server and refuses the impostor
# above. Name files as in the lab PKI (`combined.crt`, `root.crt`).

# %% tags=["exercise"]
answer = ""  # your connection string

# %% tags=["solution"]
answer = "sslmode=verify-full sslrootcert=combined.crt user=conssl"

# %%
ex.check("E2.1", answer)

# %% [markdown]
# ## E2.2 · Log in with a certificate
#
# The server authenticates `conssl` by certificate (`hostssl all conssl 0.0.0.0/0 cert`). Write
# `conssl`'s connection string; no password is sent. The lab PKI has `client.crt` / `client.key` for
# `conssl`.

# %% tags=["exercise"]
answer = ""  # your connection string

# %% tags=["solution"]
answer = "sslmode=verify-full sslrootcert=combined.crt sslcert=client.crt sslkey=client.key user=conssl"

# %%
ex.check("E2.2", answer)

# %% [markdown] tags=["solution"]
# **Why.** The certificate proves who `conssl` is only together with its private key; with `sslcert`
# alone libpq stops before the handshake (`client_key_missing`).

# %% [markdown]
# ## E2.3 · Demand the certificate
#
# The server trusts the lab CAs for client certificates (`ssl_ca_file = combined.crt`). Write the
# pg_hba.conf line that lets `conssl` in with its certificate alone, and refuses `conssl` without one.

# %% tags=["exercise"]
answer = ""  # your pg_hba.conf line

# %% tags=["solution"]
answer = "hostssl  all  conssl  0.0.0.0/0  cert"

# %%
ex.check("E2.3", answer)

# %% [markdown] tags=["solution"]
# **Why.** Method `cert` authenticates by the certificate (its CN must be the role) and asks for no
# password. `scram-sha-256 clientcert=verify-full` would demand both.

# %%
ex.finish()
