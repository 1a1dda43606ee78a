# %% [markdown]
# # 90 · Exercises, part 0: requirements and the PKI
#
# **Objectives.** Write a connection string that refuses a server without TLS; choose the certificate
# file that lets a client holding only the root verify the server.
# **Time.** About 15 minutes (the checks run in a few seconds; see docs/instructor.md).
#
# **How this works.** Each exercise has an answer cell (`answer = ""`) and a check cell. The check applies
# your answer to the real lab server, tries real connections and says what happened and why. Change the
# answer and run the check again as often as you like; each check starts from its own starting point.
# The last cell fails while an exercise is not right, so `labkit run --notebooks-dir <your folder>` tells
# you (or your instructor) which ones are left. Lessons 00 and 01 hold everything you need;
# [docs/glossary.md](../../docs/glossary.md) explains the outcome keys (`server_no_ssl` ...).

# %% [markdown] lang="es" en="8e918b7b"
# # 90 · Ejercicios, parte 0: requisitos y PKI
#
# **Objetivos.** Escribir una cadena de conexión que rechace un servidor sin TLS; elegir el archivo de
# certificado que permite verificar el servidor a un cliente que solo tiene la raíz.
# **Tiempo.** Unos 15 minutos (las comprobaciones tardan unos segundos; véase docs/instructor.md).
#
# **Cómo funciona.** Cada ejercicio tiene una celda de respuesta (`answer = ""`) y una celda de
# comprobación. La comprobación aplica su respuesta al servidor real del laboratorio, prueba conexiones
# reales y explica qué ocurrió y por qué. Cambie la respuesta y vuelva a ejecutar la comprobación tantas
# veces como quiera; cada comprobación parte de su propio estado inicial. La última celda falla mientras
# quede algún ejercicio sin resolver, así que `labkit run --notebooks-dir <your folder>` le indica a usted
# (o a su instructor) cuáles faltan. Las lecciones 00 y 01 contienen todo lo necesario;
# [docs/glossary.md](../../docs/glossary.md) explica las claves de resultado (`server_no_ssl` ...).

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
ex = lk.exercises.Exercises(lesson, part=0)

# %% [markdown]
# ## Predict, then measure
#
# **Predict.** The lab server has TLS on. A client connects with `sslmode=prefer` and no certificate
# files at all. Does the session use TLS? Does the client know whom it talks to? Write down your guess,
# then run the next cell.

# %% [markdown] lang="es" en="9e1c34be"
# ## Prediga y luego mida
#
# **Prediga.** El servidor del laboratorio tiene TLS activado. Un cliente conecta con `sslmode=prefer` y
# sin ningún archivo de certificado. ¿Usa TLS la sesión? ¿Sabe el cliente con quién está hablando? Anote su
# respuesta y después ejecute la celda siguiente.

# %%
prefer = lk.attempt(lesson.lab, label="sslmode=prefer, no files", sslmode="prefer")
lk.tables.verdicts([prefer], ["label", "connected", "outcome", "ssl_is_used"], uuid="ex0_predict")

# %% [markdown]
# The session is encrypted (`TLSv1.3`), but `prefer` checked no certificate: any server, an impostor
# included, would have been accepted. Encryption without verification protects against a listener, not
# against someone who answers in the server's place.

# %% [markdown] lang="es" en="add9ecdc"
# La sesión va cifrada (`TLSv1.3`), pero `prefer` no comprobó ningún certificado: habría aceptado cualquier
# servidor, incluido un impostor. Cifrar sin verificar protege frente a quien escucha, no frente a quien
# responde en lugar del servidor.

# %% [markdown]
# ## E0.1 · A connection string that never goes without TLS
#
# Write the libpq keywords for `conssl` (e.g. `"sslmode=... user=conssl"`). The check tries them against
# the lab with TLS on (must connect) and with TLS off (must be refused). File names, if you use any, are
# those of the lab PKI (`root.crt`, `combined.crt`).

# %% [markdown] lang="es" en="07a04023"
# ## E0.1 · Una cadena de conexión que nunca prescinde de TLS
#
# Escriba las palabras clave de libpq para `conssl` (p. ej. `"sslmode=... user=conssl"`). La comprobación
# las prueba contra el laboratorio con TLS activado (debe conectar) y con TLS desactivado (debe ser
# rechazada). Si usa nombres de archivo, son los de la PKI del laboratorio (`root.crt`, `combined.crt`).

# %% tags=["exercise"]
answer = ""  # your connection string

# %% tags=["solution"]
answer = "sslmode=require user=conssl"

# %%
ex.check("E0.1", answer)

# %% [markdown] tags=["solution"]
# **Why.** `require` (and `verify-ca`, `verify-full`) refuse a server that answers the SSLRequest with
# "no"; `disable`, `allow` and `prefer` carry on in plaintext. `require` still verifies nothing, which is
# what part 2 fixes.

# %% [markdown] tags=["solution"] lang="es" en="fac7c346"
# **Por qué.** `require` (y `verify-ca`, `verify-full`) rechazan un servidor que responde "no" al
# SSLRequest; `disable`, `allow` y `prefer` siguen adelante en texto plano. `require` sigue sin verificar
# nada, y eso es lo que corrige la parte 2.

# %% [markdown]
# ## E0.2 · A chain the client can build
#
# The server presents only its leaf (`server.crt`, issued by the lab intermediate). A client that trusts
# only `root.crt` cannot link that leaf to its root. Write the one `postgresql.conf` line (file values are
# PKI file names, e.g. `ssl_cert_file = 'server.crt'`) that lets this client use `sslmode=verify-full`.

# %% [markdown] lang="es" en="d853b3b0"
# ## E0.2 · Una cadena que el cliente pueda construir
#
# El servidor presenta solo su certificado final (`server.crt`, emitido por la CA intermedia del
# laboratorio). Un cliente que solo confía en `root.crt` no puede enlazar ese certificado con su raíz.
# Escriba la única línea de `postgresql.conf` (los valores de archivo son nombres de archivos de la PKI,
# p. ej. `ssl_cert_file = 'server.crt'`) que permite a este cliente usar `sslmode=verify-full`.

# %% tags=["exercise"]
answer = ""  # your postgresql.conf line

# %% tags=["solution"]
answer = "ssl_cert_file = 'server-chain.crt'"

# %%
ex.check("E0.2", answer)

# %% [markdown] tags=["solution"]
# **Why.** `server-chain.crt` holds the leaf followed by the intermediate; the server sends both, and the
# client only needs the trust anchor (the root). The key stays `server.key`: the leaf did not change.

# %% [markdown] tags=["solution"] lang="es" en="ad1e2be6"
# **Por qué.** `server-chain.crt` contiene el certificado final seguido de la CA intermedia; el servidor
# envía los dos, y al cliente solo le hace falta el ancla de confianza (la raíz). La clave sigue siendo
# `server.key`: el certificado final no ha cambiado.

# %%
ex.finish()
