# %% [markdown]
# # 11 · Layer 2: the TLS protocol range
#
# The guide's second layer (Fase #2, step 3) sets `ssl_min_protocol_version = 'TLSv1.2'` and
# `ssl_max_protocol_version = 'TLSv1.3'`. A floor keeps clients from negotiating old protocol versions
# with known weaknesses; a ceiling is rarely useful (it mostly blocks TLS 1.3). This lesson measures the
# range from both ends:
#
# * **clients capped** at TLS 1.1, 1.2 and 1.3 (libpq's `ssl_max_protocol_version`), plus a raw probe for
#   TLS 1.0/1.1 that today's libpq cannot even offer, against several server ranges;
# * what the **server log** says when it refuses a handshake;
# * an **invalid range** (min above max): what the server really does with it, and how labkit refuses
#   it before writing anything.
#
# Knobs: `tls_min` and `tls_max` are the range under test (the guide's values by default; `tls_max = ""`
# means no ceiling).

# %% [markdown] lang="es" en="27556960"
# # 11 · Segunda capa: el rango de protocolos TLS
#
# La segunda capa de la guía (Fase #2, paso 3) fija `ssl_min_protocol_version = 'TLSv1.2'` y
# `ssl_max_protocol_version = 'TLSv1.3'`. Un mínimo impide que los clientes negocien versiones antiguas
# del protocolo con debilidades conocidas; un máximo rara vez es útil (sobre todo sirve para bloquear
# TLS 1.3). Esta lección mide el rango desde ambos extremos:
#
# * **clientes limitados** a TLS 1.1, 1.2 y 1.3 (el `ssl_max_protocol_version` de libpq), más una sonda en
#   bruto para TLS 1.0/1.1, que la libpq actual ni siquiera puede ofrecer, frente a varios rangos de servidor;
# * qué dice el **log del servidor** cuando rechaza una negociación TLS;
# * un **rango no válido** (mínimo por encima del máximo): qué hace realmente el servidor con él y cómo
#   labkit lo rechaza antes de escribir nada.
#
# Parámetros ajustables: `tls_min` y `tls_max` son el rango que se prueba (por defecto, los valores de la
# guía; `tls_max = ""` significa sin máximo).

# %% [markdown]
# ## Objectives · time
#
# - Set the TLS protocol range (`ssl_min_protocol_version`, `ssl_max_protocol_version`)
# - Predict from a client cap and a server range whether a handshake succeeds, and at which version
# - Recognise an invalid range and an unknown value in the server's own messages
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (608 words of prose at 150 words a minute) and running ≈ 7 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="fc5a2ebf"
# ## Objetivos · tiempo
#
# - Fijar el rango de protocolos TLS (`ssl_min_protocol_version`, `ssl_max_protocol_version`)
# - Predecir, a partir del límite del cliente y del rango del servidor, si la negociación TLS tiene éxito y con qué versión
# - Reconocer un rango no válido y un valor desconocido en los propios mensajes del servidor
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (608 palabras de texto a 150 palabras por minuto) y ejecución ≈ 7 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En clase, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
tls_min = "TLSv1.2"
tls_max = "TLSv1.3"

# %%
import pandas as pd

import labkit as lk

# %%
VERSIONS = lk.TLS_VERSIONS
lk.check_choice("tls_min", tls_min, VERSIONS)
lk.check_choice("tls_max", tls_max, ("", *VERSIONS))
if tls_max and VERSIONS.index(tls_min) > VERSIONS.index(tls_max):
    raise lk.InvalidValue("tls_min", tls_min, VERSIONS[:VERSIONS.index(tls_max) + 1],
                          f"tls_min must not be above tls_max={tls_max!r}")
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
assert lk.apply(lab, lk.layers.layer_ssl_on(pki)).ok

# %% [markdown]
# ## The matrix: client cap × server range
#
# Server ranges tried: PostgreSQL's default (no layer 2), your knobs, TLS 1.3 only, and the most
# permissive floor (`TLSv1`). Clients: libpq with `ssl_min_protocol_version=TLSv1` and
# `ssl_max_protocol_version` = 1.1, 1.2 or 1.3, and the raw probe offering exactly TLS 1.0 or 1.1.

# %% [markdown] lang="es" en="ab53e9e1"
# ## La matriz: límite del cliente × rango del servidor
#
# Rangos de servidor probados: el valor por defecto de PostgreSQL (sin segunda capa), sus parámetros, solo
# TLS 1.3 y el mínimo más permisivo (`TLSv1`). Clientes: libpq con `ssl_min_protocol_version=TLSv1` y
# `ssl_max_protocol_version` = 1.1, 1.2 o 1.3, y la sonda en bruto que ofrece exactamente TLS 1.0 o 1.1.

# %%
SERVER_RANGES = [("PostgreSQL default", None), (f"knobs {tls_min}..{tls_max or '(none)'}", (tls_min, tls_max)),
                 ("TLS 1.3 only", ("TLSv1.3", "TLSv1.3")), ("legacy floor TLSv1..(none)", ("TLSv1", ""))]
matrix = lk.scenarios.protocol_matrix(lab, pki, SERVER_RANGES)

# %% [markdown]
# At a glance (each cell: the negotiated version, or why it failed):

# %% [markdown] lang="es" en="32b61a68"
# De un vistazo (cada celda: la versión negociada o el motivo del fallo):

# %%
glance = matrix.pivot(index="server range", columns="client", values="outcome").reindex(
    [n for n, _ in SERVER_RANGES]).reset_index()


# %% tags=["key-result"]
lk.tables.cells(glance, glance.columns[1:], rule=lk.tables.outcome, uuid="glance")

# %% [markdown]
# Every attempt with both ends' words (what libpq printed, what the server logged) and the `psql`
# command to repeat it:

# %% [markdown] lang="es" en="b2b9efd1"
# Cada intento con lo que dicen ambos extremos (lo que imprimió libpq, lo que registró el servidor) y el
# comando `psql` para repetirlo:

# %%
lk.tables.verdict(matrix, columns=["server range", "client", "connected", "outcome"], uuid="matrix")

# %%
libpq_rows = matrix[matrix["client"].str.startswith("libpq")]
assert (libpq_rows["outcome"].where(libpq_rows["connected"], "refused") == libpq_rows["expected"]).all()
assert not matrix.loc[matrix["client"] == "libpq, max TLSv1.1", "connected"].any()
default_probes = matrix[(matrix["server range"] == "PostgreSQL default") & matrix["client"].str.startswith("raw")]
assert not default_probes["connected"].any()
if str(lab.facts()["server_openssl"]).startswith("1.1"):
    legacy_probes = matrix[(matrix["server range"] == "legacy floor TLSv1..(none)") & matrix["client"].str.startswith("raw")]
    assert legacy_probes["connected"].all()

# %% [markdown]
# What the matrix says:
#
# * A client capped at **TLS 1.1** never gets in -- but not because of the server: libpq 18 with
#   OpenSSL 3 refuses to *offer* TLS 1.0/1.1 (*no protocols available*). Against the default range the
#   server would refuse them anyway, as the raw probe shows (*unsupported protocol* in the server log).
# * With the guide's range, a TLS 1.2 client negotiates 1.2 and a modern client 1.3.
# * With **TLS 1.3 only**, a client capped at 1.2 is refused; the server log even says which range it
#   wanted (*no SSL protocol version between TLSv1.3 and TLSv1.3*). Before raising the floor that far,
#   check `pg_stat_ssl.version` of the sessions you have.
# * The **legacy floor** makes the server accept TLS 1.0 and 1.1 from a client that can still offer them
#   (our probe); a current libpq still negotiates 1.3. Lowering the floor gains nothing and re-opens old
#   protocol weaknesses to any outdated client.
#
# > **The guide says** the range `TLSv1.2`..`TLSv1.3` is a hardening step. **Measured:** on PostgreSQL
# > 13+ the floor is already `TLSv1.2` by default (lesson 00), so the guide's line changes nothing for
# > the floor; the explicit ceiling only matters the day a TLS 1.4 appears. Writing both still documents
# > the intent, and the guide's values are correct.
#
# ## An invalid range: min above max
#
# labkit refuses it before touching the server, naming the parameter and what is allowed:

# %% [markdown] lang="es" en="a198aaf3"
# Lo que dice la matriz:
#
# * Un cliente limitado a **TLS 1.1** nunca entra, pero no por culpa del servidor: libpq 18 con OpenSSL 3
#   se niega a *ofrecer* TLS 1.0/1.1 (*no protocols available*). Con el rango por defecto el servidor los
#   rechazaría de todos modos, como muestra la sonda en bruto (*unsupported protocol* en el log del servidor).
# * Con el rango de la guía, un cliente TLS 1.2 negocia 1.2 y un cliente moderno, 1.3.
# * Con **solo TLS 1.3**, un cliente limitado a 1.2 es rechazado; el log del servidor indica incluso qué
#   rango esperaba (*no SSL protocol version between TLSv1.3 and TLSv1.3*). Antes de subir tanto el
#   mínimo, revise `pg_stat_ssl.version` de las sesiones existentes.
# * El **mínimo heredado** hace que el servidor acepte TLS 1.0 y 1.1 de un cliente que todavía puede
#   ofrecerlos (nuestra sonda); una libpq actual sigue negociando 1.3. Bajar el mínimo no aporta nada y
#   vuelve a exponer las debilidades de los protocolos antiguos a cualquier cliente desactualizado.
#
# > **La guía dice** que el rango `TLSv1.2`..`TLSv1.3` es un paso de endurecimiento. **Medido:** en
# > PostgreSQL 13+ el mínimo ya es `TLSv1.2` por defecto (lección 00), así que la línea de la guía no
# > cambia nada en el mínimo; el máximo explícito solo importará el día que aparezca un TLS 1.4. Escribir
# > ambos sigue dejando constancia de la intención, y los valores de la guía son correctos.
#
# ## Un rango no válido: mínimo por encima del máximo
#
# labkit lo rechaza antes de tocar el servidor, indicando el parámetro y los valores permitidos:

# %%
try:
    lk.layers.layer_protocols("TLSv1.3", "TLSv1.2")
except lk.InvalidValue as exc:
    refused = str(exc)
print(refused)

# %% [markdown]
# What would the server itself do? We write the two lines directly and reload, without labkit's
# rollback, then ask `pg_settings` and the raw probe:

# %% [markdown] lang="es" en="8040e1ec"
# ¿Qué haría el propio servidor? Escribimos las dos líneas directamente y hacemos una recarga, sin la
# vuelta atrás de labkit, y luego consultamos `pg_settings` y la sonda en bruto:

# %%
lab.reset_config()
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols(tls_min, tls_max)).ok
lab.set_settings({"ssl_min_protocol_version": "TLSv1.3", "ssl_max_protocol_version": "TLSv1.2"})
raw_reload = lab.reload()
said = [lk.messages.gist(line) for line in raw_reload.log.splitlines()
        if "SIGHUP" not in line and "connection" not in line and "[local]" not in line]
shown = lk.monitoring.settings_frame(lab, ["ssl_min_protocol_version", "ssl_max_protocol_version"])
still = lk.handshake.probe_matrix(lab, versions=("TLSv1.2", "TLSv1.3"))
lk.tables.table(pd.DataFrame({"the server log after the reload": said}), "said")

# %%
lk.tables.table(shown, "shown")

# %%
lk.tables.table(still[["version_asked", "result", "negotiated_version"]], "still")

# %% tags=["erratum-silent-range"]
print(f"pg_file_settings rows with an error: {len(lab.file_setting_errors())}; "
      f"SHOW: min {lab.show('ssl_min_protocol_version')}, max {lab.show('ssl_max_protocol_version')}; "
      f"TLS 1.2 probe: {still.set_index('version_asked').loc['TLSv1.2', 'result']}")

# %% [markdown]
# > **Measured:** the reload does not fail loudly. `pg_settings` now *reports* min `TLSv1.3` / max
# > `TLSv1.2`, while the server keeps using its previous TLS context (*SSL configuration was not
# > reloaded*) and still accepts TLS 1.2. Anyone checking only `pg_settings` -- or only the guide's
# > `pg_file_settings where error is not null`, which stays empty here -- believes a range is in force that
# > is not. The log is the only witness.

# %% [markdown] lang="es" en="5595dbaa"
# > **Medido:** la recarga no falla de forma visible. `pg_settings` *informa* ahora de un mínimo
# > `TLSv1.3` y un máximo `TLSv1.2`, mientras el servidor sigue usando su contexto TLS anterior (*SSL
# > configuration was not reloaded*) y sigue aceptando TLS 1.2. Quien compruebe solo `pg_settings`, o solo
# > la consulta de la guía `pg_file_settings where error is not null`, que aquí queda vacía, creerá que
# > está en vigor un rango que no lo está. El log es el único testigo.

# %%
assert any("could not set SSL protocol version range" in line for line in said)
assert any("SSL configuration was not reloaded" in line for line in said)
assert dict(zip(shown["name"], shown["setting"])) == {"ssl_min_protocol_version": "TLSv1.3",
                                                     "ssl_max_protocol_version": "TLSv1.2"}
assert lab.file_setting_errors().empty
assert (still.set_index("version_asked").loc[tls_min if tls_min in ("TLSv1.2", "TLSv1.3") else "TLSv1.2",
                                               "result"] == "accepted")

# %% [markdown]
# `layers.apply` with `unchecked=True` lets the same mistake through labkit's own check; it then sees the
# log lines, writes the previous files back and reloads, so the lab is never left in that state:

# %% [markdown] lang="es" en="f35e9ad6"
# `layers.apply` con `unchecked=True` deja pasar el mismo error por la comprobación de labkit; después ve
# las líneas del log, restaura los archivos anteriores y hace una recarga, de modo que el laboratorio
# nunca queda en ese estado:

# %%
lab.reset_config()
assert lk.apply(lab, lk.layers.layer_ssl_on(pki)).ok
bad = lk.apply(lab, lk.layers.layer_protocols("TLSv1.3", "TLSv1.2", unchecked=True))
lk.tables.table(bad.frame(), "bad")

# %%
assert not bad.ok and bad.rolled_back
assert lab.show("ssl_min_protocol_version") == "TLSv1.2"

# %% [markdown]
# The guide's spelling `TLSv1.0` (from its PostgreSQL table) is a different mistake: not a bad range but
# an unknown value, which the server reports in `pg_file_settings`:

# %% [markdown] lang="es" en="062570b6"
# La grafía `TLSv1.0` de la guía (de su tabla de PostgreSQL) es un error distinto: no un rango incorrecto,
# sino un valor desconocido, que el servidor notifica en `pg_file_settings`:

# %%
spelled = lk.apply(lab, lk.layers.layer_protocols("TLSv1.0", "TLSv1.3", unchecked=True))
lk.tables.table(spelled.frame(), "spelled")

# %%
assert not spelled.ok and spelled.rolled_back
assert any("TLSv1.0" in str(d) for d in spelled.frame()["detail"])

# %% [markdown]
# ## Key points
#
# - The negotiated version is the highest both ends allow; outside the overlap the handshake fails (`protocol_mismatch`).
# - A range with min above max is refused at reload and the old range stays in force; `TLSv1.0` is an unknown value (`pg_file_settings`).
# - Always check a reload's result: the server keeps serving with the previous settings when it refuses new ones.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="526379e3"
# ## Puntos clave
#
# - La versión negociada es la más alta que permiten ambos extremos; fuera de la zona común la negociación TLS falla (`protocol_mismatch`).
# - Un rango con el mínimo por encima del máximo se rechaza en la recarga y sigue en vigor el rango anterior; `TLSv1.0` es un valor desconocido (`pg_file_settings`).
# - Compruebe siempre el resultado de una recarga: cuando el servidor rechaza la nueva configuración, sigue funcionando con la anterior.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
