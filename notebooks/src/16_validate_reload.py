# %% [markdown]
# # 16 · Validate, reload, read the log
#
# **What we show.** The guide's three checks after editing the configuration -- `pg_file_settings`,
# `pg_hba_file_rules`, and the server log after the reload -- each catching a different mistake: a bad value,
# an unknown parameter, a broken pg_hba.conf line, a certificate file that does not exist. For each we
# measure that the server **keeps serving with its previous configuration**, then fix and reload cleanly.
#
# **Why it matters.** On a production server a reload with a typo does not take the database down, which is
# exactly why mistakes go unnoticed: the file says one thing, the server does another, and the next restart
# (or the next unrelated reload) brings the surprise. Knowing where each mistake shows up is the whole skill.
#
# **Guide coverage.** Fase #2, paso 9 (the two `SELECT … WHERE error IS NOT NULL` queries), paso 10
# (`pg_ctl reload`), the following step (`grep -A 14 -Ei "SIGHUP|reload" postgresql-*.log`).

# %% [markdown] lang="es" en="8fe01c29"
# # 16 · Validar, recargar, leer el log
#
# **Qué mostramos.** Las tres comprobaciones que la guía propone tras editar la configuración --
# `pg_file_settings`, `pg_hba_file_rules` y el log del servidor después de la recarga --, cada una de las cuales
# detecta un error distinto: un valor incorrecto, un parámetro desconocido, una línea rota en pg_hba.conf, un
# archivo de certificado que no existe. En cada caso medimos que el servidor **sigue atendiendo con su
# configuración anterior**; después corregimos y recargamos sin errores.
#
# **Por qué importa.** En un servidor de producción, una recarga con una errata no tumba la base de datos, y
# precisamente por eso los errores pasan desapercibidos: el archivo dice una cosa, el servidor hace otra, y la
# sorpresa llega con el siguiente reinicio (o con la siguiente recarga, aunque no tenga nada que ver). Saber dónde
# aparece cada error es, en definitiva, toda la destreza.
#
# **Cobertura de la guía.** Fase #2, paso 9 (las dos consultas `SELECT … WHERE error IS NOT NULL`), paso 10
# (`pg_ctl reload`) y el paso siguiente (`grep -A 14 -Ei "SIGHUP|reload" postgresql-*.log`).

# %% [markdown]
# ## Objectives · time
#
# - Check a configuration change with `pg_file_settings`, `pg_hba_file_rules` and the server log
# - Tell which mistakes each check catches (bad value, unknown parameter, broken pg_hba line, missing file)
# - Reload cleanly and prove it
#
# **Time:** about 6 minutes on your own: reading ≈ 5 min (692 words of prose at 150 words a minute) and running ≈ 4 s (measured: `labkit run`, local PostgreSQL 16, 2 cores, 2026-12-02). In a class, add the discussion: the agendas in [docs/instructor.md](../docs/instructor.md) give the timings.

# %% [markdown] lang="es" en="da649416"
# ## Objetivos · tiempo
#
# - Comprobar un cambio de configuración con `pg_file_settings`, `pg_hba_file_rules` y el log del servidor
# - Saber qué errores detecta cada comprobación (valor incorrecto, parámetro desconocido, línea de pg_hba rota, archivo inexistente)
# - Recargar sin errores y demostrarlo
#
# **Tiempo:** unos 6 minutos por cuenta propia: lectura ≈ 5 min (692 palabras de texto a 150 palabras por minuto) y ejecución ≈ 4 s (medido: `labkit run`, PostgreSQL 16 local, 2 núcleos, 2026-12-02). En un curso, añada el tiempo de discusión: las agendas de [docs/instructor.md](../docs/instructor.md) indican los tiempos.

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
bad_min_protocol = "TLSv1.5"  # the typo injected into ssl_min_protocol_version

# %%
import pandas as pd

import labkit as lk

# %%
if not isinstance(bad_min_protocol, str) or bad_min_protocol in lk.TLS_VERSIONS or not bad_min_protocol:
    raise lk.InvalidValue("bad_min_protocol", bad_min_protocol, "a non-empty string that is NOT one of "
                       + ", ".join(lk.TLS_VERSIONS), "the lesson needs a value the server will reject")
lk.quoting.conf_value(bad_min_protocol, "bad_min_protocol")  # one line: it can never add a setting
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki

# %% [markdown]
# ## 0. A working baseline
#
# TLS on with the lab certificate, TLS 1.2-1.3, and a `hostssl` rule for `conssl`. After each step a
# `verify-full` client tells us what the server is really doing, and `SHOW` tells us what it believes.

# %% [markdown] lang="es" en="83150438"
# ## 0. Un punto de partida que funciona
#
# TLS activado con el certificado del laboratorio, TLS 1.2-1.3 y una regla `hostssl` para `conssl`. Tras cada paso,
# un cliente `verify-full` nos dice lo que el servidor hace de verdad, y `SHOW` nos dice lo que el servidor cree.

# %%
assert lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_protocols("TLSv1.2", "TLSv1.3"),
               lk.layers.layer_hostssl("scram-sha-256", ("conssl",))).ok
state_rows = []

# %%
def observe(step: str, report: lk.transaction.ReloadCheck | None = None, **shown: str) -> object:
    """One row: what the reload reported, what the server shows, and whether a client still connects."""
    probe = lk.attempt(lab, label=step, user="conssl", password=lesson.password("conssl"), sslmode="verify-full",
                       sslrootcert=pki.paths.combined_crt)
    state_rows.append({
        "step": step, "reload clean": None if report is None else report.ok,
        "pg_file_settings errors": 0 if report is None else len(report.file_errors),
        "pg_hba_file_rules errors": 0 if report is None else len(report.hba_errors),
        "conf load time moved": None if report is None else report.conf_load_time_moved,
        "SHOW ssl_min_protocol_version": lab.show("ssl_min_protocol_version"),
        "client connects": probe.connected, "client TLS": probe.tls_version})
    return lk.tables.table(pd.DataFrame(state_rows[-1:]).assign(**shown), f"l16_step{len(state_rows)}")


# %%
observe("baseline")

# %% [markdown]
# ## 1. A bad value: `pg_file_settings` shows it, the rest of the file is applied
#
# We append two lines to the lesson's configuration file: `ssl_min_protocol_version` with a value that does
# not exist, and a valid change to `ssl_ciphers`. The guide's first query finds the bad line **before** any
# reload (the view re-reads the files each time it is queried):

# %% [markdown] lang="es" en="99153491"
# ## 1. Un valor incorrecto: `pg_file_settings` lo muestra y el resto del archivo se aplica
#
# Añadimos dos líneas al archivo de configuración de la lección: `ssl_min_protocol_version` con un valor que no
# existe y un cambio válido de `ssl_ciphers`. La primera consulta de la guía encuentra la línea errónea **antes**
# de cualquier recarga (la vista vuelve a leer los archivos cada vez que se consulta):

# %%
lab.trial_settings({"ssl_min_protocol_version": bad_min_protocol, "ssl_ciphers": "HIGH:!aNULL:!MD5"})
before = lab.file_setting_errors()
before.assign(sourcefile=before.sourcefile.str.replace(lab.facts()["data_dir"], "$PGDATA", regex=False))

# %%
report = lk.transaction.checked_reload(lab)
report.messages()

# %% [markdown]
# Read the last line: *contains errors; unaffected changes were applied*. The new cipher list took effect,
# the bad protocol line did not, and the minimum stays at its previous value. This is the state the guide's
# check catches.

# %% [markdown] lang="es" en="5bffd3ea"
# Fíjese en la última línea: *contains errors; unaffected changes were applied*. La nueva lista de cifrados entró
# en vigor, la línea del protocolo errónea no, y el mínimo conserva su valor anterior. Este es el estado que
# detecta la comprobación de la guía.

# %%
observe("1. bad value reloaded", report)

# %%
assert report.file_errors.name.tolist() == ["ssl_min_protocol_version"]
assert report.file_errors.error.tolist() == ["setting could not be applied"]
assert lk.messages.says(report.messages().message, "unaffected changes were applied")
assert lab.show("ssl_min_protocol_version") == "TLSv1.2" and lab.show("ssl_ciphers") == "HIGH:!aNULL:!MD5"

# %% [markdown]
# ## 2. An unknown parameter: nothing at all is applied
#
# A misspelt name (`ssl_ciphres`) is worse: PostgreSQL then applies **no** line of the file, not even the
# correct ones next to it (here `ssl_min_protocol_version = 'TLSv1.3'`). It does not even record a reload
# time (`pg_conf_load_time()` stays put), which is why our reload helper watches the log instead.

# %% [markdown] lang="es" en="9ec0f9f2"
# ## 2. Un parámetro desconocido: no se aplica nada
#
# Un nombre mal escrito (`ssl_ciphres`) es peor: PostgreSQL no aplica **ninguna** línea del archivo, ni siquiera
# las correctas que la acompañan (aquí `ssl_min_protocol_version = 'TLSv1.3'`). Ni siquiera registra una hora de
# recarga (`pg_conf_load_time()` no cambia); por eso nuestra función auxiliar de recarga vigila el log en su lugar.

# %%
lab.trial_settings({"ssl_min_protocol_version": "TLSv1.3", "ssl_ciphres": "HIGH"})
report = lk.transaction.checked_reload(lab)
display(report.setting_errors()[["sourceline", "name", "setting", "applied", "error"]])
report.messages()

# %%
observe("2. unknown parameter reloaded", report)

# %%
assert report.file_errors.error.tolist() == ["unrecognized configuration parameter"]
assert lk.messages.says(report.messages().message, "no changes were applied")
assert not report.conf_load_time_moved and lab.show("ssl_min_protocol_version") == "TLSv1.2"

# %% [markdown]
# ## 3. A broken pg_hba.conf line: the whole file is kept as it was
#
# A rule with an authentication method that does not exist (`sha256`). The guide's second query shows it;
# the log says *pg_hba.conf was not reloaded*: the server keeps using all of its previous rules.

# %% [markdown] lang="es" en="b5fcbb77"
# ## 3. Una línea rota en pg_hba.conf: el archivo completo se mantiene como estaba
#
# Una regla con un método de autenticación que no existe (`sha256`). La segunda consulta de la guía la muestra; el
# log dice *pg_hba.conf was not reloaded*: el servidor sigue usando todas sus reglas anteriores.

# %%
lab.set_settings({})  # labkit.conf back to the recorded (good) settings
lab.trial_hba_rules([*lab.hba_rules, "hostssl  all  reporter  0.0.0.0/0  sha256"])
report = lk.transaction.checked_reload(lab)
display(report.hba_errors[["line_number", "error"]])
report.messages()

# %%
observe("3. broken pg_hba line reloaded", report)

# %%
assert report.hba_errors.error.tolist() == ['invalid authentication method "sha256"']
assert lk.messages.says(report.messages().message, "pg_hba.conf was not reloaded")

# %% [markdown]
# ## 4. A certificate file that does not exist: only the log tells
#
# `ssl_cert_file` pointing to a missing file is a valid *setting*, so neither view shows an error. The log
# does: *could not load server certificate file …* and *SSL configuration was not reloaded*. Meanwhile `SHOW
# ssl_cert_file` already reports the new (missing) path while connections still get the old certificate.

# %% [markdown] lang="es" en="47d4531d"
# ## 4. Un archivo de certificado que no existe: solo el log lo dice
#
# Que `ssl_cert_file` apunte a un archivo inexistente es un *valor* válido, así que ninguna de las dos vistas
# muestra un error. El log sí: *could not load server certificate file …* y *SSL configuration was not reloaded*.
# Mientras tanto, `SHOW ssl_cert_file` ya informa de la ruta nueva (inexistente), aunque las conexiones siguen
# recibiendo el certificado antiguo.

# %%
lab.set_hba_rules(lab.state.hba_rules)  # pg_hba.conf back to the good rules
lab.trial_settings({"ssl_cert_file": "/nonexistent/server.crt"})
report = lk.transaction.checked_reload(lab)
report.messages()

# %%
observe("4. missing certificate reloaded", report, **{"SHOW ssl_cert_file": lab.show("ssl_cert_file")})

# %%
assert report.file_errors.empty and report.hba_errors.empty and not report.ok
assert lk.messages.says(report.messages().message, "SSL configuration was not reloaded")
assert lab.show("ssl_cert_file") == "/nonexistent/server.crt" and state_rows[-1]["client connects"]

# %% [markdown]
# ## 5. Fix and reload cleanly
#
# Writing the files back from the lab's recorded state and reloading: both views are empty, the log holds
# only routine lines, and `SHOW` agrees with the files again.

# %% [markdown] lang="es" en="e53d2d76"
# ## 5. Corregir y recargar sin errores
#
# Reescribimos los archivos a partir del estado registrado del laboratorio y recargamos: las dos vistas quedan
# vacías, el log solo contiene líneas rutinarias y `SHOW` vuelve a coincidir con los archivos.

# %%
lab.set_settings({})  # rewrites labkit.conf from the recorded (good) settings
report = lk.transaction.checked_reload(lab)
display(report.messages())
observe("5. fixed and reloaded", report)

# %%
assert report.ok and report.conf_load_time_moved

# %% [markdown]
# ## Summary: which check catches which mistake
#
# The server kept serving clients through every mistake; the only trace was in the views and the log.

# %% [markdown] lang="es" en="a0c465a0"
# ## Resumen: qué comprobación detecta qué error
#
# El servidor siguió atendiendo a los clientes a pesar de cada error; el único rastro quedó en las vistas y en el log.

# %% tags=["key-result"]
summary = pd.DataFrame(state_rows)
lk.tables.verdict(summary, "reload clean", good=(True, None), uuid="l16_summary", columns=["step", "reload clean"])

# %%
assert all(summary["client connects"])
assert summary["reload clean"].tolist() == [None, False, False, False, False, True]

# %% [markdown]
# ## The guide's commands and ours
#
# * **Reload.** `pg_ctl reload -D <data dir>` (as the server's OS user) and `SELECT pg_reload_conf();` (as a
#   superuser, or a role granted `EXECUTE` on it) do the same: send SIGHUP to the postmaster. Both return at
#   once and report nothing about errors; `pg_reload_conf()` returns `true` even for a broken file.
# * **Check the views.** `SELECT * FROM pg_file_settings WHERE error IS NOT NULL;` and
#   `SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL;` read the files as they are on disk now, so
#   run them *before* reloading. They miss mistakes that only show when files are loaded (missing or
#   unreadable certificate, key that does not match, bad cipher list).
# * **Read the log.** The guide's `grep -A 14 -Ei "SIGHUP|reload" postgresql-250214.log` shows the 14 lines
#   after each reload, which may include unrelated lines or miss some. `reload_and_report` above keeps exactly
#   the postmaster's lines written after this SIGHUP: the same idea, scoped to one reload. The equivalent
#   by hand is to note the log size, reload, and read from that offset.

# %% [markdown] lang="es" en="71f8f9c7"
# ## Los comandos de la guía y los nuestros
#
# * **Recargar.** `pg_ctl reload -D <data dir>` (como el usuario del sistema operativo del servidor) y
#   `SELECT pg_reload_conf();` (como superusuario, o con un rol al que se haya concedido `EXECUTE` sobre ella)
#   hacen lo mismo: envían SIGHUP al postmaster. Ambos terminan de inmediato y no informan de ningún error;
#   `pg_reload_conf()` devuelve `true` incluso con un archivo roto.
# * **Consultar las vistas.** `SELECT * FROM pg_file_settings WHERE error IS NOT NULL;` y
#   `SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL;` leen los archivos tal como están ahora en disco,
#   así que conviene ejecutarlas *antes* de recargar. No detectan los errores que solo aparecen al cargar los
#   archivos (certificado inexistente o ilegible, clave que no corresponde, lista de cifrados incorrecta).
# * **Leer el log.** El `grep -A 14 -Ei "SIGHUP|reload" postgresql-250214.log` de la guía muestra las 14 líneas
#   posteriores a cada recarga, lo que puede incluir líneas ajenas o dejar fuera alguna. `reload_and_report`, más
#   arriba, conserva exactamente las líneas del postmaster escritas después de este SIGHUP: la misma idea,
#   limitada a una sola recarga. El equivalente a mano es anotar el tamaño del log, recargar y leer a partir de
#   esa posición.

# %%
print(report.log[0].split("]", 1)[-1].strip())  # what the grep would find first: the SIGHUP line

# %% [markdown]
# ## Key points
#
# - `pg_reload_conf()` returns true even for a broken file: check the views before reloading and the log after.
# - A bad pg_hba.conf line keeps the whole old file; a bad value in postgresql.conf skips that value only; a missing certificate shows only in the log.
# - The server keeps serving through every mistake, which is why the evidence must be read, not assumed.
#
# The outcome keys in this lesson's tables (`no_hba_no_encryption`, `protocol_mismatch` ...) are explained in [docs/glossary.md](../docs/glossary.md).

# %% [markdown] lang="es" en="39cf14ce"
# ## Puntos clave
#
# - `pg_reload_conf()` devuelve true incluso con un archivo roto: consulte las vistas antes de recargar y el log después.
# - Una línea errónea en pg_hba.conf hace que se conserve el archivo antiguo completo; un valor incorrecto en postgresql.conf solo hace que se omita ese valor; un certificado inexistente solo aparece en el log.
# - El servidor sigue atendiendo a pesar de cada error; por eso hay que leer las pruebas, no suponerlas.
#
# Las claves de resultado de las tablas de esta lección (`no_hba_no_encryption`, `protocol_mismatch` ...) se explican en [docs/glossary.md](../docs/glossary.md).

# %%
lesson.finish()
