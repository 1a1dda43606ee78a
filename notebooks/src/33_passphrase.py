# %% [markdown]
# # 33 · A passphrase-protected server key: `ssl_passphrase_command` and reloads
#
# A private key encrypted with a passphrase is useless to someone who copies the data directory — but the
# server must get the passphrase at every start. The guide's "extra configuration" section suggests two
# settings for that: `ssl_passphrase_command` (a program that prints the passphrase) and
# `ssl_passphrase_command_supports_reload = on`, described as "reload the key without a restart". This
# lesson measures what each one really does on PostgreSQL 16:
#
# 1. the command, as a script in the data directory that reads a passphrase **file** (mode 0600) — the
#    secret is never in the script, in `postgresql.conf`, or in this notebook's output;
# 2. switching to the encrypted key by **reload** with the default `supports_reload = off`;
# 3. a **restart**, which runs the command;
# 4. later reloads with `off` (what happens to *other* TLS changes?) and with `on`;
# 5. a **wrong passphrase**, at reload and at restart — and getting the server back.
#
# Guide coverage: *Configuración extra en postgresql* (`ssl_passphrase_command`,
# `ssl_passphrase_command_supports_reload`) and the parameter list items 13–14.
#
# ```mermaid
# flowchart LR
#   P[postmaster start / reload] -->|runs| S["tls/get_passphrase.sh (0700)"]
#   S -->|cat| F["tls/passphrase.txt (0600)"]
#   S -->|stdout: passphrase| P
#   P -->|decrypts| K["tls/server.key (encrypted PEM)"]
# ```

# %% [markdown] lang="es" en="c9bb5ec1"
# # 33 · Una clave de servidor protegida con frase de paso: `ssl_passphrase_command` y las recargas
#
# Una clave privada cifrada con una frase de paso no le sirve de nada a quien copie el directorio de datos,
# pero el servidor necesita esa frase en cada arranque. La sección de "configuración extra" de la guía
# propone dos parámetros para ello: `ssl_passphrase_command` (un programa que imprime la frase de paso) y
# `ssl_passphrase_command_supports_reload = on`, que describe como la forma de recargar la clave sin
# reiniciar. Esta lección mide lo que hace de verdad cada uno en PostgreSQL 16:
#
# 1. el comando, como un script en el directorio de datos que lee un **archivo** con la frase de paso (modo
#    0600): el secreto nunca aparece en el script, ni en `postgresql.conf`, ni en la salida de este cuaderno;
# 2. el paso a la clave cifrada mediante una **recarga**, con el valor por defecto `supports_reload = off`;
# 3. un **reinicio**, que sí ejecuta el comando;
# 4. las recargas posteriores con `off` (¿qué pasa con los *demás* cambios de TLS?) y con `on`;
# 5. una **frase de paso errónea**, en una recarga y en un reinicio, y cómo recuperar el servidor.
#
# Cobertura de la guía: *Configuración extra en postgresql* (`ssl_passphrase_command`,
# `ssl_passphrase_command_supports_reload`) y los puntos 13–14 de la lista de parámetros.
#
# ```mermaid
# flowchart LR
#   P[arranque / recarga del postmaster] -->|ejecuta| S["tls/get_passphrase.sh (0700)"]
#   S -->|cat| F["tls/passphrase.txt (0600)"]
#   S -->|stdout: frase de paso| P
#   P -->|descifra| K["tls/server.key (PEM cifrado)"]
# ```

# %% [markdown]
# ## Objectives · time
#
# - Protect the server key with a passphrase and `ssl_passphrase_command`
# - Know what `ssl_passphrase_command_supports_reload` changes for reloads
# - Recover from a wrong passphrase
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (740 words of prose at 150 words a minute) and running ≈ 7 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="ec0b8c82"
# ## Objetivos · tiempo
#
# - Proteger la clave del servidor con una frase de paso y `ssl_passphrase_command`
# - Saber qué cambia `ssl_passphrase_command_supports_reload` en las recargas
# - Recuperarse de una frase de paso errónea
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (740 palabras de texto a 150 palabras por minuto) y ejecución ≈ 7 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) dan los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
restart_timeout = 30  # seconds to wait for the server after each restart

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_int("restart_timeout", restart_timeout, 5, 120)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)  # show whole log lines and psql commands

# %% [markdown]
# ## 1 · Starting point, and the three files
#
# The server starts on the unencrypted `server2` pair, so we can tell by the served certificate whether a
# later change went live. Then three files are delivered into the data directory's `tls/` folder, owned by
# the server's account: the encrypted key (the same key as `server.crt`, PEM-encrypted), the passphrase file,
# and the script. Here is the script — it holds no secret:

# %% [markdown] lang="es" en="109a54ec"
# ## 1 · Punto de partida y los tres archivos
#
# El servidor arranca con el par `server2`, sin cifrar, para que el certificado servido nos diga si un
# cambio posterior ha entrado en servicio. Después se entregan tres archivos en la carpeta `tls/` del
# directorio de datos, propiedad de la cuenta del servidor: la clave cifrada (la misma clave de
# `server.crt`, cifrada en PEM), el archivo con la frase de paso y el script. Este es el script; no
# contiene ningún secreto:

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, "server2")).ok
key_path = lab.deliver("server-encrypted.key", pki.paths.server_encrypted_key, 0o600)
cert_path = lab.deliver("server.crt", pki.paths.server_crt, 0o644)
lab.deliver("passphrase.txt", pki.paths.passphrase_file, 0o600)
script_path = lab.deliver("get_passphrase.sh", lk.layers.passphrase_script("passphrase.txt"), 0o700)
print(lk.layers.passphrase_script("passphrase.txt").decode())

# %%
pd.DataFrame([
    {"file": "tls/server-encrypted.key", "mode": "0600", "first line": pki.paths.server_encrypted_key.read_text().splitlines()[0]},
    {"file": "tls/passphrase.txt", "mode": "0600", "first line": "(the passphrase — not shown)"},
    {"file": "tls/get_passphrase.sh", "mode": "0700", "first line": "#!/bin/sh"},
])

# %%
VERIFY = dict(sslmode="verify-full", user="conssl", password=lesson.password("conssl"),
              sslrootcert=pki.paths.combined_crt)
steps = []


def record(step: str, result=None) -> None:
    """One row of the lesson's verdict table: the change, then what a new client gets."""
    log = "\n".join(lk.messages.log_lines(result.log)) if result is not None else ""
    steps.append({**lk.monitoring.new_client_view(lab, pki, step, **VERIFY),
                  "change accepted": None if result is None else result.ok, "server log": log})


record("start: server2 pair, no passphrase")
steps[-1]["certificate presented"]

# %% [markdown]
# ## 2 · Switch to the encrypted key by reload (supports_reload = off, the default)
#
# The settings a reader would put in `postgresql.conf` (paths shortened to `$PGDATA`):

# %% [markdown] lang="es" en="46305d23"
# ## 2 · Paso a la clave cifrada mediante recarga (supports_reload = off, el valor por defecto)
#
# Los parámetros que un lector pondría en `postgresql.conf` (rutas abreviadas como `$PGDATA`):

# %%
lab.set_settings({"ssl_cert_file": cert_path, "ssl_key_file": key_path,
                  "ssl_passphrase_command": lk.quoting.passphrase_command(script_path)})
data_dir = lab.show("data_directory")
print(lab.lesson_conf_text().replace(data_dir, "$PGDATA"))
record("reload with the encrypted key (supports_reload=off)", lab.reload())
pd.DataFrame(steps[-1:])[["step", "change accepted", "certificate presented", "new client connects", "server log"]]

# %% [markdown]
# The reload is refused, politely: PostgreSQL does not even run the command during a reload while
# `ssl_passphrase_command_supports_reload` is `off`. It logs that the key "cannot be reloaded because it
# requires a passphrase" and **SSL configuration was not reloaded**, and keeps serving `server2.crt`.
#
# ## 3 · Restart: the command runs, the encrypted key is in use

# %% [markdown] lang="es" en="a6d979fd"
# La recarga se rechaza, con buenos modales: mientras `ssl_passphrase_command_supports_reload` vale `off`,
# PostgreSQL ni siquiera ejecuta el comando durante una recarga. Registra que la clave "cannot be reloaded
# because it requires a passphrase" y **SSL configuration was not reloaded**, y sigue sirviendo
# `server2.crt`.
#
# ## 3 · Reinicio: el comando se ejecuta y la clave cifrada entra en uso

# %%
mark = lab.log_mark()
lab.restart(timeout=restart_timeout)
record("restart")
assert steps[-1]["certificate presented"] == "server.crt" and steps[-1]["new client connects"]
assert pki.passphrase not in lab.log_since(0)  # the secret never reaches the log
steps[-1]["certificate presented"]

# %% [markdown]
# ## 4 · Later reloads with `off`: every TLS change is silently ignored
#
# This is the part the guide does not mention. With an encrypted key and `supports_reload = off`, *every*
# reload rebuilds the SSL context, fails at the key, and keeps the old context. We raise
# `ssl_min_protocol_version` to `TLSv1.3` and reload: `SHOW` reports the new value, but a TLS 1.2
# handshake (probed directly with `lk.handshake.probe`) is still accepted.

# %% [markdown] lang="es" en="de58ea1c"
# ## 4 · Recargas posteriores con `off`: cualquier cambio de TLS se ignora en silencio
#
# Esto es lo que la guía no menciona. Con una clave cifrada y `supports_reload = off`, *cada* recarga
# reconstruye el contexto SSL, falla al llegar a la clave y conserva el contexto antiguo. Subimos
# `ssl_min_protocol_version` a `TLSv1.3` y recargamos: `SHOW` muestra el valor nuevo, pero una negociación
# TLS 1.2 (sondeada directamente con `lk.handshake.probe`) se sigue aceptando.

# %%
lab.set_settings({"ssl_min_protocol_version": "TLSv1.3"})
record("reload: ssl_min_protocol_version = TLSv1.3 (supports_reload=off)", lab.reload())
shown_min_off = lab.show("ssl_min_protocol_version")
tls12_off = lk.handshake.probe(lab.host, lab.port, "TLSv1.2").result

lab.set_settings({"ssl_passphrase_command_supports_reload": True})
record("reload: same, with supports_reload = on", lab.reload())
shown_min_on = lab.show("ssl_min_protocol_version")
tls12_on = lk.handshake.probe(lab.host, lab.port, "TLSv1.2").result

# %% tags=["key-result", "erratum-passphrase-reload"]
min_version = pd.DataFrame([
    {"ssl_passphrase_command_supports_reload": "off", "SHOW ssl_min_protocol_version": shown_min_off,
     "TLS 1.2 handshake": tls12_off, "setting really in force": tls12_off == "refused"},
    {"ssl_passphrase_command_supports_reload": "on", "SHOW ssl_min_protocol_version": shown_min_on,
     "TLS 1.2 handshake": tls12_on, "setting really in force": tls12_on == "refused"},
])
lk.tables.verdict(min_version, "setting really in force", columns=min_version.columns, uuid="minversion33")

# %%
assert shown_min_off == shown_min_on == "TLSv1.3"
assert tls12_off == "accepted" and tls12_on == "refused"
lab.set_settings({"ssl_min_protocol_version": None})
assert lab.reload().ok

# %% [markdown]
# > **The guide says** `ssl_passphrase_command_supports_reload` lets PostgreSQL "reload the private key
# > without restarting" and is recommended "to minimise interruptions when updating certificates".
# > **Measured:** true, and more important than it sounds. With it `off` (the default) and an encrypted
# > key, a reload changes **no** TLS setting at all — new certificate, CRL, CA file, protocol floor or
# > cipher list — while `pg_settings`/`SHOW` already display the new values and `pg_file_settings` shows
# > no error. Only the log line `SSL configuration was not reloaded` gives it away. With `on`, the command
# > runs at every reload, so it must be non-interactive (a script, not a terminal prompt — which is also
# > why PostgreSQL refuses to re-run a prompt-based command at reload).

# %% [markdown] lang="es" en="eb12aaa5"
# > **La guía dice** de `ssl_passphrase_command_supports_reload`: "Indica si PostgreSQL puede recargar la
# > clave privada sin reiniciar el servidor", con el uso recomendado "Para minimizar interrupciones al
# > actualizar certificados". **Medido:** es cierto, y más importante de lo que parece. Con el valor `off`
# > (el de por defecto) y una clave cifrada, una recarga no cambia **ningún** parámetro de TLS
# > —certificado nuevo, CRL, archivo de CA, protocolo mínimo o lista de cifrados—, mientras que
# > `pg_settings`/`SHOW` ya muestran los valores nuevos y `pg_file_settings` no señala ningún error. Solo
# > la línea de log `SSL configuration was not reloaded` lo delata. Con `on`, el comando se ejecuta en cada
# > recarga, así que no puede ser interactivo (un script, no una petición en el terminal; por eso mismo
# > PostgreSQL se niega a repetir en una recarga un comando que pide la frase por teclado).

# %% [markdown]
# ## 5 · A wrong passphrase: at reload the server keeps going, at restart it does not start
#
# We overwrite the passphrase file with a wrong value (still mode 0600) and reload, then restart.
#
# OpenSSL usually names a wrong passphrase `bad decrypt`: the decrypted bytes fail the padding check. About
# one encrypted key in 300 (measured: 5 in 1,500) decrypts under a wrong passphrase to bytes whose padding
# happens to be valid, and the server then logs the DER decoder's word instead (`wrong tag` with OpenSSL
# 1.1.1, `unsupported` with OpenSSL 3). The lab writes its encrypted keys so that this lesson's wrong
# passphrase always meets the common case; on your own server, read either word as "wrong passphrase".

# %% [markdown] lang="es" en="5bfb31c4"
# ## 5 · Una frase de paso errónea: en la recarga el servidor sigue, en el reinicio no arranca
#
# Sobrescribimos el archivo de la frase de paso con un valor erróneo (sigue en modo 0600), recargamos y
# después reiniciamos.
#
# OpenSSL suele llamar `bad decrypt` a una frase de paso errónea: los bytes descifrados no superan la
# comprobación del relleno. Aproximadamente una clave cifrada de cada 300 (medido: 5 de 1.500) se descifra
# con una frase errónea en bytes cuyo relleno resulta válido por casualidad, y entonces el servidor registra
# la palabra del decodificador DER (`wrong tag` con OpenSSL 1.1.1, `unsupported` con OpenSSL 3). El
# laboratorio escribe sus claves cifradas de modo que la frase errónea de esta lección caiga siempre en el
# caso común; en su propio servidor, lea cualquiera de las dos palabras como «frase de paso errónea».

# %%
lab.deliver("passphrase.txt", b"not-the-passphrase\n", 0o600)
record("wrong passphrase: reload (supports_reload=on)", lab.reload())

restart = lk.transaction.checked_restart(lab, timeout=restart_timeout)
record("wrong passphrase: restart", restart)
assert restart.error is not None and not restart.running

# %% [markdown]
# The restart's own words (timestamps and paths vary, so this cell is not compared):

# %% [markdown] lang="es" en="426ac109"
# Lo que dice el propio reinicio (las marcas de tiempo y las rutas varían, así que esta celda no se compara):

# %% tags=["nbval-ignore-output"]
print("\n".join(line for line in restart.log if "FATAL" in line or "bad decrypt" in line))

# %% [markdown]
# Getting the server back is a matter of putting the right passphrase where the command reads it and
# starting again — the encrypted key and the settings were never wrong.

# %% [markdown] lang="es" en="ca13aa1a"
# Recuperar el servidor consiste en volver a poner la frase de paso correcta donde la lee el comando y
# arrancar de nuevo: la clave cifrada y los parámetros nunca estuvieron mal.

# %%
lab.deliver("passphrase.txt", pki.paths.passphrase_file, 0o600)
lab.start(timeout=restart_timeout)
record("passphrase file restored: start")
verdict = pd.DataFrame(steps)[["step", "change accepted", "certificate presented", "new client connects",
                                "server log"]]
lk.tables.table(verdict, "l33_verdict")

# %%
by_step = verdict.set_index("step")
assert by_step.iloc[1]["change accepted"] == False and "cannot be reloaded because it requires a passphrase" in by_step.iloc[1]["server log"]  # noqa: E712
assert by_step.iloc[1]["certificate presented"] == "server2.crt"
assert "SSL configuration was not reloaded" in by_step.iloc[3]["server log"]
assert by_step.iloc[4]["change accepted"] == True  # noqa: E712
wrong_reload, wrong_restart, back = by_step.iloc[5], by_step.iloc[6], by_step.iloc[7]
assert wrong_reload["change accepted"] == False and "bad decrypt" in wrong_reload["server log"]  # noqa: E712
assert wrong_reload["new client connects"] and wrong_reload["certificate presented"] == "server.crt"
assert wrong_restart["change accepted"] == False and "bad decrypt" in wrong_restart["server log"]  # noqa: E712
assert not wrong_restart["new client connects"]
assert back["new client connects"] and back["certificate presented"] == "server.crt"
assert pki.passphrase not in lab.log_since(0)

# %% [markdown]
# What to take away for a production server:
#
# - Keep the passphrase out of `postgresql.conf` and out of the script: the script reads a file (or asks a
#   vault) and prints only the passphrase. Both the script (0700) and the file (0600) belong to the server
#   account.
# - With `supports_reload = off`, plan every certificate rotation as a **restart**; a reload will log
#   "SSL configuration was not reloaded" and change nothing TLS-related. With `on`, make sure the command
#   works unattended, because it now runs at every reload.
# - A wrong passphrase is harmless at reload (the old context stays) but fatal at restart
#   (`FATAL: could not load private key file …: bad decrypt`) — test the command before you restart.

# %% [markdown] lang="es" en="71584311"
# Lo que conviene llevarse para un servidor de producción:
#
# - Mantenga la frase de paso fuera de `postgresql.conf` y fuera del script: el script lee un archivo (o
#   consulta un almacén de secretos) e imprime solo la frase. Tanto el script (0700) como el archivo (0600)
#   pertenecen a la cuenta del servidor.
# - Con `supports_reload = off`, planifique cada rotación de certificado como un **reinicio**; una recarga
#   registrará "SSL configuration was not reloaded" y no cambiará nada relacionado con TLS. Con `on`,
#   asegúrese de que el comando funciona sin intervención, porque ahora se ejecuta en cada recarga.
# - Una frase de paso errónea es inofensiva en una recarga (se mantiene el contexto antiguo) pero fatal en
#   un reinicio (`FATAL: could not load private key file …: bad decrypt`): pruebe el comando antes de
#   reiniciar.

# %% [markdown]
# ## Key points
#
# - With `supports_reload = off` (the default) every TLS change needs a restart; a reload logs 'SSL configuration was not reloaded'.
# - A wrong passphrase is harmless at reload (the old context stays) and fatal at restart (`bad decrypt`).
# - Keep the passphrase out of `postgresql.conf` and out of the script: the script reads a 0600 file or a vault.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="54cd8bc0"
# ## Puntos clave
#
# - Con `supports_reload = off` (el valor por defecto), cualquier cambio de TLS exige un reinicio; una recarga registra 'SSL configuration was not reloaded'.
# - Una frase de paso errónea es inofensiva en una recarga (se mantiene el contexto antiguo) y fatal en un reinicio (`bad decrypt`).
# - Mantenga la frase de paso fuera de `postgresql.conf` y fuera del script: el script lee un archivo 0600 o un almacén de secretos.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
