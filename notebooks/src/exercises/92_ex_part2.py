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

# %% [markdown] lang="es" en="0ecbf7e8"
# # 92 · Ejercicios, parte 2: los clientes
#
# **Objetivos.** Escribir una cadena de conexión que rechace a un impostor; iniciar sesión con un
# certificado en lugar de una contraseña; escribir la línea de pg_hba.conf que exige un certificado.
# **Tiempo.** Unos 20 minutos (las comprobaciones tardan unos segundos; véase docs/instructor.md).
#
# **Cómo funciona.** Cada ejercicio tiene una celda de respuesta y una celda de comprobación; la
# comprobación aplica su respuesta al laboratorio real, prueba clientes reales y explica el resultado (la
# causa y la solución del catálogo de errores cuando falla una conexión). La última celda falla mientras
# quede algún ejercicio sin resolver. Las lecciones 20 a 23 contienen lo necesario;
# [docs/glossary.md](../../docs/glossary.md) explica las claves de resultado.

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

# %% [markdown] lang="es" en="2aa24127"
# ## Prediga y luego mida
#
# **Prediga.** El servidor presenta `wrong-host.crt`: emitido por la CA intermedia del laboratorio, pero para
# el nombre `db.wrong-host.example`. Tres clientes confían en `combined.crt`: `sslmode=require`, `verify-ca`
# y `verify-full`. ¿Cuáles conectarán? Anote su respuesta y después ejecute la celda siguiente.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, cert="wrong_host")).ok
impostor = [lk.attempt(lab, label=f"sslmode={m}", sslmode=m, sslrootcert=pki.paths.combined_crt)
            for m in ("require", "verify-ca", "verify-full")]
lk.tables.verdicts(impostor, ["label", "connected", "outcome"], uuid="ex2_predict")

# %% [markdown]
# Only `verify-full` refuses it (`hostname_mismatch`): `require` checks nothing and `verify-ca` checks the
# issuer, which is the right one. A certificate from your own CA is not proof that it is *your server's*.

# %% [markdown] lang="es" en="4e607e78"
# Solo `verify-full` lo rechaza (`hostname_mismatch`): `require` no comprueba nada y `verify-ca` comprueba
# el emisor, que es el correcto. Un certificado emitido por su propia CA no demuestra que sea el de *su
# servidor*.

# %%
assert [a.connected for a in impostor] == [True, True, False] and impostor[2].error_key == "hostname_mismatch"

# %% [markdown]
# ## E2.1 · Refuse the impostor
#
# Write a connection string for `conssl` that connects to the real lab server and refuses the impostor
# above. Name files as in the lab PKI (`combined.crt`, `root.crt`).

# %% [markdown] lang="es" en="fd1072ec"
# ## E2.1 · Rechazar al impostor
#
# Escriba una cadena de conexión para `conssl` que conecte con el servidor real del laboratorio y rechace al
# impostor anterior. Nombre los archivos como en la PKI del laboratorio (`combined.crt`, `root.crt`).

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

# %% [markdown] lang="es" en="088f6b6a"
# ## E2.2 · Iniciar sesión con un certificado
#
# El servidor autentica a `conssl` por certificado (`hostssl all conssl 0.0.0.0/0 cert`). Escriba la cadena
# de conexión de `conssl`; no se envía ninguna contraseña. La PKI del laboratorio tiene `client.crt` /
# `client.key` para `conssl`.

# %% tags=["exercise"]
answer = ""  # your connection string

# %% tags=["solution"]
answer = "sslmode=verify-full sslrootcert=combined.crt sslcert=client.crt sslkey=client.key user=conssl"

# %%
ex.check("E2.2", answer)

# %% [markdown] tags=["solution"]
# **Why.** The certificate proves who `conssl` is only together with its private key; with `sslcert`
# alone libpq stops before the handshake (`client_key_missing`).

# %% [markdown] tags=["solution"] lang="es" en="10f7e68e"
# **Por qué.** El certificado solo demuestra quién es `conssl` junto con su clave privada; con `sslcert` a
# secas, libpq se detiene antes de la negociación TLS (`client_key_missing`).

# %% [markdown]
# ## E2.3 · Demand the certificate
#
# The server trusts the lab CAs for client certificates (`ssl_ca_file = combined.crt`). Write the
# pg_hba.conf line that lets `conssl` in with its certificate alone, and refuses `conssl` without one.

# %% [markdown] lang="es" en="5ed08d34"
# ## E2.3 · Exigir el certificado
#
# El servidor confía en las CA del laboratorio para los certificados de cliente (`ssl_ca_file =
# combined.crt`). Escriba la línea de pg_hba.conf que deja entrar a `conssl` solo con su certificado y
# rechaza a `conssl` si no lo presenta.

# %% tags=["exercise"]
answer = ""  # your pg_hba.conf line

# %% tags=["solution"]
answer = "hostssl  all  conssl  0.0.0.0/0  cert"

# %%
ex.check("E2.3", answer)

# %% [markdown] tags=["solution"]
# **Why.** Method `cert` authenticates by the certificate (its CN must be the role) and asks for no
# password. `scram-sha-256 clientcert=verify-full` would demand both.

# %% [markdown] tags=["solution"] lang="es" en="a9aace76"
# **Por qué.** El método `cert` autentica mediante el certificado (su CN debe coincidir con el rol) y no pide
# contraseña. `scram-sha-256 clientcert=verify-full` exigiría las dos cosas.

# %%
ex.finish()
