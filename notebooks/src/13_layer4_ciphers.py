# %% [markdown]
# # 13 · Layer 4: the cipher list (`ssl_ciphers`, `ssl_prefer_server_ciphers`)
#
# **What we show.** Which TLS 1.2 and 1.3 suites, versions and groups the server really accepts under the
# guide's two cipher strings -- enumerated against the server, per key type (ECDSA and RSA-2048) and per
# server OpenSSL (1.1.1 and 3.0), and checked against Mozilla's "intermediate" profile; a suite the server
# accepts, then refuses once `ssl_ciphers` is tightened (seen by a raw TLS probe that offers exactly one
# suite, and by `psql` capped at TLS 1.2); that TLS 1.3 ignores `ssl_ciphers` completely; what
# `ssl_prefer_server_ciphers` changes; and what happens to a cipher string with a typo.
#
# **Why it matters.** An auditor at a bank will ask "which cipher suites does the database accept?". The
# honest answer is not the string in `postgresql.conf` but the list it expands to *on the server's OpenSSL*,
# and it only covers TLS 1.2 and older. A typo in the string can silently switch TLS 1.2 off.
#
# **Guide coverage.** Fase #2, paso 5 ("Cuarta capa": `ssl_prefer_server_ciphers = on`,
# `ssl_ciphers = 'HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2'` for critical systems, `'HIGH:MEDIUM:!aNULL:!MD5:!RC4'`
# for normal ones); parameters 4 and 15 of the guide's parameter list; Fase #3 #1 (TLS 1.2 vs 1.3 suites).

# %% [markdown] lang="es" en="374d0b0d"
# # 13 · Cuarta capa: la lista de cifrados (`ssl_ciphers`, `ssl_prefer_server_ciphers`)
#
# **Qué mostramos.** Qué suites de cifrado de TLS 1.2 y 1.3, qué versiones y qué grupos acepta realmente el
# servidor con las dos cadenas de cifrados de la guía, enumerados contra el servidor, por tipo de clave
# (ECDSA y RSA-2048) y por OpenSSL del servidor (1.1.1 y 3.0), y contrastados con el perfil
# "intermediate" de Mozilla; una suite que el servidor acepta y después rechaza al restringir
# `ssl_ciphers` (lo observan una sonda TLS en bruto que ofrece exactamente una suite y `psql` limitado a
# TLS 1.2); que TLS 1.3 ignora por completo `ssl_ciphers`; qué cambia `ssl_prefer_server_ciphers`; y qué
# ocurre con una cadena de cifrados que tiene una errata.
#
# **Por qué importa.** Un auditor de un banco preguntará "¿qué suites de cifrado acepta la base de
# datos?". La respuesta honesta no es la cadena escrita en `postgresql.conf`, sino la lista en la que se
# expande *en el OpenSSL del servidor*, y esa lista solo abarca TLS 1.2 y anteriores. Una errata en la
# cadena puede desactivar TLS 1.2 sin que nadie se entere.
#
# **Cobertura de la guía.** Fase #2, paso 5 ("Cuarta capa": `ssl_prefer_server_ciphers = on`,
# `ssl_ciphers = 'HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2'` para sistemas críticos, `'HIGH:MEDIUM:!aNULL:!MD5:!RC4'`
# para los normales); parámetros 4 y 15 de la lista de parámetros de la guía; Fase #3 #1 (suites de TLS 1.2 frente a 1.3).

# %% [markdown]
# ## Objectives · time
#
# - Read what the guide's cipher strings expand to on this OpenSSL
# - Restrict the TLS 1.2 suites with `ssl_ciphers` and verify it with a probe
# - Know that TLS 1.3 suites are not governed by `ssl_ciphers`
#
# **Time:** about 7 minutes on your own: reading ≈ 6 min (833 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="f9834c86"
# ## Objetivos · tiempo
#
# - Leer en qué se expanden las cadenas de cifrados de la guía en este OpenSSL
# - Restringir las suites de TLS 1.2 con `ssl_ciphers` y verificarlo con una sonda
# - Saber que las suites de TLS 1.3 no dependen de `ssl_ciphers`
#
# **Tiempo:** unos 7 minutos por cuenta propia: lectura ≈ 6 min (833 palabras de texto a 150 palabras por minuto) y ejecución ≈ 4 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
ciphers = "HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2"  # what layer 4 applies first (the guide's "critical")
strict_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"  # the tighter list we restrict to afterwards
prefer_server_ciphers = True
compare_pg_version = 15  # a second lab whose server has another OpenSSL (Debian's 15: OpenSSL 3.0); None: skip
compare_backend = "local"  # where that second lab runs: Debian's 15 is local binaries, whatever `backend` is

# %%
import pandas as pd

import labkit as lk

# %%
layer4 = lk.layers.layer_ciphers(ciphers, lk.check_bool("prefer_server_ciphers", prefer_server_ciphers))
strict4 = lk.layers.layer_ciphers(strict_ciphers, prefer_server_ciphers)  # both strings checked before anything starts
lk.check_choice("compare_pg_version", compare_pg_version, (None, 12, 13, 14, 15, 16, 17, 18))
lk.check_choice("compare_backend", compare_backend, ("auto", "local", "docker"))
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
AUTH = "ECDSA" if key_type.startswith("ecdsa") else "RSA"  # the server key decides which suites can be used

# %% [markdown]
# ## 1. What the server accepts, enumerated
#
# A cipher string is a small program for OpenSSL: `HIGH` adds every "high" suite, `!X` removes suites with X
# for good. What it selects depends on **the server's** OpenSSL build and on **the server's key** (an ECDSA
# key cannot serve an `…-RSA-…` suite). So we do not expand the string here; we ask the server.
#
# `lk.enumeration` does it with sslyze, which speaks PostgreSQL's SSLRequest and has two OpenSSL clients
# (1.1.1 and a legacy 1.0.2 that can still offer SEED, IDEA and the rest): it offers every suite it knows,
# notes the one the server picks, drops it and offers the rest again, until the server refuses them all.
# That is a few dozen handshakes per configuration instead of one per suite (a suite-by-suite scan wrote
# 1,407 log lines on this lab), and the log window of the scan is measured and left behind, so the probes
# below read only their own lines.
#
# Each cipher string runs against the lab server with an ECDSA P-256 and an RSA-2048 certificate, then the
# same against a second lab whose server is linked with another OpenSSL (`compare_pg_version`).

# %% [markdown] lang="es" en="5ddf0dba"
# ## 1. Lo que acepta el servidor, enumerado
#
# Una cadena de cifrados es un pequeño programa para OpenSSL: `HIGH` añade todas las suites "altas" y `!X`
# elimina definitivamente las suites que contienen X. Lo que selecciona depende de la compilación de
# OpenSSL **del servidor** y de **la clave del servidor** (una clave ECDSA no puede servir una suite
# `…-RSA-…`). Por eso aquí no expandimos la cadena: se lo preguntamos al servidor.
#
# `lk.enumeration` lo hace con sslyze, que habla el SSLRequest de PostgreSQL y dispone de dos clientes
# OpenSSL (1.1.1 y un 1.0.2 heredado que todavía puede ofrecer SEED, IDEA y demás): ofrece todas las suites
# que conoce, anota la que elige el servidor, la retira y vuelve a ofrecer el resto, hasta que el servidor
# las rechaza todas. Son unas pocas decenas de negociaciones TLS por configuración en lugar de una por
# suite (un análisis suite a suite escribió 1.407 líneas de log en este laboratorio), y la ventana del log
# que ocupa el análisis se mide y se deja atrás, de modo que las sondas siguientes leen solo sus propias
# líneas.
#
# Cada cadena de cifrados se prueba contra el servidor del laboratorio con un certificado ECDSA P-256 y con
# uno RSA-2048, y después lo mismo contra un segundo laboratorio cuyo servidor está enlazado con otro
# OpenSSL (`compare_pg_version`).

# %%
strings = {"default": None, "critical (guide)": lk.guide.CIPHERS_CRITICAL, "normal (guide)": lk.guide.CIPHERS_NORMAL,
           "strict (ours)": strict_ciphers}
accepted, sets = lk.scenarios.accepted_by_cipher_string(lab, pki, strings)
measured = [(accepted, sets)]
if compare_pg_version is not None:
    second = lk.begin(backend=compare_backend, pg_version=compare_pg_version, key_type=key_type,
                      workspace=None if workspace is None else f"{workspace}-pg{compare_pg_version}")
    measured.append(lk.scenarios.accepted_by_cipher_string(second.lab, second.pki, strings))
    second.finish()
both = pd.concat([frame_ for frame_, _ in measured], ignore_index=True)

# %% tags=["key-result", "erratum-cipher-accepted"]
shown = ["server", "key", "ssl_ciphers", "versions accepted", "TLS 1.2 suites", "without forward secrecy",
         "CBC (not AEAD)", "TLS 1.3 suites", "groups", "Mozilla intermediate"]
lk.tables.verdict(both[shown], "Mozilla intermediate", good="pass", columns=["ssl_ciphers", "Mozilla intermediate"],
                  uuid="l13_accepted")

# %% tags=["nbval-ignore-output"]
both[["server", "key", "ssl_ciphers", "string", "handshakes", "log lines"]]  # what each enumeration cost

# %% [markdown]
# Where the two guide strings differ, and by which suites (TLS 1.2, accepted under "default" or "normal" but
# not under "critical"):

# %% [markdown] lang="es" en="77a747a7"
# En qué se diferencian las dos cadenas de la guía, y en qué suites (TLS 1.2, aceptadas con "default" o
# "normal" pero no con "critical"):

# %% tags=["erratum-critical-vs-normal"]
differences = lk.scenarios.suites_only_in(measured, {
    "normal minus critical": ("normal (guide)", "critical (guide)"),
    "default minus critical": ("default", "critical (guide)")})
lk.tables.table(differences, uuid="l13_diff")

# %%
columns = ["server", "key", "ssl_ciphers", "TLS 1.2 suites", "without forward secrecy"]
counts = {(s.split("OpenSSL ")[1][:5], k, c): (n, f) for s, k, c, n, f in both[columns].itertuples(index=False)}
GUIDE = ("default", "critical (guide)", "normal (guide)")
for ossl in {o for o, _, _ in counts}:
    assert all(counts[(ossl, "ecdsa-p256", s)] == (15, 0) for s in GUIDE), counts
    assert counts[(ossl, "ecdsa-p256", "strict (ours)")][1] == counts[(ossl, "rsa-2048", "strict (ours)")][1] == 0
    rsa = [counts[(ossl, "rsa-2048", s)] for s in GUIDE]  # 1.1.1: critical drops the two SEED suites
    assert rsa == ([(46, 17), (44, 16), (46, 17)] if ossl.startswith("1.1.1") else [(44, 16)] * 3), (ossl, rsa)
assert len(both) == len(measured) * 2 * len(strings), both  # labs x two key types x every string

# %%
assert set(both["TLS 1.3 suites"]) == {3} and set(both["versions accepted"]) == {"TLSv1.2 TLSv1.3"}
assert (both["Mozilla intermediate"] == "pass").tolist() == (both["ssl_ciphers"] == "strict (ours)").tolist()
for row in differences.to_dict("records"):
    seed = row["key"] == "rsa-2048" and "OpenSSL 1.1.1" in row["server"]
    assert row["normal minus critical"] == ("DHE-RSA-SEED-SHA SEED-SHA" if seed else "(none)"), row

# %% [markdown]
# What the accepted sets say:
#
# * **With an ECDSA key the guide's strings change nothing**: default, "critical" and "normal" all accept
#   the same 15 TLS 1.2 suites, none without forward secrecy, on both OpenSSL builds. Without an RSA key,
#   every static-RSA suite is unusable anyway; what remains are ECDHE-ECDSA suites, some of them CBC with
#   SHA-1 or SHA-2 MACs, plus CAMELLIA and ARIA.
# * **With an RSA-2048 key the lists are long**: 46 suites (17 without forward secrecy) under PostgreSQL's
#   default and the "normal" string on OpenSSL 1.1.1; 44 (16) under "critical", which on 1.1.1 *is* stricter
#   — it drops `SEED-SHA` and `DHE-RSA-SEED-SHA` (`MEDIUM` holds SEED there). On OpenSSL 3.0 the three are
#   the same 44 (16): SEED is not in OpenSSL 3's default provider, so there is nothing left for "critical"
#   to remove.
# * **TLS 1.3: 3 suites** everywhere (`TLS_AES_256_GCM_SHA384`, `TLS_CHACHA20_POLY1305_SHA256`,
#   `TLS_AES_128_GCM_SHA256`; the two CCM suites are off by default), whatever `ssl_ciphers` says.
#   The server offers one group, `prime256v1` (`ssl_ecdh_curve`'s default; lesson 34 shows what that costs).
# * **Mozilla's "intermediate" profile fails for both guide strings** (CBC, CAMELLIA/ARIA, non-forward-secret
#   suites) and passes for `ECDHE+AESGCM:ECDHE+CHACHA20`.
#
# > **The guide says** the "critical" string is the one for banks. **Measured:** against the server it is
# > no stricter than "normal" with an ECDSA key (both 15 suites) or on OpenSSL 3.0 (both 44 with RSA), and
# > removes only the two SEED suites on OpenSSL 1.1.1 with RSA. Neither meets Mozilla's intermediate
# > profile; a list such as `ECDHE+AESGCM:ECDHE+CHACHA20` does.

# %% [markdown] lang="es" en="b39e7631"
# Lo que dicen los conjuntos aceptados:
#
# * **Con una clave ECDSA, las cadenas de la guía no cambian nada**: default, "critical" y "normal"
#   aceptan las mismas 15 suites de TLS 1.2, ninguna sin secreto perfecto hacia adelante (forward
#   secrecy), en las dos compilaciones de OpenSSL. Sin una clave RSA, todas las suites de RSA estático
#   quedan inutilizables de todos modos; lo que queda son suites ECDHE-ECDSA, algunas en modo CBC con MAC
#   SHA-1 o SHA-2, además de CAMELLIA y ARIA.
# * **Con una clave RSA-2048 las listas son largas**: 46 suites (17 sin forward secrecy) con el valor por
#   defecto de PostgreSQL y con la cadena "normal" en OpenSSL 1.1.1; 44 (16) con "critical", que en 1.1.1
#   *sí* es más estricta: elimina `SEED-SHA` y `DHE-RSA-SEED-SHA` (allí `MEDIUM` incluye SEED). En
#   OpenSSL 3.0 las tres coinciden en 44 (16): SEED no está en el proveedor por defecto de OpenSSL 3, así
#   que a "critical" no le queda nada que quitar.
# * **TLS 1.3: 3 suites** en todos los casos (`TLS_AES_256_GCM_SHA384`, `TLS_CHACHA20_POLY1305_SHA256`,
#   `TLS_AES_128_GCM_SHA256`; las dos suites CCM están desactivadas por defecto), diga lo que diga
#   `ssl_ciphers`. El servidor ofrece un solo grupo, `prime256v1` (el valor por defecto de
#   `ssl_ecdh_curve`; la lección 34 muestra lo que eso cuesta).
# * **El perfil "intermediate" de Mozilla no se cumple con ninguna de las dos cadenas de la guía** (CBC,
#   CAMELLIA/ARIA, suites sin forward secrecy) y sí se cumple con `ECDHE+AESGCM:ECDHE+CHACHA20`.
#
# > **La guía dice** que la cadena "critical" es la adecuada para "entornos Criticos (Bancos, Tiendas,
# > Etc)". **Medido:** contra el servidor no es más estricta que "normal" con una clave ECDSA (15 suites en
# > ambos casos) ni en OpenSSL 3.0 (44 en ambos casos con RSA), y en OpenSSL 1.1.1 con RSA solo elimina las
# > dos suites SEED. Ninguna de las dos cumple el perfil intermediate de Mozilla; una lista como
# > `ECDHE+AESGCM:ECDHE+CHACHA20`, sí.

# %% [markdown]
# For contrast, what this *notebook's* OpenSSL (Python's, not the server's) expands the strings to. These are
# the numbers an `openssl ciphers -v` on the wrong machine gives — they list suites the server's key cannot
# use and miss ones the server's OpenSSL still has:

# %% [markdown] lang="es" en="8bb142d8"
# Como contraste, en qué expande las cadenas el OpenSSL de *este notebook* (el de Python, no el del
# servidor). Son las cifras que daría un `openssl ciphers -v` ejecutado en la máquina equivocada: incluyen
# suites que la clave del servidor no puede usar y omiten otras que el OpenSSL del servidor todavía tiene:

# %% tags=["nbval-ignore-output"]
suites = lk.guide.compare_cipher_strings({"critical": lk.guide.CIPHERS_CRITICAL, "normal": lk.guide.CIPHERS_NORMAL,
                                   "strict": strict_ciphers})
pd.DataFrame({
    "string": ["critical (guide)", "normal (guide)", "strict (ours)"],
    "suites this client's OpenSSL lists": [int(suites[c].sum()) for c in ("critical", "normal", "strict")],
    "without forward secrecy": [int((suites[c] & ~suites.key_exchange.str.contains("dhe")).sum())
                                for c in ("critical", "normal", "strict")],
})

# %% [markdown]
# ## 2. Layer 4 with the guide's string: an old CBC suite is still accepted
#
# We turn TLS on (layer 1, range TLS 1.2-1.3 as in layer 2) and apply `ciphers`. Then a raw probe
# (`lk.handshake`, independent of libpq) offers exactly one TLS 1.2 suite: first a modern AEAD one, then
# `ECDHE-…-AES128-SHA`, CBC with a SHA-1 MAC. `psql` cannot pin a suite, so beside it we show what a libpq
# client capped at TLS 1.2 gets.

# %% [markdown] lang="es" en="40c38c19"
# ## 2. Cuarta capa con la cadena de la guía: todavía se acepta una suite CBC antigua
#
# Activamos TLS (primera capa, con el rango TLS 1.2-1.3 de la segunda capa) y aplicamos `ciphers`. Después,
# una sonda en bruto (`lk.handshake`, independiente de libpq) ofrece exactamente una suite de TLS 1.2:
# primero una AEAD moderna y luego `ECDHE-…-AES128-SHA`, CBC con MAC SHA-1. `psql` no puede fijar una
# suite, así que al lado mostramos lo que obtiene un cliente libpq limitado a TLS 1.2.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"), layer4).ok
modern, legacy = f"ECDHE-{AUTH}-AES256-GCM-SHA384", f"ECDHE-{AUTH}-AES128-SHA"
probes = [lk.handshake.probe_with_log(lab, "TLSv1.2", modern, label="guide list, modern suite"),
          lk.handshake.probe_with_log(lab, "TLSv1.2", legacy, label="guide list, CBC/SHA-1 suite")]
tls12 = lk.attempt(lab, label="libpq capped at TLS 1.2", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                  ssl_max_protocol_version="TLSv1.2")
pd.DataFrame(probes)[["label", "offered_cipher", "result", "negotiated_cipher", "client_error"]]

# %%
lk.tables.verdicts([tls12], ["label", "connected", "outcome", "tls_version", "cipher", "bits", "psql"],
                   uuid="l13_libpq")

# %% [markdown]
# ## 3. Restricting `ssl_ciphers`: the same suite is now refused
#
# Now layer 4 is applied again with `strict_ciphers`. The CBC suite gets a `handshake failure` alert and the
# server logs why ("no shared cipher"); the libpq client capped at TLS 1.2 still connects, with an AEAD suite.

# %% [markdown] lang="es" en="b0ac40e9"
# ## 3. Restringir `ssl_ciphers`: ahora se rechaza la misma suite
#
# Ahora se vuelve a aplicar la cuarta capa con `strict_ciphers`. La suite CBC recibe una alerta
# `handshake failure` y el servidor registra el motivo ("no shared cipher"); el cliente libpq limitado a
# TLS 1.2 sigue conectando, con una suite AEAD.

# %%
assert lk.apply(lab, strict4).ok
after = [lk.handshake.probe_with_log(lab, "TLSv1.2", modern, label="strict list, modern suite"),
         lk.handshake.probe_with_log(lab, "TLSv1.2", legacy, label="strict list, CBC/SHA-1 suite")]
tls12_strict = lk.attempt(lab, label="libpq capped at TLS 1.2 (strict list)", sslmode="verify-full",
                         sslrootcert=pki.paths.combined_crt, ssl_max_protocol_version="TLSv1.2")
verdict = pd.DataFrame(probes + after)[["label", "offered_cipher", "result", "negotiated_cipher", "client_error"]]
verdict.insert(1, "ssl_ciphers", ["guide (critical)"] * 2 + ["strict"] * 2)
lk.tables.verdict(verdict, "result", good="accepted", uuid="l13_probe")

# %% tags=["nbval-ignore-output"]
pd.DataFrame(after)[["label", "server_log"]]  # the server's side of the refused handshake

# %%
assert [p["result"] for p in probes + after] == ["accepted", "accepted", "accepted", "refused"]
assert "handshake failure" in after[1]["client_error"] and "no shared cipher" in after[1]["server_log"]
assert tls12_strict.connected and tls12_strict.cipher in lk.guide.cipher_suites(strict_ciphers).suite.tolist()

# %% [markdown]
# ## 4. TLS 1.3 does not read `ssl_ciphers`
#
# To prove it, we set `ssl_ciphers` to a single TLS 1.2 suite that the server key **cannot** use (an ECDSA
# key cannot sign for an `ECDHE-RSA` suite, and vice versa): no TLS 1.2 handshake can succeed any more. A
# TLS 1.3 client still connects, with `TLS_AES_256_GCM_SHA384`, exactly as the guide's expected output shows.
# TLS 1.3 suites are a separate OpenSSL setting (`SSL_CTX_set_ciphersuites`) that PostgreSQL 16 does not
# expose; its defaults are all AEAD. PostgreSQL 18 exposes it as `ssl_tls13_ciphers` (lesson 44).

# %% [markdown] lang="es" en="ec8e0682"
# ## 4. TLS 1.3 no lee `ssl_ciphers`
#
# Para demostrarlo, fijamos `ssl_ciphers` en una única suite de TLS 1.2 que la clave del servidor **no
# puede** usar (una clave ECDSA no puede firmar para una suite `ECDHE-RSA`, y viceversa): ya no puede
# prosperar ninguna negociación TLS 1.2. Un cliente TLS 1.3 sigue conectando, con
# `TLS_AES_256_GCM_SHA384`, exactamente como muestra la salida esperada de la guía. Las suites de TLS 1.3
# son un ajuste aparte de OpenSSL (`SSL_CTX_set_ciphersuites`) que PostgreSQL 16 no expone; sus valores por
# defecto son todos AEAD. PostgreSQL 18 lo expone como `ssl_tls13_ciphers` (lección 44).

# %% tags=["key-result"]
other = "RSA" if AUTH == "ECDSA" else "ECDSA"
assert lk.apply(lab, lk.layers.layer_ciphers(f"ECDHE-{other}-AES256-GCM-SHA384")).ok
by_version = [lk.attempt(lab, label=f"client capped at {v}", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                        ssl_min_protocol_version=v, ssl_max_protocol_version=v) for v in ("TLSv1.2", "TLSv1.3")]
frame = lk.tables.attempts_frame(by_version)[["label", "connected", "outcome", "tls_version", "cipher", "psql"]]
frame.insert(1, "ssl_ciphers", lab.show("ssl_ciphers"))
lk.tables.verdict(frame, "connected", uuid="l13_tls13")

# %%
assert not by_version[0].connected and by_version[0].error_key == "no_shared_suite_or_group" and "handshake failure" in by_version[0].error_text
assert (by_version[1].tls_version, by_version[1].cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")

# %% [markdown]
# The refused TLS 1.2 client's own message is OpenSSL's bare alert, `ssl/tls alert handshake failure` from
# libpq 18 (OpenSSL 3.5) and `sslv3 alert handshake failure` from the probe (Python's OpenSSL 3.0: the wording
# changed in a later OpenSSL 3 release). Only the server log says why: *no shared cipher* -- the words by
# which the catalogue names it `no_shared_suite_or_group` (lesson 44 meets the same key with TLS 1.3 suites).

# %% [markdown] lang="es" en="fee13d8b"
# El mensaje del propio cliente TLS 1.2 rechazado es la alerta desnuda de OpenSSL, `ssl/tls alert handshake
# failure` en libpq 18 (OpenSSL 3.5) y `sslv3 alert handshake failure` en la sonda (el OpenSSL 3.0 de Python:
# la redacción cambió en una versión posterior de OpenSSL 3). Solo el log del servidor dice por qué: *no
# shared cipher*, las palabras con las que el catálogo lo llama `no_shared_suite_or_group` (la lección 44
# encuentra la misma clave con las suites de TLS 1.3).

# %% tags=["nbval-ignore-output"]
print(by_version[0].error_text, by_version[0].server_log, sep="\n")

# %% [markdown]
# ## 5. `ssl_prefer_server_ciphers`: who picks among the shared suites
#
# The probe offers two suites, AES-128 first. With server preference on, the server picks by its own
# order (`HIGH` sorts AES-256 first); with it off, the client's first choice wins.

# %% [markdown] lang="es" en="3899d8bc"
# ## 5. `ssl_prefer_server_ciphers`: quién elige entre las suites comunes
#
# La sonda ofrece dos suites, primero AES-128. Con la preferencia del servidor activada, el servidor elige
# según su propio orden (`HIGH` pone primero AES-256); con ella desactivada, gana la primera opción del
# cliente.

# %%
client_order = f"ECDHE-{AUTH}-AES128-GCM-SHA256:ECDHE-{AUTH}-AES256-GCM-SHA384"
picks = []
for prefer in (True, False):
    assert lk.apply(lab, lk.layers.layer_ciphers(lk.guide.CIPHERS_CRITICAL, prefer)).ok
    picks.append({"ssl_prefer_server_ciphers": prefer, "client offers (in order)": client_order,
                  **{k: v for k, v in lk.handshake.probe_with_log(lab, "TLSv1.2", client_order).items()
                     if k in ("result", "negotiated_cipher")}})
pd.DataFrame(picks)

# %%
assert [p["negotiated_cipher"] for p in picks] == [f"ECDHE-{AUTH}-AES256-GCM-SHA384", f"ECDHE-{AUTH}-AES128-GCM-SHA256"]

# %% [markdown]
# ## 6. A cipher string with a typo
#
# `labkit` expands every string before writing it and refuses one that selects nothing:

# %% [markdown] lang="es" en="cda959b0"
# ## 6. Una cadena de cifrados con una errata
#
# `labkit` expande cada cadena antes de escribirla y rechaza la que no selecciona nada:

# %%
try:
    lk.layers.layer_ciphers("NOPE-NOTHING")
except lk.InvalidValue as exc:
    refused = str(exc).split("\n")[0]
print(refused.split(" (OpenSSL")[0])

# %% [markdown]
# What would the server do with it? We write both kinds of mistake unchecked: an unknown suite name, and a
# broken command (`@NOPE`). They behave very differently:

# %% [markdown] lang="es" en="b5ba195a"
# ¿Qué haría el servidor con ella? Escribimos sin comprobar los dos tipos de error: un nombre de suite
# desconocido y una orden mal formada (`@NOPE`). Se comportan de forma muy distinta:

# %% tags=["erratum-cipher-typo"]
typos = []
for text in ("NOPE-NOTHING", "HIGH:@NOPE"):
    result = lk.apply(lab, lk.layers.layer_ciphers(text, unchecked=True))
    row = lk.handshake.probe_with_log(lab, "TLSv1.2")
    typos.append({"ssl_ciphers written": text, "reload ok": result.ok, "rolled back": result.rolled_back,
                  "ssl_ciphers now": lab.show("ssl_ciphers"), "TLS 1.2 probe": row["result"],
                  "TLS 1.3 probe": lk.handshake.probe_with_log(lab, "TLSv1.3")["result"]})
    if not result.ok:
        problems = result.problems
    assert lk.apply(lab, lk.layers.layer_ciphers(lk.guide.CIPHERS_CRITICAL)).ok
lk.tables.verdict(pd.DataFrame(typos), "TLS 1.2 probe", good="accepted", uuid="l13_typo")

# %% tags=["nbval-ignore-output"]
print("\n".join(problems))  # the server log of the rejected '@NOPE' reload

# %% [markdown]
# * `NOPE-NOTHING`: a server linked with OpenSSL 1.1.1 (the lab's PostgreSQL 16 build) **accepts** it
#   without a word in the log or in `pg_file_settings` and from then on refuses every TLS 1.2 handshake;
#   only TLS 1.3 clients still connect. Nothing warns you until older clients start failing. OpenSSL 3
#   (Debian's PostgreSQL 15, the official `postgres:16` image) rejects it like the next one.
# * `HIGH:@NOPE`: OpenSSL rejects the string, the server logs *could not set the cipher list* (PostgreSQL
#   18: *could not set the TLSv1.2 cipher list*, since 18 has a separate list for TLS 1.3) and *SSL
#   configuration was not reloaded*, keeps the old list, and labkit rolls the file back.
#
# So after changing `ssl_ciphers`, check the result with a probe at TLS 1.2, not just the reload log.

# %% [markdown] lang="es" en="814a8d13"
# * `NOPE-NOTHING`: un servidor enlazado con OpenSSL 1.1.1 (la compilación de PostgreSQL 16 del
#   laboratorio) la **acepta** sin una palabra en el log ni en `pg_file_settings` y, a partir de ese
#   momento, rechaza toda negociación TLS 1.2; solo los clientes TLS 1.3 siguen conectando. Nada le avisa
#   hasta que los clientes más antiguos empiezan a fallar. OpenSSL 3 (el PostgreSQL 15 de Debian, la
#   imagen oficial `postgres:16`) la rechaza igual que la siguiente.
# * `HIGH:@NOPE`: OpenSSL rechaza la cadena, el servidor registra *could not set the cipher list*
#   (PostgreSQL 18: *could not set the TLSv1.2 cipher list*, porque la 18 tiene una lista aparte para
#   TLS 1.3) y *SSL configuration was not reloaded*, conserva la lista anterior, y labkit restaura el
#   archivo.
#
# Por tanto, después de cambiar `ssl_ciphers`, compruebe el resultado con una sonda en TLS 1.2, no solo con
# el log de la recarga.

# %%
silent = str(lab.facts()["server_openssl"] or "").startswith("1.")  # OpenSSL 1.1.1 takes the unknown name
if silent:
    assert typos[0]["reload ok"] and typos[0]["TLS 1.2 probe"] == "refused" and typos[0]["TLS 1.3 probe"] == "accepted"
else:
    assert not typos[0]["reload ok"] and typos[0]["rolled back"] and typos[0]["TLS 1.2 probe"] == "accepted"
assert not typos[1]["reload ok"] and typos[1]["rolled back"] and typos[1]["TLS 1.2 probe"] == "accepted"
# PostgreSQL 18 names the list it failed on: "could not set the TLSv1.2 cipher list"
assert any("could not set the" in line and "cipher list" in line for line in problems)

# %% [markdown]
# ## Key points
#
# - `ssl_ciphers` only affects TLS 1.2 and below; TLS 1.3 suites are not configurable there.
# - A cipher string can be accepted and still select nothing useful (OpenSSL 1.1.1): probe at TLS 1.2 after every change.
# - `ssl_prefer_server_ciphers = on` lets the server's order decide among shared suites.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="c3b55373"
# ## Puntos clave
#
# - `ssl_ciphers` solo afecta a TLS 1.2 y anteriores; las suites de TLS 1.3 no se configuran ahí.
# - Una cadena de cifrados puede ser aceptada y aun así no seleccionar nada útil (OpenSSL 1.1.1): compruebe con una sonda en TLS 1.2 tras cada cambio.
# - `ssl_prefer_server_ciphers = on` hace que decida el orden del servidor entre las suites comunes.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
