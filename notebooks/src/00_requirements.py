# %% [markdown]
# # 00 · Requirements: what runs on both ends, and what the guide's version tables really mean
#
# Before touching a single setting, a DBA hardening a bank's PostgreSQL has to know what the two ends
# of every connection are made of: which OpenSSL the **server** was linked against, which OpenSSL the
# **client library** (libpq) carries, whether the server was built with TLS at all and whether the
# `sslinfo` extension is there to inspect sessions. Those facts decide which TLS versions can ever be
# negotiated, whatever `postgresql.conf` says.
#
# This lesson covers the guide's **Fase #1 · Pre-Implementación › Requisitos** (#1 OpenSSL, #2
# PostgreSQL, `sslinfo`, the `conssl` role) and its two compatibility tables. Instead of copying the
# tables we **ask the running server** which TLS versions it accepts, with a raw handshake probe
# (`lk.handshake`) that does not depend on what libpq is willing to offer, and put the answers next
# to the guide's claims.

# %% [markdown] lang="es" en="acc02d76"
# # 00 · Requisitos: qué corre en cada extremo y qué significan realmente las tablas de versiones de la guía
#
# Antes de cambiar un solo parámetro, quien endurece el PostgreSQL de un banco necesita saber de qué están
# hechos los dos extremos de cada conexión: con qué OpenSSL se enlazó el **servidor**, qué OpenSSL trae la
# **biblioteca cliente** (libpq), si el servidor se compiló con soporte TLS y si la extensión `sslinfo`
# está disponible para inspeccionar las sesiones. Esos datos determinan qué versiones de TLS se pueden
# negociar, diga lo que diga `postgresql.conf`.
#
# Esta lección cubre la **Fase #1 · Pre-Implementación › Requisitos** de la guía (#1 OpenSSL, #2
# PostgreSQL, `sslinfo`, el rol `conssl`) y sus dos tablas de compatibilidad. En lugar de copiar las
# tablas, **preguntamos al servidor en marcha** qué versiones de TLS acepta, con una sonda de negociación
# TLS (handshake) en bruto (`lk.handshake`) que no depende de lo que libpq esté dispuesta a ofrecer, y
# ponemos sus respuestas junto a lo que afirma la guía.

# %% [markdown]
# ## Objectives · time
#
# - Name the TLS facts of both ends (server and client library versions, OpenSSL builds) and where to read them
# - Check the guide's version tables against what this server reports in `pg_settings`
# - Spell the protocol settings as PostgreSQL does (`TLSv1`, not `TLSv1.0`)
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (842 words of prose at 150 words a minute) and running ≈ 8 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="1eb9943f"
# ## Objetivos · tiempo
#
# - Identificar los datos TLS de ambos extremos (versiones del servidor y de la biblioteca cliente, compilaciones de OpenSSL) y dónde leerlos
# - Contrastar las tablas de versiones de la guía con lo que este servidor informa en `pg_settings`
# - Escribir los parámetros de protocolo como los escribe PostgreSQL (`TLSv1`, no `TLSv1.0`)
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (842 palabras de texto a 150 palabras por minuto) y ejecución ≈ 8 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

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

# %% [markdown]
# Parameters are checked first: a wrong value stops here, naming the parameter and what is allowed,
# before any server is started.

# %% [markdown] lang="es" en="d7244a27"
# Lo primero es validar los parámetros: un valor incorrecto detiene la lección aquí, indicando el
# parámetro y los valores permitidos, antes de arrancar ningún servidor.

# %%
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## Versions on both sides
#
# Three OpenSSL copies take part in this course, and they are rarely the same:
#
# * the **server's** (the library `postgres` is linked against) decides what the server can accept;
# * **libpq's** (bundled in psycopg's wheel, like the one inside `psql`) decides what a normal client offers;
# * **Python's** `ssl` module is what our raw probe uses to offer versions libpq refuses to.
#
# The guide asks for `openssl version` on the server; that prints the command-line tool's library, which
# need not be the one PostgreSQL loaded. We read the library the server process really uses, and ask the
# server itself with `select version()` and `ssl_library`. (Versions vary between machines, so this
# cell's output is not compared by the tests.)

# %% [markdown] lang="es" en="714a1429"
# ## Versiones en ambos lados
#
# En este curso intervienen tres copias de OpenSSL, y rara vez coinciden:
#
# * la del **servidor** (la biblioteca con la que está enlazado `postgres`) decide qué puede aceptar el servidor;
# * la de **libpq** (incluida en el wheel de psycopg, igual que la que lleva `psql`) decide qué ofrece un cliente normal;
# * el módulo `ssl` de **Python** es el que usa nuestra sonda en bruto para ofrecer versiones que libpq se niega a ofrecer.
#
# La guía pide ejecutar `openssl version` en el servidor; eso muestra la biblioteca de la herramienta de
# línea de comandos, que no tiene por qué ser la que cargó PostgreSQL. Aquí leemos la biblioteca que usa
# de verdad el proceso del servidor, y se lo preguntamos al propio servidor con `select version()` y
# `ssl_library`. (Las versiones cambian de una máquina a otra, así que las pruebas no comparan la salida
# de esta celda.)

# %% tags=["nbval-ignore-output"]
facts = lab.facts()
lk.tables.table(lk.monitoring.versions(lab), "versions")

# %% [markdown]
# "OpenSSL 1.1.1" is not a precise answer for a security review: the 1.1.1 branch had many later fix
# releases, each with a letter (1.1.1a, 1.1.1b, ...). The library's own banner says which one this is, and
# when it was released:

# %% [markdown] lang="es" en="d5920840"
# "OpenSSL 1.1.1" no es una respuesta precisa para una revisión de seguridad: la rama 1.1.1 tuvo muchas
# versiones de corrección posteriores, cada una con una letra (1.1.1a, 1.1.1b, ...). El propio banner de
# la biblioteca indica cuál es esta y cuándo se publicó:

# %% tags=["erratum-server-openssl", "nbval-ignore-output"]
release = lk.monitoring.server_openssl_release(lab)
pd.DataFrame([release])

# %%
if release["version"] == "1.1.1":  # the lab's local PostgreSQL 16 build
    assert release["patch letter"] == "(none)" and release["released"].endswith("2018"), release

# %% [markdown]
# On the lab's local PostgreSQL 16 build the banner reads `OpenSSL 1.1.1  11 Sep 2018`: **the original
# 1.1.1 release, without a patch letter**, so without any fix published for that branch since, and the
# branch itself is out of upstream support. That is acceptable for a throw-away lab (the point is its
# behaviour), not for the bank's server: there, check the banner of the library the server really loads
# and want a supported OpenSSL (3.x) or a vendor build that backports the fixes.

# %% [markdown] lang="es" en="fff11474"
# En la compilación local de PostgreSQL 16 del laboratorio el banner dice `OpenSSL 1.1.1  11 Sep 2018`:
# **la versión 1.1.1 original, sin letra de parche**, es decir, sin ninguna de las correcciones publicadas
# después para esa rama, que además ya no tiene soporte oficial. Es aceptable en un laboratorio
# desechable (lo que interesa es su comportamiento), no en el servidor del banco: allí, compruebe el
# banner de la biblioteca que carga realmente el servidor y exija un OpenSSL con soporte (3.x) o una
# compilación del proveedor que incorpore las correcciones.


# %% [markdown]
# The same facts as a `labkit doctor`-style checklist: one line per requirement of the guide, how we
# checked it, and the verdict. This table is compared by the tests, so it names no version numbers.

# %% [markdown] lang="es" en="6beae3a1"
# Los mismos datos en forma de lista de comprobación al estilo de `labkit doctor`: una línea por cada
# requisito de la guía, cómo se comprobó y el veredicto. Las pruebas comparan esta tabla, por eso no
# menciona números de versión.

# %%
default_probe = lk.handshake.probe_matrix(lab)
checklist = lk.monitoring.requirements(lab, default_probe)
lk.tables.verdict(checklist, "ok", columns=["requirement", "ok"], uuid="checklist")

# %%
assert checklist["ok"].eq(True).all(), checklist[checklist["ok"].ne(True)]  # False, or None: not observed

# %% [markdown]
# The guide's `select * from pg_available_extensions where name = 'sslinfo'`, on this server (the lab
# already ran `CREATE EXTENSION sslinfo`, so `installed_version` is filled):

# %% [markdown] lang="es" en="0e1c46cb"
# La consulta de la guía `select * from pg_available_extensions where name = 'sslinfo'`, en este servidor
# (el laboratorio ya ejecutó `CREATE EXTENSION sslinfo`, por lo que `installed_version` tiene valor):

# %%
lk.tables.table(lk.monitoring.sslinfo_extension(lab), "sslinfo")

# %% [markdown]
# > **The guide says** `create user conssl with password '123123' superuser;` **We do:** the same role,
# > but **not a superuser**, with a password generated for this workspace, kept in its secrets folder and
# > never printed. No step of the guide needs a superuser, and one can read every file the server's OS
# > account can — `pg_read_file()` on the server's private key, measured in the checklist above (on a
# > shared machine, the keys of the other labs that account runs too). The check above also shows only
# > that the server stores a SCRAM verifier for the role, not the password itself.
#
# ## The guide's two compatibility tables, checked against this server
#
# The guide lists, per OpenSSL release and per PostgreSQL release, which protocol versions are "true".
# Those tables describe what the *code* can do. What a DBA needs is what a given server *accepts*,
# and that also depends on the server's settings and on what the client library is willing to offer.
# We measure four things for TLS 1.0 ... 1.3:
#
# 1. the server at its **default** settings (raw probe offering exactly one version);
# 2. the server with **`ssl_min_protocol_version = 'TLSv1'`** (the most permissive floor), same probe;
# 3. whether **Python's OpenSSL** can even build a ClientHello for that version (the probe's own limit);
# 4. whether **libpq** can offer it (a real `attempt` with `ssl_min/max_protocol_version` pinned).

# %% [markdown] lang="es" en="6ba283f2"
# > **La guía dice** `create user conssl with password '123123' superuser;` **Nosotros:** creamos el mismo
# > rol, pero **sin privilegios de superusuario**, con una contraseña generada para este espacio de
# > trabajo, guardada en su carpeta de secretos y que nunca se imprime. Ningún paso de la guía necesita un
# > superusuario, y un superusuario puede leer cualquier archivo al que tenga acceso la cuenta del sistema
# > operativo del servidor: `pg_read_file()` sobre la clave privada del servidor, medido en la lista de
# > comprobación anterior (en una máquina compartida, también las claves de los demás laboratorios que
# > ejecuta esa cuenta). La comprobación anterior muestra además que el servidor guarda solo un
# > verificador SCRAM del rol, no la contraseña.
#
# ## Las dos tablas de compatibilidad de la guía, contrastadas con este servidor
#
# La guía indica, por versión de OpenSSL y por versión de PostgreSQL, qué versiones de protocolo son
# "true". Esas tablas describen lo que el *código* es capaz de hacer. Lo que necesita un DBA es saber qué
# *acepta* un servidor concreto, y eso depende también de la configuración del servidor y de lo que la
# biblioteca cliente esté dispuesta a ofrecer. Medimos cuatro cosas para TLS 1.0 ... 1.3:
#
# 1. el servidor con la configuración **por defecto** (sonda en bruto que ofrece exactamente una versión);
# 2. el servidor con **`ssl_min_protocol_version = 'TLSv1'`** (el mínimo más permisivo), con la misma sonda;
# 3. si el **OpenSSL de Python** es capaz siquiera de construir un ClientHello para esa versión (el límite de la propia sonda);
# 4. si **libpq** puede ofrecerla (un `attempt` real con `ssl_min/max_protocol_version` fijados).

# %%
legacy = lk.apply(lab, lk.layers.layer_protocols("TLSv1", ""))
assert legacy.ok, legacy.summary()
legacy_probe = lk.handshake.probe_matrix(lab)
libpq_offer = {v: lk.attempt(lab, label=f"libpq offers only {v}", sslmode="require",
                             ssl_min_protocol_version=v, ssl_max_protocol_version=v)
               for v in lk.handshake.VERSIONS}
reverted = lk.revert(lab, legacy.layers[0])
assert reverted.ok, reverted.summary()

# %% [markdown]
# The raw material, with what the server logged for each refused handshake and the `psql` command that
# reproduces each libpq attempt:

# %% [markdown] lang="es" en="e2c9692e"
# Los datos en bruto, con lo que registró el servidor por cada negociación rechazada y el comando `psql`
# que reproduce cada intento de libpq:

# %%
raw = pd.DataFrame({
    "version": list(lk.handshake.VERSIONS),
    "probe, default settings": list(default_probe["result"]),
    "server log (default)": [lk.messages.gist(t) for t in default_probe["server_log"]],
    "probe, min TLSv1": list(legacy_probe["result"]),
    "negotiated (min TLSv1)": list(legacy_probe["negotiated_version"].fillna("")),
    "libpq outcome": [libpq_offer[v].outcome for v in lk.handshake.VERSIONS],
    "libpq says": [lk.messages.gist(libpq_offer[v].error_text) for v in lk.handshake.VERSIONS],
    "psql": [libpq_offer[v].psql for v in lk.handshake.VERSIONS],
})
lk.tables.table(raw, "raw")

# %% [markdown]
# Now side by side with the guide (`lk.guide.compatibility_check`). The guide's OpenSSL row is
# chosen by the server's OpenSSL, its PostgreSQL row by the server's major version; SSLv2/SSLv3 are
# included because the guide lists them.

# %% [markdown] lang="es" en="58bb1bdc"
# Ahora, junto a la guía (`lk.guide.compatibility_check`). La fila de OpenSSL de la guía se elige según el
# OpenSSL del servidor y la de PostgreSQL según su versión mayor; se incluyen SSLv2/SSLv3 porque la guía
# los menciona.

# %%
server_openssl = str(facts["server_openssl"])
major = int(facts["server_version_num"]) // 10000
enumvals = lab.execute("select enumvals from pg_settings where name = 'ssl_min_protocol_version'")[0]["enumvals"]
compat = lk.guide.compatibility_check(
    default_probe=default_probe, legacy_probe=legacy_probe, server_openssl=server_openssl, major=major,
    enumvals=enumvals,
    python_can=lk.handshake.python_can_offer(),
    libpq_can={v: r.connected or r.error_key != "protocol_mismatch" for v, r in libpq_offer.items()})

# %% tags=["key-result", "erratum-version-tables"]
lk.tables.compatibility(compat)

# %% [markdown]
# > **The guide says** TLS 1.0 and 1.1 are "true" for PostgreSQL 12-17. **Measured:** at its default
# > settings this server refuses both handshakes (the server logs *could not accept SSL connection:
# > unsupported protocol*), because since PostgreSQL 13 `ssl_min_protocol_version` defaults to
# > `TLSv1.2` (lesson 30 reads the built-in default out of every installed release: 12 says `TLSv1`, 13
# > and later `TLSv1.2`). Only after the floor is lowered to `'TLSv1'` does a server linked against OpenSSL 1.1.1
# > accept them -- and even then the libpq of a current client (OpenSSL 3) refuses to offer them
# > ("no protocols available"); only our probe, at OpenSSL security level 0, gets through. "Supported by
# > the code" is not "accepted by the server", and neither is "offered by the client".

# %% [markdown] lang="es" en="f2923328"
# > **La guía dice** que TLS 1.0 y 1.1 son "true" para PostgreSQL 12-17. **Medido:** con la configuración
# > por defecto, este servidor rechaza ambas negociaciones (el log del servidor registra *could not accept
# > SSL connection: unsupported protocol*), porque desde PostgreSQL 13 `ssl_min_protocol_version` vale por
# > defecto `TLSv1.2` (la lección 30 lee el valor por defecto incorporado en cada versión instalada: la 12
# > dice `TLSv1`, la 13 y posteriores `TLSv1.2`). Solo después de bajar el mínimo a `'TLSv1'` un servidor
# > enlazado con OpenSSL 1.1.1 las acepta, y aun así la libpq de un cliente actual (OpenSSL 3) se niega a
# > ofrecerlas ("no protocols available"); solo nuestra sonda, con el nivel de seguridad 0 de OpenSSL,
# > consigue pasar. "Soportado por el código" no equivale a "aceptado por el servidor", ni tampoco a
# > "ofrecido por el cliente".

# %%
v = dict(zip(compat["protocol"], compat.to_dict("records")))
assert v["TLSv1"]["server, defaults"] == "refused" and v["TLSv1.1"]["server, defaults"] == "refused"
assert v["TLSv1.2"]["server, defaults"] == "accepted" and v["TLSv1.3"]["server, defaults"] == "accepted"
assert not v["TLSv1"]["libpq can offer"] and v["TLSv1.2"]["libpq can offer"] and v["TLSv1.3"]["libpq can offer"]
if server_openssl.startswith("1.1"):  # OpenSSL 3 servers also need a lower security level in ssl_ciphers
    assert v["TLSv1"]["server, min TLSv1"] == "accepted" and v["TLSv1.1"]["server, min TLSv1"] == "accepted"

# %% [markdown]
# The guide's PostgreSQL table also gives the *range settings*. Here they are next to what this server
# reports in `pg_settings` (its built-in defaults and the values it allows):

# %% [markdown] lang="es" en="68338aab"
# La tabla de PostgreSQL de la guía también indica los *parámetros de rango*. Aquí están junto a lo que
# este servidor informa en `pg_settings` (sus valores por defecto incorporados y los valores que admite):

# %%
settings = lab.execute("select name, boot_val, enumvals from pg_settings "
                       "where name in ('ssl_min_protocol_version', 'ssl_max_protocol_version') order by name desc")
by_name = {r["name"]: r for r in settings}
claims = pd.DataFrame([
    {"setting": "ssl_min_protocol_version", "guide says (PostgreSQL 12-17)": "TLSv1.0",
     "measured default": by_name["ssl_min_protocol_version"]["boot_val"],
     "allowed values": ", ".join(by_name["ssl_min_protocol_version"]["enumvals"])},
    {"setting": "ssl_max_protocol_version", "guide says (PostgreSQL 12-17)": "TLSv1.3",
     "measured default": repr(by_name["ssl_max_protocol_version"]["boot_val"]) + " (no upper bound)",
     "allowed values": "'' or " + ", ".join(by_name["ssl_max_protocol_version"]["enumvals"][1:])},
])
lk.tables.table(claims, "claims")

# %% [markdown]
# > **The guide says** the floor is `TLSv1.0` and the ceiling `TLSv1.3`. **Measured:** the default floor
# > is `TLSv1.2` (PostgreSQL 12 still used `TLSv1`; 13 raised it), there is no default ceiling (an empty
# > value means "whatever the library supports"), and the value `TLSv1.0` does not exist: PostgreSQL
# > spells TLS 1.0 as `TLSv1`. Writing `'TLSv1.0'` in `postgresql.conf` is an invalid value (lesson 11).

# %% [markdown] lang="es" en="465515d1"
# > **La guía dice** que el mínimo es `TLSv1.0` y el máximo `TLSv1.3`. **Medido:** el mínimo por defecto es
# > `TLSv1.2` (PostgreSQL 12 todavía usaba `TLSv1`; la 13 lo subió), no hay máximo por defecto (un valor
# > vacío significa "lo que soporte la biblioteca") y el valor `TLSv1.0` no existe: PostgreSQL escribe
# > TLS 1.0 como `TLSv1`. Poner `'TLSv1.0'` en `postgresql.conf` es un valor no válido (lección 11).

# %%
assert by_name["ssl_min_protocol_version"]["boot_val"] == "TLSv1.2"
assert by_name["ssl_max_protocol_version"]["boot_val"] == ""
assert "TLSv1.0" not in by_name["ssl_min_protocol_version"]["enumvals"]

# %% [markdown]
# ## Key points
#
# - TLS is negotiated between two libraries: the server's OpenSSL and the client's libpq/OpenSSL; both versions decide what is possible.
# - The default floor is `TLSv1.2` (since PostgreSQL 13) and there is no default ceiling; `TLSv1.0` is not a valid value.
# - `labkit doctor` and the tables here are the prerequisites' evidence, measured rather than assumed.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="48d40db3"
# ## Puntos clave
#
# - TLS se negocia entre dos bibliotecas: el OpenSSL del servidor y la libpq/OpenSSL del cliente; las versiones de ambas deciden qué es posible.
# - El mínimo por defecto es `TLSv1.2` (desde PostgreSQL 13) y no hay máximo por defecto; `TLSv1.0` no es un valor válido.
# - `labkit doctor` y las tablas de esta lección son la evidencia de los requisitos, medida en lugar de supuesta.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
