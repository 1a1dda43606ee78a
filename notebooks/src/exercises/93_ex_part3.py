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

# %% [markdown] lang="es" en="e015fb4b"
# # 93 · Ejercicios, parte 3: operación
#
# **Objetivos.** Rotar el certificado del servidor sin reinicio; impedir la entrada de un certificado de
# cliente robado en un servidor en marcha.
# **Tiempo.** Unos 20 minutos (las comprobaciones tardan unos segundos; véase docs/instructor.md).
#
# **Cómo funciona.** Cada ejercicio tiene una celda de respuesta y una celda de comprobación; la
# comprobación aplica su respuesta al laboratorio real, prueba clientes reales y explica el resultado. La
# última celda falla mientras quede algún ejercicio sin resolver. Las lecciones 14, 30 y 32 contienen lo
# necesario; [docs/glossary.md](../../docs/glossary.md) explica las claves de resultado.

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

# %% [markdown] lang="es" en="3e518428"
# ## Prediga y luego mida
#
# **Prediga.** Hay una sesión abierta sobre TLS con `server.crt`. El archivo de certificado del servidor
# pasa a ser `server2.crt` y el servidor hace una recarga. ¿Qué certificado tiene después la sesión
# *abierta*, y cuál recibe una conexión *nueva*? Anote su respuesta y después ejecute la celda siguiente.

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

# %% [markdown] lang="es" en="f3f446e8"
# La sesión abierta conserva el certificado que recibió (TLS no lo vuelve a enviar); las conexiones nuevas
# reciben `server2.crt`. Una recarga rota el certificado sin echar a nadie.

# %%
assert still_open and served == "server2.crt"

# %% [markdown]
# ## E3.1 · Rotate the server certificate
#
# Write the `postgresql.conf` lines (one `name = value` per line) that make the server present
# `server2.crt`. Clients verify it with `combined.crt`.

# %% [markdown] lang="es" en="d36750a5"
# ## E3.1 · Rotar el certificado del servidor
#
# Escriba las líneas de `postgresql.conf` (una `name = value` por línea) que hacen que el servidor presente
# `server2.crt`. Los clientes lo verifican con `combined.crt`.

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

# %% [markdown] tags=["solution"] lang="es" en="fc70baa3"
# **Por qué.** Un certificado solo funciona con su propia clave. Con el certificado nuevo y la clave antigua,
# el servidor rechaza la recarga (`key values mismatch`), sigue sirviendo el par antiguo y labkit restituye
# los archivos.

# %% [markdown]
# ## E3.2 · A stolen laptop
#
# `conssl`'s laptop, with its certificate and key, was stolen. Complete `respond(stolen_crt)`: the steps
# that lock that certificate out of the *running* server while the other client keeps working. You have
# `lesson.pki` (the lab CA: `pki.revoke(path)`), `lk.apply`, and `lk.layers.layer_crl(pki, "combined")`.

# %% [markdown] lang="es" en="e0f86186"
# ## E3.2 · Un portátil robado
#
# Han robado el portátil de `conssl`, con su certificado y su clave. Complete `respond(stolen_crt)`: los
# pasos que impiden la entrada de ese certificado en el servidor *en marcha* mientras el otro cliente sigue
# funcionando. Dispone de `lesson.pki` (la CA del laboratorio: `pki.revoke(path)`), `lk.apply` y
# `lk.layers.layer_crl(pki, "combined")`.

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

# %% [markdown] tags=["solution"] lang="es" en="cadcb726"
# **Por qué.** Revocar en la CA cambia archivos que el servidor no lee: el servidor tiene su propia copia de
# la CRL, que lee en cada recarga. Hasta que se entregue la CRL nueva y el servidor haga una recarga, la
# clave robada sigue funcionando.

# %%
ex.finish()
