# %% [markdown]
# # 30 · Monitoring TLS: settings, live sessions and sslinfo
#
# Hardening is only finished when you can *see* it working. This lesson runs the guide's three monitoring
# checks on a real server that holds several clients at once:
#
# 1. **Which TLS settings are in force** — `pg_settings` rows whose name contains `ssl`.
# 2. **Who is connected, and how** — `pg_stat_ssl` joined with `pg_stat_activity`, with four clients
#    held open at the same moment: one on TLS 1.3, one capped at TLS 1.2, one authenticated by a client
#    certificate, and one without TLS at all.
# 3. **What a session can learn about itself** — the `sslinfo` functions, in a certificate session and in
#    a password session side by side.
#
# Why it matters: on a bank's server the question after a change is never "did the reload succeed?" but
# "is every client really encrypted, with which protocol, and who presented a certificate?". A plaintext
# client that slipped through a permissive `pg_hba.conf` line shows up here and nowhere else.
#
# Guide coverage: *Fase #3 Post-Implementación*, items 2 (monitoring connections) and 3 (client-side TLS
# information).
#
# ```mermaid
# flowchart LR
#   A[TLS 1.3 client<br/>reporter] --> S[(PostgreSQL 16)]
#   B[TLS 1.2-capped client<br/>postgres] --> S
#   C[certificate client<br/>conssl] --> S
#   D[plaintext client<br/>reporter] --> S
#   M[admin session:<br/>pg_stat_ssl ⋈ pg_stat_activity] -.observes.-> S
# ```

# %% [markdown] lang="es" en="c2e506a5"
# # 30 · Monitorizar TLS: parámetros, sesiones activas y sslinfo
#
# El endurecimiento solo está terminado cuando se puede *ver* que funciona. Esta lección ejecuta las tres
# comprobaciones de monitorización de la guía sobre un servidor real que atiende a varios clientes a la vez:
#
# 1. **Qué parámetros TLS están en vigor**: las filas de `pg_settings` cuyo nombre contiene `ssl`.
# 2. **Quién está conectado, y cómo**: `pg_stat_ssl` unida con `pg_stat_activity`, con cuatro clientes abiertos
#    en el mismo momento: uno en TLS 1.3, uno limitado a TLS 1.2, uno autenticado con certificado de cliente y
#    uno sin TLS en absoluto.
# 3. **Qué puede saber una sesión de sí misma**: las funciones de `sslinfo`, en una sesión con certificado y en
#    una sesión con contraseña, una junto a otra.
#
# Por qué importa: en el servidor de un banco, la pregunta después de un cambio nunca es "¿ha funcionado la
# recarga?", sino "¿está de verdad cifrado cada cliente, con qué protocolo, y quién presentó un certificado?". Un
# cliente en texto plano que se coló por una línea permisiva de `pg_hba.conf` aparece aquí y en ningún otro sitio.
#
# Cobertura de la guía: *Fase #3 Post-Implementación*, puntos 2 (monitorización de conexiones) y 3 (información
# TLS del lado del cliente).
#
# ```mermaid
# flowchart LR
#   A[cliente TLS 1.3<br/>reporter] --> S[(PostgreSQL 16)]
#   B[cliente limitado a TLS 1.2<br/>postgres] --> S
#   C[cliente con certificado<br/>conssl] --> S
#   D[cliente en texto plano<br/>reporter] --> S
#   M[sesión de administración:<br/>pg_stat_ssl ⋈ pg_stat_activity] -.observa.-> S
# ```

# %% [markdown]
# ## Objectives · time
#
# - Read the TLS settings in force (`pg_settings`)
# - List live sessions with their TLS facts (`pg_stat_ssl`) and spot one without TLS
# - Use `sslinfo` from inside a session to identify a client certificate
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (869 words of prose at 150 words a minute) and running ≈ 10 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="713a6dc0"
# ## Objetivos · tiempo
#
# - Leer los parámetros TLS en vigor (`pg_settings`)
# - Listar las sesiones activas con sus datos TLS (`pg_stat_ssl`) y detectar una sin TLS
# - Usar `sslinfo` desde dentro de una sesión para identificar un certificado de cliente
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (869 palabras de texto a 150 palabras por minuto) y ejecución ≈ 10 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
plaintext_client = True  # also hold a session without TLS (pg_hba gets a hostnossl line for it)

# %%
import pandas as pd

import labkit as lk

# %%
import contextlib

from cryptography import x509


lk.check_bool("plaintext_client", plaintext_client)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)  # show whole log lines and psql commands

# %% [markdown]
# ## 1 · The server side: TLS on, a protocol floor, a CA for client certificates, and pg_hba rules
#
# We apply three of the guide's layers (certificate and key, TLS 1.2–1.3, `ssl_ca_file`) and write a
# `pg_hba.conf` that lets each kind of client in: `cert` for `conssl`, `scram-sha-256` over TLS for
# everyone else, and — only for this demonstration — a `hostnossl` line so a plaintext client can log in
# and be *seen*. First match wins, so the `cert` line for `conssl` comes first.

# %% [markdown] lang="es" en="c71fee5b"
# ## 1 · El lado del servidor: TLS activado, un protocolo mínimo, una CA para certificados de cliente y reglas de pg_hba
#
# Aplicamos tres de las capas de la guía (certificado y clave, TLS 1.2–1.3, `ssl_ca_file`) y escribimos un
# `pg_hba.conf` que deja entrar a cada tipo de cliente: `cert` para `conssl`, `scram-sha-256` sobre TLS para todos
# los demás y, solo para esta demostración, una línea `hostnossl` para que un cliente en texto plano pueda iniciar
# sesión y ser *visto*. Se aplica la primera regla que coincide, así que la línea `cert` de `conssl` va primero.

# %%
hba = ["hostssl    all  conssl  0.0.0.0/0  cert  clientcert=verify-full",
       "hostssl    all  all     0.0.0.0/0  scram-sha-256"]
if plaintext_client:
    hba.append("hostnossl  all  all     0.0.0.0/0  scram-sha-256")
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"),
                       lk.layers.layer_ca(pki, "combined"))
lab.set_hba_rules(hba)
reload = lab.reload()
assert applied.ok and reload.ok, (applied.reason, reload.log)
pd.DataFrame({"pg_hba.conf lesson rules (first match wins)": hba})

# %% [markdown]
# ## 2 · Check 1: the settings in force
#
# The guide's first query, `SELECT name, setting FROM pg_settings WHERE name LIKE '%ssl%';`. File paths are
# written relative to the data directory (`$PGDATA/...`) so the table is the same on every machine; the
# `context` column adds one useful fact: every TLS setting is `sighup`, i.e. a reload is enough.

# %% [markdown] lang="es" en="2e14d047"
# ## 2 · Comprobación 1: los parámetros en vigor
#
# La primera consulta de la guía, `SELECT name, setting FROM pg_settings WHERE name LIKE '%ssl%';`. Las rutas de
# archivo se escriben relativas al directorio de datos (`$PGDATA/...`) para que la tabla sea igual en cualquier
# máquina; la columna `context` aporta un dato útil: todos los parámetros TLS son `sighup`, es decir, basta con una
# recarga.

# %%
settings = lk.monitoring.ssl_settings(lab)
settings

# %%
by_name = dict(zip(settings["name"], settings["setting"]))
assert by_name["ssl"] == "on"
assert by_name["ssl_min_protocol_version"] == "TLSv1.2" and by_name["ssl_max_protocol_version"] == "TLSv1.3"
assert by_name["ssl_cert_file"] == "$PGDATA/tls/server.crt" and by_name["ssl_ca_file"] == "$PGDATA/tls/combined.crt"
assert set(settings.loc[settings["name"] != "ssl_library", "context"]) == {"sighup"}
assert by_name["ssl_passphrase_command_supports_reload"] == "off"

# %% [markdown]
# Two rows are worth a second look. `ssl_ciphers` still shows PostgreSQL's default
# (`HIGH:MEDIUM:+3DES:!aNULL`) because this lesson did not apply the guide's cipher layer — a monitoring
# query is exactly how you would notice that a layer is missing. And `ssl_library` says only `OpenSSL`,
# not which version; the course reads that from the server binary instead.
#
# > **The guide says** (Fase #1 table) that PostgreSQL 12–17 default to `TLSv1.0` as the minimum.
# > **Measured:** run the same query on a server with no lesson settings and `ssl_min_protocol_version`
# > is already `TLSv1.2` — the default since PostgreSQL **13** (measured below from every server binary
# > installed here; PostgreSQL 13's release notes say the same).

# %% [markdown] lang="es" en="fbdc3f4d"
# Hay dos filas que merecen una segunda mirada. `ssl_ciphers` sigue mostrando el valor por omisión de PostgreSQL
# (`HIGH:MEDIUM:+3DES:!aNULL`) porque esta lección no aplicó la capa de cifrados de la guía: una consulta de
# monitorización es precisamente la forma de darse cuenta de que falta una capa. Y `ssl_library` solo dice
# `OpenSSL`, sin la versión; el curso la lee del binario del servidor.
#
# > **La guía dice** (tabla de la Fase #1) que en PostgreSQL 12–17 el mínimo por omisión es `TLSv1.0`.
# > **Medido:** si se ejecuta la misma consulta en un servidor sin parámetros de la lección,
# > `ssl_min_protocol_version` ya vale `TLSv1.2`, el valor por omisión desde PostgreSQL **13** (medido más abajo
# > a partir de cada binario de servidor instalado aquí; las notas de la versión 13 de PostgreSQL dicen lo mismo).

# %%
default_min = lab.execute("SELECT boot_val FROM pg_settings WHERE name = 'ssl_min_protocol_version'")[0]["boot_val"]
assert default_min == "TLSv1.2"
pd.DataFrame([{"setting": "ssl_min_protocol_version", "built-in default (boot_val)": default_min,
               "guide's table": "TLSv1.0"}])

# %% tags=["erratum-tls-floor-since-13", "nbval-ignore-output"]
floors = lk.monitoring.tls_floor_by_release()
floors  # `postgres --describe-config` of each installed release; no server started

# %%
floor = dict(zip(floors["PostgreSQL"], floors["built-in ssl_min_protocol_version"]))
assert all(v == "TLSv1.2" for major, v in floor.items() if major >= 13 and v != "(not installed here)"), floor
assert floor[12] in ("TLSv1", "(not installed here)"), floor

# %% [markdown]
# ## 3 · Check 2: four clients connected at the same time
#
# `lk.session()` opens a connection and keeps it open, so the admin session can watch all four
# while they exist. Each sets `application_name`, the column the guide's output uses to tell pgAdmin
# windows apart. The `psql` line a reader would type for each client is listed first.

# %% [markdown] lang="es" en="c27d9cce"
# ## 3 · Comprobación 2: cuatro clientes conectados a la vez
#
# `lk.session()` abre una conexión y la mantiene abierta, de modo que la sesión de administración puede observar
# a los cuatro mientras existen. Cada uno fija `application_name`, la columna que la salida de la guía usa para
# distinguir las ventanas de pgAdmin. Primero se lista la línea `psql` que un lector escribiría para cada cliente.

# %% tags=["nbval-ignore-output"]
clients = {
    "tls13-client": dict(sslmode="require", user="reporter", password=lesson.password("reporter")),
    "tls12-capped": dict(sslmode="require", user="postgres", ssl_max_protocol_version="TLSv1.2"),
    "cert-client": dict(sslmode="verify-full", user="conssl", sslrootcert=pki.paths.combined_crt,
                        sslcert=pki.paths.client_crt, sslkey=pki.paths.client_key, password=None),
}
if plaintext_client:
    clients["plaintext-client"] = dict(sslmode="disable", user="reporter", password=lesson.password("reporter"))

tried = [lk.attempt(lab, label=name, extra={"application_name": name}, **kw) for name, kw in clients.items()]
assert all(t.connected for t in tried), [t.error_text for t in tried]
pd.DataFrame({"client": [t.label for t in tried], "psql": [t.psql for t in tried]})

# %%
with contextlib.ExitStack() as stack:
    sessions = {name: stack.enter_context(lk.session(lab, extra={"application_name": name}, **kw))
                for name, kw in clients.items()}
    live = lk.monitoring.stat_ssl(lab)
    sslinfo = {name: lk.monitoring.sslinfo_row(conn) for name, conn in sessions.items()}

# %% [markdown]
# The raw monitoring output, as the guide shows it (its columns, plus the three certificate columns
# `pg_stat_ssl` also has). Cipher, client address, serial and DNs depend on the machine and the backend
# (under Docker every client appears to come from the bridge gateway), so this cell is not compared.

# %% [markdown] lang="es" en="8677e704"
# La salida de monitorización sin procesar, tal como la muestra la guía (sus columnas, más las tres columnas de
# certificado que también tiene `pg_stat_ssl`). El cifrado, la dirección del cliente, el número de serie y los DN
# dependen de la máquina y del backend (con Docker, todos los clientes parecen venir de la puerta de enlace del
# bridge), así que esta celda no se compara.

# %% tags=["nbval-ignore-output"]
live

# %% [markdown]
# The verdict — one row per client, reduced to what must hold everywhere:

# %% [markdown] lang="es" en="caeefca4"
# El veredicto: una fila por cliente, reducida a lo que debe cumplirse en cualquier entorno:

# %% tags=["key-result"]
expected = {"tls13-client": (True, "TLSv1.3", False), "tls12-capped": (True, "TLSv1.2", False),
            "cert-client": (True, "TLSv1.3", True), "plaintext-client": (False, None, False)}
seen = live[live["application_name"].isin(clients)].reset_index(drop=True)
verdict = pd.DataFrame({"application_name": seen["application_name"], "usename": seen["usename"],
                        "ssl": seen["ssl"].astype(bool), "version": seen["version"].fillna(lk.tables.EMPTY),
                        "client certificate": seen["client_dn"].notna()})
verdict["as expected"] = [(s, None if v == lk.tables.EMPTY else v, c) == expected[a] for a, s, v, c in zip(
    verdict["application_name"], verdict["ssl"], verdict["version"], verdict["client certificate"])]
assert sorted(verdict["application_name"]) == sorted(clients) and verdict["as expected"].all()
lk.tables.verdict(verdict, "ssl", columns=verdict.columns, uuid="verdict30")

# %% [markdown]
# Reading it like an auditor: the capped client really runs TLS 1.2 although the server would allow 1.3 —
# the *client's* ceiling wins, so `pg_stat_ssl` is where you find applications with an old driver. The
# plaintext row has `ssl = false` and nothing else: if your `pg_hba.conf` has only `hostssl` lines such a
# row cannot exist, and this query is the cheapest proof of it.

# %% [markdown] lang="es" en="06dd0d77"
# Leído como lo haría un auditor: el cliente limitado usa de verdad TLS 1.2 aunque el servidor permitiría 1.3; se
# impone el techo del *cliente*, así que `pg_stat_ssl` es donde se encuentran las aplicaciones con un driver
# antiguo. La fila en texto plano tiene `ssl = false` y nada más: si su `pg_hba.conf` solo tiene líneas `hostssl`,
# una fila así no puede existir, y esta consulta es la prueba más barata de ello.

# %% [markdown]
# ## 4 · Check 3: `sslinfo`, from inside the session
#
# `sslinfo` answers for *the session that calls it*. For the certificate session it describes the client
# certificate; for a password session over TLS it knows the protocol and cipher but has no certificate
# to describe; without TLS every answer is false or NULL. Raw values first (serials vary per PKI):

# %% [markdown] lang="es" en="26ca38c0"
# ## 4 · Comprobación 3: `sslinfo`, desde dentro de la sesión
#
# `sslinfo` responde por *la sesión que la llama*. En la sesión con certificado describe el certificado de
# cliente; en una sesión con contraseña sobre TLS conoce el protocolo y el cifrado, pero no tiene certificado que
# describir; sin TLS, todas las respuestas son falsas o NULL. Primero, los valores sin procesar (los números de
# serie cambian con cada PKI):

# %% tags=["nbval-ignore-output"]
raw = pd.DataFrame(sslinfo).rename_axis("sslinfo function")
raw

# %%
client_cert = x509.load_pem_x509_certificate(pki.paths.client_crt.read_bytes())
shown = raw.copy().astype(object)
shown.loc["ssl_client_serial"] = [
    ("= serial of client.crt" if v == str(client_cert.serial_number) else "other serial") if v is not None else None
    for v in raw.loc["ssl_client_serial"]]
lk.tables.table(shown.reset_index(), "nb30-sslinfo")  # NULL answers read as the tables' one empty marker

# %%
cert_info, pw_info = sslinfo["cert-client"], sslinfo["tls13-client"]
assert cert_info["ssl_is_used"] and cert_info["ssl_client_cert_present"]
assert cert_info["ssl_client_serial"] == str(client_cert.serial_number)
assert cert_info["ssl_client_dn"] == "/O=pgtls-lab/CN=conssl"
assert cert_info["ssl_issuer_dn"] == "/O=pgtls-lab/CN=pgtls-lab Intermediate CA"
assert pw_info["ssl_is_used"] and not pw_info["ssl_client_cert_present"]
assert pw_info["ssl_client_serial"] is None and pw_info["ssl_client_dn"] is None
if plaintext_client:
    plain = sslinfo["plaintext-client"]
    assert plain["ssl_is_used"] is False and plain["ssl_version"] is None

# %% [markdown]
# ### What a distinguished name looks like here
#
# > **The guide says** `ssl_client_dn` returns something like `/C=US/ST=California/L=San Francisco/O=Example
# > Corp/OU=IT Depart…`. **Measured on PostgreSQL 16:** the same slash-separated, most-significant-first
# > form — PostgreSQL formats the name with OpenSSL's one-line printer — so our lab certificate, which has
# > only an organisation and a common name, gives `/O=pgtls-lab/CN=conssl`. `pg_stat_ssl.client_dn` uses the
# > same form. The guide's long value simply comes from a certificate with more fields (and is cut short
# > in its printout). What differs is every *other* tool: RFC 4514 (Python,
# > Java, LDAP) reverses the order and uses commas. A DBA matching DNs between a monitoring script and a
# > certificate inventory must convert, or compare the CN only (`ssl_client_dn_field('CN')`).

# %% [markdown] lang="es" en="4ba6ce22"
# ### Qué aspecto tiene aquí un nombre distintivo (DN)
#
# > **La guía dice** que `ssl_client_dn` devuelve algo como `/C=US/ST=California/L=San Francisco/O=Example
# > Corp/OU=IT Depart…`. **Medido en PostgreSQL 16:** la misma forma separada por barras y con el componente más
# > significativo primero (PostgreSQL da formato al nombre con la impresora de una línea de OpenSSL), de modo que
# > nuestro certificado de laboratorio, que solo tiene una organización y un nombre común, da
# > `/O=pgtls-lab/CN=conssl`. `pg_stat_ssl.client_dn` usa la misma forma. El valor largo de la guía procede sin
# > más de un certificado con más campos (y aparece recortado en su salida). Lo que cambia es *cualquier otra*
# > herramienta: RFC 4514 (Python, Java, LDAP) invierte el orden y usa comas. Un DBA que compare DN entre un
# > script de monitorización y un inventario de certificados tiene que convertirlos, o comparar solo el CN
# > (`ssl_client_dn_field('CN')`).

# %%
dn_forms = pd.DataFrame([
    {"source": "sslinfo ssl_client_dn()", "DN": cert_info["ssl_client_dn"]},
    {"source": "pg_stat_ssl.client_dn", "DN": live.loc[live.application_name == "cert-client", "client_dn"].iloc[0]},
    {"source": "RFC 4514 (cryptography / Python)", "DN": client_cert.subject.rfc4514_string()},
    {"source": "sslinfo ssl_issuer_dn()", "DN": cert_info["ssl_issuer_dn"]},
])
assert dn_forms["DN"].iloc[0] == dn_forms["DN"].iloc[1] != dn_forms["DN"].iloc[2]
dn_forms

# %% [markdown]
# The guide also keeps `ssl_issuer_dn()` commented out in its query. It works: it names the CA that
# signed the client certificate — here the intermediate, which is why `ssl_ca_file` must contain it.
# Together with `ssl_client_serial()` it identifies the certificate uniquely (a serial is unique only
# per issuer), which is what you would log for an audit trail.

# %% [markdown] lang="es" en="f142e6aa"
# La guía también deja comentada `ssl_issuer_dn()` en su consulta. Funciona: nombra la CA que firmó el
# certificado de cliente (aquí la CA intermedia, y por eso `ssl_ca_file` tiene que contenerla). Junto con
# `ssl_client_serial()` identifica el certificado de forma única (un número de serie solo es único por emisor), que
# es lo que conviene registrar para una pista de auditoría.

# %% [markdown]
# ## Key points
#
# - `pg_stat_ssl` joined with `pg_stat_activity` shows who is connected with which version, cipher and certificate.
# - A session with `ssl = false` is the monitoring alarm; pg_hba.conf is what prevents it.
# - Issuer DN + serial identify a client certificate uniquely: that is what an audit trail records.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="77149e26"
# ## Puntos clave
#
# - `pg_stat_ssl` unida con `pg_stat_activity` muestra quién está conectado y con qué versión, cifrado y certificado.
# - Una sesión con `ssl = false` es la alarma de la monitorización; lo que la evita es pg_hba.conf.
# - El DN del emisor más el número de serie identifican de forma única un certificado de cliente: es lo que registra una pista de auditoría.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
