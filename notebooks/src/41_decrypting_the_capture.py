# %% [markdown]
# # 41 · Decrypting the capture: the key log file, and why it is a secret
#
# Lesson 31 proved that over TLS a capture shows no `Passw0rd`. That holds while the session's keys stay
# secret. libpq 18 can write them down: the connection parameter `sslkeylogfile` (or `PGSSLKEYLOGFILE`)
# appends every TLS secret of each session to a file in the NSS key log format that Wireshark reads. With
# the capture **and** that file, the encrypted stream opens.
#
# This lesson records lesson 31's session (without root, with the recording relay), has libpq write the
# key log, and decrypts the recording with labkit's small TLS 1.3 record reader (`lk.keylog`, on top of
# `cryptography`: HKDF-Expand-Label for each key and IV, one nonce per record, AES-GCM or ChaCha20). We
# assert that:
#
# - the recording alone holds neither the query nor `Passw0rd`;
# - decrypted with the key log, it holds both — and still not the role's password (SCRAM);
# - the key log of *another* session opens nothing;
# - the file is 0600 when libpq writes it, holds only secrets, and is deleted at the end.
#
# Why it matters: a key log left in a home directory, a CI artifact or a ticket decrypts every session it
# covers, for whoever also has a capture. It is as sensitive as the traffic itself.
#
# Guide coverage: *Fase #3 Post-Implementación*, item 4 (the capture), taken one step further. Beyond the
# guide — PostgreSQL docs: libpq *Connection Parameters* `sslkeylogfile` (new in libpq 18; the server
# version does not matter, the client writes the file) and *Environment Variables* `PGSSLKEYLOGFILE`.
#
# ```mermaid
# flowchart LR
#   C[libpq 18<br/>sslkeylogfile=keys.log] -->|TLS 1.3| R[RecordingRelay<br/>copies every byte]
#   R --> S[(PostgreSQL)]
#   C -. writes secrets .-> K[(keys.log 0600)]
#   R -. recording .-> D[lk.keylog<br/>decrypt_session]
#   K -.-> D
# ```

# %% [markdown] lang="es" en="a56a4622"
# # 41 · Descifrar la captura: el archivo de registro de claves, y por qué es un secreto
#
# La lección 31 demostró que sobre TLS una captura de tráfico no muestra `Passw0rd`. Eso se cumple mientras
# las claves de la sesión sigan siendo secretas. libpq 18 puede anotarlas: el parámetro de conexión
# `sslkeylogfile` (o `PGSSLKEYLOGFILE`) añade cada secreto TLS de cada sesión a un archivo en el formato de
# registro de claves de NSS, el que lee Wireshark. Con la captura **y** ese archivo, el flujo cifrado se abre.
#
# Esta lección graba la sesión de la lección 31 (sin root, con el relé que graba), hace que libpq escriba el
# registro de claves y descifra la grabación con el pequeño lector de registros TLS 1.3 de labkit
# (`lk.keylog`, construido sobre `cryptography`: HKDF-Expand-Label para cada clave y cada IV, un nonce por
# registro, AES-GCM o ChaCha20). Verificamos con `assert` que:
#
# - la grabación, por sí sola, no contiene ni la consulta ni `Passw0rd`;
# - descifrada con el registro de claves, contiene las dos cosas, y aun así no la contraseña del rol (SCRAM);
# - el registro de claves de *otra* sesión no abre nada;
# - el archivo tiene modo 0600 cuando libpq lo escribe, solo contiene secretos y se borra al final.
#
# Por qué importa: un registro de claves olvidado en un directorio personal, en un artefacto de CI o en una
# incidencia descifra todas las sesiones que cubre, para cualquiera que tenga además una captura. Es tan
# delicado como el propio tráfico.
#
# Cobertura de la guía: *Fase #3 Post-Implementación*, punto 4 (la captura), llevado un paso más allá. Más
# allá de la guía, en la documentación de PostgreSQL: *Connection Parameters* de libpq, `sslkeylogfile`
# (nuevo en libpq 18; la versión del servidor no importa, el archivo lo escribe el cliente), y *Environment
# Variables*, `PGSSLKEYLOGFILE`.
#
# ```mermaid
# flowchart LR
#   C[libpq 18<br/>sslkeylogfile=keys.log] -->|TLS 1.3| R[RecordingRelay<br/>copia cada byte]
#   R --> S[(PostgreSQL)]
#   C -. escribe los secretos .-> K[(keys.log 0600)]
#   R -. grabación .-> D[lk.keylog<br/>decrypt_session]
#   K -.-> D
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
sslmode = "verify-full"  # the key log opens any TLS session, even a fully verified one
plaintext_width = 70  # characters of each decrypted record shown
use_tshark = True  # also capture with tcpdump and decrypt with tshark, where both can run (root, tshark installed)

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("sslmode", sslmode, ("require", "verify-ca", "verify-full"))
lk.check_int("plaintext_width", plaintext_width, 20, 400)
lk.check_bool("use_tshark", use_tshark)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## 1 · The session, recorded, with a key log
#
# TLS on, the guide's role `sinssl` with a generated password. The key log goes into a new folder only we
# may enter (0700); libpq must not find an old file there (it appends). TLS 1.3 is required: the reader
# implements TLS 1.3's record layer only.

# %% [markdown] lang="es" en="a11e700b"
# ## 1 · La sesión, grabada, con registro de claves
#
# TLS activado y el rol `sinssl` de la guía con una contraseña generada. El registro de claves se guarda en
# una carpeta nueva a la que solo nosotros podemos entrar (0700); libpq no debe encontrar allí un archivo
# antiguo (añade al final). Se exige TLS 1.3: el lector solo implementa la capa de registros de TLS 1.3.

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki))
assert applied.ok, applied.reason
lesson.ensure_role("sinssl")
secret_password = lesson.password("sinssl")  # passed to the client, never printed
folder = lk.keylog.private_folder()
keylog_file = folder / "keys.log"
run = lk.keylog.keylog_session(lab, user="sinssl", password=secret_password, keylog=keylog_file, sslmode=sslmode,
                               sslrootcert=None if sslmode == "require" else pki.paths.combined_crt)
assert run["rows"] == [(12345, "Passw0rd")] and run["protocol"] == "TLSv1.3"
pd.DataFrame([{"sslmode": sslmode, "protocol (pg_stat_ssl)": run["protocol"], "cipher": run["cipher"]}])

# %% [markdown]
# ## 2 · The recording alone: noise, as in lesson 31

# %% [markdown] lang="es" en="d6364c9a"
# ## 2 · La grabación por sí sola: ruido, como en la lección 31

# %%
wire = b"".join(chunk.data for chunk in run["chunks"])
on_the_wire = {"query text": b"select * from clientes" in wire, "'Passw0rd'": b"Passw0rd" in wire,
               "role name": b"sinssl" in wire}
assert not any(on_the_wire.values())
pd.DataFrame([on_the_wire], index=["visible in the recording"])

# %% [markdown]
# ## 3 · The key log file
#
# One line per secret: a label, the session's ClientHello random, the secret. We show the labels only —
# the values are what an attacker needs. The file's mode is what libpq gave it. (The random differs on
# every run.)

# %% [markdown] lang="es" en="76da51bb"
# ## 3 · El archivo de registro de claves
#
# Una línea por secreto: una etiqueta, el valor aleatorio del ClientHello de la sesión y el secreto. Solo
# mostramos las etiquetas: los valores son justo lo que necesita un atacante. El modo del archivo es el que
# le dio libpq. (El valor aleatorio cambia en cada ejecución.)

# %% tags=["nbval-ignore-output"]
labels = lk.keylog.keylog_labels(keylog_file)
assert set(labels["file mode"]) == {"0o600"}
assert {"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= set(labels["label"])
labels

# %% [markdown]
# ## 4 · The recording, decrypted
#
# Every TLS record of the connection: what the wire showed (`application data` and a size) and what it
# held. The handshake records are opened with the handshake secrets, the rest with the traffic secrets.
# Inside: the startup packet with the role name, the SCRAM exchange, the `Q` queries, the `D` data row.

# %% [markdown] lang="es" en="c954e9e8"
# ## 4 · La grabación, descifrada
#
# Cada registro TLS de la conexión: lo que mostraba la red (`application data` y un tamaño) y lo que
# contenía. Los registros de la negociación TLS se abren con los secretos de la negociación; el resto, con
# los secretos de tráfico. Dentro: el paquete de inicio con el nombre del rol, el intercambio SCRAM, las
# consultas `Q` y la fila de datos `D`.

# %% tags=["nbval-ignore-output"]
records = lk.keylog.decrypt_session(run["chunks"], lk.keylog.read_keylog(keylog_file))
lk.keylog.records_frame(records, limit=plaintext_width)

# %% tags=["key-result"]
client_text = lk.keylog.plaintext(records, lk.keylog.C2S)
server_text = lk.keylog.plaintext(records, lk.keylog.S2C)
found = pd.DataFrame([
    {"what": what, "in the recording": needle in wire, "in the decrypted stream": needle in client_text + server_text}
    for what, needle in (("query text", b"select * from clientes"), ("'Passw0rd' row", b"Passw0rd"),
                         ("role name", b"sinssl"), ("SCRAM mechanism", b"SCRAM-SHA-256"),
                         ("role password", secret_password.encode()))])
lk.tables.cells(found, ["in the recording", "in the decrypted stream"], rule=lk.tables.truth, uuid="found41")

# %%
rows = found.set_index("what")
assert not rows["in the recording"].any()
assert rows.loc[["query text", "'Passw0rd' row", "role name", "SCRAM mechanism"], "in the decrypted stream"].all()
assert not rows.loc["role password", "in the decrypted stream"]  # SCRAM: not even inside TLS

# %% [markdown]
# The data row as the server sent it (`D` message), cut out of the decrypted stream:

# %% [markdown] lang="es" en="f7d6ab57"
# La fila de datos tal como la envió el servidor (mensaje `D`), recortada del flujo descifrado:

# %%
at = server_text.index(b"Passw0rd")
print(lk.capture.printable(server_text[at - 20:at + 8]))

# %% [markdown]
# ## 5 · The same, the Wireshark way: tcpdump, then tshark with the key log
#
# The guide's capture (tcpdump on `lo`, as root) of one more session, read by tshark (Debian's `tshark`
# package, the command-line Wireshark) twice: without the key log it recognises only the SSLRequest; with
# `-o tls.keylog_file:keys.log` it decodes every PostgreSQL message, the `Data row` values included. When
# tcpdump or tshark cannot run here, the cell says so and the reader above stands on its own.

# %% [markdown] lang="es" en="ac5bc5c7"
# ## 5 · Lo mismo, al estilo de Wireshark: tcpdump y luego tshark con el registro de claves
#
# La captura de la guía (tcpdump sobre `lo`, como root) de una sesión más, leída dos veces por tshark (el
# paquete `tshark` de Debian, el Wireshark de línea de comandos): sin el registro de claves solo reconoce el
# SSLRequest; con `-o tls.keylog_file:keys.log` decodifica cada mensaje de PostgreSQL, incluidos los valores
# de `Data row`. Cuando tcpdump o tshark no pueden ejecutarse aquí, la celda lo indica y el lector anterior
# se sostiene por sí solo.

# %% tags=["nbval-ignore-output"]
can_shark, why_not = lk.keylog.tshark_available()
shark = lk.keylog.tshark_cross_check(lab, user="sinssl", password=secret_password, keylog=folder / "tshark.log",
                                     sslmode=sslmode, sslrootcert=None if sslmode == "require" else
                                     pki.paths.combined_crt) if use_tshark and can_shark else None
print("tshark cross-check:", "ran" if shark else f"not run ({why_not if not can_shark else 'use_tshark=False'})")
shark["with"] if shark else None

# %%
if shark:
    assert not shark["'Passw0rd' in the pcap"] and len(shark["without"]) == 1, shark["without"].to_string()
    # with the key log: the query and its row (what tshark decoded is the message when it did not)
    assert "12345, Passw0rd" in set(shark["with"]["row values"]), shark["with"].to_string()
    assert lk.capture.GUIDE_QUERY in set(shark["with"]["query"]), shark["with"].to_string()

# %% [markdown]
# ## 6 · The control: another session's key log opens nothing
#
# A second session, with its own key log. Its secrets belong to a different ClientHello random, so the
# first recording stays closed: a key log decrypts exactly the sessions it was written for.

# %% [markdown] lang="es" en="22d74f5a"
# ## 6 · El control: el registro de claves de otra sesión no abre nada
#
# Una segunda sesión, con su propio registro de claves. Sus secretos corresponden a otro valor aleatorio de
# ClientHello, así que la primera grabación sigue cerrada: un registro de claves descifra exactamente las
# sesiones para las que se escribió.

# %%
other_log = folder / "other.log"
lk.keylog.keylog_session(lab, user="sinssl", password=secret_password, keylog=other_log)
try:
    lk.keylog.decrypt_session(run["chunks"], lk.keylog.read_keylog(other_log))
    opened = True
except lk.LabkitError as exc:
    opened, why = False, str(exc).splitlines()[0]
assert not opened
print("decrypting with the other session's key log:", why)

# %% [markdown]
# ## 7 · Why the key log file is a secret — and deleting it
#
# - It holds every traffic secret of the sessions it covers: with a capture of them, everything is readable,
#   whatever `sslmode` said (by default this lesson uses `verify-full`).
#   TLS 1.3's forward secrecy protects past sessions from a stolen *server key*, not from a key log.
# - libpq appends to it and never rotates it: set `sslkeylogfile` only for a debugging session, in a private
#   folder, never in a connection string that is shared, committed or used in production
#   (`PGSSLKEYLOGFILE` in a shell profile is the classic accident).
# - Treat it like a private key: 0600, never committed (add `*.log` key files to `.gitignore`), deleted
#   when done — as here.

# %% [markdown] lang="es" en="7212292c"
# ## 7 · Por qué el archivo de registro de claves es un secreto, y cómo borrarlo
#
# - Contiene todos los secretos de tráfico de las sesiones que cubre: con una captura de ellas, todo es
#   legible, dijera lo que dijera `sslmode` (por defecto esta lección usa `verify-full`). El secreto perfecto
#   hacia adelante de TLS 1.3 protege las sesiones pasadas frente a una *clave del servidor* robada, no frente
#   a un registro de claves.
# - libpq añade al final del archivo y nunca lo rota: fije `sslkeylogfile` solo para una sesión de
#   depuración, en una carpeta privada, nunca en una cadena de conexión que se comparta, se suba al
#   repositorio o se use en producción (un `PGSSLKEYLOGFILE` en el perfil del shell es el accidente clásico).
# - Trátelo como una clave privada: 0600, nunca en el repositorio (añada los archivos de claves `*.log` a
#   `.gitignore`) y borrado al terminar, como aquí.

# %%
for path in folder.iterdir():  # keys.log, other.log (and tshark.log)
    path.unlink()
folder.rmdir()
assert not keylog_file.exists() and not folder.exists()

# %%
lesson.finish()
