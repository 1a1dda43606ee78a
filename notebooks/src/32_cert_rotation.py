# %% [markdown]
# # 32 · Rotating the server certificate: files, reload, and a failed swap
#
# Certificates expire, and a bank's server must get a new one without downtime. The guide's last
# post-implementation test swaps the certificate and key files with `mv` and connects again "without a
# reload", then moves the old files back. It does not say what you should observe. This lesson measures it:
#
# 1. **Files replaced, no reload** — which certificate does a *new* client get?
# 2. **After a reload** — and what happens to sessions that were already open?
# 3. **A broken replacement** (a key that does not match, a key the server cannot read, a key with loose
#    permissions) — does the reload take the server down, or does it keep serving?
# 4. **Rollback** — the guide's `mv` back, in our terms.
#
# `sslinfo` cannot answer question 1: it describes the *client's* certificate. We ask the server directly:
# send PostgreSQL's SSLRequest, run a TLS handshake, read the serial of the certificate it presents
# (`lk.handshake.served_certificate`, the equivalent of
# `openssl s_client -starttls postgres -connect 127.0.0.1:5416 | openssl x509 -noout -serial`).
#
# Guide coverage: *Fase #3 Post-Implementación*, item 5 (certificate change without reload).
#
# ```mermaid
# sequenceDiagram
#   participant F as tls/server.crt + server.key (files)
#   participant P as postmaster (SSL context in memory)
#   participant C as new client
#   F->>F: replace contents (no reload)
#   C->>P: handshake
#   P-->>C: OLD certificate (context loaded at start / last reload)
#   Note over P: pg_reload_conf() / pg_ctl reload
#   P->>F: read + check cert and key
#   alt both load and match
#     P-->>C: NEW certificate for new connections
#   else broken
#     P->>P: "SSL configuration was not reloaded" (keeps the previous context)
#   end
# ```

# %% [markdown] lang="es" en="ef4bcd9b"
# # 32 · Rotación del certificado del servidor: archivos, recarga y un cambio fallido
#
# Los certificados caducan, y el servidor de un banco tiene que recibir uno nuevo sin interrumpir el
# servicio. La última prueba posterior a la implementación que propone la guía sustituye con `mv` los
# archivos del certificado y de la clave, vuelve a conectar "sin recarga" y después restituye los archivos
# antiguos. No indica qué se debería observar. Esta lección lo mide:
#
# 1. **Archivos sustituidos, sin recarga**: ¿qué certificado recibe un cliente *nuevo*?
# 2. **Tras una recarga**: ¿y qué ocurre con las sesiones que ya estaban abiertas?
# 3. **Un reemplazo defectuoso** (una clave que no corresponde, una clave que el servidor no puede leer, una
#    clave con permisos demasiado abiertos): ¿la recarga deja caído el servidor o este sigue atendiendo?
# 4. **Vuelta atrás**: el `mv` de regreso de la guía, traducido a nuestras herramientas.
#
# `sslinfo` no sirve para la pregunta 1: describe el certificado *del cliente*. Se lo preguntamos
# directamente al servidor: enviamos el SSLRequest de PostgreSQL, hacemos una negociación TLS (handshake) y
# leemos el número de serie del certificado que presenta (`lk.handshake.served_certificate`, el equivalente
# de `openssl s_client -starttls postgres -connect 127.0.0.1:5416 | openssl x509 -noout -serial`).
#
# Cobertura de la guía: *Fase #3 Post-Implementación*, punto 5 (cambio de certificado sin recarga).
#
# ```mermaid
# sequenceDiagram
#   participant F as tls/server.crt + server.key (archivos)
#   participant P as postmaster (contexto SSL en memoria)
#   participant C as cliente nuevo
#   F->>F: se sustituye el contenido (sin recarga)
#   C->>P: negociación TLS
#   P-->>C: certificado ANTIGUO (contexto cargado al arrancar / en la última recarga)
#   Note over P: pg_reload_conf() / pg_ctl reload
#   P->>F: lee y comprueba certificado y clave
#   alt ambos cargan y se corresponden
#     P-->>C: certificado NUEVO para las conexiones nuevas
#   else defectuoso
#     P->>P: "SSL configuration was not reloaded" (conserva el contexto anterior)
#   end
# ```

# %% [markdown]
# ## Objectives · time
#
# - Rotate the server certificate with a reload, without dropping sessions
# - See that new files do nothing until the reload
# - Survive a broken replacement and roll back
#
# **Time:** about 8 minutes on your own: reading ≈ 7 min (944 words of prose at 150 words a minute) and running ≈ 10 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="865f4f52"
# ## Objetivos · tiempo
#
# - Rotar el certificado del servidor con una recarga, sin cortar sesiones
# - Comprobar que los archivos nuevos no tienen efecto hasta la recarga
# - Sobrevivir a un reemplazo defectuoso y volver atrás
#
# **Tiempo:** unos 8 minutos por cuenta propia: lectura ≈ 7 min (944 palabras de texto a 150 palabras por minuto) y ejecución ≈ 10 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) dan los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
rotate_to = "server2"  # the replacement certificate: "server2" (same intermediate) or "server_by_root"

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("rotate_to", rotate_to, ("server2", "server_by_root"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)  # show whole log lines and psql commands
new_crt, new_key = getattr(pki.paths, f"{rotate_to}_crt"), getattr(pki.paths, f"{rotate_to}_key")

# %% [markdown]
# ## 1 · Starting point: the server presents `server.crt`
#
# The first layer of the guide delivers `server.crt` and `server.key` as `tls/server.crt` and
# `tls/server.key` and reloads. A client that verifies everything (`verify-full` against the lab's CA
# bundle, like the guide's psql line) connects, and the probe names the certificate it was handed.

# %% [markdown] lang="es" en="7de864de"
# ## 1 · Punto de partida: el servidor presenta `server.crt`
#
# La primera capa de la guía entrega `server.crt` y `server.key` como `tls/server.crt` y `tls/server.key`
# y hace una recarga. Un cliente que lo verifica todo (`verify-full` contra el paquete de CA del
# laboratorio, como la línea de psql de la guía) conecta, y la sonda indica qué certificado ha recibido.

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki))
assert applied.ok, applied.reason
VERIFY = dict(sslmode="verify-full", user="conssl", password=lesson.password("conssl"),
              sslrootcert=pki.paths.combined_crt)


def observe(step: str) -> dict:
    """What a new client sees now: does verify-full connect, and which certificate was presented."""
    return lk.monitoring.new_client_view(lab, pki, step, **VERIFY)


steps = [observe("start: layer L1 applied")]
old_conn = lk.client.open_session(lab, **VERIFY)  # a session opened now, kept across the rotation
pd.DataFrame(steps)[["step", "new client connects", "certificate presented"]]

# %% [markdown]
# The serials involved (they change whenever the lab PKI is regenerated, so this cell is not compared):

# %% [markdown] lang="es" en="2566c295"
# Los números de serie en juego (cambian cada vez que se regenera la PKI del laboratorio, por eso esta celda no se compara):

# %% tags=["nbval-ignore-output"]
pd.DataFrame(steps)[["step", "serial", "psql"]]

# %% [markdown]
# ## 2 · Replace the files, do not reload
#
# The guide's four `mv` commands end with the new certificate and key under the old names. We write the
# new contents under the same names (`lab.deliver("server.crt", …)`), which leaves the server exactly where
# the `mv`s leave it.

# %% [markdown] lang="es" en="0ce89f47"
# ## 2 · Sustituir los archivos sin recargar
#
# Los cuatro `mv` de la guía terminan dejando el certificado y la clave nuevos con los nombres antiguos.
# Nosotros escribimos el contenido nuevo con esos mismos nombres (`lab.deliver("server.crt", …)`), lo que
# deja al servidor exactamente en el estado en que lo dejan los `mv`.

# %%
backup = {name: lk.transaction.server_file(lab, name) for name in ("server.crt", "server.key")}  # = server_ant.*
lab.deliver("server.crt", new_crt, 0o644)
lab.deliver("server.key", new_key, 0o600)
steps.append(observe(f"files replaced by {new_crt.name}, no reload"))

# %% [markdown]
# ## 3 · Reload
#
# `pg_reload_conf()` (the guide's `pg_ctl reload`) makes the postmaster read the files again and build a new
# SSL context; new connections get the new certificate. The session opened in step 1 keeps its TLS session
# — it was negotiated once, at connect time — and keeps working.

# %% [markdown] lang="es" en="2cb7ba01"
# ## 3 · Recarga
#
# `pg_reload_conf()` (el `pg_ctl reload` de la guía) hace que el postmaster vuelva a leer los archivos y
# construya un contexto SSL nuevo; las conexiones nuevas reciben el certificado nuevo. La sesión abierta en
# el paso 1 conserva su sesión TLS —se negoció una sola vez, al conectar— y sigue funcionando.

# %%
reloaded = lab.reload()
steps.append(observe("after reload"))
still_alive = old_conn.execute("SELECT ssl_is_used()").fetchone()[0]

# %% tags=["key-result", "erratum-rotation"]
rotation = pd.DataFrame(steps)[["step", "new client connects", "certificate presented"]]
rotation["open session from step 1 still works"] = [None, None, still_alive]
lk.tables.table(rotation, "l32_rotation")

# %%
assert reloaded.ok, reloaded.log
assert [s["certificate presented"] for s in steps] == ["server.crt", "server.crt", new_crt.name]
assert all(s["new client connects"] for s in steps) and still_alive is True

# %% [markdown]
# > **The guide says** only "change the certificate without a reload" and connects with psql, expecting
# > nothing in particular. **Measured:** without a reload nothing changes — PostgreSQL loaded the
# > certificate into memory at start (or at the last reload) and never looks at the files again until the
# > next SIGHUP. And psql cannot show the difference anyway: both certificates chain to the same CA and
# > name the same host, so `verify-full` connects in every step. Only the served serial tells you which
# > certificate is live — check it after every rotation.
#
# A practical consequence: a certificate file replaced on disk is a change *waiting* for the next reload,
# which may come days later from an unrelated `pg_hba.conf` edit. Rotate and reload together, and check.

# %% [markdown] lang="es" en="87608723"
# > **La guía dice** solo "cambiar el certificado sin recarga" y conecta con psql, sin esperar nada en
# > concreto. **Medido:** sin recarga no cambia nada: PostgreSQL cargó el certificado en memoria al
# > arrancar (o en la última recarga) y no vuelve a mirar los archivos hasta el siguiente SIGHUP. Además,
# > psql no puede mostrar la diferencia: ambos certificados encadenan con la misma CA y nombran el mismo
# > host, así que `verify-full` conecta en todos los pasos. Solo el número de serie servido revela qué
# > certificado está activo: compruébelo después de cada rotación.
#
# Una consecuencia práctica: un certificado sustituido en disco es un cambio *pendiente* de la próxima
# recarga, que puede llegar días después por una edición de `pg_hba.conf` que no tiene nada que ver. Rote y
# recargue a la vez, y compruebe el resultado.

# %% [markdown]
# ## 4 · A broken replacement does not take the server down
#
# Three realistic mistakes, each made on top of the working rotated state, then reloaded:
#
# - **mismatched key** — the new certificate with the *old* key (a mix-up between `server.key` and
#   `server_ant.key` in the `mv` sequence);
# - **unreadable key** — mode `0000`, as a wrong `chmod` or a copy as another user leaves it;
# - **group-readable key** — mode `0640` on a key the server account owns.
#
# After each, we look at the reload's log, at the certificate a new client gets, and whether it connects.
# Then the good key goes back.

# %% [markdown] lang="es" en="2a925b68"
# ## 4 · Un reemplazo defectuoso no deja caído el servidor
#
# Tres errores realistas, cada uno aplicado sobre el estado ya rotado y funcionando, seguido de una recarga:
#
# - **clave que no corresponde**: el certificado nuevo con la clave *antigua* (una confusión entre
#   `server.key` y `server_ant.key` en la secuencia de `mv`);
# - **clave ilegible**: modo `0000`, como la deja un `chmod` equivocado o una copia hecha con otro usuario;
# - **clave legible por el grupo**: modo `0640` en una clave cuya propietaria es la cuenta del servidor.
#
# Tras cada uno miramos el log de la recarga, el certificado que recibe un cliente nuevo y si este conecta.
# Después se restituye la clave correcta.

# %%
BROKEN = {
    "mismatched key": (pki.paths.server_key, 0o600),
    "unreadable key (mode 0000)": (new_key, 0o000),
    "group-readable key (mode 0640)": (new_key, 0o640),
}
broken_rows = []
for kind, (key_file, mode) in BROKEN.items():
    with lk.transaction.file_replaced(lab, "server.key", key_file, mode) as result:
        broken_rows.append({"replacement": kind, "reload accepted": result.ok, **observe(kind),
                            "server log": "\n".join(lk.messages.log_lines(result.log))})
broken = pd.DataFrame(broken_rows)[["replacement", "reload accepted", "server log", "certificate presented",
                                    "new client connects"]]

# %%
broken

# %%
assert not broken["reload accepted"].any() and broken["new client connects"].all()
assert (broken["certificate presented"] == new_crt.name).all()
assert broken["server log"].str.contains("SSL configuration was not reloaded").all()
assert "key values mismatch" in broken.loc[0, "server log"]
assert "Permission denied" in broken.loc[1, "server log"]
assert "has group or world access" in broken.loc[2, "server log"]

# %% [markdown]
# PostgreSQL treats a TLS file it cannot use at reload time as a warning, not a fatal error: it logs the
# reason, then **`SSL configuration was not reloaded`**, and keeps serving with the context it already
# had. Nothing fails for clients, which is both the good news and the trap: `pg_reload_conf()` still
# returns `true`, `pg_file_settings` shows no error (the *setting* is valid; the *file* is not), and only
# the log says the new certificate never went live. The same mistakes at a **restart** would be fatal —
# the server would refuse to start — so a bad file left on disk is a time bomb for the next restart.
#
# Note the permission rule in the DETAIL line: a key owned by the server account must be `0600` or
# stricter; `0640` is allowed only when root owns the file (the Debian/Ubuntu `ssl-cert` group setup).

# %% [markdown] lang="es" en="73931b58"
# PostgreSQL trata un archivo TLS que no puede usar durante una recarga como un aviso, no como un error
# fatal: registra el motivo, después **`SSL configuration was not reloaded`**, y sigue atendiendo con el
# contexto que ya tenía. A los clientes no les falla nada, y eso es a la vez la buena noticia y la trampa:
# `pg_reload_conf()` sigue devolviendo `true`, `pg_file_settings` no muestra ningún error (el *parámetro*
# es válido; el *archivo*, no) y solo el log dice que el certificado nuevo nunca entró en servicio. Los
# mismos errores en un **reinicio** serían fatales —el servidor se negaría a arrancar—, así que un archivo
# defectuoso olvidado en disco es una bomba de relojería para el próximo reinicio.
#
# Fíjese en la regla de permisos de la línea DETAIL: una clave cuya propietaria es la cuenta del servidor
# debe tener modo `0600` o más restrictivo; `0640` solo se admite cuando el propietario es root (la
# configuración con el grupo `ssl-cert` de Debian/Ubuntu).

# %% [markdown]
# ## 5 · Rollback, the guide's way and ours
#
# | guide (`mv`) | here |
# |---|---|
# | `mv server.crt server_ant.crt`; `mv server.key server_ant.key` | `backup = {…: lk.transaction.server_file(lab, …)}` |
# | `mv server2.crt server.crt`; `mv server2.key server.key` | `lab.deliver("server.crt", server2.crt)`; same for the key |
# | *(no reload in the guide)* | `lab.reload()`, then check the served serial |
# | rollback: `mv server.crt server2.crt` … `mv server_ant.crt server.crt` … | `lab.deliver("server.crt", backup[…])`; same for the key |
# | *(no reload in the guide)* | `lab.reload()`, check the serial again |
#
# Two improvements over plain `mv`: write the key before the certificate's reload is triggered (a reload
# between the two `mv`s would fail with "key values mismatch" and keep the old context — harmless, but
# confusing), and keep the previous pair until the served serial has been checked.

# %% [markdown] lang="es" en="283b90a5"
# ## 5 · Vuelta atrás, a la manera de la guía y a la nuestra
#
# | guía (`mv`) | aquí |
# |---|---|
# | `mv server.crt server_ant.crt`; `mv server.key server_ant.key` | `backup = {…: lk.transaction.server_file(lab, …)}` |
# | `mv server2.crt server.crt`; `mv server2.key server.key` | `lab.deliver("server.crt", server2.crt)`; lo mismo para la clave |
# | *(la guía no recarga)* | `lab.reload()`, y después se comprueba el número de serie servido |
# | vuelta atrás: `mv server.crt server2.crt` … `mv server_ant.crt server.crt` … | `lab.deliver("server.crt", backup[…])`; lo mismo para la clave |
# | *(la guía no recarga)* | `lab.reload()`, y se vuelve a comprobar el número de serie |
#
# Dos mejoras respecto a un `mv` a secas: escriba la clave antes de que se dispare la recarga del
# certificado (una recarga entre los dos `mv` fallaría con "key values mismatch" y conservaría el contexto
# antiguo: inofensivo, pero desconcertante), y conserve el par anterior hasta haber comprobado el número
# de serie servido.

# %%
lab.deliver("server.crt", backup["server.crt"], 0o644)
lab.deliver("server.key", backup["server.key"], 0o600)
rolled_back = lab.reload()
steps.append(observe("rolled back + reload"))
assert rolled_back.ok and steps[-1]["certificate presented"] == "server.crt" and steps[-1]["new client connects"]
pd.DataFrame(steps[-1:])[["step", "new client connects", "certificate presented"]]

# %% [markdown]
# ## Key points
#
# - The server reads its certificate at start and at reload only; replacing the files alone changes nothing.
# - Open sessions keep the certificate they were handed; new connections get the new one.
# - A certificate with the wrong key is refused at reload (`key_mismatch`) and the old pair stays served.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="f8ec21ee"
# ## Puntos clave
#
# - El servidor lee su certificado solo al arrancar y en cada recarga; sustituir los archivos, por sí solo, no cambia nada.
# - Las sesiones abiertas conservan el certificado que recibieron; las conexiones nuevas reciben el nuevo.
# - Un certificado con la clave equivocada se rechaza en la recarga (`key_mismatch`) y se sigue sirviendo el par antiguo.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
old_conn.close()
lesson.finish()
