# %% [markdown]
# # 23 · The six `sslmode`s against four server configurations
#
# libpq's `sslmode` decides three things at once: whether the client *tries* TLS, whether it *insists*
# on it, and how much of the server's certificate it *checks*. The server decides the other half with
# `ssl` and the connection type of its `pg_hba.conf` lines (`host` accepts both, `hostssl` only TLS,
# `hostnossl` only plain text). This lesson tries every mode against every combination and puts the 24
# measured outcomes in one table.
#
# Then we check the guide's ranking — *disable → allow → prefer → require → verify-ca → verify-full*,
# from low to high security — against the measurements: a stronger mode should connect in **fewer**
# situations, and the connections it does make should be encrypted and (from `verify-ca` on) made to a
# server whose certificate was verified. "Verified" is measured, not read from the mode's name: every cell is
# tried a second time with a root file that does **not** trust the server's certificate (an impostor's
# view), and a mode verified the server only if it connected with TLS to the real one and refused that.
#
# Guide coverage: *Tipos de sslmode* (the ranking and each mode's description), *Fase #2 paso 4*
# (`hostssl` forces TLS), *paso 2* (`ssl = on`).
#
# ```mermaid
# flowchart TD
#   D[disable] -->|never TLS| P1((plain))
#   A[allow] -->|plain first, TLS if refused| P2((plain or TLS))
#   Pr[prefer] -->|TLS first, plain if refused| P3((TLS or plain))
#   R[require] -->|TLS or nothing| T1((TLS, server unchecked))
#   VC[verify-ca] -->|TLS + CA check| T2((TLS, CA verified))
#   VF[verify-full] -->|TLS + CA + name| T3((TLS, identity verified))
# ```

# %% [markdown] lang="es" en="fc454606"
# # 23 · Los seis `sslmode` frente a cuatro configuraciones del servidor
#
# El `sslmode` de libpq decide tres cosas a la vez: si el cliente *intenta* TLS, si lo *exige* y cuánto
# *comprueba* del certificado del servidor. El servidor decide la otra mitad con `ssl` y con el tipo de conexión de
# sus líneas de `pg_hba.conf` (`host` acepta ambas, `hostssl` solo TLS, `hostnossl` solo texto plano). Esta
# lección prueba cada modo frente a cada combinación y reúne los 24 resultados medidos en una sola tabla.
#
# Después contrastamos la clasificación de la guía, *disable → allow → prefer → require → verify-ca → verify-full*,
# de menor a mayor seguridad, con las mediciones: un modo más fuerte debería conectar en **menos** situaciones, y
# las conexiones que sí establece deberían ir cifradas y (a partir de `verify-ca`) hacia un servidor cuyo
# certificado se ha verificado. Lo de "verificado" se mide, no se deduce del nombre del modo: cada celda se prueba
# una segunda vez con un archivo raíz que **no** confía en el certificado del servidor (lo que vería un impostor),
# y un modo solo verificó al servidor si conectó con TLS al servidor real y rechazó al impostor.
#
# Cobertura de la guía: *Tipos de sslmode* (la clasificación y la descripción de cada modo), *Fase #2 paso 4*
# (`hostssl` obliga a usar TLS), *paso 2* (`ssl = on`).
#
# ```mermaid
# flowchart TD
#   D[disable] -->|nunca TLS| P1((texto plano))
#   A[allow] -->|primero texto plano, TLS si se rechaza| P2((texto plano o TLS))
#   Pr[prefer] -->|primero TLS, texto plano si se rechaza| P3((TLS o texto plano))
#   R[require] -->|TLS o nada| T1((TLS, servidor sin comprobar))
#   VC[verify-ca] -->|TLS + comprobación de CA| T2((TLS, CA verificada))
#   VF[verify-full] -->|TLS + CA + nombre| T3((TLS, identidad verificada))
# ```

# %% [markdown]
# ## Objectives · time
#
# - Compare all six `sslmode`s against four server states in one matrix
# - Check the guide's ranking of the modes against the measurement
# - Pick the mode to standardise on
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (677 words of prose at 150 words a minute) and running ≈ 11 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="c57d6e49"
# ## Objetivos · tiempo
#
# - Comparar los seis `sslmode` frente a cuatro estados del servidor en una sola matriz
# - Contrastar con la medición la clasificación de los modos que hace la guía
# - Elegir el modo que conviene adoptar como estándar
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (677 palabras de texto a 150 palabras por minuto) y ejecución ≈ 11 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
tls_max = "TLSv1.3"  # the client's ssl_max_protocol_version: "TLSv1.2" or "TLSv1.3"

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("tls_max", tls_max, ("TLSv1.2", "TLSv1.3"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## 1 · The four server states
#
# Each state is a set of layers applied with a reload (no restart). The user is `conssl` with its
# password (`scram-sha-256`); the client always passes `sslrootcert=combined.crt` and connects to
# `127.0.0.1`, a name the server certificate carries, so the `verify-*` modes *can* succeed.

# %% [markdown] lang="es" en="6b2953db"
# ## 1 · Los cuatro estados del servidor
#
# Cada estado es un conjunto de capas aplicadas con una recarga (sin reinicio). El usuario es `conssl` con su
# contraseña (`scram-sha-256`); el cliente siempre pasa `sslrootcert=combined.crt` y se conecta a `127.0.0.1`, un
# nombre que figura en el certificado del servidor, de modo que los modos `verify-*` *pueden* tener éxito.

# %%
lk.scenarios.describe_states(pki)

# %% [markdown]
# ## 2 · 24 cells, 48 attempts
#
# `sslmode_matrix` walks the states, and in each one tries the six modes. A cell says `TLSv1.x` when the
# connection was encrypted, `plaintext` when it connected without TLS, or the catalogue key of the error.
# Each mode is tried twice: with `combined.crt` (trusts the server) and with `rogue-ca.crt` (does not).

# %% [markdown] lang="es" en="745bcce8"
# ## 2 · 24 celdas, 48 intentos
#
# `sslmode_matrix` recorre los estados y, en cada uno, prueba los seis modos. Una celda indica `TLSv1.x` cuando la
# conexión fue cifrada, `plaintext` cuando conectó sin TLS, o bien la clave del error en el catálogo de errores.
# Cada modo se prueba dos veces: con `combined.crt` (confía en el servidor) y con `rogue-ca.crt` (no confía).

# %%
frame, results = lk.scenarios.sslmode_matrix(lab, pki, sslrootcert=pki.paths.combined_crt,
                                             untrusted_root=pki.paths.rogue_ca_crt,
                                             ssl_max_protocol_version=tls_max)
pivot = lk.scenarios.matrix_pivot(frame)

# %% tags=["key-result"]
lk.tables.matrix(pivot)

# %%
T = tls_max
expected = pd.DataFrame({
    "ssl off":        ["plaintext", "plaintext", "plaintext", "server_no_ssl", "server_no_ssl", "server_no_ssl"],
    "ssl on + host":  ["plaintext", "plaintext", T, T, T, T],
    "hostssl only":   ["no_hba_no_encryption", T, T, T, T, T],
    "hostnossl only": ["plaintext", "plaintext", "plaintext", "no_hba_ssl", "no_hba_ssl", "no_hba_ssl"],
}, index=pd.Index(lk.SSLMODES, name="sslmode"))
expected.columns.name = "server state"
VERIFIED_EXPECTED = [0, 1, 1, 2, 2, 2]  # disable ... verify-full: states where the impostor was refused
for mode in lk.SSLMODES:
    for state in lk.scenarios.SERVER_STATES:
        assert pivot.loc[mode, state] == expected.loc[mode, state], (mode, state, pivot.loc[mode, state])

# %% [markdown]
# Four cells deserve a second look:
#
# * **`allow` × `hostssl only` → TLS.** `allow` starts in plain text; the server answers `no pg_hba.conf
#   entry … no encryption`; libpq silently tries again with TLS and succeeds. The server log holds the
#   refused first try.
# * **`prefer` × `hostnossl only` → plaintext.** The mirror image: TLS first, refused by `pg_hba.conf`
#   (`… SSL encryption`), then a silent plain-text retry. A client on the default `sslmode` ends up
#   unencrypted without any warning — the reason the guide calls `prefer` a compatibility default.
# * **`prefer` × `ssl off` → plaintext**, again without a word to the user.
# * **`disable` × `hostssl only`** is the only refusal among the three weak modes: `hostssl` is the
#   server's way of making `disable` (and a downgraded `prefer`) impossible.
#
# Both silent retries leave a trace on the server, one refused connection before the accepted one:

# %% [markdown] lang="es" en="47e14a88"
# Cuatro celdas merecen una segunda mirada:
#
# * **`allow` × `hostssl only` → TLS.** `allow` empieza en texto plano; el servidor responde `no pg_hba.conf
#   entry … no encryption`; libpq vuelve a intentarlo en silencio con TLS y lo consigue. El log del servidor
#   conserva el primer intento rechazado.
# * **`prefer` × `hostnossl only` → plaintext.** El caso simétrico: primero TLS, rechazado por `pg_hba.conf`
#   (`… SSL encryption`), y después un reintento silencioso en texto plano. Un cliente con el `sslmode` por
#   omisión acaba sin cifrar sin ningún aviso: por eso la guía presenta `prefer` como un valor por omisión
#   pensado para la compatibilidad.
# * **`prefer` × `ssl off` → plaintext**, de nuevo sin decirle nada al usuario.
# * **`disable` × `hostssl only`** es el único rechazo entre los tres modos débiles: `hostssl` es la forma que
#   tiene el servidor de hacer imposible `disable` (y un `prefer` degradado).
#
# Los dos reintentos silenciosos dejan rastro en el servidor: una conexión rechazada antes de la aceptada.

# %%
retries = {r.label: r for r in results}
fallbacks = pd.DataFrame([
    {"attempt": label, "outcome": "plaintext" if retries[label].ssl is False else retries[label].outcome,
     "refused first try in the server log": lk.messages.server_phrase(retries[label].server_log)}
    for label in ("hostssl only / allow", "hostnossl only / prefer")])
fallbacks

# %%
assert "no encryption" in retries["hostssl only / allow"].server_log
assert "SSL encryption" in retries["hostnossl only / prefer"].server_log

# %% tags=["nbval-ignore-output"]
with pd.option_context("display.max_colwidth", None):
    display(frame[["server state", "sslmode", "outcome", "with untrusted root", "psql"]])

# %% [markdown]
# The same matrix with a root file that does not trust the server's certificate. Where a cell still reads
# `TLSv1.x`, the mode would have given its password to an impostor; where it reads `plaintext`, it gave up on
# TLS and connected unencrypted; the catalogue key `server_cert_untrusted` is a refusal.

# %% [markdown] lang="es" en="d138290c"
# La misma matriz con un archivo raíz que no confía en el certificado del servidor. Donde una celda sigue
# indicando `TLSv1.x`, el modo le habría entregado su contraseña a un impostor; donde indica `plaintext`, renunció
# a TLS y conectó sin cifrar; la clave `server_cert_untrusted` del catálogo de errores es un rechazo.

# %% tags=["erratum-sslmode-verified"]
untrusted = lk.scenarios.matrix_pivot(frame.assign(outcome=frame["with untrusted root"]))
lk.tables.matrix(untrusted)

# %% [markdown]
# ## 3 · libpq's root-file rule, and `prefer`'s silent fall-back
#
# libpq's documentation says: *if a root CA file exists, `sslmode=require` behaves like `verify-ca`*. In
# fact libpq checks the chain on **every** TLS attempt once a root file is given, whatever the mode; the
# modes differ in what they do when the check fails. Measured on the "ssl on + host" state (TLS offered,
# plain text allowed), with no root file, a root that trusts the server, and one that does not:

# %% [markdown] lang="es" en="4df79f18"
# ## 3 · La regla del archivo raíz de libpq, y el retroceso silencioso de `prefer`
#
# La documentación de libpq dice: *si existe un archivo de CA raíz, `sslmode=require` se comporta como
# `verify-ca`*. En realidad, una vez que se indica un archivo raíz, libpq comprueba la cadena en **cada** intento
# TLS, sea cual sea el modo; los modos se diferencian en lo que hacen cuando la comprobación falla. Lo medimos en
# el estado "ssl on + host" (TLS ofrecido, texto plano permitido), sin archivo raíz, con una raíz que confía en el
# servidor y con otra que no:

# %% tags=["erratum-root-file-rule"]
rule = lk.scenarios.root_file_rule(lab, pki, ssl_max_protocol_version=tls_max)
with pd.option_context("display.max_colwidth", None):
    display(rule[["sslmode", "sslrootcert", "connected", "encrypted", "outcome", "client says"]])

# %%
cell = rule.set_index(["sslmode", "sslrootcert"])
NONE, GOOD, BAD = "none", "combined.crt (trusts the server)", "rogue-ca.crt (does not trust it)"
assert cell.loc[("require", NONE), "encrypted"] and cell.loc[("require", GOOD), "encrypted"]
assert not cell.loc[("require", BAD), "connected"] and cell.loc[("require", BAD), "outcome"] == "server_cert_untrusted"
assert "certificate verify failed" in cell.loc[("require", BAD), "client says"]
assert cell.loc[("prefer", BAD), "connected"] and not cell.loc[("prefer", BAD), "encrypted"]  # silent plain text
assert cell.loc[("prefer", BAD), "outcome"] == "plaintext"
assert cell.loc[("verify-ca", NONE), "outcome"] == "root_cert_missing"

# %% [markdown]
# * **`require` without a root file** connects to any certificate (the row "none"): encryption without
#   authentication. **With** a root file it fails with `certificate verify failed` against a certificate the
#   file does not trust — libpq's documented rule, measured.
# * **`prefer` with the same untrusted root connects — in plain text**, without a word: the failed
#   verification is just one more reason to retry without TLS. An attacker who presents any certificate
#   gets an unencrypted session, and the password.
# * `verify-ca` without a root file refuses to start (`root_cert_missing`): it cannot verify, so it will not
#   try.

# %% [markdown] lang="es" en="6ef45d12"
# * **`require` sin archivo raíz** conecta con cualquier certificado (la fila "none"): cifrado sin
#   autenticación. **Con** un archivo raíz falla con `certificate verify failed` frente a un certificado en el que
#   ese archivo no confía: la regla documentada de libpq, medida.
# * **`prefer` con la misma raíz no fiable conecta, en texto plano**, sin decir nada: la verificación fallida es
#   solo un motivo más para reintentar sin TLS. Un atacante que presente cualquier certificado obtiene una sesión
#   sin cifrar, y la contraseña.
# * `verify-ca` sin archivo raíz se niega a empezar (`root_cert_missing`): no puede verificar, así que ni lo intenta.

# %% [markdown]
# ## 4 · The guide's ranking, measured
#
# For each mode: in how many of the four states it connected, how many of those connections were
# plain text, how many encrypted, and in how many it **refused the impostor** while connecting to the
# real server with TLS ("server verified", from the two matrices above).

# %% [markdown] lang="es" en="f140f81b"
# ## 4 · La clasificación de la guía, medida
#
# Para cada modo: en cuántos de los cuatro estados conectó, cuántas de esas conexiones fueron en texto plano,
# cuántas cifradas y en cuántos **rechazó al impostor** mientras conectaba con TLS al servidor real ("server
# verified", a partir de las dos matrices anteriores).

# %% tags=["erratum-sslmode-ranking"]
ranking = lk.scenarios.mode_ranking(frame)
ranking

# %%
assert ranking["states connected"].tolist() == [3, 4, 4, 2, 2, 2]
assert ranking["encrypted"].tolist() == [0, 1, 2, 2, 2, 2]
assert ranking["server verified"].tolist() == VERIFIED_EXPECTED

# %% [markdown]
# The ranking holds at its two ends, and the measurements correct the middle:
#
# * **`allow` and `prefer` connect *more* often than `disable`** — they accept every state. Their
#   "security" is only what the server imposes: they encrypt when the server insists (`allow`) or agrees
#   (`prefer`), and fall back to plain text otherwise. Neither protects against an attacker who simply
#   answers "no TLS", or who presents an untrusted certificate (`prefer` then falls back to plain text).
#   Their one "verified" state is `hostssl only`, where the *server* refuses the plain-text retry.
# * **`require` is as verified as `verify-ca` here** — only because the client passes a root file. Without
#   one (section 3) it accepts any certificate. The guide's "require: TLS, server unchecked" is true only
#   for a client without `sslrootcert` and without `~/.postgresql/root.crt`.
# * **`require`, `verify-ca` and `verify-full` connect in the same two states**: the difference between
#   them is *which other servers* they would accept. `verify-full` also checks the host name (lessons 20
#   and 21 show the failing controls).
#
# > **The guide says** `require` encrypts without checking the server, and `allow` / `prefer` try one way
# > then the other. **Measured:** with a root file present `require` checks the chain (`certificate verify
# > failed`), and `prefer` answers a failed check by connecting **unencrypted**, silently. Use `verify-full`;
# > check `pg_stat_ssl` (lesson 30) to see which way a weak mode went.

# %% [markdown] lang="es" en="d8c12722"
# La clasificación se sostiene en sus dos extremos, y las mediciones corrigen la parte central:
#
# * **`allow` y `prefer` conectan *más* veces que `disable`**: aceptan todos los estados. Su "seguridad" es solo
#   la que impone el servidor: cifran cuando el servidor lo exige (`allow`) o lo acepta (`prefer`), y en otro caso
#   recurren al texto plano. Ninguno protege frente a un atacante que simplemente responda "sin TLS" o que presente
#   un certificado no fiable (`prefer` vuelve entonces al texto plano). Su único estado "verificado" es
#   `hostssl only`, donde es el *servidor* quien rechaza el reintento en texto plano.
# * **`require` está aquí tan verificado como `verify-ca`**, solo porque el cliente pasa un archivo raíz. Sin él
#   (sección 3) acepta cualquier certificado. La descripción de `require` en la guía ("**Obliga SSL**, pero **no
#   verifica el certificado del servidor**") solo es cierta para un cliente sin `sslrootcert` y sin
#   `~/.postgresql/root.crt`.
# * **`require`, `verify-ca` y `verify-full` conectan en los mismos dos estados**: la diferencia entre ellos está
#   en *qué otros servidores* aceptarían. `verify-full` comprueba además el nombre de host (las lecciones 20 y 21
#   muestran los controles que fallan).
#
# > **La guía dice** que `require` cifra sin comprobar el servidor, y que `allow` / `prefer` prueban de una forma
# > y luego de la otra. **Medido:** con un archivo raíz presente, `require` comprueba la cadena (`certificate verify
# > failed`), y `prefer` responde a una comprobación fallida conectando **sin cifrar**, en silencio. Use
# > `verify-full`; consulte `pg_stat_ssl` (lección 30) para ver por qué camino fue un modo débil.

# %% [markdown]
# ## 5 · The same matrix as a picture

# %% [markdown] lang="es" en="202bbcda"
# ## 5 · La misma matriz en forma de imagen

# %%
lk.tables.matrix_plot(pivot, "sslmode (rows, weakest first) x server state (columns)")

# %% [markdown]
# ## Key points
#
# - `allow` and `prefer` connect to everything, plaintext included: they protect nothing against an active attacker.
# - `require` encrypts but accepts any certificate; `verify-ca` checks the issuer; only `verify-full` checks the server's identity.
# - Standardise on `verify-full` with the lab root as `sslrootcert`.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="0784d466"
# ## Puntos clave
#
# - `allow` y `prefer` conectan con todo, texto plano incluido: no protegen de nada frente a un atacante activo.
# - `require` cifra pero acepta cualquier certificado; `verify-ca` comprueba el emisor; solo `verify-full` comprueba la identidad del servidor.
# - Adopte como estándar `verify-full` con la CA raíz del laboratorio como `sslrootcert`.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
