# %% [markdown]
# # 31 · What crosses the wire: the same query with and without TLS
#
# The guide ends its post-implementation checks with a packet capture: a client without TLS reads a table
# holding a password-like value, `tcpdump -A` prints the query and the value in clear text, and the same
# exercise over TLS shows only noise. This lesson repeats it on a real server and turns "we looked at the
# dump" into assertions:
#
# - with `sslmode=disable` the query text, the column names and the row value `Passw0rd` are on the wire;
# - with `sslmode=prefer` (the guide's choice) and `sslmode=require` none of them is;
# - in both cases the *role's* password never crosses the wire — SCRAM proves knowledge of it without
#   sending it — which is exactly why "the login is safe" is not the same as "the data is safe".
#
# Capturing needs no root here: a small relay on 127.0.0.1 forwards the connection and keeps a copy of every
# byte (the same bytes tcpdump sees in the TCP payloads). Where tcpdump may run, the guide's own capture
# is repeated as a cross-check.
#
# `Passw0rd` is demo data stored in a temporary table, as in the guide — not a secret of the lab. The
# role's real password is generated, passed to the client, and never printed.
#
# Guide coverage: *Fase #3 Post-Implementación*, item 4 (capture the traffic to check it is encrypted).
#
# ```mermaid
# flowchart LR
#   C[client<br/>psql / psycopg] -->|127.0.0.1:relay| R[RecordingRelay<br/>copies every byte]
#   R -->|127.0.0.1:lab port| S[(PostgreSQL)]
#   T[tcpdump -i lo, as root] -. same bytes .- S
# ```

# %% [markdown] lang="es" en="fe6eb7be"
# # 31 · Lo que viaja por la red: la misma consulta con TLS y sin TLS
#
# La guía cierra sus comprobaciones posteriores a la implantación con una captura de tráfico: un cliente sin TLS
# lee una tabla que guarda un valor con aspecto de contraseña, `tcpdump -A` imprime la consulta y el valor en
# texto plano, y el mismo ejercicio sobre TLS solo muestra ruido. Esta lección lo repite sobre un servidor real y
# convierte el "hemos mirado el volcado" en aserciones:
#
# - con `sslmode=disable`, el texto de la consulta, los nombres de las columnas y el valor de la fila `Passw0rd`
#   viajan por la red;
# - con `sslmode=prefer` (la elección de la guía) y con `sslmode=require`, ninguno de ellos;
# - en ambos casos, la contraseña del *rol* nunca viaja por la red (SCRAM demuestra que se conoce sin enviarla), y
#   precisamente por eso "el inicio de sesión es seguro" no equivale a "los datos están seguros".
#
# Aquí la captura de tráfico no necesita root: un pequeño retransmisor (relay) en 127.0.0.1 reenvía la conexión y
# guarda una copia de cada byte (los mismos bytes que tcpdump ve en las cargas útiles TCP). Donde tcpdump puede
# ejecutarse, se repite además la captura de la propia guía como verificación cruzada.
#
# `Passw0rd` es un dato de demostración guardado en una tabla temporal, como en la guía, no un secreto del
# laboratorio. La contraseña real del rol se genera, se pasa al cliente y nunca se imprime.
#
# Cobertura de la guía: *Fase #3 Post-Implementación*, punto 4 (capturar el tráfico para comprobar que va cifrado).
#
# ```mermaid
# flowchart LR
#   C[cliente<br/>psql / psycopg] -->|127.0.0.1:retransmisor| R[RecordingRelay<br/>copia cada byte]
#   R -->|127.0.0.1:puerto del laboratorio| S[(PostgreSQL)]
#   T[tcpdump -i lo, como root] -. mismos bytes .- S
# ```

# %% [markdown]
# ## Objectives · time
#
# - Watch the same query cross the wire with and without TLS
# - Cross-check with tcpdump the guide's way
# - Say what TLS hides and what it does not
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (790 words of prose at 150 words a minute) and running ≈ 6 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="6546cdd3"
# ## Objetivos · tiempo
#
# - Observar cómo viaja por la red la misma consulta con TLS y sin TLS
# - Verificarlo con tcpdump, como hace la guía
# - Explicar lo que TLS oculta y lo que no
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (790 palabras de texto a 150 palabras por minuto) y ejecución ≈ 6 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
use_tcpdump = True  # also capture the guide's way when tcpdump can run here (root or CAP_NET_RAW)

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_bool("use_tcpdump", use_tcpdump)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)  # show whole log lines and psql commands

# %% [markdown]
# ## 1 · The setup: TLS available but not enforced, and the guide's role `sinssl`
#
# The server presents the lab certificate, and the default `pg_hba.conf` line (`host … scram-sha-256`)
# accepts clients with and without TLS — the situation the guide captures. The role `sinssl` gets a
# generated password.

# %% [markdown] lang="es" en="d75d92a6"
# ## 1 · La preparación: TLS disponible pero no obligatorio, y el rol `sinssl` de la guía
#
# El servidor presenta el certificado del laboratorio, y la línea por omisión de `pg_hba.conf`
# (`host … scram-sha-256`) acepta clientes con TLS y sin TLS: la situación que captura la guía. El rol `sinssl`
# recibe una contraseña generada.

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki))
assert applied.ok, applied.reason
lesson.ensure_role("sinssl")
secret_password = lesson.password("sinssl")  # passed to the client, never printed
pd.DataFrame({"pg_hba.conf lesson rules": lab.state.hba_rules or list(lk.server.DEFAULT_HBA_RULES)})

# %% [markdown]
# ## 2 · The same session three times, through the recording relay
#
# For each `sslmode` we open a session as `sinssl` through the relay, create the guide's temporary table
# `clientes(numcli, password)` and insert `12345, 'Passw0rd'`. As in the guide, the "capture" of the query
# starts only then: the relay's query-phase record begins right before
# `select * from clientes; /*ESTE ES UN COMENTARIO*/`. The whole-connection record (login included) is
# kept too, to look for the role's password and name.

# %% [markdown] lang="es" en="a39e412a"
# ## 2 · La misma sesión tres veces, a través del retransmisor que graba
#
# Para cada `sslmode` abrimos una sesión como `sinssl` a través del retransmisor, creamos la tabla temporal de la
# guía `clientes(numcli, password)` e insertamos `12345, 'Passw0rd'`. Como en la guía, la "captura" de la consulta
# empieza solo en ese momento: el registro de la fase de consulta del retransmisor comienza justo antes de
# `select * from clientes; /*ESTE ES UN COMENTARIO*/`. También se conserva el registro de la conexión completa
# (inicio de sesión incluido), para buscar en él la contraseña y el nombre del rol.

# %%
MODES = ("disable", "prefer", "require")
runs = {mode: lk.capture.relayed_session(lab, mode, user="sinssl", password=secret_password) for mode in MODES}
assert all(run["rows"] == [(12345, "Passw0rd")] for run in runs.values())

# %% [markdown]
# The command a reader would type for each run (pointed at the server itself; the relay only sits in
# between):

# %% [markdown] lang="es" en="413eb82d"
# El comando que un lector escribiría para cada ejecución (dirigido al propio servidor; el retransmisor solo se
# interpone):

# %% tags=["nbval-ignore-output"]
pd.DataFrame([{"sslmode": m, "psql": lk.attempt(lab, label=m, sslmode=m, user="sinssl",
                                                    password=secret_password).psql} for m in MODES])

# %% [markdown]
# ### What the query looked like on the wire without TLS
#
# The record of the query phase, one row per read, printed the way `tcpdump -A` prints a payload
# (printable ASCII kept, everything else a dot). `Q` is PostgreSQL's simple-query message, `T` the row
# description with the column names, `D` the data row, `C` the command tag:

# %% [markdown] lang="es" en="46c005a5"
# ### Cómo se veía la consulta en la red sin TLS
#
# El registro de la fase de consulta, una fila por lectura, impreso como `tcpdump -A` imprime una carga útil (se
# conservan los caracteres ASCII imprimibles; todo lo demás es un punto). `Q` es el mensaje de consulta simple de
# PostgreSQL, `T` la descripción de fila con los nombres de las columnas, `D` la fila de datos y `C` la etiqueta
# del comando:

# %% tags=["nbval-ignore-output"]
runs["disable"]["frame"]

# %% [markdown]
# ### …and with TLS (`sslmode=prefer`, the guide's run)
#
# The same two messages, now TLS application-data records (`0x17 0x03 0x03` then a length): sizes are
# visible, contents are not.

# %% [markdown] lang="es" en="2f0f94b8"
# ### …y con TLS (`sslmode=prefer`, la ejecución de la guía)
#
# Los mismos dos mensajes, ahora como registros TLS de datos de aplicación (`0x17 0x03 0x03` seguido de una
# longitud): los tamaños se ven, el contenido no.

# %% tags=["nbval-ignore-output"]
runs["prefer"]["frame"]

# %% [markdown]
# ## 3 · The verdict
#
# We search each whole-connection record for four things: the query text, the demo value `Passw0rd`, the
# role name (it travels in the startup packet), and the role's real password.

# %% [markdown] lang="es" en="c44374eb"
# ## 3 · El veredicto
#
# Buscamos cuatro cosas en cada registro de la conexión completa: el texto de la consulta, el valor de
# demostración `Passw0rd`, el nombre del rol (viaja en el paquete de inicio) y la contraseña real del rol.

# %% tags=["key-result"]
verdict = lk.capture.wire_verdict(runs, {
    "query text visible": "select * from clientes", "'Passw0rd' visible": "Passw0rd",
    "role name visible": "sinssl", "SCRAM mechanism visible": "SCRAM-SHA-256",
    "role password visible": secret_password})
verdict["data protected"] = ~verdict["'Passw0rd' visible"] & ~verdict["query text visible"]
lk.tables.verdict(verdict, "data protected", columns=verdict.columns, uuid="verdict31")

# %%
plain, prefer, require = (verdict.set_index("sslmode").loc[m] for m in MODES)
assert not plain["TLS in use"] and plain["query text visible"] and plain["'Passw0rd' visible"]
assert plain["role name visible"] and plain["SCRAM mechanism visible"]
for tls_run in (prefer, require):
    assert tls_run["TLS in use"] and tls_run["data protected"] and not tls_run["role name visible"]
assert not verdict["role password visible"].any()  # SCRAM: never on the wire, with or without TLS

# %% [markdown]
# What this means:
#
# - **Without TLS everything but the password is exposed**: the SQL, the result, who logged in and to
#   which database. SCRAM-SHA-256 kept the role's password off the wire (the client sends a nonce and a
#   proof), so the login itself resisted the eavesdropper — but the very next query handed over the data.
#   (A role still using `password` authentication would send the password in clear, too.)
# - **With TLS the relay saw only the 8-byte SSLRequest and the server's one-byte `S` in clear**, then TLS
#   records. The startup packet with the role name is already inside TLS.
# - `prefer` and `require` look identical on the wire *when the server offers TLS*. The difference appears
#   when it does not: `prefer` silently falls back to plaintext, `require` refuses — see lesson 23 on
#   sslmodes. Neither checks *whom* it talks to; that takes `verify-full`.

# %% [markdown] lang="es" en="d518eb2f"
# Lo que esto significa:
#
# - **Sin TLS queda expuesto todo salvo la contraseña**: el SQL, el resultado, quién inició sesión y en qué base
#   de datos. SCRAM-SHA-256 mantuvo la contraseña del rol fuera de la red (el cliente envía un nonce y una
#   prueba), así que el inicio de sesión en sí resistió al espía; pero la consulta siguiente le entregó los datos.
#   (Un rol que todavía use la autenticación `password` enviaría además la contraseña sin cifrar.)
# - **Con TLS, el retransmisor solo vio en claro el SSLRequest de 8 bytes y la `S` de un byte del servidor**, y
#   después registros TLS. El paquete de inicio con el nombre del rol ya va dentro de TLS.
# - `prefer` y `require` se ven idénticos en la red *cuando el servidor ofrece TLS*. La diferencia aparece cuando
#   no lo ofrece: `prefer` recurre en silencio al texto plano y `require` rechaza la conexión (véase la lección 23
#   sobre los sslmode). Ninguno de los dos comprueba *con quién* habla; para eso hace falta `verify-full`.

# %%
handshake = [c for c in runs["require"]["chunks"] if c.connection == 1][:2]
assert handshake[0].data == lk.handshake.SSL_REQUEST
assert handshake[1].data[:1] == b"S"
pd.DataFrame([{"direction": c.direction, "bytes": len(c.data), "as ASCII (tcpdump -A)": lk.capture.printable(c.data)}
              for c in handshake])

# %% [markdown]
# ## 4 · Cross-check with tcpdump, the guide's way
#
# The guide runs `sudo tcpdump -i any -s 0 -A 'host 127.0.0.1 && tcp port 5416'` and reads the dump. Here
# tcpdump captures on `lo` for the lab's port while the plaintext and the TLS query run directly against the
# server, then `tcpdump -A -r` prints what the guide would have seen, filtered like `| grep -i passw0rd`.
# This needs root or `CAP_NET_RAW`; when it cannot run, the cell says so and the relay's verdict above
# stands on its own (the relay records the same TCP payloads).

# %% [markdown] lang="es" en="46fa91c9"
# ## 4 · Verificación cruzada con tcpdump, como hace la guía
#
# La guía ejecuta `sudo tcpdump -i any -s 0 -A 'host 127.0.0.1 && tcp port 5416'` y lee el volcado. Aquí, tcpdump
# captura en `lo` el puerto del laboratorio mientras la consulta en texto plano y la consulta con TLS se ejecutan
# directamente contra el servidor; después `tcpdump -A -r` imprime lo que habría visto la guía, filtrado como con
# `| grep -i passw0rd`. Hace falta root o `CAP_NET_RAW`; cuando no puede ejecutarse, la celda lo indica y el
# veredicto del retransmisor de más arriba se sostiene por sí solo (el retransmisor graba las mismas cargas útiles TCP).

# %% tags=["nbval-ignore-output"]
can_dump, why = lk.capture.tcpdump_available()
dumps = [lk.capture.tcpdump_session(lab, mode, user="sinssl", password=secret_password)
         for mode in ("disable", "prefer")] if use_tcpdump and can_dump else []
for line in (dumps[0]["lines"] if dumps else []):
    print("tcpdump -A | grep -i passw0rd (sslmode=disable):", line)
tcpdump_verdict = pd.DataFrame(dumps).drop(columns=["lines"], errors="ignore")
print(f"tcpdump ran ({why})" if dumps else f"tcpdump not used: {why if not can_dump else 'use_tcpdump=False'}")
tcpdump_verdict

# %%
if dumps:  # the guide's way agrees with the relay's
    by_mode = tcpdump_verdict.set_index("sslmode")
    assert by_mode.loc["disable", "'Passw0rd' in pcap"] and not by_mode.loc["prefer", "'Passw0rd' in pcap"]
    assert not tcpdump_verdict["role password in pcap"].any()

# %% [markdown]
# Under Docker the server sits behind a port published on 127.0.0.1; the client's traffic to that port
# still crosses the loopback interface, so the same capture works on both backends.

# %% [markdown] lang="es" en="62be5f5e"
# Con Docker, el servidor está detrás de un puerto publicado en 127.0.0.1; el tráfico del cliente hacia ese puerto
# sigue pasando por la interfaz de loopback, así que la misma captura funciona con ambos backends.

# %% [markdown]
# ## Key points
#
# - Without TLS the query text and results are readable on the wire; with TLS they are not.
# - `sslmode=prefer` encrypted here only because the server offered TLS; the server's pg_hba.conf must enforce it.
# - A packet capture is direct evidence; a setting's name is not.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="cb2d65bf"
# ## Puntos clave
#
# - Sin TLS, el texto de las consultas y los resultados se pueden leer en la red; con TLS, no.
# - Aquí `sslmode=prefer` cifró solo porque el servidor ofrecía TLS; es el pg_hba.conf del servidor el que debe imponerlo.
# - Una captura de tráfico es una prueba directa; el nombre de un parámetro no lo es.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
