# %% [markdown]
# # 35 · Troubleshooting: every documented error, reproduced and explained
#
# When a TLS connection fails, the client and the server each print half of the story — often in words
# that seem to blame the wrong party (`tlsv1 alert unknown ca` on the *client* means the *server* rejected
# the client's certificate). This lesson makes every error the course documents happen on purpose, on one
# lab, and puts both halves side by side with the cause and the fix from the course's error catalogue
# (`labkit.catalogue`).
#
# Use it as a lookup table: find the words you see, read the other side's words, apply the fix. Each row
# is asserted — the error really occurred, and the catalogue classified it to the expected entry — so the
# table cannot drift from what PostgreSQL and libpq actually print.
#
# Guide coverage: *Conceptos información extra › Mensajes de Error* #1–#4, the errors quoted in *Fase #2*
# (revoked certificate, user "otros", `clientcert=1`), and the errors the guide's steps lead to
# without naming them (protocol ranges, key files). Errors that stop the server from **starting** (a
# server key with open permissions, a missing certificate file at start) are left to lesson 33 and to
# `tests/test_catalogue.py`: reproducing them needs restarts, which do not fit this lesson's 20 seconds.
#
# ```mermaid
# flowchart LR
#   E[error text] --> W{which side printed it?}
#   W -- client --> C[libpq / psql message]
#   W -- server --> L[server log line]
#   C & L --> K[lk.catalogue.classify] --> F[cause + fix]
# ```

# %% [markdown] lang="es" en="14f29c4a"
# # 35 · Resolución de problemas: cada error documentado, reproducido y explicado
#
# Cuando falla una conexión TLS, el cliente y el servidor cuentan cada uno la mitad de la historia, a menudo
# con palabras que parecen culpar a quien no es (`tlsv1 alert unknown ca` en el *cliente* significa que fue
# el *servidor* quien rechazó el certificado del cliente). Esta lección provoca a propósito cada error que
# documenta el curso, sobre un mismo laboratorio, y pone las dos mitades una junto a otra, con la causa y la
# solución que da el catálogo de errores del curso (`labkit.catalogue`).
#
# Úsela como tabla de consulta: busque las palabras que ve, lea las del otro lado y aplique la solución.
# Cada fila se verifica con un `assert` —el error se produjo de verdad y el catálogo lo clasificó en la
# entrada esperada—, así que la tabla no puede alejarse de lo que PostgreSQL y libpq imprimen realmente.
#
# Cobertura de la guía: *Conceptos información extra › Mensajes de Error* #1–#4, los errores citados en la
# *Fase #2* (certificado revocado, usuario "otros", `clientcert=1`) y los errores a los que llevan los pasos
# de la guía sin nombrarlos (rangos de protocolo, archivos de clave). Los errores que impiden **arrancar** al
# servidor (una clave de servidor con permisos abiertos, un archivo de certificado ausente al arrancar) se
# dejan para la lección 33 y para `tests/test_catalogue.py`: reproducirlos exige reinicios, que no caben en
# los 20 segundos de esta lección.
#
# ```mermaid
# flowchart LR
#   E[texto del error] --> W{¿qué lado lo imprimió?}
#   W -- cliente --> C[mensaje de libpq / psql]
#   W -- servidor --> L[línea del log del servidor]
#   C & L --> K[lk.catalogue.classify] --> F[causa + solución]
# ```

# %% [markdown]
# ## Objectives · time
#
# - Reproduce every documented TLS error and read it on both sides
# - Use the catalogue's cause and fix for each message
# - Know which side's log names the real cause
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (817 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="014f4b3d"
# ## Objetivos · tiempo
#
# - Reproducir cada error TLS documentado y leerlo en los dos lados
# - Aplicar la causa y la solución del catálogo a cada mensaje
# - Saber qué log, el de qué lado, nombra la causa real
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (817 palabras de texto a 150 palabras por minuto) y ejecución ≈ 4 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) dan los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
include_reload_errors = True  # also reproduce the two configurations the server refuses at reload

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_bool("include_reload_errors", include_reload_errors)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## 1 · The recipes
#
# One row per documented error: which server configuration (layers applied with a reload) and which
# client parameters produce it. Cases that share a server configuration share one reload; the last two
# are configurations the server itself refuses — there is no client attempt, only the reload's log.

# %% [markdown] lang="es" en="2be56a58"
# ## 1 · Las recetas
#
# Una fila por cada error documentado: qué configuración del servidor (capas aplicadas con una recarga) y qué
# parámetros del cliente lo producen. Los casos que comparten configuración del servidor comparten una misma
# recarga; los dos últimos son configuraciones que el propio servidor rechaza: no hay intento del cliente,
# solo el log de la recarga.

# %%
scratch = lab.workspace.path / "client" / "troubleshooting"
recipes = pd.DataFrame([{"expected key": c.key, "how we make it happen": c.what,
                         "client attempt": "none (reload only)" if c.reload_only else "yes"}
                        for c in lk.scenarios.troubleshooting_cases(lab, pki, scratch)
                        if include_reload_errors or not c.reload_only])
recipes

# %% [markdown]
# ## 2 · The table
#
# `client message` is libpq's text without the `connection to server at …, port … failed:` head; file
# paths and the client's address are masked so the table reads the same on every machine (the raw text
# follows below). `server log` is what the server wrote for the same attempt, summarised the same way.

# %% [markdown] lang="es" en="22849a1e"
# ## 2 · La tabla
#
# `client message` es el texto de libpq sin la cabecera `connection to server at …, port … failed:`; las
# rutas de archivo y la dirección del cliente se enmascaran para que la tabla se lea igual en cualquier
# máquina (el texto en bruto viene a continuación). `server log` es lo que escribió el servidor para ese
# mismo intento, resumido de la misma forma.

# %%
table, results = lk.scenarios.troubleshooting_rows(lab, pki, scratch, include_reload_errors=include_reload_errors)

# %% tags=["key-result"]
shown = table[["expected", "classified as", "reproduced", "client message", "server log", "cause", "fix"]]
lk.tables.cells(shown, ["reproduced"], uuid="nb35-table").set_properties(
    subset=["cause", "fix", "server log"], **{"min-width": "260px"})

# %%
assert table["reproduced"].all(), table.loc[~table["reproduced"], ["expected", "classified as", "raw client text"]]
assert (table["expected"] == table["classified as"]).all()
required = {"unknown_ca", "crl_missing", "hostname_mismatch", "cert_revoked", "server_cert_untrusted",
            "root_cert_missing", "cert_auth_failed", "client_cert_required", "no_hba_no_encryption",
            "protocol_mismatch", "key_permissions", "key_bad_decrypt", "protocol_range_invalid", "cert_expired"}
if include_reload_errors:
    required.add("clientcert_invalid")
assert required <= set(table["documented as"]), required - set(table["documented as"])
len(table), sorted(set(table["expected"]))

# %% [markdown]
# The raw client text and server log lines of every row (addresses, pids, paths and timestamps included —
# this cell is not compared between runs):

# %% [markdown] lang="es" en="0d738a04"
# El texto en bruto del cliente y las líneas del log del servidor de cada fila (con direcciones, pids, rutas
# y marcas de tiempo; esta celda no se compara entre ejecuciones):

# %% tags=["nbval-ignore-output"]
lk.tables.table(table[["expected", "raw client text", "raw server log", "psql"]], "nb35-raw")

# %% [markdown]
# ## 3 · What the table teaches
#
# **Read which side printed the words.** `tlsv1 alert unknown ca` appears on the *client* when the
# *server* could not chain the client's certificate (rows `unknown_ca`, `crl_missing`), and in the
# *server log* when the *client* rejected the server's certificate (row `server_cert_untrusted`). The
# catalogue matches each pattern only on the side where it means what its entry says.
#
# **The client often sees a generic alert; the server log has the reason.** For a missing CRL the
# client reads the same `unknown ca` as for a missing intermediate; only the server's DETAIL line says
# `verification failed at depth 1: unable to get certificate CRL` — the guide's error #2. The depth
# tells you *which* certificate failed: 0 is the client's own, 1 the intermediate above it.
#
# **Some failures never reach the server.** A missing root file, a key with open permissions, a wrong
# key passphrase and an impossible protocol range are refused by libpq before or during its first
# handshake message: the server logs only `EOF detected` (or nothing), so on the server side there is
# nothing to find. A host-name mismatch is decided by the client *after* a successful handshake, and the
# server logs nothing at all.
#
# > **The guide says** (*Mensajes de Error* #1) to fix `unknown ca` with
# > `cat root.crt intermediate.crt > combined.crt` and then sets `ssl_ca_file = '/tmp/pki/CA/ca-chain.crt'`
# > — a different file name than the one it just built. **Measured:** `ssl_ca_file` must point at the
# > combined file (the lab's `combined.crt`: intermediate + root). A second fix needs no server change: a
# > client whose `sslcert` file holds its leaf **plus** the intermediate is accepted by a server that
# > trusts the root alone (measured in `tests/test_layers.py`).
#
# > **The guide says** (#2) that "certificate verify failed at depth 1" means PostgreSQL checks whether
# > the intermediate itself is revoked. **Measured:** right, and the exact log line on PostgreSQL 16 is
# > `Client certificate verification failed at depth 1: unable to get certificate CRL` — the server has a
# > CRL for the intermediate's *children* but none from the root; `ssl_crl_file` must hold both CRLs.
#
# > **The guide says** (#4) the error reads `hostname does not match certificate`. **Measured:** libpq
# > prints `server certificate for "…" (and N other names) does not match host name "…"` (lesson 21).

# %% [markdown] lang="es" en="b2534f83"
# ## 3 · Lo que enseña la tabla
#
# **Fíjese en qué lado imprimió el mensaje.** `tlsv1 alert unknown ca` aparece en el *cliente* cuando el
# *servidor* no pudo construir la cadena del certificado del cliente (filas `unknown_ca`, `crl_missing`), y en
# el *log del servidor* cuando fue el *cliente* quien rechazó el certificado del servidor (fila
# `server_cert_untrusted`). El catálogo reconoce cada patrón solo en el lado donde significa lo que dice su
# entrada.
#
# **El cliente suele ver una alerta genérica; el log del servidor tiene el motivo.** Ante una CRL ausente, el
# cliente lee el mismo `unknown ca` que ante una CA intermedia ausente; solo la línea DETAIL del servidor dice
# `verification failed at depth 1: unable to get certificate CRL`, el error n.º 2 de la guía. La profundidad
# indica *qué* certificado falló: 0 es el del propio cliente, 1 la CA intermedia que está por encima.
#
# **Algunos fallos nunca llegan al servidor.** Un archivo raíz ausente, una clave con permisos abiertos, una
# frase de paso de la clave errónea y un rango de protocolos imposible los rechaza libpq antes de su primer
# mensaje de negociación TLS o durante él: el servidor solo registra `EOF detected` (o nada), así que en el
# lado del servidor no hay nada que encontrar. Un nombre de host que no coincide lo decide el cliente
# *después* de una negociación correcta, y el servidor no registra nada en absoluto.
#
# > **La guía dice** (*Mensajes de Error* n.º 1) que `unknown ca` se corrige con
# > `cat root.crt intermediate.crt > combined.crt`, y a continuación fija
# > `ssl_ca_file = '/tmp/pki/CA/ca-chain.crt'`, un nombre de archivo distinto del que acaba de crear.
# > **Medido:** `ssl_ca_file` debe apuntar al archivo combinado (el `combined.crt` del laboratorio:
# > intermedia + raíz). Hay una segunda solución que no requiere tocar el servidor: un cliente cuyo archivo
# > `sslcert` contiene su certificado final **más** la CA intermedia es aceptado por un servidor que solo
# > confía en la raíz (medido en `tests/test_layers.py`).
#
# > **La guía dice** (n.º 2): "Por eso ves el error "certificate verify failed at depth 1" - está fallando en
# > el nivel del CA intermedio (depth 1), porque PostgreSQL está intentando verificar si el propio
# > certificado intermedio está revocado." **Medido:** es correcto, y la línea exacta del log en
# > PostgreSQL 16 es `Client certificate verification failed at depth 1: unable to get certificate CRL`: el
# > servidor tiene una CRL para los *hijos* de la CA intermedia, pero ninguna emitida por la raíz;
# > `ssl_crl_file` debe contener las dos CRL.
#
# > **La guía dice** (n.º 4) que el error es `hostname does not match certificate`. **Medido:** libpq
# > imprime `server certificate for "…" (and N other names) does not match host name "…"` (lección 21).

# %% [markdown]
# ## 4 · The whole catalogue
#
# Every entry the classifier knows, including the ones not reproduced here (start-time failures, the
# TLS 1.0/1.1 security-level trap, generic connection failures) and which guide section shows each. The
# catalogue is reference text that grows with the course, so this listing is not compared between runs.

# %% [markdown] lang="es" en="60487bd7"
# ## 4 · El catálogo completo
#
# Todas las entradas que conoce el clasificador, incluidas las que no se reproducen aquí (fallos al arrancar,
# la trampa del nivel de seguridad con TLS 1.0/1.1, fallos de conexión genéricos), y qué sección de la guía
# muestra cada una. El catálogo es material de referencia que crece con el curso, así que este listado no se
# compara entre ejecuciones.

# %% tags=["nbval-ignore-output"]
full = lk.catalogue.as_dataframe()[["key", "error_class", "side", "guide_ref"]]
full["reproduced above"] = full["key"].isin(set(table["expected"]))
full

# %% [markdown]
# ## 5 · The same words on the other end
#
# An alert in the **server log** is what the *client* sent before hanging up. Here the server presents a
# certificate that the lab CA has revoked, and the client checks it against the lab's CRLs (`sslcrl`):
# the client prints only `certificate verify failed`, the server logs `sslv3 alert certificate revoked`.
# That line names the *server's* certificate — renewing a client certificate would change nothing.
# (`lk.catalogue.explain(text)` reads any client's message the same way: psql, node-postgres, or a
# client message pasted together with server-log lines; `tests/test_catalogue_ends.py` reproduces each
# wording with psql 15 and node-postgres.)

# %% [markdown] lang="es" en="6daf56fe"
# ## 5 · Las mismas palabras en el otro extremo
#
# Una alerta en el **log del servidor** es lo que envió el *cliente* antes de colgar. Aquí el servidor
# presenta un certificado que la CA del laboratorio ha revocado, y el cliente lo comprueba contra las CRL del
# laboratorio (`sslcrl`): el cliente solo imprime `certificate verify failed` y el servidor registra
# `sslv3 alert certificate revoked`. Esa línea se refiere al certificado *del servidor*: renovar un
# certificado de cliente no cambiaría nada. (`lk.catalogue.explain(text)` interpreta del mismo modo el
# mensaje de cualquier cliente: psql, node-postgres, o un mensaje del cliente pegado junto con líneas del
# log del servidor; `tests/test_catalogue_ends.py` reproduce cada redacción con psql 15 y node-postgres.)

# %%
crt, key = pki.issue_server(("localhost", "127.0.0.1"), name="server-l35-revoked", space="35")  # lesson's own
pki.revoke(crt)
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, cert=crt, key=key)).ok
checked = lk.attempt(lab, label="client checks the server against the lab CRLs", sslmode="verify-ca",
                     sslrootcert=pki.paths.combined_crt, extra={"sslcrl": pki.paths.combined_crl})
lk.tables.verdicts([checked], ("label", "outcome", "client says", "server says"), uuid="nb35-ends")

# %%
assert checked.error_key == "server_cert_revoked" and "alert certificate revoked" in checked.server_log
print(lk.catalogue.explain(checked.error_text, checked.server_log))

# %% [markdown]
# ## Key points
#
# - The same words mean different things on the two ends: read which side printed them.
# - The server log often names the real cause when the client only receives an alert (e.g. depth 1 CRL).
# - Every key in the table is explained in the catalogue and in docs/glossary.md.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="8326b935"
# ## Puntos clave
#
# - Las mismas palabras significan cosas distintas en cada extremo: fíjese en qué lado las imprimió.
# - El log del servidor suele nombrar la causa real cuando el cliente solo recibe una alerta (por ejemplo, la CRL en la profundidad 1).
# - Cada clave de la tabla se explica en el catálogo y en docs/glossary.md.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
