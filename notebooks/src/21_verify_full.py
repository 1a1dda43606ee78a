# %% [markdown]
# # 21 · Client layer 2: `sslmode=verify-full` — is this the server I asked for?
#
# `verify-ca` (lesson 20) proves that a trusted CA signed the server's certificate. `verify-full` adds
# the second half of identity: the name the client *typed* must appear in that certificate (its Subject
# Alternative Names, or the Common Name when there are none). Only then is an attacker with a certificate
# for some other machine — even one from your own CA — shut out.
#
# On a laptop the guide's example (connecting to another IP, `192.168.0.100`) is not available: the lab
# only listens on loopback. We reproduce the same mismatch three ways instead:
#
# 1. the lab certificate names `localhost` and `127.0.0.1`; both names connect, a third name does not;
# 2. the server presents `wrong-host.crt` (issued to `db.wrong-host.example`): refused under every name;
# 3. `host` + `hostaddr`: libpq checks the certificate against **`host`** but opens the TCP connection
#    to **`hostaddr`** — which is how you test a certificate's name before DNS points at the server.
#
# Guide coverage: *Fase #2 › Segunda capa de seguridad nivel Usuario (sslmode=verify-full)*, *Mensajes
# de Error* #4 (hostname does not match certificate), *Tipos de sslmode* (`verify-full`).
#
# ```mermaid
# flowchart LR
#   H["host= (the name you typed)"] --> N{"name in the certificate's SAN?"}
#   A["hostaddr= (where TCP goes; defaults to host)"] --> S[(server)]
#   S -- certificate --> CA{"chains to sslrootcert?"}
#   CA -- no --> E1["certificate verify failed"]
#   CA -- yes --> N
#   N -- no --> E2["server certificate for … does not match host name …"]
#   N -- yes --> OK[connected]
# ```

# %% [markdown] lang="es" en="d35262c4"
# # 21 · Segunda capa del cliente: `sslmode=verify-full` — ¿es este el servidor que pedí?
#
# `verify-ca` (lección 20) demuestra que una CA de confianza firmó el certificado del servidor. `verify-full`
# añade la otra mitad de la identidad: el nombre que el cliente *escribió* tiene que figurar en ese certificado
# (en sus Subject Alternative Names o, si no tiene ninguno, en el Common Name). Solo así queda fuera un atacante
# que tenga un certificado de otra máquina, aunque lo haya emitido su propia CA.
#
# En un portátil no se puede reproducir el ejemplo de la guía (conectarse a otra IP, `192.168.0.100`): el
# laboratorio solo escucha en loopback. En su lugar, provocamos la misma discrepancia de tres formas:
#
# 1. el certificado del laboratorio nombra `localhost` y `127.0.0.1`; ambos nombres conectan y un tercero no;
# 2. el servidor presenta `wrong-host.crt` (emitido para `db.wrong-host.example`): rechazado con cualquier nombre;
# 3. `host` + `hostaddr`: libpq comprueba el certificado frente a **`host`**, pero abre la conexión TCP hacia
#    **`hostaddr`**; así se prueba el nombre de un certificado antes de que el DNS apunte al servidor.
#
# Cobertura de la guía: *Fase #2 › Segunda capa de seguridad nivel Usuario (sslmode=verify-full)*, *Mensajes
# de Error* #4 (hostname does not match certificate), *Tipos de sslmode* (`verify-full`).
#
# ```mermaid
# flowchart LR
#   H["host= (el nombre que escribió)"] --> N{"¿el nombre está en el SAN del certificado?"}
#   A["hostaddr= (adónde va el TCP; por omisión, host)"] --> S[(servidor)]
#   S -- certificado --> CA{"¿encadena con sslrootcert?"}
#   CA -- no --> E1["certificate verify failed"]
#   CA -- sí --> N
#   N -- no --> E2["server certificate for … does not match host name …"]
#   N -- sí --> OK[conecta]
# ```

# %% [markdown]
# ## Objectives · time
#
# - Use `sslmode=verify-full` and read the names a server certificate lists
# - Connect by every name the certificate lists, and be refused by another
# - Spot a certificate issued to another machine
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (712 words of prose at 150 words a minute) and running ≈ 5 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="99fcd836"
# ## Objetivos · tiempo
#
# - Usar `sslmode=verify-full` y leer los nombres que incluye un certificado de servidor
# - Conectar con cada nombre que incluye el certificado y ver cómo se rechaza otro
# - Detectar un certificado emitido para otra máquina
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (712 palabras de texto a 150 palabras por minuto) y ejecución ≈ 5 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
host_choice = "localhost"  # the name used in section 1's success row: "localhost" or "127.0.0.1"

# %%
import pandas as pd

import labkit as lk

# %%
import re



lk.check_choice("host_choice", host_choice, ("localhost", "127.0.0.1"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
password = lesson.password("conssl")  # passed to attempts, never printed
p = pki.paths
client = dict(user="conssl", password=password, sslrootcert=p.combined_crt)

# %% [markdown]
# ## 1 · The names in the server certificate
#
# `LabPKI.describe()` lists each certificate's SANs. The main server certificate carries both names a
# client on this machine can use; the `wrong-host` one carries a name that is not this machine at all.

# %% [markdown] lang="es" en="0fe1b1f2"
# ## 1 · Los nombres del certificado del servidor
#
# `LabPKI.describe()` enumera los SAN de cada certificado. El certificado principal del servidor lleva los dos
# nombres que puede usar un cliente de esta máquina; el de `wrong-host` lleva un nombre que no corresponde en
# absoluto a esta máquina.

# %%
pki.describe().query("role == 'server'")[["file", "subject", "sans"]].reset_index(drop=True)

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki, "server"), lk.layers.layer_hostssl("scram-sha-256", ("conssl",)))
assert applied.ok, applied.reason

# %% [markdown]
# ## 2 · The right certificate: every name it lists connects, another name does not
#
# `db.wrong-host.example` does not resolve on this machine, so for that row we pass `hostaddr=127.0.0.1`:
# TCP goes to the lab, while libpq still checks the certificate against the name in `host`.

# %% [markdown] lang="es" en="979c0d24"
# ## 2 · El certificado correcto: cada nombre que incluye conecta, otro nombre no
#
# `db.wrong-host.example` no se resuelve en esta máquina, así que en esa fila pasamos `hostaddr=127.0.0.1`: el TCP
# va al laboratorio, mientras libpq sigue comprobando el certificado frente al nombre de `host`.

# %%
right = [
    lk.attempt(lab, label=f"verify-full, host={host_choice}", sslmode="verify-full", host=host_choice, **client),
    lk.attempt(lab, label="verify-full, host=127.0.0.1 + hostaddr=127.0.0.1", sslmode="verify-full",
            host="127.0.0.1", hostaddr="127.0.0.1", **client),
    lk.attempt(lab, label="verify-full, host=localhost + hostaddr=127.0.0.1", sslmode="verify-full",
            host="localhost", hostaddr="127.0.0.1", **client),
    lk.attempt(lab, label="verify-full, host=db.wrong-host.example + hostaddr=127.0.0.1", sslmode="verify-full",
            host="db.wrong-host.example", hostaddr="127.0.0.1", **client),
    lk.attempt(lab, label="verify-ca, host=db.wrong-host.example + hostaddr=127.0.0.1 (control)",
            sslmode="verify-ca", host="db.wrong-host.example", hostaddr="127.0.0.1", **client),
]
lk.tables.verdicts(right, uuid="nb21-right")

# %%
assert [r.outcome for r in right] == ["TLSv1.3", "TLSv1.3", "TLSv1.3", "hostname_mismatch", "TLSv1.3"]

# %% [markdown]
# The fourth row is the guide's error, reproduced on loopback: the server is the right one, the
# certificate is valid, but the client asked for a name the certificate does not carry. The `verify-ca`
# control with the very same parameters connects — the name check is the only difference between the
# two modes.
#
# Here is the exact message, with the port masked:

# %% [markdown] lang="es" en="0860c63c"
# La cuarta fila es el error de la guía, reproducido en loopback: el servidor es el correcto y el certificado es
# válido, pero el cliente pidió un nombre que el certificado no incluye. El control `verify-ca`, con exactamente
# los mismos parámetros, conecta: la comprobación del nombre es la única diferencia entre los dos modos.
#
# Este es el mensaje exacto, con el puerto enmascarado:

# %%
message = re.sub(r"port \d+", "port <port>", right[3].error_text)
print(message)
assert re.search(r'server certificate for "localhost" \(and 1 other name\) does not match host name '
                 r'"db\.wrong-host\.example"', message)

# %% [markdown]
# > **The guide says** the message reads `server certificate for "127.0.0.1" does not match host name
# > "192.168.0.100"`. **Measured** (libpq 18): when the certificate lists several names, libpq names the
# > first and counts the rest — `server certificate for "localhost" (and 1 other name) does not match
# > host name "…"`. A certificate with a single name gives the guide's shape exactly (next section).
# > The guide's *Mensajes de Error* #4 heading, `hostname does not match certificate`, is not a libpq
# > message at all; search your logs for `does not match host name`.
#
# Note also *where* the message appears: only on the client. The server completed a normal handshake
# and the client hung up, so its log shows a connection that was received and then nothing — the
# catalogue's "server says" column reads `(nothing logged)`.

# %% [markdown] lang="es" en="ee95c08c"
# > **La guía dice** que el mensaje es `server certificate for "127.0.0.1" does not match host name
# > "192.168.0.100"`. **Medido** (libpq 18): cuando el certificado incluye varios nombres, libpq cita el primero
# > y cuenta los demás: `server certificate for "localhost" (and 1 other name) does not match
# > host name "…"`. Un certificado con un único nombre da exactamente la forma de la guía (sección siguiente).
# > El título del error #4 de *Mensajes de Error* de la guía, `hostname does not match certificate`, ni siquiera
# > es un mensaje de libpq; busque `does not match host name` en sus logs.
#
# Observe también *dónde* aparece el mensaje: solo en el cliente. El servidor completó una negociación TLS
# normal y el cliente colgó, así que su log muestra una conexión recibida y después nada: la columna
# "server says" del catálogo de errores indica `(nothing logged)`.

# %%
lk.tables.verdicts([right[3]], ("label", "outcome", "server says"), uuid="nb21-silent")

# %% [markdown]
# ## 3 · A certificate issued to another machine
#
# Now the server presents `wrong-host.crt`. Whatever name we use, `verify-full` refuses; `verify-ca` does
# not notice. Connecting by the certificate's own name (`host=db.wrong-host.example`, TCP to
# `hostaddr=127.0.0.1`) makes `verify-full` happy again — proof that the check is about the *name typed*,
# not about the address reached.

# %% [markdown] lang="es" en="2e362abc"
# ## 3 · Un certificado emitido para otra máquina
#
# Ahora el servidor presenta `wrong-host.crt`. Use el nombre que use, `verify-full` rechaza la conexión;
# `verify-ca` no se da cuenta. Conectar con el nombre que figura en el propio certificado
# (`host=db.wrong-host.example`, con el TCP hacia `hostaddr=127.0.0.1`) vuelve a satisfacer a `verify-full`: la
# prueba de que la comprobación se refiere al *nombre escrito*, no a la dirección alcanzada.

# %%
swapped = lk.apply(lab, lk.layers.layer_ssl_on(pki, "wrong_host"))
assert swapped.ok, swapped.reason
wrong = [
    lk.attempt(lab, label="verify-full, host=127.0.0.1", sslmode="verify-full", host="127.0.0.1", **client),
    lk.attempt(lab, label="verify-full, host=localhost", sslmode="verify-full", host="localhost", **client),
    lk.attempt(lab, label="verify-full, host=db.wrong-host.example + hostaddr=127.0.0.1", sslmode="verify-full",
            host="db.wrong-host.example", hostaddr="127.0.0.1", **client),
    lk.attempt(lab, label="verify-ca, host=127.0.0.1 (control)", sslmode="verify-ca", host="127.0.0.1", **client),
]
lk.tables.verdicts(wrong, uuid="nb21-wrong")

# %%
assert [r.outcome for r in wrong] == ["hostname_mismatch", "hostname_mismatch", "TLSv1.3", "TLSv1.3"]
assert 'server certificate for "db.wrong-host.example" does not match host name "localhost"' in wrong[1].error_text

# %% [markdown]
# The `localhost` row is the guide's message shape with a single-name certificate:
# `server certificate for "db.wrong-host.example" does not match host name "localhost"`. For the IP row
# libpq 18 again appends `(and 1 other name)` even though the certificate has one SAN: when the host is
# an IP address and the certificate has no IP-address SAN, libpq also compares the Common Name, and counts
# it. The catalogue pattern accepts both forms.

# %% [markdown] lang="es" en="2c8ad4c8"
# La fila de `localhost` tiene la forma del mensaje de la guía con un certificado de un solo nombre:
# `server certificate for "db.wrong-host.example" does not match host name "localhost"`. En la fila de la IP,
# libpq 18 vuelve a añadir `(and 1 other name)` aunque el certificado tenga un único SAN: cuando el host es una
# dirección IP y el certificado no tiene ningún SAN de tipo dirección IP, libpq compara también el Common Name, y
# lo cuenta. El patrón del catálogo de errores acepta ambas formas.

# %% tags=["nbval-ignore-output"]
lk.tables.raw_messages(right + wrong)

# %% [markdown]
# ## Verdict
#
# How to fix a mismatch (catalogue entry `hostname_mismatch`): connect with a name the certificate
# lists — or, when clients genuinely use another name or IP, issue the server a certificate whose SAN
# includes it. Never "fix" it by stepping down to `verify-ca`: section 3 shows what that gives away.

# %% [markdown] lang="es" en="6f0b2e0f"
# ## Veredicto
#
# Cómo corregir una discrepancia (entrada `hostname_mismatch` del catálogo de errores): conectar con un nombre que
# figure en el certificado o, cuando los clientes realmente usan otro nombre u otra IP, emitir para el servidor
# un certificado cuyo SAN lo incluya. Nunca lo "arregle" bajando a `verify-ca`: la sección 3 muestra lo que se
# pierde con ello.

# %% tags=["key-result"]
rows = [(r, "lab certificate (localhost, 127.0.0.1)") for r in right[:4]] + [
    (r, "wrong-host certificate (db.wrong-host.example)") for r in wrong[:3]]
verdict = pd.DataFrame([{"server certificate": cert, "connection": r.label, "outcome": r.outcome,
                         "connected": r.connected} for r, cert in rows])
lk.tables.cells(verdict, ["connected"], uuid="nb21-verdict")

# %% [markdown]
# ## Key points
#
# - `verify-full` checks the chain and that the host name is among the certificate's names (`hostname_mismatch` otherwise).
# - The client matches the name it connected to: `localhost` and `127.0.0.1` are different names.
# - `verify-full` is the mode that stops an impostor holding a certificate from your own CA.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="2624f073"
# ## Puntos clave
#
# - `verify-full` comprueba la cadena y que el nombre de host esté entre los nombres del certificado (si no, `hostname_mismatch`).
# - El cliente compara el nombre con el que se conectó: `localhost` y `127.0.0.1` son nombres distintos.
# - `verify-full` es el modo que detiene a un impostor que tiene un certificado emitido por su propia CA.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
