# %% [markdown]
# # 91 · Exercises, part 1: the server layers
#
# **Objectives.** Write the pg_hba.conf line that keeps plaintext out; set the protocol floor; choose the
# CRL and the CA file that make certificate checks work.
# **Time.** About 25 minutes (the checks run in a few seconds; see docs/instructor.md).
#
# **How this works.** Each exercise has an answer cell and a check cell; the check applies your answer to
# the real lab through labkit (a value that could add a line to a file is refused before anything is
# written; a change the server rejects is rolled back), tries real clients and explains the outcome. The
# last cell fails while an exercise is not right. Lessons 10 to 16 hold what you need;
# [docs/glossary.md](../../docs/glossary.md) explains the outcome keys.

# %% [markdown] lang="es" en="b3f9b6f6"
# # 91 · Ejercicios, parte 1: las capas del servidor
#
# **Objetivos.** Escribir la línea de pg_hba.conf que deja fuera el texto plano; fijar el protocolo mínimo;
# elegir la CRL y el archivo de CA con los que funcionan las comprobaciones de certificados.
# **Tiempo.** Unos 25 minutos (las comprobaciones tardan unos segundos; véase docs/instructor.md).
#
# **Cómo funciona.** Cada ejercicio tiene una celda de respuesta y una celda de comprobación; la
# comprobación aplica su respuesta al laboratorio real a través de labkit (un valor que podría añadir una
# línea a un archivo se rechaza antes de escribir nada; un cambio que el servidor rechaza se deshace),
# prueba clientes reales y explica el resultado. La última celda falla mientras quede algún ejercicio sin
# resolver. Las lecciones 10 a 16 contienen lo necesario; [docs/glossary.md](../../docs/glossary.md) explica
# las claves de resultado.

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
ex = lk.exercises.Exercises(lesson, part=1)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## Predict, then measure
#
# **Predict.** TLS is on and pg_hba.conf holds only `hostssl` lines for `conssl`. Which of these clients
# will still connect: `sslmode=disable`, `sslmode=prefer`, `sslmode=require`? Write down your guess, then
# run the next cell.

# %% [markdown] lang="es" en="2446efca"
# ## Prediga y luego mida
#
# **Prediga.** TLS está activado y pg_hba.conf solo contiene líneas `hostssl` para `conssl`. ¿Cuáles de
# estos clientes seguirán conectando: `sslmode=disable`, `sslmode=prefer`, `sslmode=require`? Anote su
# respuesta y después ejecute la celda siguiente.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_hostssl("scram-sha-256", ("conssl",))).ok
modes = [lk.attempt(lab, label=f"sslmode={m}", sslmode=m, user="conssl", password=lesson.password("conssl"))
         for m in ("disable", "prefer", "require")]
lk.tables.verdicts(modes, ["label", "connected", "outcome"], uuid="ex1_predict")

# %% [markdown]
# `prefer` and `require` get in over TLS; `disable` finds no line at all (`no_hba_no_encryption`). The
# server, not the client's good will, now decides that TCP sessions are encrypted.

# %% [markdown] lang="es" en="2e4c76fb"
# `prefer` y `require` entran sobre TLS; `disable` no encuentra ninguna línea (`no_hba_no_encryption`).
# Ahora es el servidor, y no la buena voluntad del cliente, quien decide que las sesiones TCP van cifradas.

# %%
assert [m.connected for m in modes] == [False, True, True] and modes[0].error_key == "no_hba_no_encryption"

# %% [markdown]
# ## E1.1 · Only TLS, with a password
#
# Write one pg_hba.conf line (TYPE DATABASE USER ADDRESS METHOD) that lets `conssl` in over TCP only with
# TLS and its password. Use the address `0.0.0.0/0`: through Docker every client arrives from the bridge's
# gateway, not from 127.0.0.1 (the server listens on loopback only either way).

# %% [markdown] lang="es" en="496fe6c4"
# ## E1.1 · Solo TLS, con contraseña
#
# Escriba una línea de pg_hba.conf (TYPE DATABASE USER ADDRESS METHOD) que deje entrar a `conssl` por TCP
# solo con TLS y con su contraseña. Use la dirección `0.0.0.0/0`: a través de Docker todos los clientes
# llegan desde la pasarela del bridge, no desde 127.0.0.1 (en cualquier caso, el servidor solo escucha en
# loopback).

# %% tags=["exercise"]
answer = ""  # your pg_hba.conf line

# %% tags=["solution"]
answer = "hostssl  all  conssl  0.0.0.0/0  scram-sha-256"

# %%
ex.check("E1.1", answer)

# %% [markdown]
# ## E1.2 · The protocol floor
#
# Write the `postgresql.conf` line that refuses every client unable to speak TLS 1.3.

# %% [markdown] lang="es" en="02ae2e11"
# ## E1.2 · El protocolo mínimo
#
# Escriba la línea de `postgresql.conf` que rechaza a todo cliente incapaz de hablar TLS 1.3.

# %% tags=["exercise"]
answer = ""  # your postgresql.conf line

# %% tags=["solution"]
answer = "ssl_min_protocol_version = 'TLSv1.3'"

# %%
ex.check("E1.2", answer)

# %% [markdown]
# ## E1.3 · The revocation list
#
# Certificate authentication is on (`ssl_ca_file = combined.crt`, a `hostssl … cert` line).
# `revoked-client.crt` is listed by the intermediate CA. Write the setting that refuses it while
# `client.crt` still gets in. The PKI has `root.crl`, `intermediate.crl` and `combined.crl`.

# %% [markdown] lang="es" en="88e27088"
# ## E1.3 · La lista de revocación
#
# La autenticación por certificado está activada (`ssl_ca_file = combined.crt`, una línea `hostssl … cert`).
# `revoked-client.crt` figura en la lista de la CA intermedia. Escriba el parámetro que lo rechaza mientras
# `client.crt` sigue entrando. La PKI tiene `root.crl`, `intermediate.crl` y `combined.crl`.

# %% tags=["exercise"]
answer = ""  # your postgresql.conf line

# %% tags=["solution"]
answer = "ssl_crl_file = 'combined.crl'"

# %%
ex.check("E1.3", answer)

# %% [markdown] tags=["solution"]
# **Why.** PostgreSQL asks OpenSSL to check a CRL for every certificate of the chain. `intermediate.crl`
# answers for the leaf, but nothing answers for the intermediate itself (its CRL is the root's), so every
# client fails at depth 1. `combined.crl` holds both.

# %% [markdown] tags=["solution"] lang="es" en="248806e5"
# **Por qué.** PostgreSQL pide a OpenSSL que compruebe una CRL para cada certificado de la cadena.
# `intermediate.crl` responde por el certificado final, pero nada responde por la propia CA intermedia (su
# CRL es la de la raíz), así que todos los clientes fallan en la profundidad 1. `combined.crl` contiene las
# dos.

# %% [markdown]
# ## E1.4 · The CA file for client certificates
#
# The client sends only its leaf (`client.crt`, issued by the intermediate). Write the `ssl_cert_file`'s
# sibling that makes the server accept it: the `ssl_ca_file` line.

# %% [markdown] lang="es" en="7b1c0445"
# ## E1.4 · El archivo de CA para los certificados de cliente
#
# El cliente solo envía su certificado final (`client.crt`, emitido por la CA intermedia). Escriba el
# parámetro hermano de `ssl_cert_file` que hace que el servidor lo acepte: la línea `ssl_ca_file`.

# %% tags=["exercise"]
answer = ""  # your postgresql.conf line

# %% tags=["solution"]
answer = "ssl_ca_file = 'combined.crt'"

# %%
ex.check("E1.4", answer)

# %% [markdown] tags=["solution"]
# **Why.** With `root.crt` alone the server cannot link the leaf to the root (the client read `tlsv1
# alert unknown ca`). `combined.crt` gives it the intermediate as well.

# %% [markdown] tags=["solution"] lang="es" en="e55b6b08"
# **Por qué.** Con `root.crt` a secas, el servidor no puede enlazar el certificado final con la raíz (el
# cliente leyó `tlsv1 alert unknown ca`). `combined.crt` le aporta también la CA intermedia.

# %%
ex.finish()
