# %% [markdown]
# # 93 · Exercises, part 3: operations
#
# **Objectives.** Rotate the server certificate without a restart; lock a stolen client certificate out of
# a running server.
# **Time.** About 20 minutes (the checks run in a few seconds; see docs/instructor.md).
#
# **How this works.** Each exercise has an answer cell and a check cell; the check applies your answer to
# the real lab, tries real clients and explains the outcome. The last cell fails while an exercise is not
# right. Lessons 14, 30 and 32 hold what you need; [docs/glossary.md](../../docs/glossary.md) explains the
# outcome keys.

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
ex = lk.exercises.Exercises(lesson, part=3)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## Predict, then measure
#
# **Predict.** A session is open over TLS with `server.crt`. The server's certificate file is switched to
# `server2.crt` and the server reloads. Which certificate does the *open* session hold afterwards, and
# which one does a *new* connection get? Write down your guess, then run the next cell.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki)).ok
with lk.session(lab, sslmode="verify-full", sslrootcert=pki.paths.combined_crt) as open_session:
    assert lk.apply(lab, lk.layers.layer_ssl_on(pki, cert="server2")).ok
    still_open = open_session.execute("SELECT 1").fetchone() == (1,)
served = lk.monitoring.pki_name(pki, lk.handshake.served_certificate(lab.host, lab.port).serial)
pd.DataFrame([{"open session still works": still_open, "a new handshake is served": served}])

# %% [markdown]
# The open session keeps the certificate it was handed (TLS does not re-send it); new connections get
# `server2.crt`. A reload rotates the certificate without dropping anyone.

# %%
assert still_open and served == "server2.crt"

# %% [markdown]
# ## E3.1 · Rotate the server certificate
#
# Write the `postgresql.conf` lines (one `name = value` per line) that make the server present
# `server2.crt`. Clients verify it with `combined.crt`.

# %% tags=["exercise"]
answer = ""  # your postgresql.conf lines

# %% tags=["solution"]
answer = """
ssl_cert_file = 'server2.crt'
ssl_key_file = 'server2.key'
"""

# %%
ex.check("E3.1", answer)

# %% [markdown] tags=["solution"]
# **Why.** A certificate works only with its own key. With the new certificate and the old key the server
# refuses the reload (`key values mismatch`), keeps serving the old pair, and labkit rolls the files back.

# %% [markdown]
# ## E3.2 · A stolen laptop
#
# `conssl`'s laptop, with its certificate and key, was stolen. Complete `respond(stolen_crt)`: the steps
# that lock that certificate out of the *running* server while the other client keeps working. You have
# `lesson.pki` (the lab CA: `pki.revoke(path)`), `lk.apply`, and `lk.layers.layer_crl(pki, "combined")`.

# %% tags=["exercise"]
def respond(stolen_crt):
    ...  # your steps


# %% tags=["solution"]
def respond(stolen_crt):
    lesson.pki.revoke(stolen_crt)                                      # the CA lists it in its CRL
    assert lk.apply(lesson.lab, lk.layers.layer_crl(lesson.pki)).ok    # the server gets the new CRL, reloads


# %%
ex.check("E3.2", respond)

# %% [markdown] tags=["solution"]
# **Why.** Revoking in the CA changes files the server does not read: the server has its own copy of the
# CRL, read at reload. Until the new CRL is delivered and the server reloads, the stolen key still works.

# %%
ex.finish()
