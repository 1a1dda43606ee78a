# %% [markdown]
# # 10 · Layer 1: `ssl = on` with a certificate clients can verify
#
# The guide's first server layer (Fase #2, step 2) is three lines in `postgresql.conf`: `ssl = on`,
# `ssl_cert_file`, `ssl_key_file`. This lesson measures what those lines change for a client, for each
# `sslmode` a client may use:
#
# * with `ssl = off`, what `disable`, `prefer` and `require` do;
# * with TLS on but a certificate nobody trusts (the lab's throw-away *bootstrap* certificate), why
#   `require` still connects -- it encrypts but does not check *whom* it talks to -- while `verify-full`
#   refuses;
# * with the lab's server certificate (layer 1), `verify-full` finally connects.
#
# For a bank, `require` is not enough: a machine in the middle can present any certificate and relay the
# traffic. Encryption without authentication protects against eavesdroppers only.

# %% [markdown] lang="es" en="9ac9be6c"
# # 10 · Primera capa: `ssl = on` con un certificado que los clientes pueden verificar
#
# La primera capa de servidor de la guía (Fase #2, paso 2) son tres líneas en `postgresql.conf`:
# `ssl = on`, `ssl_cert_file`, `ssl_key_file`. Esta lección mide qué cambian esas líneas para un cliente,
# con cada `sslmode` que un cliente puede usar:
#
# * con `ssl = off`, qué hacen `disable`, `prefer` y `require`;
# * con TLS activado pero con un certificado en el que nadie confía (el certificado *bootstrap*
#   desechable del laboratorio), por qué `require` sigue conectando (cifra, pero no comprueba *con quién*
#   habla) mientras que `verify-full` rechaza la conexión;
# * con el certificado de servidor del laboratorio (primera capa), `verify-full` por fin conecta.
#
# Para un banco, `require` no basta: una máquina intermedia puede presentar cualquier certificado y
# reenviar el tráfico. Cifrar sin autenticar solo protege frente a espías.

# %% [markdown]
# ## Objectives · time
#
# - Turn TLS on with a certificate a client can verify
# - Tell apart encryption (`require`) from verification (`verify-ca`, `verify-full`)
# - See why a certificate nobody trusts protects against listeners only
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (719 words of prose at 150 words a minute) and running ≈ 7 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="4e164fb7"
# ## Objetivos · tiempo
#
# - Activar TLS con un certificado que un cliente pueda verificar
# - Distinguir el cifrado (`require`) de la verificación (`verify-ca`, `verify-full`)
# - Comprobar por qué un certificado en el que nadie confía solo protege frente a quien escucha
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (719 palabras de texto a 150 palabras por minuto) y ejecución ≈ 7 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% [markdown]
# ### How a PostgreSQL connection becomes a TLS connection
#
# PostgreSQL speaks TLS on its ordinary port: the client first sends an 8-byte *SSLRequest*; a server
# with `ssl = on` answers `S` and the TLS handshake follows, a server with `ssl = off` answers `N`
# (and `prefer` then carries on in clear text). Only after the handshake do the start-up packet and the
# authentication exchange flow, inside the encrypted channel.
#
# ```mermaid
# sequenceDiagram
#     participant C as client (libpq)
#     participant S as server (postmaster / backend)
#     C->>S: SSLRequest (8 bytes, in clear)
#     alt ssl = on
#         S-->>C: 'S'
#         C->>S: TLS ClientHello (versions, suites)
#         S-->>C: ServerHello, certificate chain (L1), [CertificateRequest if ssl_ca_file (L6)]
#         Note over C: verify-ca / verify-full check the chain (and the host name)
#         C->>S: [client certificate], Finished
#         Note over S: L2 protocol range, L4 suites, L5 CRLs, L6 client chain apply here
#         C->>S: start-up packet: user, database (encrypted)
#         Note over S: pg_hba.conf (L3): first matching line decides hostssl / cert / scram
#         S-->>C: authentication, then query results (encrypted)
#     else ssl = off
#         S-->>C: 'N'
#         C->>S: start-up packet in clear (prefer / allow / disable) or give up (require and above)
#     end
# ```
#
# Where each of the guide's six server layers acts:
#
# ```mermaid
# flowchart LR
#     L1["L1 ssl=on, cert + key"] --> H(("TLS handshake"))
#     L2["L2 min / max protocol"] --> H
#     L4["L4 ssl_ciphers"] --> H
#     L6["L6 ssl_ca_file"] --> CC{"client certificate check"}
#     L5["L5 CRL file / dir"] --> CC
#     H --> CC --> HBA{"pg_hba.conf"}
#     L3["L3 hostssl, scram / cert"] --> HBA
#     HBA --> OK["session"]
# ```

# %% [markdown] lang="es" en="f126d415"
# ### Cómo una conexión de PostgreSQL se convierte en una conexión TLS
#
# PostgreSQL usa TLS en su puerto habitual: el cliente envía primero un *SSLRequest* de 8 bytes; un
# servidor con `ssl = on` responde `S` y a continuación viene la negociación TLS (handshake); un servidor
# con `ssl = off` responde `N` (y entonces `prefer` continúa en texto plano). Solo después de la
# negociación circulan el paquete de inicio y el intercambio de autenticación, dentro del canal cifrado.
#
# ```mermaid
# sequenceDiagram
#     participant C as cliente (libpq)
#     participant S as servidor (postmaster / backend)
#     C->>S: SSLRequest (8 bytes, sin cifrar)
#     alt ssl = on
#         S-->>C: 'S'
#         C->>S: TLS ClientHello (versiones, suites)
#         S-->>C: ServerHello, cadena de certificados (L1), [CertificateRequest si ssl_ca_file (L6)]
#         Note over C: verify-ca / verify-full comprueban la cadena (y el nombre de host)
#         C->>S: [certificado de cliente], Finished
#         Note over S: aquí se aplican L2 rango de protocolos, L4 suites, L5 CRL, L6 cadena del cliente
#         C->>S: paquete de inicio: usuario, base de datos (cifrado)
#         Note over S: pg_hba.conf (L3): la primera línea que coincide decide hostssl / cert / scram
#         S-->>C: autenticación y luego resultados de las consultas (cifrado)
#     else ssl = off
#         S-->>C: 'N'
#         C->>S: paquete de inicio sin cifrar (prefer / allow / disable) o abandono (require y superiores)
#     end
# ```
#
# Dónde actúa cada una de las seis capas de servidor de la guía:
#
# ```mermaid
# flowchart LR
#     L1["L1 ssl=on, cert + clave"] --> H(("negociación TLS"))
#     L2["L2 protocolo mín. / máx."] --> H
#     L4["L4 ssl_ciphers"] --> H
#     L6["L6 ssl_ca_file"] --> CC{"comprobación del certificado de cliente"}
#     L5["L5 archivo / directorio de CRL"] --> CC
#     H --> CC --> HBA{"pg_hba.conf"}
#     L3["L3 hostssl, scram / cert"] --> HBA
#     HBA --> OK["sesión"]
# ```

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

# %%
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
SSL_SETTINGS = ["ssl", "ssl_cert_file", "ssl_key_file"]
MODES = ["disable", "prefer", "require", "verify-full"]


def try_modes(phase):
    """One attempt per sslmode; verify-full trusts the guide's combined.crt (intermediate + root)."""
    return [lk.attempt(lab, label=f"{phase} · {mode}", sslmode=mode,
                             sslrootcert=pki.paths.combined_crt if mode == "verify-full" else None)
            for mode in MODES]


# %% [markdown]
# ## Before: `ssl = off`
#
# The lab starts with TLS on, so we switch it off first. Settings read from `pg_settings` (file names
# only, since where the data directory lives depends on the backend):

# %% [markdown] lang="es" en="9eb02268"
# ## Antes: `ssl = off`
#
# El laboratorio arranca con TLS activado, así que primero lo desactivamos. Los parámetros se leen de
# `pg_settings` (solo los nombres de archivo, porque la ubicación del directorio de datos depende del
# backend):

# %%
lab.set_settings({"ssl": False})
assert lab.reload().ok
lk.tables.table(lk.monitoring.settings_frame(lab, SSL_SETTINGS), "off_settings")

# %%
off = try_modes("ssl off")
sessions = pd.DataFrame([lk.monitoring.session_ssl(r) for r in off])
lk.tables.table(lk.tables.outcomes(off).assign(**sessions), "off")

# %% [markdown]
# `disable` and `prefer` both connect **in clear text** (`pg_stat_ssl.ssl` is false for the session):
# `prefer`, libpq's default, silently falls back. Only `require` and stronger refuse, and the server logs
# nothing about it -- it answered "no TLS here" and the client hung up.
#
# ## TLS on, but with a certificate nobody trusts
#
# Back to the lab's starting point: `ssl = on` with a self-signed bootstrap certificate that is not part
# of the lab PKI (any attacker can make one like it).

# %% [markdown] lang="es" en="a2061e3d"
# `disable` y `prefer` conectan ambos **en texto plano** (`pg_stat_ssl.ssl` es falso para la sesión):
# `prefer`, el valor por defecto de libpq, recurre a la conexión sin cifrar sin avisar. Solo `require` y
# los modos más estrictos rechazan la conexión, y el servidor no registra nada al respecto: respondió "aquí
# no hay TLS" y el cliente colgó.
#
# ## TLS activado, pero con un certificado en el que nadie confía
#
# Volvemos al punto de partida del laboratorio: `ssl = on` con un certificado bootstrap autofirmado que no
# forma parte de la PKI del laboratorio (cualquier atacante puede fabricar uno igual).

# %%
lab.reset_config()
assert lab.reload().ok
lk.tables.table(lk.monitoring.settings_frame(lab, SSL_SETTINGS), "boot_settings")

# %%
bootstrap = try_modes("bootstrap cert")
sessions = pd.DataFrame([lk.monitoring.session_ssl(r) for r in bootstrap])
lk.tables.table(lk.tables.outcomes(bootstrap).assign(**sessions), "bootstrap")

# %% [markdown]
# `require` connects with TLS 1.3 to a server whose certificate it never looked at. `verify-full`
# checks the certificate against the CA file it was given and refuses: the client says
# *certificate verify failed*, and the server's log shows the client aborting with *unknown ca*.
#
# ## After: layer 1 with the lab's server certificate

# %% [markdown] lang="es" en="09165349"
# `require` conecta con TLS 1.3 a un servidor cuyo certificado ni siquiera miró. `verify-full` comprueba
# el certificado contra el archivo de CA que se le indicó y rechaza la conexión: el cliente dice
# *certificate verify failed*, y el log del servidor muestra que el cliente abortó con *unknown ca*.
#
# ## Después: primera capa con el certificado de servidor del laboratorio

# %%
l1 = lk.layers.layer_ssl_on(pki)
lk.tables.table(lk.layers.describe([l1])[["key", "title", "settings", "needs", "guide_ref"]], "l1")

# %%
applied = lk.apply(lab, l1)
assert applied.ok, applied.summary()
lk.tables.table(lk.monitoring.settings_frame(lab, SSL_SETTINGS), "on_settings")

# %%
after = try_modes("layer 1")
sessions = pd.DataFrame([lk.monitoring.session_ssl(r) for r in after])
lk.tables.table(lk.tables.outcomes(after).assign(**sessions), "after")

# %% [markdown]
# ## Before and after, side by side
#
# One row per `sslmode`; each cell is the outcome (the negotiated protocol, `no TLS`, or the error key
# from labkit's catalogue).

# %% [markdown] lang="es" en="61db0557"
# ## Antes y después, lado a lado
#
# Una fila por `sslmode`; cada celda es el resultado (el protocolo negociado, `no TLS` o la clave de error
# del catálogo de errores de labkit).

# %%
summary = pd.DataFrame({
    "sslmode": MODES,
    "ssl = off": [r.outcome for r in off],
    "ssl = on, bootstrap cert": [r.outcome for r in bootstrap],
    "layer 1 (server.crt)": [r.outcome for r in after],
    "what the mode checks": ["nothing: never encrypts", "nothing: encrypts if the server offers it",
                             "only that the session is encrypted", "CA chain and host name"],
})


# %% tags=["key-result"]
lk.tables.cells(summary, [c for c in summary.columns if c.startswith(("ssl =", "layer"))], rule=lk.tables.outcome,
                uuid="summary")

# %%
o = {(r.label.split(" · ")[0], r.params["sslmode"]): r for r in off + bootstrap + after}
assert o["ssl off", "disable"].outcome == "no TLS" and o["ssl off", "prefer"].outcome == "no TLS"
assert o["ssl off", "require"].error_key == "server_no_ssl"
assert o["bootstrap cert", "require"].connected and o["bootstrap cert", "require"].tls_version
assert o["bootstrap cert", "verify-full"].error_key == "server_cert_untrusted"
assert o["layer 1", "verify-full"].connected and o["layer 1", "disable"].outcome == "no TLS"
assert all(r.pg_stat_ssl.get("ssl") for r in after[1:])

# %% [markdown]
# > **The guide says** layer 1 is "enable TLS". **Measured:** TLS was already usable with *any*
# > certificate, and `require` accepted it; what layer 1 really adds is a certificate that chains to a
# > CA the clients trust, which only matters to clients that use `verify-ca`/`verify-full`. And layer 1
# > alone still lets `disable`/`prefer` clients in without encryption -- that is layer 3's job (lesson 12).
#
# ## What `require` and `verify-ca` do not check: the host name
#
# The same point with a certificate from the *right* CA but for the *wrong* host
# (`db.wrong-host.example`): only `verify-full` compares the name with the host the client dialled.

# %% [markdown] lang="es" en="2c49dd65"
# > **La guía dice** que la primera capa consiste en "activar TLS". **Medido:** TLS ya se podía usar con
# > *cualquier* certificado, y `require` lo aceptaba; lo que aporta realmente la primera capa es un
# > certificado que se encadena hasta una CA en la que confían los clientes, y eso solo importa a los
# > clientes que usan `verify-ca`/`verify-full`. Además, la primera capa por sí sola sigue dejando entrar
# > sin cifrado a los clientes con `disable`/`prefer`: eso es tarea de la tercera capa (lección 12).
#
# ## Lo que `require` y `verify-ca` no comprueban: el nombre de host
#
# La misma idea con un certificado de la CA *correcta* pero para el host *equivocado*
# (`db.wrong-host.example`): solo `verify-full` compara el nombre con el host al que se conectó el cliente.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki, "wrong_host")).ok
wrong = [lk.attempt(lab, label=f"wrong-host cert · {mode}", sslmode=mode,
                          sslrootcert=pki.paths.combined_crt if mode.startswith("verify") else None)
         for mode in ("require", "verify-ca", "verify-full")]
lk.tables.verdict(lk.tables.outcomes(wrong), uuid="wrong")

# %%
assert wrong[0].connected and wrong[1].connected and wrong[2].error_key == "hostname_mismatch"

# %% [markdown]
# The server never sees this failure: the handshake completed, then the client closed the connection
# after comparing names, exactly as the guide's example message (*server certificate for "127.0.0.1"
# does not match host name …*) describes.

# %% [markdown] lang="es" en="800ad566"
# El servidor nunca ve este fallo: la negociación TLS se completó y después el cliente cerró la conexión
# tras comparar los nombres, tal como describe el mensaje de ejemplo de la guía (*server certificate for
# "127.0.0.1" does not match host name …*).

# %% [markdown]
# ## Key points
#
# - `ssl = on` with a trusted certificate is the first layer; without a trusted certificate clients can encrypt but not verify.
# - `require` and `verify-ca` do not check the host name; only `verify-full` does.
# - Every TLS fact in the tables comes from both ends: the client's view and the server's `pg_stat_ssl` row.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="324a7668"
# ## Puntos clave
#
# - `ssl = on` con un certificado de confianza es la primera capa; sin un certificado de confianza, los clientes pueden cifrar pero no verificar.
# - `require` y `verify-ca` no comprueban el nombre de host; solo lo hace `verify-full`.
# - Cada dato TLS de las tablas procede de ambos extremos: la visión del cliente y la fila de `pg_stat_ssl` del servidor.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
