# %% [markdown]
# # 43 · Direct TLS (PostgreSQL 17+)
#
# **What we show.** Since PostgreSQL 17 a client may skip the SSLRequest (the 8-byte "may I speak TLS?"
# question every earlier client asks first) and open with the TLS ClientHello itself. libpq 17+ calls it
# `sslnegotiation=direct`. We measure, against this lesson's server (`pg_version`, 16 by default) and a
# second one on 17 or 18: who connects with `direct` and who with the default `postgres`, which words
# the refusals carry and how the catalogue files them; the ALPN protocol the server picks (`postgresql`),
# seen by a raw Python handshake and by libpq's session; what happens to a direct-TLS client that sends
# no ALPN; the round trip saved; how `pg_hba.conf` treats a direct-TLS connection; and which `sslmode`
# values libpq allows with it.
#
# **Why it matters.** One round trip less for every new connection, and a TLS listener that proxies and
# load balancers can route by ALPN. But a client switched to `direct` against a 16 server fails with an
# error that names nothing useful, and the server log line is just as vague: the DBA must recognise both.
#
# **Guide coverage.** The guide predates PostgreSQL 17 and does not mention direct TLS; it covers
# `sslmode` (*Tipos de sslmode*) and `hostssl` (Fase #2, paso 4, Tercera capa), which we re-check here.
# Beyond the guide — PostgreSQL docs: libpq *Connection Parameters* `sslnegotiation` (and `PGSSLNEGOTIATION`),
# *Protocol Flow* § "SSL Session Encryption" (direct SSL and ALPN `postgresql`), release notes of 17.
#
# ```mermaid
# sequenceDiagram
#   participant C as client
#   participant S as server
#   Note over C,S: sslnegotiation=postgres (every release)
#   C->>S: SSLRequest
#   S-->>C: 'S'
#   C->>S: ClientHello (+ ALPN postgresql from libpq 17)
#   S-->>C: ServerHello ... Finished
#   Note over C,S: sslnegotiation=direct (server 17+)
#   C->>S: ClientHello + ALPN postgresql
#   S-->>C: ServerHello ... Finished
# ```

# %% [markdown] lang="es" en="45ea7cc0"
# # 43 · TLS directo (PostgreSQL 17+)
#
# **Qué mostramos.** Desde PostgreSQL 17 un cliente puede omitir el SSLRequest (la pregunta de 8 bytes "¿puedo
# hablar TLS?" que todo cliente anterior hace primero) y empezar directamente con el ClientHello de TLS. libpq
# 17+ lo llama `sslnegotiation=direct`. Contra el servidor de esta lección (`pg_version`, 16 por defecto) y un
# segundo servidor en 17 o 18 medimos: quién conecta con `direct` y quién con el valor por defecto `postgres`,
# con qué palabras llegan los rechazos y cómo los clasifica el catálogo de errores; el protocolo ALPN que elige
# el servidor (`postgresql`), visto desde una negociación TLS (handshake) en Python puro y desde la sesión de
# libpq; qué ocurre con un cliente de TLS directo que no envía ALPN; la ida y vuelta que se ahorra; cómo trata
# `pg_hba.conf` una conexión con TLS directo, y qué valores de `sslmode` admite libpq con ella.
#
# **Por qué importa.** Una ida y vuelta menos en cada conexión nueva, y un puerto TLS que los proxies y
# balanceadores pueden encaminar por ALPN. Pero un cliente que pasa a `direct` contra un servidor 16 falla con un
# error que no dice nada útil, y la línea del log del servidor es igual de vaga: el DBA tiene que reconocer ambas.
#
# **Cobertura de la guía.** La guía es anterior a PostgreSQL 17 y no menciona el TLS directo; cubre `sslmode`
# (*Tipos de sslmode*) y `hostssl` (Fase #2, paso 4, Tercera capa), que aquí se vuelven a comprobar. Más allá de
# la guía, documentación de PostgreSQL: libpq *Connection Parameters* `sslnegotiation` (y `PGSSLNEGOTIATION`),
# *Protocol Flow* § "SSL Session Encryption" (SSL directo y ALPN `postgresql`), notas de la versión 17.
#
# ```mermaid
# sequenceDiagram
#   participant C as cliente
#   participant S as servidor
#   Note over C,S: sslnegotiation=postgres (todas las versiones)
#   C->>S: SSLRequest
#   S-->>C: 'S'
#   C->>S: ClientHello (+ ALPN postgresql desde libpq 17)
#   S-->>C: ServerHello ... Finished
#   Note over C,S: sslnegotiation=direct (servidor 17+)
#   C->>S: ClientHello + ALPN postgresql
#   S-->>C: ServerHello ... Finished
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
direct_pg_version = 17  # the second lab, a release with direct TLS: 17 | 18
timing_repeats = 20  # handshakes per negotiation for the timing plot

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("direct_pg_version", direct_pg_version, (17, 18))
lk.check_int("timing_repeats", timing_repeats, 1, 100)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
newer = lk.begin(backend="local", pg_version=direct_pg_version, key_type=key_type, lang=lang, server_lang=server_lang,
                 workspace=None if workspace is None else f"{workspace}-pg{direct_pg_version}")
labs = {f"{role} (PostgreSQL {int(one.lab.show('server_version_num')) // 10000})": one
        for role, one in (("this lab", lesson), ("second lab", newer))}
direct_ok = {name: int(one.lab.show("server_version_num")) >= 170000 for name, one in labs.items()}
print(direct_ok)

# %% [markdown]
# ## 1 · `sslnegotiation=direct` vs `postgres`, against both servers
#
# Both servers get TLS on and the TLS 1.2-1.3 range. The client is psycopg's libpq 18 with
# `sslmode=verify-full`; only `sslnegotiation` changes. The `ALPN` column is what libpq reports for the
# session (`PQsslAttribute(conn, "alpn")`): the protocol the server selected.

# %% [markdown] lang="es" en="c2f578e4"
# ## 1 · `sslnegotiation=direct` frente a `postgres`, contra ambos servidores
#
# Los dos servidores reciben TLS activado y el rango TLS 1.2-1.3. El cliente es la libpq 18 de psycopg con
# `sslmode=verify-full`; solo cambia `sslnegotiation`. La columna `ALPN` es lo que libpq informa de la sesión
# (`PQsslAttribute(conn, "alpn")`): el protocolo que seleccionó el servidor.

# %% tags=["key-result"]
for one in labs.values():
    assert lk.apply(one.lab, lk.layers.layer_ssl_on(one.pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3")).ok
tried = [lk.attempt(one.lab, label=f"{name}, sslnegotiation={negotiation}", sslmode="verify-full",
                    sslrootcert=one.pki.paths.combined_crt, extra={"sslnegotiation": negotiation})
         for name, one in labs.items() for negotiation in ("postgres", "direct")]
by_negotiation = lk.tables.outcomes(tried, extra={"ALPN selected": [a.alpn or "(none)" for a in tried],
                                                  "TLS": [a.tls_version or "" for a in tried]})
lk.tables.verdict(by_negotiation, "connected", columns=["attempt", "connected", "outcome"], uuid="l43_negotiation")

# %%
for (name, ok), (via_request, direct) in zip(direct_ok.items(), zip(tried[::2], tried[1::2])):
    assert via_request.connected and via_request.alpn == ("postgresql" if ok else None), via_request
    assert direct.connected == ok, direct
    if not ok:  # 16: the ClientHello read as a startup packet
        assert direct.error_key == "direct_tls_unsupported" and "unexpected eof" in direct.error_text
        assert "invalid length of startup packet" in direct.server_log
    else:
        assert direct.alpn == "postgresql" and direct.tls_version == "TLSv1.3"

# %% [markdown]
# What a PostgreSQL 16 server answers to a direct ClientHello: nothing TLS at all. It reads the first four
# bytes of the TLS record (`16 03 01 …`) as the length of a startup packet, finds it absurd, logs
# `invalid length of startup packet` and closes. libpq sees the socket end mid-handshake
# (`SSL error: unexpected eof while reading`), words that alone would suggest any dropped connection; the
# server's line is what names the case, and the catalogue reads both:

# %% [markdown] lang="es" en="932caa4b"
# Qué responde un servidor PostgreSQL 16 a un ClientHello directo: nada de TLS. Lee los cuatro primeros bytes
# del registro TLS (`16 03 01 …`) como la longitud de un paquete de inicio, la encuentra absurda, escribe
# `invalid length of startup packet` en el log y cierra. libpq ve que el socket termina a mitad de la negociación
# (`SSL error: unexpected eof while reading`), palabras que por sí solas harían pensar en cualquier conexión
# cortada; es la línea del servidor la que identifica el caso, y el catálogo lee las dos:

# %%
explained = lk.catalogue.explain(tried[1].error_text, tried[1].server_log)
print(explained if not direct_ok[next(iter(labs))] else "this lab is 17+: no refusal to explain")

# %% [markdown]
# Note also the ALPN of the `sslnegotiation=postgres` rows: libpq 17+ offers ALPN `postgresql` after the
# SSLRequest too, and a 17+ server selects it; 16 ignores the extension (none selected), harmlessly.

# %% [markdown] lang="es" en="51dc04de"
# Observe también el ALPN de las filas con `sslnegotiation=postgres`: libpq 17+ ofrece ALPN `postgresql`
# también después del SSLRequest, y un servidor 17+ lo selecciona; 16 ignora la extensión (no selecciona
# ninguno), sin consecuencias.

# %% [markdown]
# ## 2 · The raw handshake: ALPN `postgresql`, none, or another protocol
#
# Direct TLS exists so that a TLS port can be told apart from HTTPS and the rest: the server insists on
# ALPN `postgresql`. `lk.handshake.direct_with_log` opens TCP, sends a ClientHello straight away (no
# SSLRequest) with the ALPN list given, and, once the handshake completes, a startup packet, reading the
# server's first answer (`R`, an authentication request, means it took the session).

# %% [markdown] lang="es" en="8ef10c3d"
# ## 2 · La negociación en crudo: ALPN `postgresql`, ninguno u otro protocolo
#
# El TLS directo existe para que un puerto TLS se pueda distinguir de HTTPS y del resto: el servidor exige ALPN
# `postgresql`. `lk.handshake.direct_with_log` abre TCP, envía un ClientHello de inmediato (sin SSLRequest) con
# la lista ALPN indicada y, cuando la negociación termina, un paquete de inicio; después lee la primera
# respuesta del servidor (`R`, una petición de autenticación, significa que aceptó la sesión).

# %%
raw = pd.DataFrame([lk.handshake.direct_with_log(one.lab, alpn, label=name) for name, one in labs.items()
                    for alpn in (("postgresql",), (), ("http/1.1",))])
raw["reached authentication"] = raw["client saw"] == "authentication asked"
raw["catalogue"] = [lk.catalogue.explain(r["client saw"], r["server_log"]).key or "" for r in raw.to_dict("records")]
lk.tables.verdict(raw, "reached authentication", columns=["label", "ALPN offered", "reached authentication"],
                  uuid="l43_raw")

# %%
for row in raw.to_dict("records"):
    if not direct_ok[row["label"]]:
        assert row["handshake"] == "refused" and row["catalogue"] == "direct_tls_unsupported", row
    elif row["ALPN offered"] == "postgresql":
        assert row["reached authentication"] and row["ALPN selected"] == "postgresql", row
    elif row["ALPN offered"] == "(none)":  # the handshake completes; the server closes before the session
        assert row["handshake"] == "accepted" and not row["reached authentication"], row
        assert "without ALPN" in row["server_log"] and row["catalogue"] == "direct_tls_alpn", row
    else:  # another protocol: refused inside the handshake with an alert
        assert row["handshake"] == "refused" and "no application protocol" in row["server_log"], row
        assert row["catalogue"] == "direct_tls_alpn", row

# %% [markdown]
# Two different refusals on 17+: a ClientHello that names *another* protocol is stopped inside the
# handshake (`no application protocol` alert, logged as `could not accept SSL connection: no application
# protocol`), while one with *no* ALPN completes the handshake and is closed right after, with
# `received direct SSL connection request without ALPN protocol negotiation extension` in the log. libpq
# always sends ALPN; these are other clients (or a TLS proxy that strips the extension).

# %% [markdown] lang="es" en="05d6930d"
# Dos rechazos distintos en 17+: un ClientHello que nombra *otro* protocolo se detiene dentro de la
# negociación (alerta `no application protocol`, registrada como `could not accept SSL connection: no
# application protocol`), mientras que uno *sin* ALPN completa la negociación y se cierra justo después, con
# `received direct SSL connection request without ALPN protocol negotiation extension` en el log. libpq siempre
# envía ALPN; estos son otros clientes (o un proxy TLS que elimina la extensión).

# %% [markdown]
# ## 3 · The round trip saved
#
# Counted on the wire with `lk.handshake` on the second lab, TLS 1.3, `timing_repeats` handshakes each
# way. The client offers a P-256 key share so that no HelloRetryRequest (lesson 34) blurs the count;
# `total_round_trips` adds the SSLRequest's own round trip where there is one.

# %% [markdown] lang="es" en="f9619883"
# ## 3 · La ida y vuelta que se ahorra
#
# Contada en el cable con `lk.handshake` en el segundo laboratorio, TLS 1.3, `timing_repeats` negociaciones en
# cada modo. El cliente ofrece una clave compartida P-256 para que ningún HelloRetryRequest (lección 34) enturbie
# la cuenta; `total_round_trips` suma la ida y vuelta propia del SSLRequest donde lo hay.

# %% tags=["nbval-ignore-output"]
times = pd.concat([lk.handshake.handshake_times(newer.lab, ("TLSv1.3",), repeats=timing_repeats, direct=direct,
                                                client_group="prime256v1").assign(negotiation=name)
                   for direct, name in ((False, "postgres (SSLRequest)"), (True, "direct"))], ignore_index=True)
times

# %% tags=["nbval-ignore-output"]
lk.tables.timing_plot(times.assign(version=times.negotiation), f"TLS 1.3 handshake on loopback, {timing_repeats} each")

# %%
counted = times[["negotiation", "handshakes", "round_trips", "total_round_trips", "hello_retries"]]
assert counted.handshakes.tolist() == [timing_repeats] * 2 and counted.hello_retries.tolist() == [0, 0]
assert counted.total_round_trips.tolist() == [2, 1] and counted.round_trips.tolist() == [1, 1]
counted

# %% [markdown]
# Direct TLS saves exactly one round trip per new connection: **2** round trips to a finished handshake
# through the SSLRequest, **1** direct. On loopback that is microseconds (the timings above vary between
# runs and are not compared); across a 30 ms WAN link it is 30 ms per connection, which matters for clients
# that connect per request and do not pool.

# %% [markdown] lang="es" en="e1861251"
# El TLS directo ahorra exactamente una ida y vuelta por conexión nueva: **2** idas y vueltas hasta terminar la
# negociación pasando por el SSLRequest, **1** en directo. En loopback son microsegundos (los tiempos de arriba
# varían entre ejecuciones y no se comparan); en un enlace WAN de 30 ms son 30 ms por conexión, lo que importa a
# los clientes que conectan en cada petición y no usan un pool.

# %% [markdown]
# ## 4 · `sslmode` with direct TLS: require or stronger
#
# With direct TLS there is no moment where the client could fall back to plain text, so libpq refuses
# every `sslmode` that would: it fails before opening a socket (the server logs nothing).

# %% [markdown] lang="es" en="df06c4b1"
# ## 4 · `sslmode` con TLS directo: require o más estricto
#
# Con TLS directo no hay ningún momento en que el cliente pueda volver a texto plano (sin cifrar), así que libpq
# rechaza todo `sslmode` que lo permitiría: falla antes de abrir un socket (el servidor no registra nada).

# %%
weak = [lk.attempt(newer.lab, label=f"sslmode={mode}", sslmode=mode, extra={"sslnegotiation": "direct"})
        for mode in ("disable", "allow", "prefer", "require")]
lk.tables.verdicts(weak, ["label", "connected", "outcome", "client says", "psql"], uuid="l43_sslmode")

# %%
assert [a.connected for a in weak] == [False, False, False, True]
assert all(a.error_key == "direct_tls_weak_sslmode" and a.server_log == "" for a in weak[:3])
assert 'weak sslmode "prefer" may not be used with sslnegotiation=direct' in weak[2].error_text

# %% [markdown]
# `PGSSLNEGOTIATION=direct` in an application's environment has the same effect, and the default
# `sslmode=prefer` then fails: switch both together (`sslmode=verify-full`).

# %% [markdown] lang="es" en="bc1040ff"
# `PGSSLNEGOTIATION=direct` en el entorno de una aplicación tiene el mismo efecto, y entonces el `sslmode=prefer`
# por defecto falla: cambie los dos a la vez (`sslmode=verify-full`).

# %% [markdown]
# ## 5 · `pg_hba.conf`: a direct-TLS connection is an SSL connection
#
# One rule at a time for the role `conssl` (generated password), on the second lab: `hostssl`, `host`,
# `hostnossl`. Each is tried with direct TLS (`sslmode=require`) and without TLS (`sslmode=disable`).

# %% [markdown] lang="es" en="c2ecc866"
# ## 5 · `pg_hba.conf`: una conexión con TLS directo es una conexión SSL
#
# Una regla cada vez para el rol `conssl` (contraseña generada), en el segundo laboratorio: `hostssl`, `host`,
# `hostnossl`. Cada una se prueba con TLS directo (`sslmode=require`) y sin TLS (`sslmode=disable`).

# %%
newer.ensure_role("conssl")
secret = newer.password("conssl")  # passed to the client, never printed
hba_tried = []
for kind in ("hostssl", "host", "hostnossl"):
    rule = lk.layers.Layer(key="L3", title=f"pg_hba: {kind}", hba_rules=(f"{kind} all conssl 127.0.0.1/32 scram-sha-256",))
    assert lk.apply(newer.lab, rule).ok
    hba_tried += [lk.attempt(newer.lab, label=f"{kind} · {how}", user="conssl", password=secret, sslmode=mode,
                             extra={"sslnegotiation": negotiation})
                  for how, mode, negotiation in (("direct TLS", "require", "direct"), ("no TLS", "disable", "postgres"))]
lk.tables.verdicts(hba_tried, ["label", "connected", "outcome", "tls_version"], uuid="l43_hba")

# %%
assert [a.connected for a in hba_tried] == [True, False, True, True, False, True]
assert hba_tried[1].error_key == "no_hba_no_encryption" and hba_tried[4].error_key == "no_hba_ssl"
assert hba_tried[0].tls_version == hba_tried[2].tls_version == "TLSv1.3"

# %% [markdown]
# `hostssl` matches a direct-TLS connection exactly as it matches one that asked first: the server sees an
# SSL connection either way, and the guide's third layer needs no change for PostgreSQL 17+. `hostnossl`
# refuses it (`no pg_hba.conf entry ... SSL encryption`).

# %% [markdown] lang="es" en="9651f6d7"
# `hostssl` coincide con una conexión de TLS directo igual que con una que preguntó primero: el servidor ve una
# conexión SSL en ambos casos, y la tercera capa de la guía no necesita cambios para PostgreSQL 17+. `hostnossl`
# la rechaza (`no pg_hba.conf entry ... SSL encryption`).

# %% [markdown]
# ## Key points
#
# - `sslnegotiation=direct` needs a 17+ server; against 16 it fails as `direct_tls_unsupported`
#   (client: `unexpected eof`; server log: `invalid length of startup packet`).
# - A 17+ server demands ALPN `postgresql` on direct TLS (`direct_tls_alpn`); libpq 17+ sends it always.
# - Direct TLS saves one round trip per connection; it requires `sslmode=require` or stronger
#   (`direct_tls_weak_sslmode`), and `hostssl` rules apply unchanged.
#
# The outcome keys in this lesson's tables are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="5d63967a"
# ## Puntos clave
#
# - `sslnegotiation=direct` necesita un servidor 17+; contra 16 falla como `direct_tls_unsupported`
#   (cliente: `unexpected eof`; log del servidor: `invalid length of startup packet`).
# - Un servidor 17+ exige ALPN `postgresql` con TLS directo (`direct_tls_alpn`); libpq 17+ lo envía siempre.
# - El TLS directo ahorra una ida y vuelta por conexión; exige `sslmode=require` o más estricto
#   (`direct_tls_weak_sslmode`), y las reglas `hostssl` se aplican sin cambios.
#
# Las claves de resultado de las tablas de esta lección se explican en [docs/glossary.md](../docs/glossary.md).

# %%
newer.finish()

# %%
lesson.finish()
