# %% [markdown]
# # 40 · The man in the middle: what `sslmode` and `channel_binding` really stop
#
# Lesson 31 showed an eavesdropper who only *copies* bytes: over TLS he sees noise. A real attacker on the
# path does more. He answers the client's SSLRequest himself, finishes the TLS handshake with **his own
# certificate**, opens **his own connection** to the real server and passes everything along — reading it
# all in between. Whether the client lets him in is what `sslmode` and `channel_binding` decide, and this
# lesson measures it with a relay that does exactly that on 127.0.0.1.
#
# The attacker has one of three certificates:
#
# - **his own CA**, with a certificate for the server's very names (anyone can make one in a second);
# - **the lab's own CA, but for another host** (`db.other-host.example`): the key of another server of the
#   same company, or a CA that issues too easily;
# - **the server's own key** (stolen): the control row — nothing on the client side can tell him apart.
#
# He reaches the server either in plaintext or with TLS of his own, and we log in with SCRAM (and with a
# client certificate) under every `sslmode` that encrypts and every `channel_binding`.
#
# Why it matters: `sslmode=require` encrypts, so it *looks* safe in a capture (lesson 31). Against someone
# in the middle it protects nothing, and the guide recommends it "para conexiones rápidas con cifrado
# básico".
#
# Guide coverage: *Tipos de sslmode* (require, verify-ca, verify-full) and *32.19.1 Verificación de
# certificados de servidor* (spoofing the server's identity). Beyond the guide — PostgreSQL docs: libpq
# *Connection Parameters* `channel_binding` (libpq 13+) and *SSL Support › Protection Provided in Different
# Modes* (the man-in-the-middle column of the sslmode table); protocol *SASL Authentication*
# (SCRAM-SHA-256-PLUS, `tls-server-end-point`).
#
# ```mermaid
# flowchart LR
#   C[client libpq<br/>sslmode, channel_binding] -->|TLS with the attacker's certificate| M[MitmRelay<br/>127.0.0.1<br/>reads everything]
#   M -->|plaintext or its own TLS| S[(PostgreSQL)]
# ```

# %% [markdown] lang="es" en="aeb299ea"
# # 40 · El intermediario (man-in-the-middle): lo que `sslmode` y `channel_binding` detienen de verdad
#
# La lección 31 mostró a un espía que solo *copia* bytes: sobre TLS solo ve ruido. Un atacante real situado
# en el camino hace más. Responde él mismo al SSLRequest del cliente, completa la negociación TLS con **su
# propio certificado**, abre **su propia conexión** con el servidor real y lo reenvía todo, leyéndolo entero
# por el camino. Que el cliente le deje pasar o no es lo que deciden `sslmode` y `channel_binding`, y esta
# lección lo mide con un relé que hace exactamente eso en 127.0.0.1.
#
# El atacante tiene uno de estos tres certificados:
#
# - **de su propia CA**, con un certificado para los mismos nombres del servidor (cualquiera puede crearlo
#   en un segundo);
# - **de la propia CA del laboratorio, pero para otro host** (`db.other-host.example`): la clave de otro
#   servidor de la misma empresa, o una CA que emite con demasiada facilidad;
# - **la propia clave del servidor** (robada): la fila de control; nada en el lado del cliente permite
#   distinguirlo del servidor.
#
# Llega al servidor en texto plano o con un TLS propio, y nos autenticamos con SCRAM (y con un certificado de
# cliente) con cada `sslmode` que cifra y cada valor de `channel_binding`.
#
# Por qué importa: `sslmode=require` cifra, así que en una captura de tráfico *parece* seguro (lección 31).
# Frente a alguien situado en medio no protege nada, y la guía lo recomienda "para conexiones rápidas con
# cifrado básico".
#
# Cobertura de la guía: *Tipos de sslmode* (require, verify-ca, verify-full) y *32.19.1 Verificación de
# certificados de servidor* (suplantación de la identidad del servidor). Más allá de la guía, en la
# documentación de PostgreSQL: *Connection Parameters* de libpq, `channel_binding` (libpq 13+), y *SSL
# Support › Protection Provided in Different Modes* (la columna de man-in-the-middle de la tabla de
# sslmode); en el protocolo, *SASL Authentication* (SCRAM-SHA-256-PLUS, `tls-server-end-point`).
#
# ```mermaid
# flowchart LR
#   C[cliente libpq<br/>sslmode, channel_binding] -->|TLS con el certificado del atacante| M[MitmRelay<br/>127.0.0.1<br/>lo lee todo]
#   M -->|texto plano o su propio TLS| S[(PostgreSQL)]
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
include_cert_auth = True  # also log in with the lab's client certificate (pg_hba `cert`)
include_stolen_key = True  # the control row: a relay holding the server's own key

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_bool("include_cert_auth", include_cert_auth)
lk.check_bool("include_stolen_key", include_stolen_key)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## 1 · The server: TLS on, SCRAM for `sinssl` over any TCP line, certificates for `conssl` over `hostssl`
#
# `sinssl` may log in with or without TLS (the attacker chooses how he talks to the server); `conssl` only
# over TLS with a certificate the lab CA issued (`cert clientcert=verify-full`).

# %% [markdown] lang="es" en="e5086137"
# ## 1 · El servidor: TLS activado, SCRAM para `sinssl` en cualquier línea TCP, certificados para `conssl` en `hostssl`
#
# `sinssl` puede iniciar sesión con TLS o sin él (el atacante elige cómo habla con el servidor); `conssl`
# solo sobre TLS y con un certificado emitido por la CA del laboratorio (`cert clientcert=verify-full`).

# %%
lesson.ensure_role("sinssl")
secret_password = lesson.password("sinssl")  # passed to the client, never printed
server_layers = lk.mitm.server_layers(pki, scram_user="sinssl", cert_user="conssl")
applied = lk.apply(lab, *server_layers)
assert applied.ok, applied.reason
lk.layers.describe(server_layers)[["key", "title", "settings", "hba_rules"]]

# %% [markdown]
# ## 2 · The attacker's certificates
#
# His own CA's certificate names `localhost` and `127.0.0.1`, like the real one; the lab CA's names
# another host. Their private keys are written 0600 in the lab workspace.

# %% [markdown] lang="es" en="f93dfc24"
# ## 2 · Los certificados del atacante
#
# El certificado de su propia CA nombra `localhost` y `127.0.0.1`, como el auténtico; el de la CA del
# laboratorio nombra otro host. Sus claves privadas se escriben con modo 0600 en el espacio de trabajo del
# laboratorio.

# %%
disguises = [lk.mitm.attacker_ca_disguise(lab.workspace.path / "mallory", key_type=key_type),
             lk.mitm.other_host_disguise(pki)]
if include_stolen_key:
    disguises.append(lk.mitm.stolen_key_disguise(pki))
pd.DataFrame([{"attacker certificate": d.label, "certificate file": d.cert_path.name,
               "key mode": oct(d.key_path.stat().st_mode & 0o777)} for d in disguises])

# %% [markdown]
# ## 3 · Every login, through the relay
#
# For each certificate and each way to the server, one relay; through it, SCRAM logins with
# `sslmode=require` (no root certificate: nothing to verify against), `verify-ca` and `verify-full` (with
# `combined.crt`), each with `channel_binding` `disable`, `prefer` (libpq's default) and `require`. A login
# that gets in runs lesson 31's `clientes` session, so the relay's record shows whether the `Passw0rd` row
# passed through the attacker's hands.

# %% [markdown] lang="es" en="24248aea"
# ## 3 · Cada inicio de sesión, a través del relé
#
# Un relé por cada certificado y cada camino hacia el servidor; a través de él, inicios de sesión SCRAM con
# `sslmode=require` (sin certificado raíz: no hay nada contra lo que verificar), `verify-ca` y `verify-full`
# (con `combined.crt`), cada uno con `channel_binding` en `disable`, `prefer` (el valor por defecto de libpq)
# y `require`. Un inicio de sesión que entra ejecuta la sesión `clientes` de la lección 31, de modo que el
# registro del relé muestra si la fila `Passw0rd` pasó por las manos del atacante.

# %%
table = lk.mitm.matrix(lab, pki, disguises=disguises, user="sinssl", password=secret_password,
                       cert_user="conssl" if include_cert_auth else None)
assert len(table) == len(disguises) * (2 * 9 + (3 if include_cert_auth else 0))
assert not table["password seen"].any()  # SCRAM never hands the password over, not even to him

# %% [markdown]
# ## 4 · The verdict: did the attacker read the data?
#
# Green: the client stopped him (and how). Red: he read the data row.

# %% [markdown] lang="es" en="e009280b"
# ## 4 · El veredicto: ¿leyó el atacante los datos?
#
# Verde: el cliente lo detuvo (y se indica cómo). Rojo: leyó la fila de datos.

# %% tags=["key-result", "erratum-require-mitm"]
verdict = lk.mitm.pivot(table)
lk.tables.cells(verdict, rule=lk.mitm.attacker_rule, hide_index=False, uuid="verdict40")

# %%
cell = verdict.loc  # (certificate, to server, auth, sslmode) -> one column per channel_binding
ATTACKER, OTHER = disguises[0].label, disguises[1].label
READ = "read the data"
assert all(cell[(who, "plain", "scram", "require")]["prefer"] == READ for who in (ATTACKER, OTHER))  # require falls
assert cell[(OTHER, "plain", "scram", "verify-ca")]["prefer"] == READ  # verify-ca falls to a same-CA certificate
assert cell[(ATTACKER, "plain", "scram", "verify-ca")]["prefer"] == "stopped: server_cert_untrusted"
for upstream in ("plain", "tls"):  # verify-full holds against both certificates
    assert set(cell[(ATTACKER, upstream, "scram", "verify-full")]) == {"stopped: server_cert_untrusted"}
    assert set(cell[(OTHER, upstream, "scram", "verify-full")]) == {"stopped: hostname_mismatch"}
    assert all(cell[(who, upstream, "scram", "require")]["require"] != READ for who in (ATTACKER, OTHER))  # binding holds

# %% [markdown]
# ## 5 · What the relay saw in the SCRAM exchange
#
# The attacker reads the SCRAM messages in clear: which mechanisms the server offered, which one the client
# chose and the client's GS2 header — `n,,` (no binding), `y,,` ("I could bind, but you don't offer it"),
# `p=tls-server-end-point,,` (bound to the certificate the *client* saw). The password itself is never
# in them.

# %% [markdown] lang="es" en="109e62d4"
# ## 5 · Lo que vio el relé en el intercambio SCRAM
#
# El atacante lee en claro los mensajes SCRAM: qué mecanismos ofreció el servidor, cuál eligió el cliente y
# la cabecera GS2 del cliente: `n,,` (sin vinculación de canal), `y,,` ("podría vincular, pero usted no lo
# ofrece"), `p=tls-server-end-point,,` (vinculado al certificado que vio el *cliente*). La contraseña en sí
# nunca aparece en ellos.

# %%
scram = table[(table["auth"] == "scram") & (table["attacker certificate"] == OTHER) & (table["sslmode"] == "require")]
scram[["to server", "channel_binding", "connected", "client TLS", "server saw TLS", "server offered", "client chose",
       "GS2 header", "'Passw0rd' seen", "password seen", "client error"]]

# %%
plain_in = scram[(scram["to server"] == "plain") & scram["connected"]]
assert plain_in["client TLS"].all() and not plain_in["server saw TLS"].any()  # client: "TLS"; server: none
assert set(plain_in["GS2 header"]) == {"n,,", "y,,"} and set(plain_in["server offered"]) == {"SCRAM-SHA-256"}
bound = scram[(scram["to server"] == "tls") & (scram["channel_binding"] != "disable")]
assert set(bound["GS2 header"]) == {"p=tls-server-end-point,,"}
assert set(bound["client error"]) == {"SCRAM channel binding check failed"}

# %% [markdown]
# Reading it:
#
# - **Plaintext towards the server**: the server offers only `SCRAM-SHA-256` (no TLS, so no binding). With
#   `prefer` the client answers `y,,` and goes on — the attacker reads the row. Only
#   `channel_binding=require` refuses: *channel binding is required, but server did not offer…*. The
#   client believed it used TLS (`client TLS` true) while the server saw none (`server saw TLS` false):
#   a client cannot know how the last hop looks.
# - **TLS towards the server**: the server offers `SCRAM-SHA-256-PLUS`; the client binds the login to the
#   hash of the certificate *it* saw (the attacker's), the server checks it against *its own*:
#   `SCRAM channel binding check failed`, even with the default `prefer`. Only `channel_binding=disable`
#   lets the attacker through.
# - **A client certificate** cannot be relayed: the relay does not have the client's key, the server asks
#   the relay for a certificate and gets none (*connection requires a valid client certificate*). The
#   attacker saw the startup packet (the role name), nothing more.

# %% [markdown] lang="es" en="ce921ba9"
# Cómo leerlo:
#
# - **Texto plano hacia el servidor**: el servidor solo ofrece `SCRAM-SHA-256` (sin TLS no hay
#   vinculación). Con `prefer`, el cliente responde `y,,` y sigue adelante: el atacante lee la fila. Solo
#   `channel_binding=require` se niega: *channel binding is required, but server did not offer…*. El
#   cliente creía usar TLS (`client TLS` verdadero) mientras que el servidor no vio ninguno (`server saw
#   TLS` falso): un cliente no puede saber cómo es el último tramo.
# - **TLS hacia el servidor**: el servidor ofrece `SCRAM-SHA-256-PLUS`; el cliente vincula el inicio de
#   sesión al hash del certificado que vio *él* (el del atacante), y el servidor lo compara con el *suyo*:
#   `SCRAM channel binding check failed`, incluso con el valor por defecto `prefer`. Solo
#   `channel_binding=disable` deja pasar al atacante.
# - **Un certificado de cliente** no se puede reenviar: el relé no tiene la clave del cliente, el servidor le
#   pide un certificado al relé y no recibe ninguno (*connection requires a valid client certificate*). El
#   atacante vio el paquete de inicio (el nombre del rol) y nada más.

# %%
if include_cert_auth:
    certs = table[table["auth"] == "cert"]
    assert not certs["connected"].any() and not certs["'Passw0rd' seen"].any()
    print(certs[["attacker certificate", "sslmode", "client error"]].to_string(index=False))

# %% [markdown]
# ## 6 · The control: a stolen server key
#
# With the server's own certificate and key the relay is indistinguishable from the server: `verify-full`
# connects, and even channel binding passes when the relay talks TLS to the server (it binds to the same
# certificate). Only plaintext towards the server is caught, by `channel_binding=require`. Protect the key
# file (lesson 33) — no client setting makes up for a stolen key.

# %% [markdown] lang="es" en="05056e83"
# ## 6 · El control: una clave del servidor robada
#
# Con el certificado y la clave del propio servidor, el relé es indistinguible del servidor: `verify-full`
# conecta, e incluso la vinculación de canal pasa cuando el relé habla TLS con el servidor (vincula al mismo
# certificado). Solo se le descubre con texto plano hacia el servidor, gracias a `channel_binding=require`.
# Proteja el archivo de la clave (lección 33): ningún parámetro del cliente compensa una clave robada.

# %%
if include_stolen_key:
    stolen = verdict.loc[disguises[2].label]
    assert set(stolen.loc[("tls", "scram")].stack()) == {READ}
    assert set(stolen.loc[("plain", "scram")]["require"]) == {"stopped: channel_binding_not_offered"}
    display(lk.tables.cells(stolen, rule=lk.mitm.attacker_rule, hide_index=False, uuid="stolen40"))

# %% [markdown]
# ## 7 · Every login, as measured
#
# One row per login (green: the attacker did not get in): what the client saw, what the relay read, and
# the client's own words when it refused.

# %% [markdown] lang="es" en="b61fa86c"
# ## 7 · Cada inicio de sesión, tal como se midió
#
# Una fila por inicio de sesión (verde: el atacante no entró): lo que vio el cliente, lo que leyó el relé y
# las propias palabras del cliente cuando se negó.

# %%
COLUMNS = ["attacker certificate", "to server", "auth", "sslmode", "channel_binding", "connected", "server offered",
           "GS2 header", "'Passw0rd' seen", "password seen", "client error"]
lk.tables.verdict(table[COLUMNS], "connected", good=False, columns=COLUMNS[:6], uuid="all40")

# %% [markdown]
# ## 8 · What this means for a DBA
#
# > **The guide says** `require` is fine "para conexiones rápidas con cifrado básico" and `verify-ca` fits
# > "cuando se confía en la CA pero el host puede variar". **Measured:** under `require` the attacker reads
# > every row with any certificate; under `verify-ca` with any certificate the same CA issued for another
# > name.
#
# - Give every client `sslmode=verify-full` and the CA file: it is the only mode that stopped both
#   certificates, on both paths, whatever `channel_binding` said.
# - Add `channel_binding=require` for SCRAM logins: it stops the relay *even where the client does not
#   verify the server* — but only if the server is reached with SCRAM over TLS (no `md5`/`password` lines).
# - A certificate login (pg_hba `cert`) cannot be relayed at all; the attacker still sees the role name.
#
# Copy-paste (what the lesson measured; `PGPASSWORD` or `~/.pgpass` for the password):
#
# ```
# psql "host=db.example port=5432 user=sinssl dbname=postgres sslmode=verify-full sslrootcert=/path/to/combined.crt channel_binding=require"
# ```

# %% [markdown] lang="es" en="032bacb5"
# ## 8 · Lo que esto significa para un DBA
#
# > **La guía dice** que `require` sirve "Para conexiones rápidas con cifrado básico" y que `verify-ca`
# > encaja "Cuando se confía en la CA pero el host puede variar (ej: IP dinámica)". **Medido:** con
# > `require`, el atacante lee todas las filas con cualquier certificado; con `verify-ca`, con cualquier
# > certificado que la misma CA haya emitido para otro nombre.
#
# - Configure todos los clientes con `sslmode=verify-full` y el archivo de CA: es el único modo que detuvo
#   los dos certificados, por los dos caminos, dijera lo que dijera `channel_binding`.
# - Añada `channel_binding=require` a los inicios de sesión SCRAM: detiene el relé *incluso cuando el
#   cliente no verifica el servidor*, pero solo si se llega al servidor con SCRAM sobre TLS (sin líneas
#   `md5`/`password`).
# - Un inicio de sesión con certificado (`cert` en pg_hba) no se puede reenviar en absoluto; aun así, el
#   atacante ve el nombre del rol.
#
# Para copiar y pegar (lo que midió la lección; `PGPASSWORD` o `~/.pgpass` para la contraseña):
#
# ```
# psql "host=db.example port=5432 user=sinssl dbname=postgres sslmode=verify-full sslrootcert=/path/to/combined.crt channel_binding=require"
# ```

# %% tags=["nbval-ignore-output"]
table[["attacker certificate", "to server", "auth", "sslmode", "channel_binding", "psql"]].head(3)

# %%
lesson.finish()
