# %% [markdown]
# # 14 · Layer 5: revocation lists (`ssl_crl_file`, `ssl_crl_dir`)
#
# **What we show.** A client whose certificate was revoked is refused while a good one still gets in; what
# happens when the server has the intermediate's CRL but not the root's (every client is refused, "depth 1");
# the `ssl_crl_dir` variant with hashed file names; and revoking a certificate while the server runs.
#
# **Why it matters.** When a laptop with a client key is stolen, revocation is the only way to lock that key
# out before its certificate expires. Getting the CRL set wrong either lets the stolen key in or locks out
# every application at once.
#
# **Guide coverage.** Fase #2, paso 7 ("Quinta capa": `ssl_crl_file = '/tmp/pki/CA/combined.crl'`); Fase #2
# "Tercera capa nivel Usuario" (the revoked-certificate message); "Mensajes de Error" #2
# (`certificate verify failed at depth 1`); parameters 5 and 6 (`ssl_crl_dir`, `ssl_crl_file`).

# %% [markdown] lang="es" en="55f57936"
# # 14 · Quinta capa: listas de revocación (`ssl_crl_file`, `ssl_crl_dir`)
#
# **Qué mostramos.** Un cliente cuyo certificado fue revocado es rechazado, mientras que uno válido sigue
# entrando; qué ocurre cuando el servidor tiene la lista de revocación (CRL) de la intermedia pero no la de
# la raíz (se rechaza a todos los clientes, "depth 1"); la variante `ssl_crl_dir` con nombres de archivo
# derivados de un hash; y la revocación de un certificado con el servidor en marcha.
#
# **Por qué importa.** Cuando roban un portátil con una clave de cliente, la revocación es la única forma
# de dejar fuera esa clave antes de que caduque su certificado. Si el conjunto de CRL está mal, o bien la
# clave robada entra, o bien se deja fuera de golpe a todas las aplicaciones.
#
# **Cobertura de la guía.** Fase #2, paso 7 ("Quinta capa": `ssl_crl_file = '/tmp/pki/CA/combined.crl'`);
# Fase #2 "Tercera capa nivel Usuario" (el mensaje del certificado revocado); "Mensajes de Error" #2
# (`certificate verify failed at depth 1`); parámetros 5 y 6 (`ssl_crl_dir`, `ssl_crl_file`).

# %% [markdown]
# ## Objectives · time
#
# - Refuse a revoked client certificate with `ssl_crl_file` or `ssl_crl_dir`
# - Explain the 'depth 1' failure of a CRL file that covers only the intermediate
# - Revoke a certificate while the server runs and make it take effect
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (673 words of prose at 150 words a minute) and running ≈ 3 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="cab9efab"
# ## Objetivos · tiempo
#
# - Rechazar un certificado de cliente revocado con `ssl_crl_file` o `ssl_crl_dir`
# - Explicar el fallo 'depth 1' de un archivo de CRL que solo cubre la intermedia
# - Revocar un certificado con el servidor en marcha y hacer que la revocación surta efecto
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (673 palabras de texto a 150 palabras por minuto) y ejecución ≈ 3 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
crl_source = "combined"  # the CRL setup for the main test: combined | dir (intermediate_only is shown in step 3)

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("crl_source", crl_source, ("combined", "dir"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
p = pki.paths

# %% [markdown]
# ## 1. The setting: certificate authentication
#
# A CRL only matters when the server checks client certificates, so we start from the setup where they
# decide: TLS on, `ssl_ca_file` = root + intermediate (layer 6) and a `hostssl … cert` rule for `conssl`.
# Two clients use `sslmode=verify-full`: `client.crt` and `revoked-client.crt` (listed in the
# intermediate's CRL by the lab PKI). Without a CRL both get in: the server has no way to know.

# %% [markdown] lang="es" en="1999dd5e"
# ## 1. El escenario: autenticación por certificado
#
# Una CRL solo importa cuando el servidor comprueba certificados de cliente, así que partimos de la
# configuración en la que estos deciden: TLS activado, `ssl_ca_file` = raíz + intermedia (sexta capa) y
# una regla `hostssl … cert` para `conssl`. Dos clientes usan `sslmode=verify-full`: `client.crt` y
# `revoked-client.crt` (que la PKI del laboratorio incluye en la CRL de la intermedia). Sin CRL, ambos
# entran: el servidor no tiene forma de saberlo.

# %%
def client(label: str, crt, key):
    return lk.attempt(lab, label=label, user="conssl", password=None, sslmode="verify-full",
                     sslrootcert=p.combined_crt, sslcert=crt, sslkey=key)


COLUMNS = ["label", "connected", "outcome", "error_key", "tls_version", "ssl_client_dn", "psql"]
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols(), lk.layers.layer_ca(pki, "combined"),
               lk.layers.layer_hostssl("cert", ("conssl",), "verify-full")).ok
no_crl = [client("good client, no CRL", p.client_crt, p.client_key),
          client("revoked client, no CRL", p.revoked_client_crt, p.revoked_client_key)]
lk.tables.verdicts(no_crl, COLUMNS, uuid="l14_nocrl")

# %% [markdown]
# ## 2. Layer 5: the revoked client is refused, the good one is not

# %% [markdown] lang="es" en="fae73c3f"
# ## 2. Quinta capa: el cliente revocado es rechazado, el válido no

# %% tags=["key-result"]
assert lk.apply(lab, lk.layers.layer_crl(pki, crl_source)).ok
with_crl = [client(f"good client, CRL={crl_source}", p.client_crt, p.client_key),
            client(f"revoked client, CRL={crl_source}", p.revoked_client_crt, p.revoked_client_key)]
lk.tables.verdicts(no_crl + with_crl, COLUMNS, uuid="l14_main")

# %%
assert [a.connected for a in no_crl + with_crl] == [True, True, True, False]
assert with_crl[1].error_key == "cert_revoked"

# %% [markdown]
# Both ends of the refusal. The server log names the depth (0 = the client's own certificate) and the
# reason; the client only receives the alert the server sent.

# %% [markdown] lang="es" en="e985acb1"
# Los dos extremos del rechazo. El log del servidor indica la profundidad (0 = el propio certificado del
# cliente) y el motivo; el cliente solo recibe la alerta que le envió el servidor.

# %% tags=["nbval-ignore-output"]
print("client:", with_crl[1].error_text)
print("server:", with_crl[1].server_log)

# %% [markdown]
# > **The guide says** the client prints `SSL error: sslv3 alert certificate revoked`. **Measured:** libpq 18
# > (OpenSSL 3.5) prints `SSL error: ssl/tls alert certificate revoked`. Same alert, renamed after OpenSSL 3.0 (Python's OpenSSL 3.0 still says `sslv3`);
# > a monitoring rule that greps for the guide's text would miss it. The catalogue matches both.

# %% [markdown] lang="es" en="1d49e18b"
# > **La guía dice** que el cliente muestra `SSL error: sslv3 alert certificate revoked`. **Medido:**
# > libpq 18 (OpenSSL 3.5) muestra `SSL error: ssl/tls alert certificate revoked`. Es la misma alerta, con
# > otro nombre a partir de OpenSSL 3.0 (el OpenSSL 3.0 de Python todavía dice `sslv3`); una regla de
# > monitorización que busque con grep el texto de la guía no la detectaría. El catálogo de errores
# > reconoce ambas.

# %%
wording = with_crl[1].error_text.split("SSL error: ")[-1]
print(wording, "| guide wording:", "sslv3 alert certificate revoked")
assert wording == "ssl/tls alert certificate revoked"

# %% [markdown]
# ## 3. Only the intermediate's CRL: every client is refused at depth 1
#
# OpenSSL's CRL check (`X509_V_FLAG_CRL_CHECK_ALL`, which PostgreSQL turns on) looks up a CRL for **every**
# certificate of the chain, each in the CRL of its issuer:

# %% [markdown] lang="es" en="ed8f2f6c"
# ## 3. Solo la CRL de la intermedia: todos los clientes son rechazados en depth 1
#
# La comprobación de CRL de OpenSSL (`X509_V_FLAG_CRL_CHECK_ALL`, que PostgreSQL activa) busca una CRL para
# **cada** certificado de la cadena, cada uno en la CRL de su emisor:

# %% [markdown]
# ```mermaid
# flowchart LR
#     leaf["client.crt<br/>depth 0"] -- "issued by" --> inter["Intermediate CA<br/>depth 1"]
#     inter -- "issued by" --> root["Root CA<br/>depth 2 (trust anchor)"]
#     crlI["intermediate.crl<br/>(signed by the intermediate)"] -. "is the leaf revoked?" .-> leaf
#     crlR["root.crl<br/>(signed by the root)"] -. "is the intermediate revoked?" .-> inter
# ```
#
# With only `intermediate.crl`, the question at depth 1 ("has the root revoked this intermediate?") has no
# answer, and OpenSSL treats "unable to get certificate CRL" as a failure. The good client fails too.

# %% [markdown] lang="es" en="e35dda22"
# ```mermaid
# flowchart LR
#     leaf["client.crt<br/>profundidad 0"] -- "emitido por" --> inter["Intermediate CA<br/>profundidad 1"]
#     inter -- "emitido por" --> root["Root CA<br/>profundidad 2 (ancla de confianza)"]
#     crlI["intermediate.crl<br/>(firmada por la intermedia)"] -. "¿está revocado el certificado final?" .-> leaf
#     crlR["root.crl<br/>(firmada por la raíz)"] -. "¿está revocada la intermedia?" .-> inter
# ```
#
# Con solo `intermediate.crl`, la pregunta en la profundidad 1 ("¿ha revocado la raíz esta intermedia?")
# no tiene respuesta, y OpenSSL trata "unable to get certificate CRL" como un fallo. El cliente válido
# también falla.

# %%
assert lk.apply(lab, lk.layers.layer_crl(pki, "intermediate_only")).ok  # the server accepts the file at reload ...
broken = client("good client, CRL=intermediate only", p.client_crt, p.client_key)  # ... and then refuses everyone
lk.tables.verdicts([broken], COLUMNS, uuid="l14_depth1")

# %% tags=["nbval-ignore-output", "erratum-crl-missing"]
print("client:", broken.error_text)
print("server:", broken.server_log)

# %%
assert not broken.connected and "tlsv1 alert unknown ca" in broken.error_text
if lab.state.pg_major >= 16:  # PostgreSQL 16 added the log line that names the depth and the reason
    assert broken.error_key == "crl_missing"
    assert "failed at depth 1: unable to get certificate CRL" in broken.server_log
else:                         # before 16 the server only says the check failed: it looks like an unknown CA
    assert broken.error_key == "unknown_ca" and "certificate verify failed" in broken.server_log

# %% [markdown]
# The client reads `tlsv1 alert unknown ca`, which points at the wrong culprit (the CA file); only the
# server log says *depth 1: unable to get certificate CRL* -- and only since PostgreSQL 16: run this lesson
# with `pg_version=15` and the log says no more than *certificate verify failed*. The guide's "Mensajes de Error" #2 explains this
# correctly; the fix is the combined CRL (intermediate + root) or both CRLs in a directory.

# %% [markdown] lang="es" en="b0146b48"
# El cliente lee `tlsv1 alert unknown ca`, que señala al culpable equivocado (el archivo de CA); solo el
# log del servidor dice *depth 1: unable to get certificate CRL*, y únicamente desde PostgreSQL 16: ejecute
# esta lección con `pg_version=15` y el log no dirá más que *certificate verify failed*. El apartado
# "Mensajes de Error" #2 de la guía lo explica correctamente; la solución es la CRL combinada (intermedia +
# raíz) o ambas CRL en un directorio.

# %% [markdown]
# ## 4. `ssl_crl_dir`: one file per CA, named by hash
#
# PostgreSQL 14 added `ssl_crl_dir`. OpenSSL looks CRLs up by the hash of the issuer's name, so each file
# must be called `<hash>.r0` (what `openssl rehash` creates). The lab PKI keeps such a folder:

# %% [markdown] lang="es" en="85032da3"
# ## 4. `ssl_crl_dir`: un archivo por CA, con nombre derivado de un hash
#
# PostgreSQL 14 añadió `ssl_crl_dir`. OpenSSL busca las CRL por el hash del nombre del emisor, así que cada
# archivo debe llamarse `<hash>.r0` (lo que crea `openssl rehash`). La PKI del laboratorio mantiene una
# carpeta así:

# %% tags=["nbval-ignore-output"]
pd.DataFrame({"file": sorted(x.name for x in p.crl_dir.iterdir())})  # hashes depend on the lab's CA names

# %%
assert lk.apply(lab, lk.layers.layer_crl(pki, "dir")).ok
by_dir = [client("good client, ssl_crl_dir", p.client_crt, p.client_key),
          client("revoked client, ssl_crl_dir", p.revoked_client_crt, p.revoked_client_key)]
print("ssl_crl_file =", repr(lab.show("ssl_crl_file")), "| ssl_crl_dir set:", lab.show("ssl_crl_dir") != "")
lk.tables.verdicts(by_dir, COLUMNS, uuid="l14_dir")

# %%
assert [a.connected for a in by_dir] == [True, False] and by_dir[1].error_key == "cert_revoked"

# %% [markdown]
# ## 5. Revoking a certificate while the server runs
#
# We issue a fresh client certificate, check it works, then revoke it in the lab CA (`pki.revoke`, which
# re-signs the CRLs). The server reads its own copy of the CRL file, so the revocation takes effect only
# once the new CRL is where the server reads it **and** the server reloads (what `layers.apply` does when
# the layer is applied again). Until then the revoked certificate keeps working.

# %% [markdown] lang="es" en="e3215601"
# ## 5. Revocar un certificado con el servidor en marcha
#
# Emitimos un certificado de cliente nuevo, comprobamos que funciona y después lo revocamos en la CA del
# laboratorio (`pki.revoke`, que vuelve a firmar las CRL). El servidor lee su propia copia del archivo de
# CRL, así que la revocación solo surte efecto cuando la nueva CRL está donde la lee el servidor **y** el
# servidor hace una recarga (lo que hace `layers.apply` al aplicar de nuevo la capa). Hasta entonces, el
# certificado revocado sigue funcionando.

# %%
live_crt, live_key = pki.issue_client("conssl", name="client-l14-live", space="14")  # this lesson's own
assert lk.apply(lab, lk.layers.layer_crl(pki, "combined")).ok
live = [client("fresh certificate", live_crt, live_key)]
pki.revoke(live_crt)
live.append(client("revoked in the CA, server not told yet", live_crt, live_key))
reload = lk.apply(lab, lk.layers.layer_crl(pki, "combined"))  # deliver the new combined.crl and reload
live.append(client("after the new CRL was delivered + reload", live_crt, live_key))
live.append(client("the other good client, same moment", p.client_crt, p.client_key))
lk.tables.verdicts(live, COLUMNS, uuid="l14_live")

# %%
assert reload.ok and reload.action == "reload"
assert [a.connected for a in live] == [True, True, False, True] and live[2].error_key == "cert_revoked"

# %% [markdown]
# The gap between revoking and reloading is the window in which a stolen key still works: publishing the
# CRL and reloading every server belongs in the same runbook step. A CRL also expires (its *next update*
# date); an expired CRL makes OpenSSL refuse every client, so renewing it is a scheduled job, not a one-off.

# %% [markdown] lang="es" en="b8ecb6ce"
# El intervalo entre la revocación y la recarga es la ventana durante la cual una clave robada todavía
# funciona: publicar la CRL y recargar todos los servidores deben formar parte del mismo paso del
# procedimiento operativo. Una CRL también caduca (su fecha *next update*); una CRL caducada hace que
# OpenSSL rechace a todos los clientes, así que renovarla es una tarea programada, no algo que se hace una
# sola vez.

# %% [markdown]
# ## Key points
#
# - PostgreSQL checks a CRL for every certificate of the chain: the combined CRL (intermediate + root) is needed.
# - With only the intermediate's CRL every client fails (`crl_missing`); before PostgreSQL 16 it looks like `unknown_ca`.
# - A revocation takes effect only once the new CRL is where the server reads it and the server reloads.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="b8fe33f6"
# ## Puntos clave
#
# - PostgreSQL comprueba una CRL para cada certificado de la cadena: hace falta la CRL combinada (intermedia + raíz).
# - Con solo la CRL de la intermedia todos los clientes fallan (`crl_missing`); antes de PostgreSQL 16 parece un `unknown_ca`.
# - Una revocación solo surte efecto cuando la nueva CRL está donde la lee el servidor y este hace una recarga.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
