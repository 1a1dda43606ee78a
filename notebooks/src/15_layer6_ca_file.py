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

# %% [markdown] lang="es" en="568d9614"
# # 15 · Sexta capa: `ssl_ca_file`, las CA en las que confía el servidor para los certificados de cliente
#
# **Qué mostramos.** Con la CA raíz y la CA intermedia en `ssl_ca_file`, el servidor verifica un certificado de
# cliente; con la CA raíz sola no lo consigue (el cliente envía únicamente su certificado final y el servidor no
# puede completar la cadena de confianza: `tlsv1 alert unknown ca`), salvo que el cliente envíe su propia cadena.
# Mostramos también para qué **no** sirve `ssl_ca_file`: un cliente `verify-full` que comprueba al servidor no lo
# necesita en absoluto; quien sí lo necesita es un cliente que se autentica con certificado.
#
# **Por qué importa.** Es frecuente que un equipo configure `ssl_ca_file` "porque los clientes usan verify-full",
# o que lo omita "porque no usamos verify-ca". Ambas decisiones parten del mismo malentendido: este parámetro
# sirve para que el *servidor* verifique a los *clientes*. Si se configura mal, los inicios de sesión por
# certificado fallan o directamente no pueden existir.
#
# **Cobertura de la guía.** Fase #2, paso 8 ("Sexta capa": `ssl_ca_file = '/tmp/pki/CA/combined.crt'`); "Información
# importante" (las opciones raíz/intermedia/combinado); "Mensajes de Error" #1 (`tlsv1 alert unknown ca`);
# parámetro 2 de la lista de la guía (`ssl_ca_file`, "solo cuando usar el sslmode verify-full  o verify-ca").

# %% [markdown]
# ## Objectives · time
#
# - Set `ssl_ca_file` so the server can verify client certificates
# - Fix a root-only CA file: a complete CA file, or a client that sends its chain
# - Keep apart `ssl_ca_file` (the server's trust) and `sslrootcert` (the client's)
#
# **Time:** about 5 minutes on your own: reading ≈ 4 min (549 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="1739a0b7"
# ## Objetivos · tiempo
#
# - Configurar `ssl_ca_file` para que el servidor pueda verificar certificados de cliente
# - Corregir un archivo de CA que solo contiene la CA raíz: un archivo de CA completo, o un cliente que envía su cadena
# - Distinguir `ssl_ca_file` (la confianza del servidor) de `sslrootcert` (la del cliente)
#
# **Tiempo:** unos 5 minutos por cuenta propia: lectura ≈ 4 min (549 palabras de texto a 150 palabras por minuto) y ejecución ≈ 4 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

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

# %% [markdown] lang="es" en="6be86413"
# ## 1. Qué archivo verifica qué
#
# En una conexión TLS hay dos verificaciones independientes, y cada extremo configura la suya:
#
# ```mermaid
# flowchart LR
#     subgraph client["cliente (libpq)"]
#         rootcert["sslrootcert<br/>+ sslmode=verify-ca / verify-full"]
#         ccert["sslcert + sslkey"]
#     end
#     subgraph server["servidor (postgresql.conf)"]
#         scert["ssl_cert_file + ssl_key_file"]
#         cafile["ssl_ca_file<br/>(+ ssl_crl_file)"]
#     end
#     scert -- "certificado del servidor, verificado por" --> rootcert
#     ccert -- "certificado de cliente, verificado por" --> cafile
# ```
#
# `verify-ca` y `verify-full` son modos del lado del cliente: determinan con qué rigor el **cliente** comprueba,
# mediante `sslrootcert`, el certificado del **servidor**. `ssl_ca_file` es lo que usa el **servidor** para
# comprobar el certificado de un **cliente** (y, cuando está configurado, el servidor pide uno a cada cliente).
#
# Aquí el servidor presenta `server-chain.crt` (certificado final + CA intermedia), de modo que a los clientes les
# basta con confiar en `root.crt`.

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

# %% [markdown] lang="es" en="8ff2323d"
# ## 2. Solo la CA raíz: el servidor no puede construir la cadena

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

# %% [markdown] lang="es" en="31852b88"
# El certificado del cliente lo emitió la CA intermedia. Si `ssl_ca_file` contiene solo la CA raíz, el servidor
# no tiene forma de llegar desde el certificado final hasta la raíz: su log indica *depth 0: unable to get local
# issuer certificate*, y la alerta que envía hace que el cliente muestre `tlsv1 alert unknown ca` (el error #1 de
# la guía). (Con `ca_bundle="intermediate_only"` lo que falta es el ancla de confianza, y el mensaje del cliente es
# el mismo.)

# %%
assert not leaf_only.connected and leaf_only.error_key == "unknown_ca"
assert "tlsv1 alert unknown ca" in leaf_only.error_text

# %% [markdown]
# ## 3. Two fixes: a complete CA file, or a client that sends its chain
#
# The guide's fix is the combined file on the server. The other option keeps `ssl_ca_file` = root and has
# the client send leaf + intermediate (`client-chain.crt` as `sslcert`): the server then has every link.
# This is handy when many intermediates issue client certificates and the server should trust only the root.

# %% [markdown] lang="es" en="b0f1754f"
# ## 3. Dos soluciones: un archivo de CA completo, o un cliente que envía su cadena
#
# La solución de la guía es el archivo combinado en el servidor. La alternativa mantiene `ssl_ca_file` = CA raíz y
# hace que el cliente envíe el certificado final junto con la CA intermedia (`client-chain.crt` como `sslcert`):
# así el servidor dispone de todos los eslabones. Resulta práctico cuando varias CA intermedias emiten
# certificados de cliente y se quiere que el servidor confíe únicamente en la raíz.

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

# %% [markdown] lang="es" en="560a85bc"
# ## 4. `verify-full` no necesita `ssl_ca_file`
#
# > **La guía dice** que `ssl_ca_file` se usa "solo cuando usar el sslmode verify-full  o verify-ca".
# > **Medido:** esos modos funcionan sin ningún `ssl_ca_file`; lo que sí lo requiere es la autenticación de
# > clientes por certificado (`cert`, o `clientcert=` en pg_hba.conf).
#
# Quitamos `ssl_ca_file` y probamos (a) un cliente con contraseña y `sslmode=verify-full` frente a una regla
# `scram-sha-256`, (b) un cliente con certificado frente a la regla `cert` y, por último, (c) el mismo cliente
# con el archivo de CA de nuevo configurado.

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

# %% [markdown] lang="es" en="f6a60684"
# Sin `ssl_ca_file`, el servidor ni siquiera pide un certificado de cliente, así que la regla `cert` falla con
# *client certificates can only be checked if a root certificate store is available* (no tiene clave en el
# catálogo de errores: la guía nunca lo muestra). Al cliente `verify-full` con contraseña no le afecta: comprueba
# al servidor con su propio `sslrootcert`.

# %% [markdown]
# ## Key points
#
# - With the root alone the server cannot chain a leaf issued by the intermediate; the client reads `tlsv1 alert unknown ca` (`unknown_ca`).
# - Root + intermediate in `ssl_ca_file`, or `sslcert` holding leaf + intermediate, both fix it.
# - `ssl_ca_file` plays no part in the client's `verify-full`.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="348f3c7e"
# ## Puntos clave
#
# - Con la CA raíz sola, el servidor no puede encadenar un certificado final emitido por la CA intermedia; el cliente lee `tlsv1 alert unknown ca` (`unknown_ca`).
# - Ambas soluciones funcionan: la CA raíz más la intermedia en `ssl_ca_file`, o un `sslcert` que contenga el certificado final más la intermedia.
# - `ssl_ca_file` no interviene en la verificación `verify-full` que hace el cliente.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
