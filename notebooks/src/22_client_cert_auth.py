# %% [markdown]
# # 22 · Client layer 3: authenticating with a client certificate
#
# Lessons 20 and 21 had the *client* check the *server*. Here the server checks the client: the
# `pg_hba.conf` method `cert` replaces the password with the client's certificate. The server verifies the
# certificate against its `ssl_ca_file` (and the CRL, if one is configured), then compares the
# certificate's Common Name with the user name asked for. No password crosses the network, and a stolen
# password is useless without the private key.
#
# We measure: the successful login (and what `sslinfo` then reports), and its five failing controls —
# wrong user, revoked certificate, expired certificate, certificate from a foreign CA, no certificate.
# Then the guide's shortcut: putting the client files into `~/.postgresql` so that `psql` finds them
# without `sslcert`/`sslkey`/`sslrootcert`, and what happens when the key's permissions are too open.
#
# Guide coverage: *Fase #2 paso 4* (`cert clientcert=verify-full`), *paso 7* (CRL), *paso 8*
# (`ssl_ca_file`), *Preparar el entorno del cliente* (`~/.postgresql`), *Tercera capa de seguridad nivel
# Usuario* (certificate login, user "otros", revoked certificate), *Funciones de la extension sslinfo*.
#
# ```mermaid
# sequenceDiagram
#   participant C as client (sslcert, sslkey)
#   participant S as server (ssl_ca_file, ssl_crl_file)
#   C->>S: TLS handshake, sends client.crt and proves it holds client.key
#   S->>S: chain to ssl_ca_file? revoked in the CRL? expired?
#   S-->>C: alert (unknown ca / certificate revoked / certificate expired) if not
#   C->>S: startup: user=conssl
#   S->>S: pg_hba: hostssl … cert clientcert=verify-full -> CN == user?
#   S-->>C: FATAL certificate authentication failed, or ready
# ```

# %% [markdown] lang="es" en="b99bfa75"
# # 22 · Tercera capa del cliente: autenticarse con un certificado de cliente
#
# En las lecciones 20 y 21 era el *cliente* quien comprobaba al *servidor*. Aquí el servidor comprueba al cliente:
# el método `cert` de `pg_hba.conf` sustituye la contraseña por el certificado del cliente. El servidor verifica el
# certificado frente a su `ssl_ca_file` (y frente a la lista de revocación (CRL), si hay una configurada) y después
# compara el Common Name del certificado con el nombre de usuario solicitado. Ninguna contraseña viaja por la red,
# y una contraseña robada no sirve de nada sin la clave privada.
#
# Medimos el inicio de sesión correcto (y lo que `sslinfo` informa después) y sus cinco controles que fallan:
# usuario equivocado, certificado revocado, certificado caducado, certificado de una CA ajena y ningún
# certificado. Después, el atajo de la guía: colocar los archivos del cliente en `~/.postgresql` para que `psql`
# los encuentre sin `sslcert`/`sslkey`/`sslrootcert`, y lo que ocurre cuando los permisos de la clave son demasiado
# abiertos.
#
# Cobertura de la guía: *Fase #2 paso 4* (`cert clientcert=verify-full`), *paso 7* (CRL), *paso 8*
# (`ssl_ca_file`), *Preparar el entorno del cliente* (`~/.postgresql`), *Tercera capa de seguridad nivel
# Usuario* (inicio de sesión con certificado, usuario "otros", certificado revocado), *Funciones de la extension sslinfo*.
#
# ```mermaid
# sequenceDiagram
#   participant C as cliente (sslcert, sslkey)
#   participant S as servidor (ssl_ca_file, ssl_crl_file)
#   C->>S: negociación TLS (handshake), envía client.crt y demuestra que posee client.key
#   S->>S: ¿encadena con ssl_ca_file? ¿revocado en la CRL? ¿caducado?
#   S-->>C: si no, alerta (unknown ca / certificate revoked / certificate expired)
#   C->>S: inicio: user=conssl
#   S->>S: pg_hba: hostssl … cert clientcert=verify-full -> ¿CN == usuario?
#   S-->>C: FATAL certificate authentication failed, o sesión lista
# ```

# %% [markdown]
# ## Objectives · time
#
# - Log in with a client certificate (`cert` method) and its failing controls
# - Read what the session knows about its certificate (`sslinfo`)
# - Know which files libpq picks up by itself from `~/.postgresql`
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (866 words of prose at 150 words a minute) and running ≈ 5 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="24af2940"
# ## Objetivos · tiempo
#
# - Iniciar sesión con un certificado de cliente (método `cert`) y ver sus controles que fallan
# - Leer lo que la sesión sabe de su certificado (`sslinfo`)
# - Saber qué archivos toma libpq por sí sola de `~/.postgresql`
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (866 palabras de texto a 150 palabras por minuto) y ejecución ≈ 5 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
use_crl = True  # apply layer 5 (the combined CRL); False lets a revoked certificate in
open_key_mode = 0o644  # the too-open mode to try on ~/.postgresql/postgresql.key: 0o644, 0o604 or 0o666

# %%
import pandas as pd

import labkit as lk

# %%
import os
import stat
from pathlib import Path



lk.check_bool("use_crl", use_crl)
lk.check_choice("open_key_mode", open_key_mode, (0o644, 0o604, 0o666), show=oct)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
p = pki.paths

# %% [markdown]
# ## 1 · The server: `cert` authentication, the CA list, the revocation list
#
# Three of the guide's layers: `hostssl … cert clientcert=verify-full` for `conssl` and `reporter` (L3),
# `ssl_ca_file = combined.crt` (L6) and, unless `use_crl=False`, `ssl_crl_file = combined.crl` (L5).

# %% [markdown] lang="es" en="5c076a33"
# ## 1 · El servidor: autenticación `cert`, la lista de CA, la lista de revocación
#
# Tres de las capas de la guía: `hostssl … cert clientcert=verify-full` para `conssl` y `reporter` (L3),
# `ssl_ca_file = combined.crt` (L6) y, salvo que `use_crl=False`, `ssl_crl_file = combined.crl` (L5).

# %%
server_layers = [lk.layers.layer_ssl_on(pki, "server"), lk.layers.layer_ca(pki, "combined"),
                 lk.layers.layer_hostssl("cert", ("conssl", "reporter"), clientcert="verify-full")]
if use_crl:
    server_layers.append(lk.layers.layer_crl(pki, "combined"))
applied = lk.apply(lab, *server_layers)
assert applied.ok, applied.reason
lk.layers.describe(server_layers)[["key", "title", "settings", "hba_rules"]]

# %% [markdown]
# ## 2 · The login and its failing controls
#
# Every attempt uses `sslmode=verify-full` with `combined.crt`, and **no password** (`password=None`):
# if a row connects, the certificate alone did it.

# %% [markdown] lang="es" en="ea10c05d"
# ## 2 · El inicio de sesión y sus controles que fallan
#
# Todos los intentos usan `sslmode=verify-full` con `combined.crt` y **sin contraseña** (`password=None`): si una
# fila conecta, lo ha conseguido solo el certificado.

# %%
base = dict(sslmode="verify-full", sslrootcert=p.combined_crt, password=None)
LOGINS = [  # label, user, certificate stem of the lab PKI (None: no certificate)
    ("client.crt (CN=conssl) as conssl", "conssl", "client"), ("client.crt (CN=conssl) as reporter", "reporter", "client"),
    ("revoked-client.crt as conssl", "conssl", "revoked_client"), ("expired-client.crt as conssl", "conssl", "expired_client"),
    ("rogue-client.crt (foreign CA) as conssl", "conssl", "rogue_client"), ("no certificate as conssl", "conssl", None),
]
logins = [lk.attempt(lab, label=label, user=user, **base, **lk.client_files.cert_keywords(pki, stem))
          for label, user, stem in LOGINS]
lk.tables.verdicts(logins, ("label", "connected", "outcome", "server says", "psql"), uuid="nb22-logins")

# %%
expected = ["TLSv1.3", "cert_auth_failed", "cert_revoked" if use_crl else "TLSv1.3", "cert_expired",
            "unknown_ca", "client_cert_required"]
assert [r.outcome for r in logins] == expected, [r.outcome for r in logins]
assert 'certificate authentication failed for user "reporter"' in logins[1].error_text
assert "connection requires a valid client certificate" in logins[5].error_text

# %% [markdown]
# Reading the rows:
#
# * **Success** — the server logs `connection authenticated: identity="CN=conssl,O=pgtls-lab" method=cert`.
# * **Wrong user** — the chain is fine, so the handshake completes; authentication then fails because
#   the CN (`conssl`) is not the user asked for (`reporter`). The server log adds the reason the client
#   never sees: `provided user name (reporter) and authenticated user name (conssl) do not match`.
# * **Revoked, expired, foreign CA** — refused *during the handshake*, before any user name is sent. The
#   server logs `certificate verify failed` with a DETAIL naming the reason and the depth (0 = the
#   client's own certificate); the client receives a TLS alert.
# * **No certificate** — with TLS 1.3 the handshake succeeds (the server asked for a certificate, the
#   client had none to give), and the `cert` rule then refuses the connection.
#
# > **The guide says** a revoked certificate gives `SSL error: sslv3 alert certificate revoked`.
# > **Measured:** the client here (libpq 18 with OpenSSL 3.5) prints `SSL error: ssl/tls alert certificate
# > revoked`. Same alert, new name: OpenSSL renamed the text after its 3.0 branch — Debian's `psql` 15 on
# > OpenSSL 3.0 still prints the guide's wording (lesson 34 measures both clients); search logs for
# > `alert certificate revoked` to catch both.

# %% [markdown] lang="es" en="5cec4cee"
# Cómo leer las filas:
#
# * **Éxito**: el servidor registra `connection authenticated: identity="CN=conssl,O=pgtls-lab" method=cert`.
# * **Usuario equivocado**: la cadena es correcta, así que la negociación TLS se completa; después la
#   autenticación falla porque el CN (`conssl`) no es el usuario solicitado (`reporter`). El log del servidor
#   añade el motivo, que el cliente nunca ve: `provided user name (reporter) and authenticated user name (conssl) do not match`.
# * **Revocado, caducado, CA ajena**: rechazados *durante la negociación TLS*, antes de que se envíe ningún nombre
#   de usuario. El servidor registra `certificate verify failed` con un DETAIL que indica el motivo y la
#   profundidad (0 = el propio certificado del cliente); el cliente recibe una alerta TLS.
# * **Ningún certificado**: con TLS 1.3 la negociación tiene éxito (el servidor pidió un certificado y el cliente
#   no tenía ninguno que dar), y después la regla `cert` rechaza la conexión.
#
# > **La guía dice** que un certificado revocado produce `SSL error: sslv3 alert certificate revoked`.
# > **Medido:** el cliente de este laboratorio (libpq 18 con OpenSSL 3.5) imprime `SSL error: ssl/tls alert certificate
# > revoked`. Es la misma alerta con otro nombre: OpenSSL cambió el texto después de su rama 3.0; el `psql` 15 de
# > Debian sobre OpenSSL 3.0 todavía imprime el texto de la guía (la lección 34 mide ambos clientes). Busque
# > `alert certificate revoked` en los logs para encontrar los dos.

# %%
assert ("ssl/tls alert certificate revoked" in logins[2].error_text) if use_crl else logins[2].connected
assert "ssl/tls alert certificate expired" in logins[3].error_text
assert "tlsv1 alert unknown ca" in logins[4].error_text

# %% tags=["nbval-ignore-output"]
lk.tables.raw_messages(logins)

# %% [markdown]
# ## 3 · What the session knows about its certificate (`sslinfo`)
#
# The guide's `sslinfo` query, from inside the successful session. The serial number changes every time
# the lab PKI is generated, so we compare it with the one in the certificate file rather than print a
# fixed value.

# %% [markdown] lang="es" en="ab3671e4"
# ## 3 · Lo que la sesión sabe de su certificado (`sslinfo`)
#
# La consulta `sslinfo` de la guía, desde dentro de la sesión que tuvo éxito. El número de serie cambia cada vez
# que se genera la PKI del laboratorio, así que lo comparamos con el del archivo del certificado en lugar de
# imprimir un valor fijo.

# %%
ok = logins[0]
serial_in_file = int(pki.describe().set_index("file").loc["certs/client.crt", "serial"], 16)
sslinfo = pd.DataFrame([
    {"function": "ssl_is_used()", "value": ok.ssl_is_used},
    {"function": "ssl_version()", "value": ok.tls_version},
    {"function": "ssl_client_cert_present()", "value": ok.ssl_client_cert_present},
    {"function": "ssl_client_dn()", "value": ok.ssl_client_dn},
    {"function": "ssl_issuer_dn()", "value": ok.ssl_issuer_dn},
    {"function": "ssl_client_serial() = serial of certs/client.crt", "value": int(ok.ssl_client_serial) == serial_in_file},
    {"function": "current_user", "value": ok.current_user},
])
sslinfo

# %%
assert ok.ssl_is_used and ok.ssl_client_cert_present and ok.current_user == "conssl"
assert ok.ssl_client_dn == "/O=pgtls-lab/CN=conssl" and ok.ssl_issuer_dn == "/O=pgtls-lab/CN=pgtls-lab Intermediate CA"
assert int(ok.ssl_client_serial) == serial_in_file

# %% tags=["nbval-ignore-output"]
print("ssl_client_serial():", ok.ssl_client_serial)

# %% [markdown]
# ## 4 · `~/.postgresql`: the files libpq looks for by itself
#
# The guide copies `client.crt`, `client.key` and `root.crt` into `~/.postgresql/` as `postgresql.crt`,
# `postgresql.key` and `root.crt`, with the key at mode 0600. libpq then uses them whenever the connection
# string does not name `sslcert`, `sslkey` or `sslrootcert`. We build such a folder inside the lab
# workspace (never in your real home) and point `HOME` at it for the attempt: `lk.attempt(..., home=lab_home)`.
#
# One change to the guide: our server sends only its leaf certificate, so the `root.crt` we copy is the
# `combined.crt` bundle (lesson 20 shows why the root alone is not enough then).

# %% [markdown] lang="es" en="3be4550e"
# ## 4 · `~/.postgresql`: los archivos que libpq busca por sí sola
#
# La guía copia `client.crt`, `client.key` y `root.crt` en `~/.postgresql/` como `postgresql.crt`,
# `postgresql.key` y `root.crt`, con la clave en modo 0600. A partir de ahí libpq los usa siempre que la cadena de
# conexión no indique `sslcert`, `sslkey` ni `sslrootcert`. Creamos esa carpeta dentro del espacio de trabajo del
# laboratorio (nunca en su directorio personal real) y apuntamos `HOME` hacia ella para el intento:
# `lk.attempt(..., home=lab_home)`.
#
# Un cambio respecto a la guía: nuestro servidor envía solo su certificado final, así que el `root.crt` que
# copiamos es el paquete `combined.crt` (la lección 20 explica por qué, en ese caso, la CA raíz sola no basta).

# %%
lab_home = lk.client_files.lab_home(lab.workspace.path / "client" / "guide-home", pki, root="combined")
listing = pd.DataFrame([{"file": f".postgresql/{f.name}", "mode": oct(stat.S_IMODE(f.stat().st_mode))}
                        for f in sorted((lab_home / ".postgresql").iterdir())])
listing

# %%
by_home = [
    lk.attempt(lab, label="HOME with .postgresql, verify-full, no ssl* keywords", sslmode="verify-full",
            user="conssl", password=None, home=lab_home),
    lk.attempt(lab, label="isolated HOME (control), verify-full", sslmode="verify-full", user="conssl",
            password=None),
]
lk.tables.verdicts(by_home, ("label", "connected", "outcome", "psql"), uuid="nb22-home")

# %%
assert by_home[0].connected and by_home[0].ssl_client_dn == "/O=pgtls-lab/CN=conssl"
assert by_home[1].outcome == "root_cert_missing"
assert "sslcert" not in by_home[0].params and "sslrootcert" not in by_home[0].params

# %% [markdown]
# The `psql` column shows the point: the working command has no file names in it, only `HOME=…`. The
# control, with an empty `.postgresql`, stops at once: `verify-full` has no CA to check against.
#
# Now the guide's `chmod 600` step, undone: the same folder with the key at the mode given by the
# parameter `open_key_mode` (0o644 by default: readable by everyone), then back at 0600.

# %% [markdown] lang="es" en="632a476c"
# La columna `psql` muestra lo esencial: el comando que funciona no contiene ningún nombre de archivo, solo
# `HOME=…`. El control, con un `.postgresql` vacío, se detiene de inmediato: `verify-full` no tiene ninguna CA
# con la que comprobar.
#
# Ahora deshacemos el paso `chmod 600` de la guía: la misma carpeta con la clave en el modo que indica el
# parámetro `open_key_mode` (0o644 por omisión: legible por todos) y, después, de nuevo en 0600.

# %%
key_file = lab_home / ".postgresql" / "postgresql.key"
key_file.chmod(open_key_mode)
too_open = lk.attempt(lab, label=f"postgresql.key at {oct(open_key_mode)}", sslmode="verify-full", user="conssl",
                   password=None, home=lab_home)
key_file.chmod(0o600)
fixed = lk.attempt(lab, label="postgresql.key back at 0o600", sslmode="verify-full", user="conssl", password=None,
                home=lab_home)
lk.tables.verdicts([too_open, fixed], ("label", "connected", "outcome", "server says"), uuid="nb22-keymode")

# %%
assert too_open.outcome == "key_permissions" and fixed.connected
assert "has group or world access" in too_open.error_text

# %% [markdown]
# libpq refuses to use a private key that others can read, before it sends anything: the server only sees
# a handshake that ends abruptly (`EOF detected`). The full client message also says what is allowed —
# `u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root`. So a
# root-owned key at 0640 is accepted; a key at 0644 never is.
#
# > **The guide says** `sudo chown postgres:postgres postgresql.crt postgresql.key`. That is right only
# > when the *client program* runs as the OS user `postgres` (as in the guide, where `psql` runs on the
# > database host as `postgres`). The owner must be **whoever runs the client** — your application's
# > account on an application server — because libpq checks that the key is private *to that user*. The
# > server's account plays no part: the server never reads these files.

# %% [markdown] lang="es" en="680aa12e"
# libpq se niega a usar una clave privada que otros pueden leer, antes de enviar nada: el servidor solo ve una
# negociación TLS que termina bruscamente (`EOF detected`). El mensaje completo del cliente indica además qué está
# permitido: `u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root`. Es
# decir, una clave propiedad de root en 0640 se acepta; una clave en 0644, nunca.
#
# > **La guía dice** `sudo chown postgres:postgres postgresql.crt postgresql.key`. Eso solo es correcto cuando
# > el *programa cliente* se ejecuta como el usuario del sistema operativo `postgres` (como en la guía, donde
# > `psql` se ejecuta en el propio host de la base de datos como `postgres`). El propietario debe ser **quien
# > ejecuta el cliente** (la cuenta de su aplicación en un servidor de aplicaciones), porque libpq comprueba que la
# > clave sea privada *para ese usuario*. La cuenta del servidor no interviene: el servidor nunca lee estos archivos.

# %% tags=["nbval-ignore-output"]
lk.tables.raw_messages([too_open, fixed])

# %% [markdown]
# ## Verdict

# %% [markdown] lang="es" en="297877e6"
# ## Veredicto

# %% tags=["key-result"]
verdict = pd.DataFrame([{"attempt": r.label, "connected": r.connected, "outcome": r.outcome,
                         "catalogue fix": (r.entry.fix if r.entry else "")}
                        for r in [*logins, by_home[0], too_open]])
lk.tables.cells(verdict, ["connected"], uuid="nb22-verdict")

# %% [markdown]
# ## Key points
#
# - Method `cert` needs a certificate the server can chain (`ssl_ca_file`), not revoked (CRL), and a CN equal to the role.
# - The certificate and its private key travel together (`client_key_missing` otherwise); the key must be 0600.
# - libpq reads `~/.postgresql/postgresql.crt`, `.key`, `root.crt`, `root.crl` when the keywords are not given.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="61c8d6e5"
# ## Puntos clave
#
# - El método `cert` necesita un certificado que el servidor pueda encadenar (`ssl_ca_file`), no revocado (CRL), y con un CN igual al rol.
# - El certificado y su clave privada van juntos (si no, `client_key_missing`); la clave debe estar en 0600.
# - libpq lee `~/.postgresql/postgresql.crt`, `.key`, `root.crt` y `root.crl` cuando no se indican las palabras clave.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
