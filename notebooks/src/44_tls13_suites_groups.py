# %% [markdown]
# # 44 · TLS 1.3 suites and key-exchange groups (PostgreSQL 18)
#
# **What we show.** `ssl_ciphers` does not touch TLS 1.3 (lesson 34), and up to PostgreSQL 17 the only TLS
# 1.3 knob is `ssl_ecdh_curve`: one key-exchange group. PostgreSQL 18 adds `ssl_tls13_ciphers` (which TLS
# 1.3 suites) and `ssl_groups` (a list of groups). We measure, setting by setting, which suites and groups
# the server then accepts (sslyze, by elimination), the suite a libpq session gets (`pg_stat_ssl`), and the
# HelloRetryRequest a client meets when its first key share is not one the server takes, counted on the
# wire. On this lesson's own server (`pg_version`, 16 by default) we measure what `ssl_ecdh_curve` can and
# cannot do, and what the server answers when it is given PostgreSQL 18's settings.
#
# **Why it matters.** A bank's policy may name one TLS 1.3 suite (e.g. AES-256-GCM only) or forbid a
# group; only 18 can enforce that on the server. Each choice has a price: a suite a client does not offer
# locks it out, a group it does not lead with costs a round trip on every connection.
#
# **Guide coverage.** The guide's parameter 8 (`ssl_ecdh_curve`) and Fase #3, #1 (TLS 1.2 vs 1.3 suites);
# lesson 34 measured the HelloRetryRequest that parameter causes. Beyond the guide — PostgreSQL 18 docs:
# *Server Configuration › SSL* `ssl_tls13_ciphers` and `ssl_groups` (and `ssl_ecdh_curve` before 18).

# %% [markdown] lang="es" en="795f8c65"
# # 44 · Suites de TLS 1.3 y grupos de intercambio de claves (PostgreSQL 18)
#
# **Qué mostramos.** `ssl_ciphers` no afecta a TLS 1.3 (lección 34), y hasta PostgreSQL 17 el único ajuste de
# TLS 1.3 es `ssl_ecdh_curve`: un solo grupo de intercambio de claves. PostgreSQL 18 añade `ssl_tls13_ciphers`
# (qué suites de cifrado de TLS 1.3) y `ssl_groups` (una lista de grupos). Medimos, ajuste por ajuste, qué
# suites y grupos acepta entonces el servidor (sslyze, por eliminación), qué suite obtiene una sesión de libpq
# (`pg_stat_ssl`) y el HelloRetryRequest que recibe un cliente cuando su primera clave compartida no es de un
# grupo que el servidor admita, contado en el cable. En el propio servidor de esta lección (`pg_version`, 16
# por defecto) medimos qué puede y qué no puede hacer `ssl_ecdh_curve`, y qué responde el servidor cuando se le
# dan los ajustes de PostgreSQL 18.
#
# **Por qué importa.** La política de un banco puede exigir una sola suite de TLS 1.3 (por ejemplo, solo
# AES-256-GCM) o prohibir un grupo; solo la 18 puede imponerlo en el servidor. Cada elección tiene un precio:
# una suite que un cliente no ofrece lo deja fuera, y un grupo con el que no abre cuesta una ida y vuelta en cada
# conexión.
#
# **Cobertura de la guía.** El parámetro 8 de la guía (`ssl_ecdh_curve`) y la Fase #3, #1 (suites de TLS 1.2
# frente a 1.3); la lección 34 midió el HelloRetryRequest que provoca ese parámetro. Más allá de la guía,
# documentación de PostgreSQL 18: *Server Configuration › SSL* `ssl_tls13_ciphers` y `ssl_groups` (y
# `ssl_ecdh_curve` antes de la 18).

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
only_suite = "TLS_AES_256_GCM_SHA384"  # the one TLS 1.3 suite a strict policy allows: any of RFC 8446's five
only_group = "prime256v1"  # the one group of the HelloRetryRequest row: prime256v1 | secp384r1 | X25519

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("only_suite", only_suite, lk.layers.TLS13_SUITES)
lk.check_choice("only_group", only_group, ("prime256v1", "secp384r1", "X25519"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
major = int(lab.show("server_version_num")) // 10000
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3")).ok
print(f"this lab: PostgreSQL {major}")

# %% [markdown]
# ## 1 · Before 18: one group, and no TLS 1.3 suite setting
#
# On this lesson's server, one row per value of `ssl_ecdh_curve` (on 18 the old name is still read, as
# `ssl_groups`), then PostgreSQL 18's `ssl_tls13_ciphers` written as it is. For each: did the reload take
# it (or which catalogue entry names the refusal), which suites and groups the server then accepts, and
# what Python's default client, whose first ClientHello carries one X25519 key share, meets.

# %% [markdown] lang="es" en="02ce240a"
# ## 1 · Antes de la 18: un solo grupo, y ningún ajuste de suites de TLS 1.3
#
# En el servidor de esta lección, una fila por cada valor de `ssl_ecdh_curve` (la 18 todavía lee el nombre
# antiguo, como `ssl_groups`), y después `ssl_tls13_ciphers` de PostgreSQL 18 escrito tal cual. Para cada uno: si
# la recarga lo aceptó (o qué entrada del catálogo de errores identifica el rechazo), qué suites y grupos acepta
# entonces el servidor y qué recibe el cliente por defecto de Python, cuyo primer ClientHello lleva una sola
# clave compartida X25519.

# %% tags=["erratum-ecdh-curve"]
before_18 = [lk.layers.layer_ecdh_curve(curve) for curve in ("prime256v1", "secp384r1", "X25519", "prime256v1:secp384r1")]
older = lk.scenarios.tls13_settings(lab, pki, [None, *before_18,
                                                lk.layers.layer_tls13(only_suite, unchecked=True)])
lk.tables.verdict(older, "reload", good="ok", columns=["setting", "reload", "outcome"], uuid="l44_older")

# %%
rows = {r["setting"]: r for r in older.to_dict("records")}
if major < 18:
    assert rows["ssl_ecdh_curve = secp384r1"]["groups accepted"] == "secp384r1"
    assert rows["ssl_ecdh_curve = secp384r1"]["HelloRetryRequest"] is True
    assert rows["ssl_ecdh_curve = X25519"]["outcome"] == rows["ssl_ecdh_curve = prime256v1:secp384r1"]["outcome"] \
        == "tls13_setting_invalid"
    assert rows[f"ssl_tls13_ciphers = {only_suite}"]["outcome"] == "setting_unknown"
    assert rows["(defaults)"]["suites accepted"].count("TLS_") == 3
else:  # 18 reads ssl_ecdh_curve as ssl_groups: a list, X25519 included
    assert rows["ssl_ecdh_curve = X25519"]["HelloRetryRequest"] is False
    assert rows["ssl_ecdh_curve = prime256v1:secp384r1"]["groups accepted"] == "prime256v1 secp384r1"
    assert rows[f"ssl_tls13_ciphers = {only_suite}"]["suites accepted"] == only_suite

# %% [markdown]
# Before 18, `ssl_ecdh_curve` is one EC curve: `secp384r1` works (at the cost of a HelloRetryRequest for a
# client that leads with X25519), `X25519` is refused at reload (`ECDH: could not create key`: the server
# builds the setting as an EC key, and X25519 is not one), and so is a list (`ECDH: unrecognized curve
# name: prime256v1:secp384r1`). Both leave the previous configuration in force. And `ssl_tls13_ciphers`
# does not exist: the server refuses the whole file (`unrecognized configuration parameter`), so the three
# default TLS 1.3 suites stay, and no server setting can remove one.
#
# labkit's validated path would not even write that line; it asks the server which parameters it has
# first:

# %% [markdown] lang="es" en="c7fb7abb"
# Antes de la 18, `ssl_ecdh_curve` es una sola curva EC: `secp384r1` funciona (a costa de un HelloRetryRequest
# para un cliente que abre con X25519), `X25519` se rechaza en la recarga (`ECDH: could not create key`: el
# servidor construye el ajuste como una clave EC, y X25519 no lo es), y una lista también (`ECDH: unrecognized
# curve name: prime256v1:secp384r1`). En ambos casos sigue en vigor la configuración anterior. Y
# `ssl_tls13_ciphers` no existe: el servidor rechaza el archivo entero (`unrecognized configuration parameter`),
# así que se mantienen las tres suites de TLS 1.3 por defecto, y ningún ajuste del servidor puede quitar una.
#
# La vía validada de labkit ni siquiera escribiría esa línea; antes pregunta al servidor qué parámetros tiene:

# %%
try:
    lk.apply(lab, lk.layers.layer_tls13(only_suite))
    validated = f"accepted: ssl_tls13_ciphers = {lab.show('ssl_tls13_ciphers')}"
    lk.revert(lab, "L4b")
except lk.InvalidValue as exc:
    validated = str(exc)
print(validated)
assert ("has no parameter 'ssl_tls13_ciphers'" in validated) == (major < 18)

# %% [markdown]
# ## 2 · PostgreSQL 18: `ssl_tls13_ciphers` and `ssl_groups`
#
# A second lab on 18 (this lab itself when `pg_version = 18`). The same measurements for each setting;
# `only_suite` and `only_group` are the lesson's knobs.

# %% [markdown] lang="es" en="c41508c3"
# ## 2 · PostgreSQL 18: `ssl_tls13_ciphers` y `ssl_groups`
#
# Un segundo laboratorio en 18 (el propio laboratorio de la lección cuando `pg_version = 18`). Las mismas
# mediciones para cada ajuste; `only_suite` y `only_group` son los parámetros de la lección.

# %%
second = lesson if major == 18 else lk.begin(backend="local", pg_version=18, key_type=key_type, lang=lang,
                                             server_lang=server_lang,
                                             workspace=None if workspace is None else f"{workspace}-pg18")
lab18, pki18 = second.lab, second.pki
if second is not lesson:
    assert lk.apply(lab18, lk.layers.layer_ssl_on(pki18), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3")).ok
print(f"defaults on 18: ssl_tls13_ciphers = {lab18.show('ssl_tls13_ciphers')!r}, ssl_groups = {lab18.show('ssl_groups')!r}")

# %% tags=["key-result"]
settings = [None, *(lk.layers.layer_tls13(s) for s in dict.fromkeys((only_suite, "TLS_CHACHA20_POLY1305_SHA256",
                                                                    "TLS_AES_128_CCM_SHA256"))),
            *(lk.layers.layer_tls13(groups=g) for g in dict.fromkeys(("X25519", only_group, "secp384r1:X25519",
                                                                    "ffdhe2048")))]
on_18 = lk.scenarios.tls13_settings(lab18, pki18, settings)
lk.tables.verdict(on_18, "outcome", good="TLSv1.3", columns=["setting", "outcome"], uuid="l44_on18")

# %%
rows18 = {r["setting"]: r for r in on_18.to_dict("records")}
default = rows18["(defaults)"]
assert default["groups accepted"] == "X25519 prime256v1" and default["HelloRetryRequest"] is False
one_suite = rows18[f"ssl_tls13_ciphers = {only_suite}"]
assert one_suite["suites accepted"] == only_suite
assert one_suite["pg_stat_ssl cipher"] == (only_suite if "CCM" not in only_suite else "")
ccm = rows18["ssl_tls13_ciphers = TLS_AES_128_CCM_SHA256"]
assert ccm["suites accepted"] == "TLS_AES_128_CCM_SHA256" and ccm["outcome"] == "no_shared_suite_or_group"

# %%
one_group = rows18[f"ssl_groups = {only_group}"]
assert one_group["groups accepted"] == only_group
assert (one_group["HelloRetryRequest"], one_group["round trips"]) == ((False, 1) if only_group == "X25519" else (True, 2))
assert rows18["ssl_groups = secp384r1:X25519"]["HelloRetryRequest"] is False
assert rows18["ssl_groups = ffdhe2048"]["outcome"] == "tls13_setting_invalid"

# %% [markdown]
# What the table says, row by row:
#
# - **One suite** (`ssl_tls13_ciphers = TLS_AES_256_GCM_SHA384` or ChaCha20): the server accepts exactly
#   that suite, and libpq's session (pg_stat_ssl) gets it. This is the only way to narrow TLS 1.3 suites.
# - **A CCM suite alone**: the server accepts it, but libpq (like most clients) does not offer CCM, so
#   every TLS 1.3 client is locked out (`no_shared_suite_or_group`: client `alert handshake failure`,
#   server log `no shared cipher`). A policy must keep a suite every client offers.
# - **One group**: a client whose first key share is that group gets a one-round-trip handshake; Python's
#   default client (X25519 first) meets a **HelloRetryRequest** for `prime256v1` or `secp384r1`, two
#   round trips. Groups are a list now, and order matters only for the server's own preference: with
#   `secp384r1:X25519` the client's X25519 share is taken at once.
# - **A group this server's OpenSSL cannot use** (`ffdhe2048` with the OpenSSL 1.1.1 of this build):
#   refused at reload (`could not set group names specified in ssl_groups`), previous value kept.

# %% [markdown] lang="es" en="a33f29cc"
# Lo que dice la tabla, fila por fila:
#
# - **Una sola suite** (`ssl_tls13_ciphers = TLS_AES_256_GCM_SHA384` o ChaCha20): el servidor acepta
#   exactamente esa suite, y la sesión de libpq (pg_stat_ssl) la obtiene. Es la única manera de restringir las
#   suites de TLS 1.3.
# - **Una suite CCM sola**: el servidor la acepta, pero libpq (como la mayoría de los clientes) no ofrece CCM,
#   así que todos los clientes TLS 1.3 quedan fuera (`no_shared_suite_or_group`: el cliente ve `alert handshake
#   failure`, el log del servidor `no shared cipher`). Una política debe conservar una suite que ofrezcan todos
#   los clientes.
# - **Un solo grupo**: un cliente cuya primera clave compartida es de ese grupo completa la negociación en una
#   ida y vuelta; el cliente por defecto de Python (X25519 primero) recibe un **HelloRetryRequest** con
#   `prime256v1` o `secp384r1`: dos idas y vueltas. Los grupos son ahora una lista, y el orden solo cuenta para
#   la preferencia del propio servidor: con `secp384r1:X25519` la clave compartida X25519 del cliente se acepta
#   a la primera.
# - **Un grupo que el OpenSSL de este servidor no puede usar** (`ffdhe2048` con el OpenSSL 1.1.1 de esta
#   compilación): rechazado en la recarga (`could not set group names specified in ssl_groups`); se conserva
#   el valor anterior.

# %% [markdown]
# ## 3 · Reading the server's view from SQL
#
# After each change, a DBA checks the settings in force and a session's suite:
#
# ```sql
# SELECT name, setting FROM pg_settings WHERE name IN ('ssl_tls13_ciphers', 'ssl_groups');
# SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid();
# ```
#
# `pg_stat_ssl` names the suite but not the group: the group is visible only on the wire (or in a client
# that reports it), which is why this lesson counts it with `lk.handshake`.

# %% [markdown] lang="es" en="542844a1"
# ## 3 · Leer la vista del servidor desde SQL
#
# Tras cada cambio, un DBA comprueba los ajustes en vigor y la suite de una sesión:
#
# ```sql
# SELECT name, setting FROM pg_settings WHERE name IN ('ssl_tls13_ciphers', 'ssl_groups');
# SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid();
# ```
#
# `pg_stat_ssl` indica la suite pero no el grupo: el grupo solo se ve en el cable (o en un cliente que lo
# informe), y por eso esta lección lo cuenta con `lk.handshake`.

# %% tags=["nbval-ignore-output"]
lab18.execute("SELECT name, setting, source FROM pg_settings WHERE name IN ('ssl_tls13_ciphers', 'ssl_groups')")

# %% [markdown]
# ## Key points
#
# - Up to 17: TLS 1.3 suites cannot be narrowed on the server, and `ssl_ecdh_curve` takes one EC curve
#   (no X25519, no list: `tls13_setting_invalid`); `ssl_tls13_ciphers` there is `setting_unknown`.
# - 18: `ssl_tls13_ciphers` narrows the suites (keep one every client offers: CCM alone locks libpq out),
#   `ssl_groups` takes a list; its default `X25519:prime256v1` spares most clients the HelloRetryRequest.
# - Verify with the server's own view: pg_settings for the values, pg_stat_ssl for the suite.
#
# The outcome keys in this lesson's tables are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="5f35b28a"
# ## Puntos clave
#
# - Hasta la 17: las suites de TLS 1.3 no se pueden restringir en el servidor, y `ssl_ecdh_curve` admite una
#   sola curva EC (ni X25519 ni una lista: `tls13_setting_invalid`); allí `ssl_tls13_ciphers` es
#   `setting_unknown`.
# - 18: `ssl_tls13_ciphers` restringe las suites (conserve una que ofrezcan todos los clientes: CCM sola deja
#   fuera a libpq), `ssl_groups` admite una lista, y su valor por defecto `X25519:prime256v1` ahorra el
#   HelloRetryRequest a la mayoría de los clientes.
# - Verifique con la vista del propio servidor: pg_settings para los valores, pg_stat_ssl para la suite.
#
# Las claves de resultado de las tablas de esta lección se explican en [docs/glossary.md](../docs/glossary.md).

# %%
if second is not lesson:
    second.finish()

# %%
lesson.finish()
