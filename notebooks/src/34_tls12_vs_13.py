# %% [markdown]
# # 34 · TLS 1.2 vs TLS 1.3, and clients that are too old
#
# **What we show.** What a client gets from the hardened server when it speaks TLS 1.2 and when it speaks
# TLS 1.3 (version, suite, key bits); what an old client limited to TLS 1.1 sees against
# `ssl_min_protocol_version = 'TLSv1.2'`, on both ends of the connection; why a modern libpq cannot even play
# that old client (and how a raw probe can); what to tell application teams; which suites and groups the
# server accepts per version; and the handshake cost of each version -- round trips counted on the wire,
# including the HelloRetryRequest that the guide's parameter 8 (`ssl_ecdh_curve`) causes.
#
# **Why it matters.** Raising the floor to TLS 1.2 is the change that breaks old applications. The DBA has to
# recognise the failure from either side (the application's error, the server's log line) and tell the team
# what to upgrade, not just "update your TLS".
#
# **Guide coverage.** Fase #3, #1 ("Consideraciones entornos productivos": TLS 1.2 vs 1.3 suites, what the
# development area should do); Fase #2 paso 3 (`ssl_min_protocol_version = 'TLSv1.2'`); Fase #1 tables of
# TLS versions per OpenSSL/PostgreSQL release.

# %% [markdown] lang="es" en="3254893a"
# # 34 · TLS 1.2 frente a TLS 1.3, y los clientes demasiado antiguos
#
# **Qué mostramos.** Qué obtiene un cliente del servidor endurecido cuando habla TLS 1.2 y cuando habla
# TLS 1.3 (versión, suite, bits de clave); qué ve un cliente antiguo limitado a TLS 1.1 frente a
# `ssl_min_protocol_version = 'TLSv1.2'`, en los dos extremos de la conexión; por qué un libpq moderno ni
# siquiera puede hacer el papel de ese cliente antiguo (y cómo puede hacerlo una sonda en bruto); qué decir
# a los equipos de aplicación; qué suites y grupos acepta el servidor en cada versión; y el coste de la
# negociación TLS en cada versión: idas y vueltas contadas en la red, incluida la HelloRetryRequest que
# provoca el parámetro 8 de la guía (`ssl_ecdh_curve`).
#
# **Por qué importa.** Subir el protocolo mínimo a TLS 1.2 es el cambio que rompe las aplicaciones antiguas.
# El DBA tiene que reconocer el fallo desde cualquiera de los dos lados (el error de la aplicación, la línea
# del log del servidor) y decirle al equipo qué debe actualizar, no un simple "actualicen su TLS".
#
# **Cobertura de la guía.** Fase #3, #1 ("Consideraciones entornos productivos": suites de TLS 1.2 frente a
# 1.3, qué debe hacer el área de desarrollo); Fase #2 paso 3 (`ssl_min_protocol_version = 'TLSv1.2'`);
# tablas de la Fase #1 con las versiones de TLS de cada versión de OpenSSL/PostgreSQL.

# %% [markdown]
# ## Objectives · time
#
# - Compare what TLS 1.2 and TLS 1.3 negotiate
# - Decide what to do with clients too old for the floor
# - Read the handshake cost per version on this machine
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (859 words of prose at 150 words a minute) and running ≈ 6 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="5f22b270"
# ## Objetivos · tiempo
#
# - Comparar lo que negocian TLS 1.2 y TLS 1.3
# - Decidir qué hacer con los clientes demasiado antiguos para el protocolo mínimo
# - Leer el coste de la negociación TLS de cada versión en esta máquina
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (859 palabras de texto a 150 palabras por minuto) y ejecución ≈ 6 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) dan los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
old_client_version = "TLSv1.1"  # the old client's highest version: TLSv1 | TLSv1.1
timing_repeats = 15  # handshakes per version for the timing plot

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("old_client_version", old_client_version, ("TLSv1", "TLSv1.1"))
lk.check_int("timing_repeats", timing_repeats, 1, 100)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
# PostgreSQL 18 replaced the one-group `ssl_ecdh_curve` with the list `ssl_groups` (default X25519:prime256v1)
groups_setting = "ssl_groups" if int(lab.show("server_version_num")) >= 180000 else "ssl_ecdh_curve"

# %% [markdown]
# ## 1. What each version negotiates
#
# The server gets the guide's layers 1, 2 and 4: TLS 1.2-1.3 and the "critical" cipher list. Two `verify-full`
# clients pin one version each (`ssl_min_protocol_version` = `ssl_max_protocol_version`).

# %% [markdown] lang="es" en="6d93bc70"
# ## 1. Lo que negocia cada versión
#
# El servidor recibe las capas 1, 2 y 4 de la guía: TLS 1.2-1.3 y la lista de cifrados "crítica". Dos
# clientes `verify-full` fijan una versión cada uno (`ssl_min_protocol_version` = `ssl_max_protocol_version`).

# %% tags=["key-result"]
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"),
                lk.layers.layer_ciphers()).ok
per_version = [lk.attempt(lab, label=f"client pinned to {v}", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                         ssl_min_protocol_version=v, ssl_max_protocol_version=v) for v in ("TLSv1.2", "TLSv1.3")]
lk.tables.verdicts(per_version, ["label", "connected", "tls_version", "cipher", "bits", "psql"], uuid="l34_ver")

# %%
assert [a.tls_version for a in per_version] == ["TLSv1.2", "TLSv1.3"]
assert per_version[1].cipher == "TLS_AES_256_GCM_SHA384"
assert per_version[0].cipher.startswith("ECDHE-") and "GCM" in per_version[0].cipher

# %% [markdown]
# Both get a 256-bit AEAD suite with an ephemeral key exchange. The difference is what *else* each version
# could end up with. We ask the server (sslyze through `lk.enumeration`, which offers every suite and group it
# knows and notes what the server picks):

# %% [markdown] lang="es" en="4ef4164d"
# Ambos obtienen una suite AEAD de 256 bits con intercambio de claves efímero. La diferencia está en qué
# *más* podría acabar negociando cada versión. Se lo preguntamos al servidor (sslyze a través de
# `lk.enumeration`, que ofrece todas las suites y grupos que conoce y anota cuáles elige el servidor):

# %% tags=["erratum-tls13-suites"]
accepted = lk.enumeration.enumerate_lab(lab)
per_version_sets = pd.DataFrame([
    {"version": v, "accepted": ok, "suites": len(accepted.suites.get(v, [])),
     "which": " ".join(accepted.suites.get(v, []))} for v, ok in accepted.versions.items()])
lk.tables.verdict(per_version_sets, "accepted", uuid="l34_sets")

# %% tags=["erratum-groups"]
print(f"groups the server accepts: {' '.join(accepted.groups)}  ({groups_setting} = {lab.show(groups_setting)})")
print(f"seen with {accepted.seen_with}")

# %%
assert sorted(accepted.suites["TLSv1.3"]) == ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                              "TLS_CHACHA20_POLY1305_SHA256"]
assert not accepted.versions["TLSv1"] and not accepted.versions["TLSv1.1"]
assert accepted.groups == (["prime256v1"] if groups_setting == "ssl_ecdh_curve" else ["X25519", "prime256v1"])

# %% [markdown]
# TLS 1.2 negotiates from whatever `ssl_ciphers` allows (lesson 13 enumerates it per key type and server
# OpenSSL). TLS 1.3 has **3** suites here, all AEAD with forward secrecy: RFC 8446 defines five, but OpenSSL
# leaves the two CCM ones off by default, and PostgreSQL 16 has no setting to change that (`ssl_ciphers`
# does not touch them). And the server accepts **one** key-exchange group, `prime256v1` — section 4 shows
# what that costs.

# %% [markdown] lang="es" en="ad2fad9f"
# TLS 1.2 negocia entre lo que permita `ssl_ciphers` (la lección 13 lo enumera por tipo de clave y por
# OpenSSL del servidor). TLS 1.3 tiene aquí **3** suites, todas AEAD con secreto perfecto hacia adelante: la
# RFC 8446 define cinco, pero OpenSSL deja desactivadas por defecto las dos CCM, y PostgreSQL 16 no tiene
# ningún parámetro para cambiarlo (`ssl_ciphers` no las afecta). Además, el servidor acepta **un solo**
# grupo de intercambio de claves, `prime256v1`; la sección 4 muestra lo que eso cuesta.

# %% [markdown]
# ## 2. An old client against the TLS 1.2 floor
#
# First with libpq (psycopg's libpq 18, OpenSSL 3.5), capped at `old_client_version`. Note that libpq's own
# default `ssl_min_protocol_version` is `TLSv1.2`, so lowering only the maximum is already an error on the
# client; a real old-client imitation must lower both.

# %% [markdown] lang="es" en="ca78d733"
# ## 2. Un cliente antiguo frente al mínimo de TLS 1.2
#
# Primero con libpq (el libpq 18 de psycopg, OpenSSL 3.5), limitado a `old_client_version`. Tenga en cuenta
# que el `ssl_min_protocol_version` por defecto del propio libpq es `TLSv1.2`, así que bajar solo el máximo
# ya es un error en el cliente; para imitar de verdad a un cliente antiguo hay que bajar los dos.

# %%
cap_only = lk.attempt(lab, label=f"libpq, max={old_client_version} only", sslmode="require",
                     ssl_max_protocol_version=old_client_version)
old_libpq = lk.attempt(lab, label=f"libpq, TLSv1 .. {old_client_version}", sslmode="require",
                      ssl_min_protocol_version="TLSv1", ssl_max_protocol_version=old_client_version)
frame = lk.tables.attempts_frame([cap_only, old_libpq])[["label", "connected", "error_key", "error_text", "psql"]]
frame["error_text"] = frame["error_text"].str.replace(r'^connection to server at "[^"]*", port \d+ failed: ', "",
                                                      regex=True)
lk.tables.attempts(frame).set_uuid("l34_old")

# %% [markdown]
# libpq refuses before sending anything useful: *no protocols available*. OpenSSL 3 at its default security
# level 1 does not offer TLS 1.0/1.1 at all (they need SHA-1 signatures, which that level forbids), so a modern
# client simply cannot behave like a ten-year-old one. The server log shows only that the client went away:

# %% [markdown] lang="es" en="b6287b07"
# libpq se niega antes de enviar nada útil: *no protocols available*. OpenSSL 3, con su nivel de seguridad
# por defecto 1, no ofrece TLS 1.0/1.1 en absoluto (necesitan firmas SHA-1, que ese nivel prohíbe), así que
# un cliente moderno sencillamente no puede comportarse como uno de hace diez años. El log del servidor solo
# muestra que el cliente se ha ido:

# %% tags=["nbval-ignore-output"]
print(old_libpq.server_log)

# %% [markdown]
# To see what a *real* old client gets, the raw probe offers exactly `old_client_version` with OpenSSL's
# security level 0. Now the server answers with a `protocol version` alert and logs the reason, with a hint
# naming its allowed range:

# %% [markdown] lang="es" en="f374d432"
# Para ver lo que recibe un cliente antiguo *de verdad*, la sonda en bruto ofrece exactamente
# `old_client_version` con el nivel de seguridad 0 de OpenSSL. Ahora el servidor responde con una alerta
# `protocol version` y registra el motivo, con una pista que indica el rango que admite:

# %%
old_probe = lk.handshake.probe_with_log(lab, old_client_version, label=f"raw probe, {old_client_version} only, SECLEVEL=0")
pd.DataFrame([old_probe])[["label", "result", "client_error", "server_log"]]

# %%
assert not cap_only.connected and cap_only.error_key == "protocol_range_invalid"
assert not old_libpq.connected and "no protocols available" in old_libpq.error_text
assert old_libpq.error_key == "protocol_mismatch"
assert old_probe["result"] == "refused" and old_probe["client_error"] == "tlsv1 alert protocol version"
assert "unsupported protocol" in old_probe["server_log"] and "between TLSv1.2 and TLSv1.3" in old_probe["server_log"]

# %% [markdown]
# **What each side sees**, to recognise the failure from an application ticket or from the server log:
#
# | side | message | meaning |
# |---|---|---|
# | old client (OpenSSL 1.x app) | `tlsv1 alert protocol version` | the server refused every version the client offered |
# | modern client capped low | `SSL error: no protocols available` | the client's own OpenSSL refused to offer them |
# | server log | `could not accept SSL connection: unsupported protocol` + `This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.` | a client tried a version below `ssl_min_protocol_version` |

# %% [markdown] lang="es" en="5d5ef20c"
# **Lo que ve cada lado**, para reconocer el fallo a partir de una incidencia de la aplicación o del log del servidor:
#
# | lado | mensaje | significado |
# |---|---|---|
# | cliente antiguo (aplicación con OpenSSL 1.x) | `tlsv1 alert protocol version` | el servidor rechazó todas las versiones que ofreció el cliente |
# | cliente moderno limitado a una versión baja | `SSL error: no protocols available` | el propio OpenSSL del cliente se negó a ofrecerlas |
# | log del servidor | `could not accept SSL connection: unsupported protocol` + `This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.` | un cliente intentó una versión inferior a `ssl_min_protocol_version` |

# %% [markdown]
# ## 3. What to tell application teams
#
# Upgrade the piece that does the TLS handshake, which is often not the application itself:
#
# | client stack | does the TLS handshake | TLS 1.2 from | TLS 1.3 from | what to ask for |
# |---|---|---|---|---|
# | psql, libpq-based drivers (psycopg, node-pg native, Ruby pg, PHP pgsql) | libpq + the system OpenSSL | OpenSSL 1.0.1 | OpenSSL 1.1.1 | OpenSSL ≥ 1.1.1 on the app host; libpq ≥ 13 for `ssl_min_protocol_version` |
# | JDBC (pgJDBC) | the JVM's JSSE | Java 8 (default on) | Java 11, 8u261+ | a current JRE; check `jdk.tls.disabledAlgorithms` |
# | .NET (Npgsql) | the OS (SChannel / OpenSSL) | .NET Framework 4.6+ or OS defaults | Windows Server 2022 / recent Linux OpenSSL | current .NET and OS patches |
# | Go (pgx, lib/pq) | Go's crypto/tls | always | Go 1.12+ | a current Go toolchain, rebuild |
# | pure-Python or Node drivers (pg8000, node-postgres JS) | the language's ssl module | runtime linked to OpenSSL 1.0.1+ | runtime with OpenSSL 1.1.1+ | a current runtime |
#
# After the upgrade the team should connect once with `sslmode=verify-full` and read `SELECT version, cipher
# FROM pg_stat_ssl WHERE pid = pg_backend_pid();` to confirm TLS 1.2 or 1.3 with an AEAD suite.

# %% [markdown] lang="es" en="71e3f0b7"
# ## 3. Qué decir a los equipos de aplicación
#
# Hay que actualizar la pieza que hace la negociación TLS, que a menudo no es la aplicación en sí:
#
# | pila del cliente | quién hace la negociación TLS | TLS 1.2 desde | TLS 1.3 desde | qué pedir |
# |---|---|---|---|---|
# | psql, controladores basados en libpq (psycopg, node-pg nativo, Ruby pg, PHP pgsql) | libpq + el OpenSSL del sistema | OpenSSL 1.0.1 | OpenSSL 1.1.1 | OpenSSL ≥ 1.1.1 en el host de la aplicación; libpq ≥ 13 para `ssl_min_protocol_version` |
# | JDBC (pgJDBC) | JSSE de la JVM | Java 8 (activado por defecto) | Java 11, 8u261+ | un JRE actual; revisar `jdk.tls.disabledAlgorithms` |
# | .NET (Npgsql) | el sistema operativo (SChannel / OpenSSL) | .NET Framework 4.6+ o valores por defecto del SO | Windows Server 2022 / OpenSSL de un Linux reciente | .NET y parches del SO al día |
# | Go (pgx, lib/pq) | crypto/tls de Go | siempre | Go 1.12+ | una cadena de herramientas de Go actual, y recompilar |
# | controladores puros de Python o Node (pg8000, node-postgres JS) | el módulo ssl del lenguaje | entorno enlazado con OpenSSL 1.0.1+ | entorno con OpenSSL 1.1.1+ | un entorno de ejecución actual |
#
# Tras la actualización, el equipo debería conectar una vez con `sslmode=verify-full` y leer `SELECT version,
# cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid();` para confirmar TLS 1.2 o 1.3 con una suite AEAD.

# %% [markdown]
# ## 4. Round trips per version, and the HelloRetryRequest
#
# A TLS 1.3 handshake is one round trip *if* the client's first ClientHello already carries a key share for
# a group the server accepts. Python's OpenSSL (like libpq's, psql's and node's) sends one share, for
# `X25519`; the server accepts only `prime256v1` (section 1). So the server answers with a
# **HelloRetryRequest** ("send me a P-256 share"), and the client has to start again. `lk.handshake` runs
# the handshake through memory buffers, so it counts each time the client must wait for the server and reads
# the clear-text ServerHello (a HelloRetryRequest has a fixed random, RFC 8446 §4.1.3):

# %% [markdown] lang="es" en="231de72c"
# ## 4. Idas y vueltas por versión, y la HelloRetryRequest
#
# Una negociación TLS 1.3 cuesta una ida y vuelta *si* el primer ClientHello del cliente ya lleva una
# participación de clave (key share) para un grupo que el servidor acepta. El OpenSSL de Python (como el de
# libpq, psql y node) envía una sola, para `X25519`; el servidor solo acepta `prime256v1` (sección 1). Así
# que el servidor responde con una **HelloRetryRequest** ("envíeme una participación P-256") y el cliente
# tiene que empezar de nuevo. `lk.handshake` ejecuta la negociación sobre búferes en memoria, de modo que
# cuenta cada vez que el cliente tiene que esperar al servidor y lee el ServerHello en claro (una
# HelloRetryRequest lleva un valor aleatorio fijo, RFC 8446 §4.1.3):

# %% tags=["erratum-hello-retry"]
traces = lk.handshake.trace_table(lab)
traces.drop(columns="ms")

# %%
tls12, tls13 = traces.to_dict("records")
assert (tls12["round trips"], tls12["HelloRetryRequest"]) == (2, False)
if groups_setting == "ssl_ecdh_curve":  # 17 and earlier: one group, not the client's
    assert (tls13["client key shares"], tls13["round trips"], tls13["HelloRetryRequest"]) == ("X25519", 2, True)
    assert tls13["group asked for by the retry"] == tls13["group used"] == "prime256v1"
else:  # 18: X25519 is in ssl_groups' default, the first share is taken
    assert (tls13["client key shares"], tls13["round trips"], tls13["HelloRetryRequest"]) == ("X25519", 1, False)

# %% [markdown]
# So on this server TLS 1.3 costs **2** round trips, like TLS 1.2: the one it is designed to save is spent on
# the retry. The obvious cure is to let the server accept X25519 — the guide's parameter 8. On PostgreSQL 16:

# %% [markdown] lang="es" en="85703cc1"
# Así que en este servidor TLS 1.3 cuesta **2** idas y vueltas, como TLS 1.2: la que está diseñado para
# ahorrar se gasta en el reintento. El remedio evidente es que el servidor acepte X25519, el parámetro 8 de
# la guía. En PostgreSQL 16:

# %% tags=["erratum-ecdh-curve"]
if groups_setting == "ssl_ecdh_curve":
    cure = lk.apply(lab, lk.layers.layer_ecdh_curve("X25519"))
    print(f"reload ok: {cure.ok}, rolled back: {cure.rolled_back}; ssl_ecdh_curve now: {lab.show('ssl_ecdh_curve')}")
    print("\n".join(line.split("LOG:  ", 1)[-1] for line in cure.problems))
else:
    print(f"PostgreSQL {lab.show('server_version')}: no ssl_ecdh_curve to change; ssl_groups = {lab.show('ssl_groups')}")

# %%
if groups_setting == "ssl_ecdh_curve":
    assert not cure.ok and cure.rolled_back and lab.show("ssl_ecdh_curve") == "prime256v1"
    assert any("ECDH: could not create key" in line for line in cure.problems)

# %% [markdown]
# PostgreSQL 16 (and every release before 18) builds `ssl_ecdh_curve` as an *EC key*, and X25519 is not
# one: the reload is refused and the server keeps `prime256v1`. PostgreSQL 18 replaced the setting with
# `ssl_groups`, a list whose default is `X25519:prime256v1`: run this lesson with `pg_version = 18` and the
# cells above measure it (the test suite does: one round trip, no retry); lesson 44 goes through 18's
# `ssl_groups` and `ssl_tls13_ciphers` value by value. Until then the cure is on the client's side — a client
# whose key share is the server's group.
# Measured with the probe offering a P-256 share:

# %% [markdown] lang="es" en="29785cfa"
# PostgreSQL 16 (y todas las versiones anteriores a la 18) construye `ssl_ecdh_curve` como una *clave EC*, y
# X25519 no lo es: la recarga se rechaza y el servidor conserva `prime256v1`. PostgreSQL 18 sustituyó el
# parámetro por `ssl_groups`, una lista cuyo valor por defecto es `X25519:prime256v1`: ejecute esta lección
# con `pg_version = 18` y las celdas anteriores lo miden (la batería de pruebas lo hace: una ida y vuelta,
# sin reintento); la lección 44 recorre `ssl_groups` y `ssl_tls13_ciphers` de la 18 valor por valor. Hasta entonces, el remedio está en el lado del cliente: un cliente cuya participación de
# clave sea del grupo del servidor. Medido con la sonda ofreciendo una participación P-256:

# %% tags=["erratum-hello-retry-cure"]
cured = lk.handshake.trace_table(lab, client_group="prime256v1")
cured.drop(columns="ms")

# %%
assert cured.to_dict("records")[1]["round trips"] == 1 and not cured.to_dict("records")[1]["HelloRetryRequest"]

# %% [markdown]
# ## 5. Handshake cost per version (this machine)
#
# The raw probe times complete handshakes (no login), interleaving the two versions, once with the default
# client (X25519 share: a retry on every TLS 1.3 handshake) and once with a P-256 share. On loopback a round
# trip costs little, so what remains is mostly CPU work; numbers vary between runs and machines, which is
# why the timing cells are not compared by the tests (the round-trip and retry columns are, below). The clock
# stops when the handshake completes: TLS 1.3 servers send session tickets right after it, and a client
# that waits for more (for instance for a reply to its close_notify) adds TCP's delayed-ACK pause, which is
# not TLS cost.

# %% [markdown] lang="es" en="e1ae84b0"
# ## 5. Coste de la negociación TLS por versión (en esta máquina)
#
# La sonda en bruto cronometra negociaciones completas (sin inicio de sesión), alternando las dos versiones,
# una vez con el cliente por defecto (participación X25519: un reintento en cada negociación TLS 1.3) y otra
# con una participación P-256. En loopback una ida y vuelta cuesta poco, así que lo que queda es sobre todo
# trabajo de CPU; las cifras varían entre ejecuciones y entre máquinas, por eso las pruebas no comparan las
# celdas de tiempos (sí comparan las columnas de idas y vueltas y de reintentos, más abajo). El reloj se
# detiene cuando termina la negociación: los servidores TLS 1.3 envían tickets de sesión justo después, y un
# cliente que espera algo más (por ejemplo, la respuesta a su close_notify) añade la pausa del ACK retardado
# de TCP, que no es un coste de TLS.

# %% tags=["nbval-ignore-output"]
times = lk.handshake.handshake_times(lab, ("TLSv1.2", "TLSv1.3"), repeats=timing_repeats)
times_cured = lk.handshake.handshake_times(lab, ("TLSv1.3",), repeats=timing_repeats, client_group="prime256v1")
timing = pd.concat([times.assign(client="X25519 share (default)"), times_cured.assign(client="P-256 share")],
                   ignore_index=True)
timing

# %% tags=["nbval-ignore-output"]
lk.tables.timing_plot(timing.assign(version=timing.version + " / " + timing.client),
                      f"TLS handshake on loopback, {timing_repeats} each")

# %%
counted = timing[["version", "client", "handshakes", "round_trips", "hello_retries"]]
assert counted.handshakes.tolist() == [timing_repeats] * 3
if groups_setting == "ssl_ecdh_curve":
    assert counted.round_trips.tolist() == [2, 2, 1]
    assert counted.hello_retries.tolist() == [0, timing_repeats, 0]
else:  # 18 takes the X25519 share: no retry for either client
    assert counted.round_trips.tolist() == [2, 1, 1] and counted.hello_retries.tolist() == [0, 0, 0]
counted

# %% [markdown]
# Over a real network each round trip is the network's latency: with the retry, TLS 1.3 here costs as many
# round trips as TLS 1.2, and the saving appears only when client and server agree on the first key share
# (PostgreSQL 18's default, or a client set to P-256). For applications that connect per request, connection
# pooling matters more than either.

# %% [markdown] lang="es" en="84314749"
# En una red real, cada ida y vuelta es la latencia de la red: con el reintento, TLS 1.3 cuesta aquí tantas
# idas y vueltas como TLS 1.2, y el ahorro solo aparece cuando cliente y servidor coinciden en la primera
# participación de clave (el valor por defecto de PostgreSQL 18, o un cliente configurado con P-256). Para
# las aplicaciones que conectan en cada petición, un pool de conexiones importa más que cualquiera de las dos
# versiones.

# %% [markdown]
# ## 6. One failure, two clients' words
#
# Application teams paste client errors into tickets, and the words depend on the client's OpenSSL, not on
# PostgreSQL. Two failures the guide quotes, each met by psycopg's libpq and by Debian's `psql` 15 against the
# same server state:

# %% [markdown] lang="es" en="8a8aa7c1"
# ## 6. Un mismo fallo, con las palabras de dos clientes
#
# Los equipos de aplicación pegan los errores del cliente en las incidencias, y el texto depende del OpenSSL
# del cliente, no de PostgreSQL. Dos fallos que cita la guía, cada uno provocado con el libpq de psycopg y con
# el `psql` 15 de Debian contra el mismo estado del servidor:

# %% tags=["erratum-error-wording", "nbval-ignore-output"]
wording = lk.scenarios.wording_by_client(lab, pki)
with pd.option_context("display.max_colwidth", None):
    display(wording)

# %%
assert not wording["connected"].any()
for row in wording.to_dict("records"):
    if row["case"] == "host name not in the certificate":  # libpq 15 and 18 alike
        assert '(and 1 other name) does not match host name "db.wrong-host.example"' in row["message"], row
    elif str(row["client's OpenSSL"]).startswith(("OpenSSL 3.0", "3.0")):
        assert row["message"] == "SSL error: sslv3 alert certificate revoked", row
    else:
        assert row["message"] == "SSL error: ssl/tls alert certificate revoked", row

# %% [markdown]
# * **"(and 1 other name)"** is not new in libpq 18: libpq 15 prints the same sentence. It appears because
#   the lab's server certificate carries two names (`localhost`, `127.0.0.1`); libpq names the first and
#   counts the rest.
# * **The revoked-certificate alert** reads `sslv3 alert certificate revoked` from a client on OpenSSL 3.0
#   (psql 15 here, like the guide) and `ssl/tls alert certificate revoked` from one on OpenSSL 3.5
#   (psycopg's libpq 18). The alert is the same; OpenSSL renamed its text after the 3.0 branch. Match on
#   `alert certificate revoked`, not on the prefix.

# %% [markdown] lang="es" en="5b677a53"
# * **"(and 1 other name)"** no es una novedad de libpq 18: libpq 15 imprime la misma frase. Aparece porque
#   el certificado del servidor del laboratorio lleva dos nombres (`localhost`, `127.0.0.1`); libpq cita el
#   primero y cuenta los demás.
# * **La alerta de certificado revocado** dice `sslv3 alert certificate revoked` en un cliente con OpenSSL
#   3.0 (aquí psql 15, como en la guía) y `ssl/tls alert certificate revoked` en uno con OpenSSL 3.5 (el
#   libpq 18 de psycopg). La alerta es la misma; OpenSSL cambió el texto después de la rama 3.0. Busque
#   `alert certificate revoked`, no el prefijo.

# %% [markdown]
# ## Key points
#
# - TLS 1.3 negotiates only AEAD suites with forward secrecy; TLS 1.2 depends on `ssl_ciphers`.
# - A client that cannot reach the floor fails in the handshake (`protocol_mismatch`): upgrade the client library, do not lower the floor.
# - TLS 1.3 saves a round trip per new connection; pooling matters more than the version.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="fafc5807"
# ## Puntos clave
#
# - TLS 1.3 solo negocia suites AEAD con secreto perfecto hacia adelante; TLS 1.2 depende de `ssl_ciphers`.
# - Un cliente que no alcanza el protocolo mínimo falla en la negociación TLS (`protocol_mismatch`): actualice la biblioteca del cliente, no baje el mínimo.
# - TLS 1.3 ahorra una ida y vuelta en cada conexión nueva; un pool de conexiones importa más que la versión.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
