# %% [markdown]
# # 12 · Layer 3: `hostssl` in `pg_hba.conf`, passwords and certificates
#
# Layers 1 and 2 make TLS *possible*; nothing so far makes it *mandatory*: a client with
# `sslmode=disable` still logs in over clear text (lesson 10). The guide's third layer (Fase #2, step 4)
# fixes that in `pg_hba.conf` with `hostssl` lines, and adds certificate authentication (`cert`). This
# lesson measures:
#
# * `host` versus `hostssl` for a client without TLS;
# * `scram-sha-256` versus `cert clientcert=verify-full`;
# * the guide's **two lines for the same user** (scram first, cert second), and why the second one is
#   never used;
# * the guide's `clientcert=1`, which PostgreSQL 14 and later reject, and what replaces it.
#
# `pg_hba.conf` is read top to bottom and the **first** line whose type, database, user and address match
# decides; there is no fall-through to the next line when authentication fails.

# %% [markdown] lang="es" en="282a15c8"
# # 12 · Tercera capa: `hostssl` en `pg_hba.conf`, contraseñas y certificados
#
# La primera y la segunda capa hacen *posible* TLS; nada de lo visto hasta ahora lo hace *obligatorio*: un
# cliente con `sslmode=disable` sigue iniciando sesión en texto plano (lección 10). La tercera capa de la
# guía (Fase #2, paso 4) lo resuelve en `pg_hba.conf` con líneas `hostssl`, y añade la autenticación por
# certificado (`cert`). Esta lección mide:
#
# * `host` frente a `hostssl` para un cliente sin TLS;
# * `scram-sha-256` frente a `cert clientcert=verify-full`;
# * las **dos líneas de la guía para el mismo usuario** (primero scram, después cert), y por qué la
#   segunda nunca se usa;
# * el `clientcert=1` de la guía, que PostgreSQL 14 y posteriores rechazan, y lo que lo sustituye.
#
# `pg_hba.conf` se lee de arriba abajo y decide la **primera** línea cuyo tipo, base de datos, usuario y
# dirección coinciden; si la autenticación falla, no se pasa a la línea siguiente.

# %% [markdown]
# ## Objectives · time
#
# - Write `hostssl` lines that keep plaintext TCP sessions out
# - Choose between a password (`scram-sha-256`), a certificate (`cert`) or both (`clientcert=verify-full`)
# - Apply pg_hba.conf's first-match rule to the guide's two lines for one user
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (667 words of prose at 150 words a minute) and running ≈ 7 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="94d901a3"
# ## Objetivos · tiempo
#
# - Escribir líneas `hostssl` que dejen fuera las sesiones TCP en texto plano
# - Elegir entre una contraseña (`scram-sha-256`), un certificado (`cert`) o ambos (`clientcert=verify-full`)
# - Aplicar la regla de la primera coincidencia de pg_hba.conf a las dos líneas de la guía para un mismo usuario
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (667 palabras de texto a 150 palabras por minuto) y ejecución ≈ 7 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

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
p = pki.paths
password = lesson.password("conssl")  # generated for this workspace; passed to libpq, never printed
# Layer 1 (lab certificate) and layer 6 (which CAs sign client certificates) are prerequisites here.
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_ca(pki, "combined")).ok

# %%
CLIENTS = {  # label: attempt keywords (all as conssl)
    "no TLS, password": dict(sslmode="disable", password=password),
    "verify-full, password": dict(sslmode="verify-full", sslrootcert=p.combined_crt, password=password),
    "verify-full, certificate only": dict(sslmode="verify-full", sslrootcert=p.combined_crt, password=None,
                                          sslcert=p.client_crt, sslkey=p.client_key),
    "verify-full, certificate + password": dict(sslmode="verify-full", sslrootcert=p.combined_crt,
                                                password=password, sslcert=p.client_crt, sslkey=p.client_key),
}


# %%
def try_clients(rules_name):
    results = [lk.attempt(lab, label=f"{rules_name} · {name}", user="conssl", **kw) for name, kw in CLIENTS.items()]
    frame = lk.tables.outcomes(results)
    frame.insert(3, "authenticated by", [lk.monitoring.auth_method(r) for r in results])
    frame.insert(4, "pg_stat_ssl.ssl", [lk.monitoring.session_ssl(r)["pg_stat_ssl.ssl"] for r in results])
    return results, frame


# %% [markdown]
# ## `host` versus `hostssl`
#
# The lab starts with one lesson rule, `host all all 0.0.0.0/0 scram-sha-256`: a `host` line matches
# TCP connections with *or without* TLS.

# %% [markdown] lang="es" en="8965c736"
# ## `host` frente a `hostssl`
#
# El laboratorio arranca con una única regla de la lección, `host all all 0.0.0.0/0 scram-sha-256`: una
# línea `host` coincide con las conexiones TCP *con o sin* TLS.

# %%
host_results, host_frame = try_clients("host scram")
lk.tables.verdict(host_frame, uuid="host")

# %% [markdown]
# The clear-text client logs in (`pg_stat_ssl.ssl` false): its password travelled through a TLS-less
# connection (SCRAM does not send it in clear, but every query and result does). Now layer 3 with only
# `hostssl` lines:

# %% [markdown] lang="es" en="4a35ab83"
# El cliente sin cifrar inicia sesión (`pg_stat_ssl.ssl` falso): su contraseña pasó por una conexión
# sin TLS (SCRAM no la envía en claro, pero todas las consultas y resultados sí viajan en
# claro). Ahora, la tercera capa solo con líneas `hostssl`:

# %%
l3 = lk.layers.layer_hostssl("scram-sha-256", ("conssl",))
assert lk.apply(lab, l3).ok
lk.tables.table(lk.hba.lesson_rows(lab, lab.query("select line_number, type, database, user_name, address, netmask, "
                                     "auth_method, options, error from pg_hba_file_rules order by line_number")),
      "rules_scram")

# %%
hostssl_results, hostssl_frame = try_clients("hostssl scram")
lk.tables.verdict(hostssl_frame, uuid="hostssl")

# %% [markdown]
# The client without TLS finds no line at all: *no pg_hba.conf entry for host …, no encryption*. It is
# refused before any password exchange.
#
# ## `scram-sha-256` versus `cert clientcert=verify-full`

# %% [markdown] lang="es" en="5ebb15c9"
# El cliente sin TLS no encuentra ninguna línea: *no pg_hba.conf entry for host …, no encryption*. Se le
# rechaza antes de cualquier intercambio de contraseña.
#
# ## `scram-sha-256` frente a `cert clientcert=verify-full`

# %%
assert lk.apply(lab, lk.layers.layer_hostssl("cert", ("conssl",), clientcert="verify-full")).ok
cert_results, cert_frame = try_clients("hostssl cert")
lk.tables.verdict(cert_frame, uuid="cert")

# %% [markdown]
# With `cert`, the certificate *is* the login: no password is asked, and a client without a
# certificate is refused (*connection requires a valid client certificate*). The server also checks that
# the certificate's CN equals the user name (`clientcert=verify-full` is implied by `cert`).
#
# ## The guide's two lines for the same user
#
# The guide writes, in this order:
#
# ```
# hostssl   all   conssl   0.0.0.0/0   scram-sha-256
# hostssl   all   conssl   0.0.0.0/0   cert    clientcert=verify-full
# ```
#
# hoping that password clients use the first line and certificate clients the second. `hba_first_match`
# replays PostgreSQL's first-match rule for a TLS client `conssl` on database `postgres`:

# %% [markdown] lang="es" en="2f026857"
# Con `cert`, el certificado *es* la credencial de acceso: no se pide contraseña, y un cliente sin
# certificado es rechazado (*connection requires a valid client certificate*). El servidor comprueba
# además que el CN del certificado coincide con el nombre de usuario (`cert` implica
# `clientcert=verify-full`).
#
# ## Las dos líneas de la guía para el mismo usuario
#
# La guía escribe, en este orden:
#
# ```
# hostssl   all   conssl   0.0.0.0/0   scram-sha-256
# hostssl   all   conssl   0.0.0.0/0   cert    clientcert=verify-full
# ```
#
# con la idea de que los clientes con contraseña usen la primera línea y los clientes con certificado la
# segunda. `hba_first_match` reproduce la regla de la primera coincidencia de PostgreSQL para un cliente
# TLS `conssl` en la base de datos `postgres`:

# %% tags=["erratum-hba-first-match"]
guide = lk.layers.layer_hostssl("scram-sha-256", ("conssl",), extra_rules=lk.guide.HBA_RULES[1:])
assert lk.apply(lab, guide).ok
match = lk.hba.lesson_rows(lab, lk.hba.first_match(lab, conn_type="hostssl", user="conssl"))
lk.tables.verdict(match[["line_number", "type", "user_name", "auth_method", "options", "verdict"]], "verdict",
        good=match["verdict"].iloc[0], columns=["line_number", "verdict"], uuid="first_match")

# %% [markdown]
# A line matches on type, database, user and address only -- whether the client *has* a certificate is
# not part of the match. So the second line is dead. The real attempts agree:

# %% [markdown] lang="es" en="af48ce15"
# Una línea coincide solo por tipo, base de datos, usuario y dirección: que el cliente *tenga* un
# certificado no forma parte de la coincidencia. Por tanto, la segunda línea es letra muerta. Los intentos
# reales lo confirman:

# %%
guide_results, guide_frame = try_clients("guide's two lines")

# %% tags=["key-result"]
lk.tables.verdict(guide_frame, uuid="guide")

# %%
g = dict(zip(CLIENTS, guide_results))
assert g["verify-full, certificate only"].error_key == "no_password"
assert lk.monitoring.auth_method(g["verify-full, certificate + password"]) == "scram-sha-256"
assert g["verify-full, password"].connected and g["no TLS, password"].error_key == "no_hba_no_encryption"
assert match["verdict"].iloc[0].startswith("FIRST MATCH") and match["verdict"].iloc[1] == lk.hba.NEVER_REACHED

# %% [markdown]
# > **The guide says** the second line serves "clients that authenticate with a certificate instead of
# > a password". **Measured:** the client with a certificate and no password is refused by the *first*
# > line (libpq: *fe_sendauth: no password supplied*); with both, it is logged in by `scram-sha-256` and the
# > certificate is only checked as a TLS credential. The `cert` line is never consulted. To offer both
# > methods to the same role, tell them apart by something PostgreSQL matches on (different roles,
# > databases or addresses), or require both factors on one line, as below.
#
# ## `clientcert=1`: outdated since PostgreSQL 14
#
# The guide's comment offers `clientcert=1` ("only checks the certificate is signed by a trusted CA").
# labkit knows the server's major version and refuses it up front:

# %% [markdown] lang="es" en="867c4777"
# > **La guía dice** que la segunda línea es para "Clientes con autenticación por certificado y no por
# > contraseña". **Medido:** el cliente con certificado y sin contraseña es rechazado por la *primera*
# > línea (libpq: *fe_sendauth: no password supplied*); con ambos, inicia sesión por `scram-sha-256` y el
# > certificado solo se comprueba como credencial TLS. La línea `cert` nunca se consulta. Para ofrecer
# > ambos métodos al mismo rol, hay que distinguirlos por algo que PostgreSQL sí compare (roles, bases de
# > datos o direcciones distintos), o exigir los dos factores en una sola línea, como se ve más abajo.
#
# ## `clientcert=1`: obsoleto desde PostgreSQL 14
#
# El comentario de la guía propone `clientcert=1` ("solo verifica que el certificado del cliente esté
# firmado por una CA de confianza"). labkit conoce la versión mayor del servidor y lo rechaza de entrada:

# %%
try:
    lk.apply(lab, lk.layers.layer_hostssl("cert", ("conssl",), clientcert="1"))
except lk.InvalidValue as exc:
    refused = str(exc)
print(refused)

# %% [markdown]
# What the server does with it: we write the line and run the guide's own check
# (`select * from pg_hba_file_rules where error is not null`) before any reload, next to a check for
# lines the server could not parse at all (`type is null`):

# %% [markdown] lang="es" en="a5a6d606"
# Qué hace el servidor con él: escribimos la línea y ejecutamos la comprobación de la propia guía
# (`select * from pg_hba_file_rules where error is not null`) antes de cualquier recarga, junto a una
# comprobación de las líneas que el servidor no pudo interpretar en absoluto (`type is null`):

# %% tags=["erratum-clientcert-1"]
lab.trial_hba_rules(["hostssl  all  conssl  0.0.0.0/0  cert  clientcert=1"])
checks = pd.DataFrame([
    {"query": "guide: where error is not null",
     "rows": len(lab.query("select * from pg_hba_file_rules where error is not null"))},
    {"query": "also: where type is null",
     "rows": len(lab.query("select * from pg_hba_file_rules where type is null"))},
])
lab.set_hba_rules(lab.state.hba_rules)  # put the file back as labkit last wrote it
lk.tables.table(checks, "checks")

# %% [markdown]
# Then through `lk.apply(..., unchecked=True)`: the reload is rejected (the log names the reason),
# and labkit writes the previous rules back:

# %% [markdown] lang="es" en="1b26cac5"
# Después, a través de `lk.apply(..., unchecked=True)`: la recarga se rechaza (el log indica el motivo) y
# labkit restaura las reglas anteriores:

# %%
rejected = lk.apply(lab, lk.layers.layer_hostssl("cert", ("conssl",), clientcert="1", unchecked=True))
lk.tables.table(rejected.frame(), "rejected")

# %%
assert "clientcert" in refused and "verify-full" in refused
assert checks.loc[0, "rows"] == 0 and checks.loc[1, "rows"] == 1
assert not rejected.ok and rejected.rolled_back
assert any('invalid value for clientcert: "1"' in d for d in rejected.frame()["detail"])
assert lk.attempt(lab, sslmode="verify-full", sslrootcert=p.combined_crt, user="conssl",
                        password=password).connected  # the guide's two lines are still in force

# %% [markdown]
# > **The guide says** `clientcert=1` checks that the client certificate is signed by a trusted CA.
# > **Measured:** PostgreSQL 14 removed `0`/`1`/`no-verify`; the server logs *invalid value for
# > clientcert: "1"*, keeps the previous `pg_hba.conf`, and the guide's own validation query returns
# > **no row** (the line shows up with every column empty and no error text). The replacements are
# > `clientcert=verify-ca` (certificate signed by a trusted CA) and `clientcert=verify-full` (also CN =
# > user name); with method `cert` only `verify-full` is accepted.
#
# ## The correct replacement: both factors on one line
#
# `scram-sha-256 clientcert=verify-full` asks for a password **and** a valid certificate whose CN is the
# user -- the two-factor setup the guide's two lines were probably aiming at:

# %% [markdown] lang="es" en="0315f21e"
# > **La guía dice** que `clientcert=1` comprueba que el certificado del cliente está firmado por una CA de
# > confianza. **Medido:** PostgreSQL 14 eliminó `0`/`1`/`no-verify`; el servidor registra *invalid value
# > for clientcert: "1"*, conserva el `pg_hba.conf` anterior, y la consulta de validación de la propia guía
# > no devuelve **ninguna fila** (la línea aparece con todas las columnas vacías y sin texto de error). Los
# > sustitutos son `clientcert=verify-ca` (certificado firmado por una CA de confianza) y
# > `clientcert=verify-full` (además, CN = nombre de usuario); con el método `cert` solo se acepta
# > `verify-full`.
#
# ## El sustituto correcto: los dos factores en una sola línea
#
# `scram-sha-256 clientcert=verify-full` pide una contraseña **y** un certificado válido cuyo CN sea el
# usuario: la configuración de doble factor a la que probablemente apuntaban las dos líneas de la guía.

# %%
assert lk.apply(lab, lk.layers.layer_hostssl("scram-sha-256", ("conssl",), clientcert="verify-full")).ok
both_results, both_frame = try_clients("scram + clientcert=verify-full")
lk.tables.verdict(both_frame, uuid="both")

# %%
b = dict(zip(CLIENTS, both_results))
assert b["verify-full, password"].error_key == "client_cert_required"
assert b["verify-full, certificate only"].error_key == "no_password"
assert b["verify-full, certificate + password"].connected
assert lk.monitoring.auth_method(b["verify-full, certificate + password"]) == "scram-sha-256"

# %% [markdown]
# ## Key points
#
# - `host` matches TCP with and without TLS; `hostssl` only TLS. With hostssl-only lines, `sslmode=disable` finds no entry (`no_hba_no_encryption`).
# - PostgreSQL uses the first matching line; a later line for the same user is never reached.
# - `clientcert=1` was removed in PostgreSQL 14; `clientcert=verify-full` on a password line asks for both factors.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="f24b2202"
# ## Puntos clave
#
# - `host` coincide con TCP con y sin TLS; `hostssl`, solo con TLS. Con líneas exclusivamente hostssl, `sslmode=disable` no encuentra entrada (`no_hba_no_encryption`).
# - PostgreSQL usa la primera línea que coincide; nunca se llega a una línea posterior para el mismo usuario.
# - `clientcert=1` se eliminó en PostgreSQL 14; `clientcert=verify-full` en una línea con contraseña exige los dos factores.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
