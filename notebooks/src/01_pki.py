# %% [markdown]
# # 01 · The lab PKI: a chain of trust, and where each CA file must go
#
# Every later lesson rests on certificates: the server proves who it is with one, clients may log in
# with one, and both sides decide whom to trust from a *CA file*. Put the wrong file on one side and the
# result is either a refused connection at 3 a.m. or, worse, a connection that works for a reason
# nobody understands and breaks at the next certificate renewal.
#
# This lesson builds the lab's PKI (root CA → intermediate CA → server and client leaves), shows it as
# a table, and then **measures** the guide's *Información importante* box: the three ways it pairs
# the server's `ssl_cert_file`/`ssl_ca_file` with the client's `sslrootcert`. It also covers the guide's
# paragraph on server certificate verification (libpq documentation 32.19.1) and its
# *server.crt → intermedio.crt → root.crt* chain.

# %% [markdown] lang="es" en="ad98e847"
# # 01 · La PKI del laboratorio: una cadena de confianza y dónde va cada archivo de CA
#
# Todas las lecciones siguientes se apoyan en certificados: el servidor demuestra su identidad con uno,
# los clientes pueden autenticarse con otro, y ambos lados deciden en quién confiar a partir de un
# *archivo de CA*. Si se coloca el archivo equivocado en un lado, el resultado es una conexión rechazada a
# las 3 de la madrugada o, peor aún, una conexión que funciona por un motivo que nadie entiende y que se
# rompe en la siguiente renovación de certificados.
#
# Esta lección construye la PKI del laboratorio (CA raíz → CA intermedia → certificados finales de
# servidor y de cliente), la muestra en una tabla y después **mide** el recuadro *Información importante*
# de la guía: las tres formas en que combina `ssl_cert_file`/`ssl_ca_file` del servidor con
# `sslrootcert` del cliente. También cubre el párrafo de la guía sobre la verificación del certificado
# del servidor (documentación de libpq 32.19.1) y su cadena *server.crt → intermedio.crt → root.crt*.

# %% [markdown]
# ## Objectives · time
#
# - Describe the lab's chain of trust: root, intermediate, leaf certificates
# - Say which CA file goes where: `ssl_ca_file` on the server, `sslrootcert` on the client
# - Compare the guide's three PKI layouts by the connections they allow
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (801 words of prose at 150 words a minute) and running ≈ 7 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="fd8ae6e3"
# ## Objetivos · tiempo
#
# - Describir la cadena de confianza del laboratorio: certificados raíz, intermedio y finales
# - Indicar qué archivo de CA va en cada sitio: `ssl_ca_file` en el servidor, `sslrootcert` en el cliente
# - Comparar las tres disposiciones de PKI de la guía según las conexiones que permiten
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (801 palabras de texto a 150 palabras por minuto) y ejecución ≈ 7 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

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
p = pki.paths

# %% [markdown]
# ## The chain of trust
#
# The root CA signs only the intermediate; the intermediate signs the everyday leaves. The root's key
# can then stay offline, and a compromised intermediate can be revoked by the root. A verifier that
# trusts the root accepts a leaf only if it can connect the two through the intermediate -- so somebody
# has to supply the intermediate: the verifier's own CA file, or the peer sending it along.
#
# ```mermaid
# flowchart TD
#     root["root.crt<br/>pgtls-lab Root CA<br/>(self-signed, trust anchor)"]
#     inter["intermediate.crt<br/>pgtls-lab Intermediate CA"]
#     server["server.crt<br/>CN=localhost, SAN localhost, 127.0.0.1"]
#     client["client.crt<br/>CN=conssl"]
#     others["server2, wrong-host, client2,<br/>revoked-client, expired-client"]
#     byroot["server-by-root.crt<br/>(no intermediate)"]
#     rogue["rogue-ca.crt → rogue-client.crt<br/>(unrelated CA)"]
#     root --> inter
#     inter --> server
#     inter --> client
#     inter --> others
#     root --> byroot
# ```
#
# The full inventory, as `LabPKI.describe()` reports it (serials and dates change at every generation,
# so this cell is not compared):

# %% [markdown] lang="es" en="82ee1fba"
# ## La cadena de confianza
#
# La CA raíz firma solo la CA intermedia; la intermedia firma los certificados finales de uso diario. Así
# la clave de la raíz puede permanecer fuera de línea, y si la intermedia se ve comprometida, la raíz
# puede revocarla. Un verificador que confía en la raíz acepta un certificado final solo si puede enlazar
# ambos a través de la intermedia, así que alguien tiene que aportar la intermedia: el propio archivo de
# CA del verificador, o el otro extremo enviándola junto con su certificado.
#
# ```mermaid
# flowchart TD
#     root["root.crt<br/>pgtls-lab Root CA<br/>(autofirmado, ancla de confianza)"]
#     inter["intermediate.crt<br/>pgtls-lab Intermediate CA"]
#     server["server.crt<br/>CN=localhost, SAN localhost, 127.0.0.1"]
#     client["client.crt<br/>CN=conssl"]
#     others["server2, wrong-host, client2,<br/>revoked-client, expired-client"]
#     byroot["server-by-root.crt<br/>(sin intermedia)"]
#     rogue["rogue-ca.crt → rogue-client.crt<br/>(CA ajena)"]
#     root --> inter
#     inter --> server
#     inter --> client
#     inter --> others
#     root --> byroot
# ```
#
# El inventario completo, tal como lo muestra `LabPKI.describe()` (los números de serie y las fechas
# cambian en cada generación, así que esta celda no se compara):

# %% tags=["nbval-ignore-output"]
inventory = pki.describe()
lk.tables.table(inventory.drop(columns=["lesson"]), "inventory")

# %% [markdown]
# The stable part of that table: what each file is, whether it is a CA, whether a lab CRL revokes it, and
# whether it verifies up to the lab root (signature, dates, key usage and, for servers, the name). Extra
# certificates other lessons issued in this workspace are left out.

# %% [markdown] lang="es" en="089b3b44"
# La parte estable de esa tabla: qué es cada archivo, si es una CA, si lo revoca alguna lista de
# revocación (CRL) del laboratorio y si se verifica hasta la raíz del laboratorio (firma, fechas, uso de
# clave y, en los servidores, el nombre). Se omiten los certificados adicionales que otras lecciones
# emitieron en este espacio de trabajo.

# %%
standard = inventory[~inventory["lesson"].str.startswith("extra")]
summary = standard[["file", "role", "issuer", "is_ca", "revoked", "chain_verifies", "lesson"]].copy()
summary["issuer"] = summary["issuer"].str.extract(r"CN=([^,]+)", expand=False)
lk.tables.verdict(summary, "chain_verifies", columns=["file", "chain_verifies"], uuid="summary")

# %%
s = summary.set_index("file")
assert s.loc["CA/root.crt", "is_ca"] and s.loc["CA/intermediate.crt", "is_ca"]
assert s.loc["certs/server.crt", "chain_verifies"] and s.loc["certs/client.crt", "chain_verifies"]
assert s.loc["certs/revoked-client.crt", "revoked"] and not s.loc["certs/client.crt", "revoked"]
assert not s.loc["certs/expired-client.crt", "chain_verifies"]
assert not s.loc["certs/rogue-client.crt", "chain_verifies"]

# %% [markdown]
# Two files are *bundles*, not listed above: `CA/combined.crt` is the guide's
# `cat intermediate.crt root.crt > combined.crt`, and `certs/server-chain.crt` is the server leaf followed
# by the intermediate, the file a server sends to complete its chain.

# %% [markdown] lang="es" en="432bf8c2"
# Hay dos archivos que son *paquetes* y no aparecen arriba: `CA/combined.crt` es el
# `cat intermediate.crt root.crt > combined.crt` de la guía, y `certs/server-chain.crt` es el certificado
# final del servidor seguido de la intermedia, el archivo que envía un servidor para completar su cadena.

# %%
from cryptography import x509

bundles = pd.DataFrame([
    {"bundle": path.relative_to(pki.root_dir).as_posix(), "position": i + 1,
     "subject CN": c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value,
     "issuer CN": c.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value}
    for path in (p.combined_crt, p.server_chain_crt, p.client_chain_crt)
    for i, c in enumerate(x509.load_pem_x509_certificates(path.read_bytes()))
])
lk.tables.table(bundles, "bundles")

# %% [markdown]
# ## The guide's three layouts, measured
#
# The guide's box pairs server and client files like this:
#
# | guide option | server `ssl_ca_file` | client `sslrootcert` | leaf issued by |
# |---|---|---|---|
# | 1 | `combined.crt` | `root.crt` | intermediate |
# | 2 | `root.crt` | `combined.crt` | intermediate |
# | 3 | `root.crt` | `root.crt` | root |
#
# Each layout is tried with a `verify-full` client that also logs in with a client certificate
# (`hostssl … cert clientcert=verify-full`), so both directions of verification take part: the client
# verifies the server against `sslrootcert`, the server verifies the client against `ssl_ca_file`. Next to
# the guide's rows we add the variants that reveal *why* they work: the server presenting only its leaf
# (`server.crt`) or leaf + intermediate (`server-chain.crt`), and the client sending only its leaf or
# leaf + intermediate (`client-chain.crt`). A client certificate issued directly by the root is made for
# option 3 (`pki.issue_client(..., by="root")`, inside `lk.scenarios.guide_layouts`).

# %% [markdown] lang="es" en="5d690a75"
# ## Las tres disposiciones de la guía, medidas
#
# El recuadro de la guía combina los archivos de servidor y cliente así:
#
# | opción de la guía | `ssl_ca_file` del servidor | `sslrootcert` del cliente | certificado final emitido por |
# |---|---|---|---|
# | 1 | `combined.crt` | `root.crt` | intermedia |
# | 2 | `root.crt` | `combined.crt` | intermedia |
# | 3 | `root.crt` | `root.crt` | raíz |
#
# Cada disposición se prueba con un cliente `verify-full` que además se autentica con un certificado de
# cliente (`hostssl … cert clientcert=verify-full`), de modo que intervienen las dos direcciones de la
# verificación: el cliente verifica al servidor contra `sslrootcert` y el servidor verifica al cliente
# contra `ssl_ca_file`. Junto a las filas de la guía añadimos las variantes que revelan *por qué*
# funcionan: el servidor presentando solo su certificado final (`server.crt`) o el final más la
# intermedia (`server-chain.crt`), y el cliente enviando solo su certificado final o el final más la
# intermedia (`client-chain.crt`). Para la opción 3 se crea un certificado de cliente emitido directamente
# por la raíz (`pki.issue_client(..., by="root")`, dentro de `lk.scenarios.guide_layouts`).

# %%
layouts, results = lk.scenarios.try_layouts(lab, pki, lk.scenarios.guide_layouts(pki))

# %% tags=["key-result", "erratum-guide-layouts"]
lk.tables.verdict(layouts, columns=["attempt", "connected", "outcome"], uuid="layouts")

# %%
ok = dict(zip(layouts["attempt"], layouts["connected"]))
key = dict(zip(layouts["attempt"], layouts["outcome"]))
assert ok["option 1 (guide): leaf only"] and ok["option 1, server sends its chain"]
assert key["no intermediate on the server: leaf only"] == "server_cert_untrusted"
assert ok["no intermediate on the server: chain file"]
assert ok["option 2 (guide)"] and key["option 2, client trusts only root"] == "unknown_ca"
assert ok["option 3 (guide): leaves signed by root"] and ok["Fase 2 of the guide: combined on both sides"]

# %% [markdown]
# What the table shows:
#
# * **Option 1 needs the server to send its chain.** The client trusts only `root.crt`, so it must
#   receive the intermediate from the server. With `ssl_cert_file = server.crt` (leaf only) it still
#   works -- but only because the server's OpenSSL completes the chain it sends from the certificates it
#   loaded from `ssl_ca_file` (`combined.crt` contains the intermediate). Take the intermediate out of
#   `ssl_ca_file` and the very same leaf fails: the client reports *certificate verify failed* and the
#   server logs that the client sent *unknown ca*. Pointing `ssl_cert_file` at `server-chain.crt` makes
#   the server send the intermediate whatever `ssl_ca_file` holds. What the server really sends, read
#   from a fresh handshake (sslyze's client, which keeps every certificate received), is the next table.
# * **Option 2 is the mirror image for client certificates.** The server trusts only the root, so the
#   client must send its intermediate. libpq does that when it can find the intermediate in its own
#   `sslrootcert` (`combined.crt`); a client that trusts only the root and sends only its leaf is refused
#   (*tlsv1 alert unknown ca* on the client, *certificate verify failed* in the server log).
# * **Option 3** has no intermediate at all, so the root on both sides is enough.
#
# > **The guide says** the three pairings are interchangeable recipes. **Measured:** all three connect,
# > but options 1 and 2 only work because OpenSSL quietly borrows the intermediate from the *other*
# > setting's CA file. Changing what looks like an unrelated file (`ssl_ca_file`, or the client's
# > `sslrootcert`) breaks them. Make each side send its own chain instead.
#
# ### What the server sends
#
# The guide's option 1 (`ssl_cert_file = server.crt`, `ssl_ca_file = combined.crt`) against the
# recommended `server-chain.crt`, with and without `ssl_ca_file`:

# %% [markdown] lang="es" en="8833b0d2"
# Lo que muestra la tabla:
#
# * **La opción 1 necesita que el servidor envíe su cadena.** El cliente confía solo en `root.crt`, así
#   que debe recibir la intermedia del servidor. Con `ssl_cert_file = server.crt` (solo el certificado
#   final) sigue funcionando, pero únicamente porque el OpenSSL del servidor completa la cadena que envía
#   con los certificados que cargó de `ssl_ca_file` (`combined.crt` contiene la intermedia). Si se quita
#   la intermedia de `ssl_ca_file`, ese mismo certificado final falla: el cliente informa *certificate
#   verify failed* y el servidor registra que el cliente envió *unknown ca*. Si `ssl_cert_file` apunta a
#   `server-chain.crt`, el servidor envía la intermedia contenga lo que contenga `ssl_ca_file`. Lo que el
#   servidor envía realmente, leído de una negociación TLS nueva (el cliente de sslyze, que conserva
#   todos los certificados recibidos), aparece en la tabla siguiente.
# * **La opción 2 es la imagen especular para los certificados de cliente.** El servidor confía solo en
#   la raíz, así que el cliente debe enviar su intermedia. libpq lo hace cuando encuentra la intermedia en
#   su propio `sslrootcert` (`combined.crt`); un cliente que confía solo en la raíz y envía solo su
#   certificado final es rechazado (*tlsv1 alert unknown ca* en el cliente, *certificate verify failed*
#   en el log del servidor).
# * **La opción 3** no tiene intermedia, así que basta con la raíz en ambos lados.
#
# > **La guía dice** que las tres combinaciones son recetas intercambiables. **Medido:** las tres
# > conectan, pero las opciones 1 y 2 solo funcionan porque OpenSSL toma prestada, sin avisar, la
# > intermedia del archivo de CA del *otro* parámetro. Basta cambiar un archivo que parece no tener
# > relación (`ssl_ca_file`, o el `sslrootcert` del cliente) para romperlas. Lo correcto es que cada lado
# > envíe su propia cadena.
#
# ### Lo que envía el servidor
#
# La opción 1 de la guía (`ssl_cert_file = server.crt`, `ssl_ca_file = combined.crt`) frente al
# `server-chain.crt` recomendado, con y sin `ssl_ca_file`:

# %% tags=["erratum-ca-file-chain"]
sent = lk.scenarios.served_chains(lab, pki, {
    "server.crt, no ssl_ca_file": ("server", None),
    "server.crt + ssl_ca_file = combined.crt (guide, option 1)": ("server", "combined"),
    "server-chain.crt + ssl_ca_file = combined.crt": ("server_chain", "combined"),
})
lk.tables.table(sent, "served_chains")

# %%
count = sent.groupby("layout", sort=False).size().tolist()
assert count == [1, 3, 2], sent
assert sent[sent["self-signed root"]]["layout"].tolist() == ["server.crt + ssl_ca_file = combined.crt (guide, option 1)"]

# %% [markdown]
# With the guide's option 1 the server's OpenSSL builds the chain from `ssl_ca_file` and sends **three**
# certificates: leaf, intermediate **and the self-signed root**. A client cannot use a root it receives
# (it must already trust it), so the root only adds bytes, and TLS scanners flag a chain that carries its
# own anchor. `server-chain.crt` sends exactly leaf + intermediate, whatever
# `ssl_ca_file` holds. Lesson 20 shows the same effect from the client's side.
#
# ## Recommended layout
#
# Independent of OpenSSL's chain building, and each file with one job:

# %% [markdown] lang="es" en="c8fd675a"
# Con la opción 1 de la guía, el OpenSSL del servidor construye la cadena a partir de `ssl_ca_file` y
# envía **tres** certificados: el final, la intermedia **y la raíz autofirmada**. Un cliente no puede usar
# una raíz que recibe (tiene que confiar en ella de antemano), así que la raíz solo añade bytes, y los
# analizadores de TLS señalan como defecto una cadena que incluye su propia ancla. `server-chain.crt`
# envía exactamente el certificado final más la intermedia, contenga lo que contenga `ssl_ca_file`. La
# lección 20 muestra el mismo efecto desde el lado del cliente.
#
# ## Disposición recomendada
#
# Independiente de cómo OpenSSL construya la cadena, y con una sola función por archivo:

# %%
recommended = pd.DataFrame([
    ("server", "ssl_cert_file", "certs/server-chain.crt", "leaf + intermediate: the client needs only the root"),
    ("server", "ssl_key_file", "private/server.key", "0600, owned by the server account; never leaves the host"),
    ("server", "ssl_ca_file", "CA/combined.crt", "CAs the server accepts client certificates from (layer 6)"),
    ("server", "ssl_crl_file", "CA/combined.crl", "revocations of both CAs, so depth 1 can be checked (layer 5)"),
    ("client", "sslrootcert", "CA/root.crt", "the one trust anchor a client needs"),
    ("client", "sslcert", "certs/client-chain.crt", "leaf + intermediate, only for certificate login"),
    ("client", "sslkey", "private/client.key", "0600, the user's own"),
    ("offline", "(not on any server)", "private/root.key, private/intermediate.key", "CA keys sign, they never serve"),
], columns=["where", "setting", "file", "why"])
lk.tables.table(recommended, "recommended")

# %% [markdown]
# The `key_type` parameter (`ecdsa-p256` by default; `rsa-2048`, `rsa-3072`, `rsa-4096`) regenerates the
# whole PKI with that key type; every verdict above is the same for each of them.

# %% [markdown] lang="es" en="58300f67"
# El parámetro `key_type` (`ecdsa-p256` por defecto; `rsa-2048`, `rsa-3072`, `rsa-4096`) regenera toda la
# PKI con ese tipo de clave; todos los veredictos anteriores son iguales con cualquiera de ellos.

# %% [markdown]
# ## Key points
#
# - A client verifies the server against `sslrootcert`; the server verifies clients against `ssl_ca_file`: two separate trust decisions.
# - A client that trusts only the root must receive the intermediate from the server (serve the chain).
# - Root + intermediate on both sides (the combined file) is the layout that works in every direction.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="79cab1ba"
# ## Puntos clave
#
# - Un cliente verifica al servidor contra `sslrootcert`; el servidor verifica a los clientes contra `ssl_ca_file`: son dos decisiones de confianza independientes.
# - Un cliente que confía solo en la raíz debe recibir la intermedia del servidor (el servidor debe enviar la cadena).
# - Raíz + intermedia en ambos lados (el archivo combinado) es la disposición que funciona en todas las direcciones.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
