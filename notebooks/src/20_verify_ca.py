# %% [markdown]
# # 20 · Client layer 1: `sslmode=verify-ca` — does the client trust the server's CA?
#
# With `sslmode=require` a client encrypts, but it would encrypt just as happily to an impostor: it never
# asks *who* signed the server's certificate. `verify-ca` adds that question. The client loads the CA
# certificates named in `sslrootcert` and refuses any server whose certificate does not chain to them.
#
# This lesson measures, on a real server:
#
# 1. which `sslrootcert` files make `verify-ca` succeed (root, root + intermediate) and why the answer
#    depends on what the *server* sends;
# 2. the two failures a DBA meets first: the CA file does not exist, and the CA is the wrong one
#    (a "rogue" CA, i.e. an impostor's server or a mis-delivered file);
# 3. what `verify-ca` does **not** check: the host name. A server certificate issued for another machine
#    is accepted.
#
# Every success sits next to its failing control. Why it matters for a bank: `verify-ca` is the first
# mode that defeats a man-in-the-middle with a self-made certificate — but only for an attacker who
# cannot get a certificate from your CA.
#
# Guide coverage: *Fase #2 › Primera capa de seguridad nivel Usuario (sslmode=verify-ca)*, *Información
# importante* (which CA file goes where), and *Mensajes de Error* #3 (certificate verify failed).
#
# ```mermaid
# flowchart LR
#   C[client<br/>sslrootcert] -- "ClientHello" --> S[server<br/>ssl_cert_file]
#   S -- "certificate (+ chain?)" --> C
#   C -- "chain ends in a CA from sslrootcert?" --> V{verify-ca}
#   V -- yes --> OK[connect]
#   V -- no --> NO["SSL error: certificate verify failed"]
# ```

# %% [markdown] lang="es" en="3a26ea62"
# # 20 · Primera capa del cliente: `sslmode=verify-ca` — ¿confía el cliente en la CA del servidor?
#
# Con `sslmode=require` el cliente cifra, pero cifraría con la misma tranquilidad hacia un impostor: nunca
# pregunta *quién* firmó el certificado del servidor. `verify-ca` añade esa pregunta. El cliente carga los
# certificados de CA indicados en `sslrootcert` y rechaza cualquier servidor cuyo certificado no encadene con ellos.
#
# Esta lección mide, sobre un servidor real:
#
# 1. qué archivos `sslrootcert` hacen que `verify-ca` tenga éxito (CA raíz, CA raíz + intermedia) y por qué la
#    respuesta depende de lo que envía el *servidor*;
# 2. los dos fallos con los que un DBA se encuentra primero: el archivo de CA no existe, y la CA no es la
#    correcta (una CA "intrusa", es decir, el servidor de un impostor o un archivo entregado por error);
# 3. lo que `verify-ca` **no** comprueba: el nombre de host. Se acepta un certificado de servidor emitido para
#    otra máquina.
#
# Cada éxito aparece junto a su control que falla. Por qué importa en un banco: `verify-ca` es el primer modo que
# frustra a un intermediario (man-in-the-middle) con un certificado fabricado por él mismo, pero solo si el
# atacante no puede obtener un certificado de su CA.
#
# Cobertura de la guía: *Fase #2 › Primera capa de seguridad nivel Usuario (sslmode=verify-ca)*, *Información
# importante* (qué archivo de CA va en cada sitio) y *Mensajes de Error* #3 (certificate verify failed).
#
# ```mermaid
# flowchart LR
#   C[cliente<br/>sslrootcert] -- "ClientHello" --> S[servidor<br/>ssl_cert_file]
#   S -- "certificado (¿+ cadena?)" --> C
#   C -- "¿la cadena termina en una CA de sslrootcert?" --> V{verify-ca}
#   V -- sí --> OK[conecta]
#   V -- no --> NO["SSL error: certificate verify failed"]
# ```

# %% [markdown]
# ## Objectives · time
#
# - Use `sslmode=verify-ca` with the right CA file
# - Recognise the two first failures: no root certificate, an untrusted CA
# - See what `verify-ca` does not check: the host name
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (841 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="1ba15839"
# ## Objetivos · tiempo
#
# - Usar `sslmode=verify-ca` con el archivo de CA adecuado
# - Reconocer los dos primeros fallos: no hay certificado raíz, la CA no es de confianza
# - Ver lo que `verify-ca` no comprueba: el nombre de host
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (841 palabras de texto a 150 palabras por minuto) y ejecución ≈ 4 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
sslrootcert_choice = "combined"  # your own try at the end: root, combined, intermediate, rogue or missing
server_cert = "server"  # what the server presents: "server" (leaf only, as in the guide) or "server_chain"

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("sslrootcert_choice", sslrootcert_choice, lk.client_files.ROOT_CHOICES)
lk.check_choice("server_cert", server_cert, ("server", "server_chain"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
password = lesson.password("conssl")  # passed to attempts, never printed

# %% [markdown]
# ## 1 · The server: TLS on with a lab certificate, `hostssl` for `conssl`
#
# The server presents `server.crt`, issued by the lab's **intermediate** CA, which the root CA signed —
# the guide's chain `server.crt → intermediate.crt → root.crt`. By default it sends the leaf alone
# (`server_cert = "server"`), exactly like the guide's `ssl_cert_file = '/tmp/pki/certs/server.crt'`.

# %% [markdown] lang="es" en="42a31595"
# ## 1 · El servidor: TLS activado con un certificado del laboratorio, `hostssl` para `conssl`
#
# El servidor presenta `server.crt`, emitido por la CA **intermedia** del laboratorio, que a su vez firmó la CA
# raíz: la cadena de la guía `server.crt → intermediate.crt → root.crt`. Por omisión envía solo el certificado
# final (`server_cert = "server"`), exactamente como el `ssl_cert_file = '/tmp/pki/certs/server.crt'` de la guía.

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki, server_cert), lk.layers.layer_hostssl("scram-sha-256", ("conssl",)))
assert applied.ok, applied.reason
applied.summary()[["layers", "ok", "action", "detail"]]

# %% [markdown]
# ## 2 · Which CA file makes `verify-ca` pass?
#
# Four attempts with the same connection string, only `sslrootcert` changes: the root alone, the
# guide's `combined.crt` (intermediate + root), the intermediate alone, and no CA at all (`sslmode=require`,
# the control that shows the server itself is reachable).

# %% [markdown] lang="es" en="1e0b4fe6"
# ## 2 · ¿Qué archivo de CA hace que `verify-ca` funcione?
#
# Cuatro intentos con la misma cadena de conexión en los que solo cambia `sslrootcert`: la CA raíz sola, el
# `combined.crt` de la guía (intermedia + raíz), la CA intermedia sola y ninguna CA (`sslmode=require`, el
# control que demuestra que el propio servidor es accesible).

# %%
p = pki.paths
trust = [
    lk.attempt(lab, label="require (no CA check: control)", sslmode="require", user="conssl", password=password),
    lk.attempt(lab, label="verify-ca, sslrootcert=combined.crt", sslmode="verify-ca", sslrootcert=p.combined_crt,
            user="conssl", password=password),
    lk.attempt(lab, label="verify-ca, sslrootcert=root.crt", sslmode="verify-ca", sslrootcert=p.root_crt,
            user="conssl", password=password),
    lk.attempt(lab, label="verify-ca, sslrootcert=intermediate.crt", sslmode="verify-ca",
            sslrootcert=p.intermediate_crt, user="conssl", password=password),
]
lk.tables.verdicts(trust, uuid="nb20-trust")

# %%
expected = {"require (no CA check: control)": "TLSv1.3", "verify-ca, sslrootcert=combined.crt": "TLSv1.3",
            "verify-ca, sslrootcert=root.crt": "TLSv1.3" if server_cert == "server_chain" else "server_cert_untrusted",
            "verify-ca, sslrootcert=intermediate.crt": "server_cert_untrusted"}
assert {r.label: r.outcome for r in trust} == expected, {r.label: r.outcome for r in trust}

# %% [markdown]
# What the table says, with the server sending only its leaf:
#
# * **`combined.crt` works**: the client holds both CA certificates, so it can build
#   `server → intermediate → root` by itself.
# * **`root.crt` alone fails** with `certificate verify failed`: the client has the anchor but not the
#   link in the middle, and the server did not send it. Rebuild with `server_cert = "server_chain"` (leaf +
#   intermediate in `ssl_cert_file`) and the root alone is enough — that is the guide's "Opción #1".
# * **`intermediate.crt` alone fails** too: OpenSSL wants a chain that ends in a self-signed root it
#   trusts, not just the issuer.
#
# So far the server has no `ssl_ca_file`. The guide's box sets `ssl_ca_file = combined.crt` and then lets the
# client use `root.crt`. Measured: the same `verify-ca` with `root.crt`, after adding only that setting, and
# the certificates the server now sends (read by sslyze's client from a fresh handshake):

# %% [markdown] lang="es" en="efc75b4c"
# Lo que dice la tabla, con el servidor enviando solo su certificado final:
#
# * **`combined.crt` funciona**: el cliente tiene los dos certificados de CA, así que puede construir por sí
#   mismo `server → intermediate → root`.
# * **`root.crt` solo falla** con `certificate verify failed`: el cliente tiene el ancla de confianza pero no el
#   eslabón intermedio, y el servidor no lo envió. Vuelva a ejecutar con `server_cert = "server_chain"` (certificado
#   final + intermedia en `ssl_cert_file`) y basta con la CA raíz: es la "Opción #1" de la guía.
# * **`intermediate.crt` solo** también falla: OpenSSL exige una cadena que termine en una CA raíz autofirmada en
#   la que confíe, no solo el emisor.
#
# Hasta aquí el servidor no tiene `ssl_ca_file`. El recuadro de la guía configura `ssl_ca_file = combined.crt` y
# luego deja que el cliente use `root.crt`. Lo medimos: el mismo `verify-ca` con `root.crt` tras añadir solo ese
# parámetro, y los certificados que el servidor envía ahora (leídos por el cliente de sslyze en una negociación
# TLS (handshake) nueva):

# %% tags=["erratum-ca-file-chain"]
assert lk.apply(lab, lk.layers.layer_ca(pki, "combined")).ok
with_ca_file = lk.attempt(lab, label="verify-ca, sslrootcert=root.crt, server ssl_ca_file=combined.crt",
                          sslmode="verify-ca", sslrootcert=p.root_crt, user="conssl", password=password)
display(lk.tables.verdicts([with_ca_file], uuid="nb20-ca-file"))
sent = lk.enumeration.chain_table(lab)
lk.tables.table(sent, "nb20-sent")

# %%
assert with_ca_file.connected and with_ca_file.ssl
assert sent["self-signed root"].tolist() == ([False, False, True] if server_cert == "server" else [False, False])
assert lk.revert(lab, lk.layers.layer_ca(pki, "combined")).ok

# %% [markdown]
# > **The guide says** (*Información importante*) that with `ssl_ca_file = combined.crt` on the server the
# > client can use `sslrootcert = root.crt`. **Measured:** true, but for a reason the guide does not give.
# > `ssl_ca_file` exists to check *client* certificates; a server that sends only its leaf completes the
# > chain it sends from that file, and sends the **self-signed root too** (three certificates above). Without
# > `ssl_ca_file` (the first table) the leaf travels alone and `root.crt` fails. Sending `server-chain.crt`
# > (leaf + intermediate) makes `root.crt` work whatever `ssl_ca_file` holds, without shipping the root.
#
# The raw messages (client text and the server's log lines, which carry addresses and pids):

# %% [markdown] lang="es" en="9d5d7b80"
# > **La guía dice** (*Información importante*) que, con `ssl_ca_file = combined.crt` en el servidor, el cliente
# > puede usar `sslrootcert = root.crt`. **Medido:** es cierto, pero por un motivo que la guía no explica.
# > `ssl_ca_file` existe para comprobar certificados de *cliente*; un servidor que envía solo su certificado final
# > completa con ese archivo la cadena que envía, y manda **también la CA raíz autofirmada** (los tres
# > certificados de arriba). Sin `ssl_ca_file` (la primera tabla), el certificado final viaja solo y `root.crt`
# > falla. Enviar `server-chain.crt` (certificado final + intermedia) hace que `root.crt` funcione con
# > independencia de lo que contenga `ssl_ca_file`, y sin enviar la raíz.
#
# Los mensajes sin procesar (el texto del cliente y las líneas del log del servidor, que incluyen direcciones y pids):

# %% tags=["nbval-ignore-output"]
lk.tables.raw_messages(trust)

# %% [markdown]
# ## 3 · The two failures you will meet first
#
# A CA file that is not where the connection string says, and a CA that did not sign this server. The
# second is what an impostor looks like: the rogue CA is a self-signed CA unrelated to the lab.

# %% [markdown] lang="es" en="bee30dc0"
# ## 3 · Los dos fallos que encontrará primero
#
# Un archivo de CA que no está donde indica la cadena de conexión, y una CA que no firmó este servidor. El segundo
# es el aspecto que tiene un impostor: la CA intrusa es una CA autofirmada sin relación con el laboratorio.

# %%
failures = [
    lk.attempt(lab, label="verify-ca, sslrootcert=<missing file>", sslmode="verify-ca",
            sslrootcert=lk.client_files.root_file(pki, "missing"), user="conssl", password=password),
    lk.attempt(lab, label="verify-ca, sslrootcert=rogue-ca.crt", sslmode="verify-ca", sslrootcert=p.rogue_ca_crt,
            user="conssl", password=password),
    lk.attempt(lab, label="verify-ca, sslrootcert=combined.crt (control)", sslmode="verify-ca",
            sslrootcert=p.combined_crt, user="conssl", password=password),
]
lk.tables.verdicts(failures, ("label", "connected", "outcome", "server says", "psql"), uuid="nb20-fail")

# %%
assert [r.outcome for r in failures] == ["root_cert_missing", "server_cert_untrusted", "TLSv1.3"]
assert 'root certificate file "' in failures[0].error_text and "does not exist" in failures[0].error_text
assert "certificate verify failed" in failures[1].error_text
assert "tlsv1 alert unknown ca" in failures[1].server_log  # the server hears the client's refusal

# %% [markdown]
# Both ends tell the story. For the missing file, libpq gives up **before** it has anything to verify
# and hangs up, so the server only logs an abrupt end of the handshake (`EOF detected`). For the rogue CA
# the client aborts the handshake with an *unknown CA* alert, which the server logs as
# `tlsv1 alert unknown ca`. The same alert text shows up in the *client's* message when the roles are
# reversed (the server rejecting a client certificate, lesson 22) — read which side printed it.

# %% [markdown] lang="es" en="5f927561"
# Los dos extremos cuentan la historia. Con el archivo inexistente, libpq se rinde **antes** de tener nada que
# verificar y corta la conexión, de modo que el servidor solo registra un final abrupto de la negociación TLS
# (`EOF detected`). Con la CA intrusa, el cliente aborta la negociación con una alerta *unknown CA*, que el
# servidor registra como `tlsv1 alert unknown ca`. Ese mismo texto de alerta aparece en el mensaje del *cliente*
# cuando los papeles se invierten (el servidor rechaza un certificado de cliente, lección 22): fíjese en qué
# extremo lo imprimió.

# %% tags=["nbval-ignore-output"]
lk.tables.raw_messages(failures)

# %% [markdown]
# ## 4 · What `verify-ca` does not check: the name
#
# Now the server presents `wrong-host.crt`: a perfectly valid certificate from the same lab CA, but
# issued to `db.wrong-host.example`, a machine that is not this one. Think of it as a certificate that
# belongs to *another* server of the bank — or one an attacker obtained for a host they control.

# %% [markdown] lang="es" en="148a8ec9"
# ## 4 · Lo que `verify-ca` no comprueba: el nombre
#
# Ahora el servidor presenta `wrong-host.crt`: un certificado perfectamente válido de la misma CA del laboratorio,
# pero emitido para `db.wrong-host.example`, una máquina que no es esta. Piense en él como el certificado de
# *otro* servidor del banco, o uno que un atacante obtuvo para un host que controla.

# %%
swapped = lk.apply(lab, lk.layers.layer_ssl_on(pki, "wrong_host"))
assert swapped.ok, swapped.reason
names = [
    lk.attempt(lab, label=f"{mode}, host={host}, server cert for db.wrong-host.example", sslmode=mode, host=host,
            sslrootcert=p.combined_crt, user="conssl", password=password)
    for mode in ("verify-ca", "verify-full") for host in ("127.0.0.1", "localhost")
]
lk.tables.verdicts(names, uuid="nb20-names")

# %%
assert [r.outcome for r in names] == ["TLSv1.3", "TLSv1.3", "hostname_mismatch", "hostname_mismatch"]

# %% [markdown]
# `verify-ca` connects although the certificate names a different machine: the chain is good, and that
# is all it asks. `verify-full` (lesson 21) is the control: same certificate, same CA file, refused. So
# `verify-ca` protects against certificates from a *foreign* CA only; anyone holding *any* certificate from
# your CA can impersonate this server. Use it only when your CA issues server certificates for nothing
# but the servers you are willing to talk to — otherwise use `verify-full`.

# %% [markdown] lang="es" en="7baff559"
# `verify-ca` conecta aunque el certificado nombre otra máquina: la cadena es correcta, y es lo único que
# pregunta. `verify-full` (lección 21) es el control: mismo certificado, mismo archivo de CA, conexión rechazada.
# Por tanto, `verify-ca` solo protege frente a certificados de una CA *ajena*; cualquiera que tenga *algún*
# certificado de su CA puede suplantar a este servidor. Úselo solo cuando su CA no emita certificados de servidor
# más que para los servidores con los que está dispuesto a hablar; en cualquier otro caso, use `verify-full`.

# %% [markdown]
# ## 5 · Your turn
#
# The parameter `sslrootcert_choice` picks the CA file for one more attempt against the original server
# certificate. The expected outcome comes from the table above.

# %% [markdown] lang="es" en="59cf239b"
# ## 5 · Su turno
#
# El parámetro `sslrootcert_choice` elige el archivo de CA para un intento más contra el certificado de servidor
# original. El resultado esperado se deduce de la tabla anterior.

# %%
restored = lk.apply(lab, lk.layers.layer_ssl_on(pki, server_cert))
assert restored.ok, restored.reason
mine = lk.attempt(lab, label=f"verify-ca, sslrootcert={sslrootcert_choice}", sslmode="verify-ca",
               sslrootcert=lk.client_files.root_file(pki, sslrootcert_choice), user="conssl", password=password)
works = {"combined"} | ({"root"} if server_cert == "server_chain" else set())
want = "TLSv1.3" if sslrootcert_choice in works else (
    "root_cert_missing" if sslrootcert_choice == "missing" else "server_cert_untrusted")
assert mine.outcome == want, (mine.outcome, want)
lk.tables.verdicts([mine], uuid="nb20-mine")

# %% [markdown]
# ## Verdict
#
# One row per claim of this lesson: what `verify-ca` accepts and what it refuses.

# %% [markdown] lang="es" en="58f34f03"
# ## Veredicto
#
# Una fila por cada afirmación de esta lección: lo que `verify-ca` acepta y lo que rechaza.

# %% tags=["key-result"]
verdict = pd.DataFrame([
    {"claim": "verify-ca with the CA chain (combined.crt) connects", "measured": trust[1].outcome},
    {"claim": "verify-ca with root.crt alone, server sends leaf only", "measured": trust[2].outcome},
    {"claim": "verify-ca with a CA file that does not exist", "measured": failures[0].outcome},
    {"claim": "verify-ca with a foreign (rogue) CA", "measured": failures[1].outcome},
    {"claim": "verify-ca, certificate issued to another host name", "measured": names[0].outcome},
    {"claim": "verify-full, same certificate (control)", "measured": names[2].outcome},
])
verdict["connected"] = verdict["measured"].str.startswith("TLS")
lk.tables.cells(verdict, ["connected"], uuid="nb20-verdict")

# %% [markdown]
# ## Key points
#
# - `verify-ca` checks that the server's certificate chains to `sslrootcert`, not that it names the host.
# - Without `sslrootcert` (or `~/.postgresql/root.crt`) libpq refuses `verify-ca` (`root_cert_missing`).
# - A certificate from the right CA for another machine passes `verify-ca`: part 4's impostor.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="bcac96da"
# ## Puntos clave
#
# - `verify-ca` comprueba que el certificado del servidor encadena con `sslrootcert`, no que nombre al host.
# - Sin `sslrootcert` (ni `~/.postgresql/root.crt`), libpq rechaza `verify-ca` (`root_cert_missing`).
# - Un certificado de la CA correcta emitido para otra máquina pasa `verify-ca`: el impostor de la parte 4.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
