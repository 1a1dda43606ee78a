# %% [markdown]
# # 42 · Client trust in 2026: `sslrootcert=system`, `sslcertmode`, `require_auth` and a client CRL
#
# Lessons 20-23 hardened the client with two keywords, `sslmode` and `sslrootcert`. A libpq from 16 on
# (psycopg's wheel bundles libpq 18 with OpenSSL 3.5) gives the client four more ways to refuse a
# server it should not trust:
#
# - `sslrootcert=system`: trust the operating system's CA store instead of a file — and libpq then
#   allows nothing weaker than `verify-full`;
# - `sslcertmode=disable|allow|require`: whether the client's certificate takes part at all;
# - `require_auth`: which authentication methods the *server* may ask for (a rogue server asking for a
#   clear-text password is refused before the password leaves the client);
# - `sslcrl` / `sslcrldir`: a revocation list on the client side, for the *server's* certificate.
#
# Every row below is a real connection to the lab (PostgreSQL 16 server; the features are the client's,
# so the server version does not change them). The "system" store is a bundle we write and point OpenSSL
# at through `SSL_CERT_FILE`, so the machine's own store is never touched.
#
# Why it matters: a client configured by a connection string alone is the weakest part of a hardened
# server; these keywords let the client refuse the wrong server and the wrong way of logging in.
#
# Guide coverage: *Tipos de sslmode*, *Preparar el entorno del cliente* (`sslrootcert`, the files in
# `~/.postgresql`) and *Quinta capa* (CRLs — here on the client's side), taken past the guide. Beyond the guide — PostgreSQL docs: libpq *Connection Parameters*
# `sslrootcert` (the value `system`, libpq 16+), `sslcertmode` (16+), `require_auth` (16+), `sslcrl`,
# `sslcrldir` (14+); *SSL Support › Certificate Revocation*.
#
# ```mermaid
# flowchart LR
#   C[libpq 18<br/>sslrootcert=system<br/>sslcertmode · require_auth · sslcrl] -->|TLS| S[(PostgreSQL 16<br/>pg_hba: cert / scram / trust / password)]
#   T[(SSL_CERT_FILE<br/>the 'system' store)] -.-> C
#   R[(client CRL<br/>revoked server cert)] -.-> C
# ```

# %% [markdown] lang="es" en="7977cbb1"
# # 42 · La confianza del cliente en 2026: `sslrootcert=system`, `sslcertmode`, `require_auth` y una CRL en el cliente
#
# Las lecciones 20-23 reforzaron el cliente con dos palabras clave, `sslmode` y `sslrootcert`. Desde la
# versión 16, libpq (el wheel de psycopg incluye libpq 18 con OpenSSL 3.5) da al cliente cuatro maneras
# más de rechazar un servidor en el que no debe confiar:
#
# - `sslrootcert=system`: confiar en el almacén de confianza del sistema operativo en lugar de un archivo;
#   libpq entonces no admite nada más débil que `verify-full`;
# - `sslcertmode=disable|allow|require`: si el certificado de cliente participa o no;
# - `require_auth`: qué métodos de autenticación puede pedir el *servidor* (un servidor impostor que pide
#   la contraseña en texto plano queda rechazado antes de que la contraseña salga del cliente);
# - `sslcrl` / `sslcrldir`: una lista de revocación (CRL) en el lado del cliente, para el certificado del
#   *servidor*.
#
# Cada fila es una conexión real al laboratorio (servidor PostgreSQL 16; las funciones son del cliente, así
# que la versión del servidor no las cambia). El almacén "del sistema" es un paquete de certificados que
# escribimos y al que apuntamos OpenSSL con `SSL_CERT_FILE`: el almacén real de la máquina no se toca.
#
# Por qué importa: un cliente configurado solo con una cadena de conexión es la parte más débil de un
# servidor endurecido; estas palabras clave permiten al cliente rechazar el servidor equivocado y la forma
# equivocada de iniciar sesión.
#
# Cobertura de la guía: *Tipos de sslmode*, *Preparar el entorno del cliente* (`sslrootcert`, los archivos
# de `~/.postgresql`) y *Quinta capa* (las CRL, aquí en el lado del cliente), llevadas más allá de la guía.
# Fuera de la guía — documentación de PostgreSQL: libpq *Connection Parameters* `sslrootcert` (el valor
# `system`, libpq 16+), `sslcertmode` (16+), `require_auth` (16+), `sslcrl`, `sslcrldir` (14+); *SSL Support
# › Certificate Revocation*.
#
# ```mermaid
# flowchart LR
#   C[libpq 18<br/>sslrootcert=system<br/>sslcertmode · require_auth · sslcrl] -->|TLS| S[(PostgreSQL 16<br/>pg_hba: cert / scram / trust / password)]
#   T[(SSL_CERT_FILE<br/>el almacén 'del sistema')] -.-> C
#   R[(CRL del cliente<br/>certificado de servidor revocado)] -.-> C
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
wrong_host = "db.other-host.example"  # a name the lab's server certificate does not list
include_crl_dir = True  # also check the revoked server certificate through a hashed CRL folder (sslcrldir)

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("wrong_host", wrong_host, ("db.other-host.example", "db.wrong-host.example"))
lk.check_bool("include_crl_dir", include_crl_dir)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
secret_password = lesson.password("conssl")  # passed to the client, never printed
trust = lab.workspace.path / "client" / "trust42"
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## 1 · `sslrootcert=system`: which store, which sslmode
#
# Two stand-in "system" stores: one that holds the lab root (as if the lab CA were a public one), one
# that does not. With the first, `verify-full` connects. With `sslmode` left out, libpq 18 does not fall
# back to `prefer`: it verifies fully — a name the certificate does not list fails. `verify-ca` and
# `require` are refused by libpq before any byte is sent.

# %% [markdown] lang="es" en="d50d690d"
# ## 1 · `sslrootcert=system`: qué almacén, qué sslmode
#
# Dos almacenes "del sistema" simulados: uno que contiene la CA raíz del laboratorio (como si la CA del
# laboratorio fuera pública) y otro que no. Con el primero, `verify-full` conecta. Si no se indica
# `sslmode`, libpq 18 no recurre a `prefer`: verifica por completo, y un nombre que el certificado no
# incluye falla. libpq rechaza `verify-ca` y `require` antes de enviar un solo byte.

# %%
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_ca(pki),
                   lk.layers.layer_hostssl("scram-sha-256", users=("conssl",)))
assert applied.ok, applied.reason
system_rows = lk.client_trust.system_rows(lab, pki, trust, user="conssl", password=secret_password,
                                         wrong_host=wrong_host)
system = lk.client_trust.frame(system_rows)
lk.tables.verdict(system[["context", "setting", "connected", "server saw", "error key", "client says"]],
                  uuid="system42")

# %%
keys = list(system["error key"])
assert list(system["connected"]) == [True, True, False, False, False, False]
assert keys[2:] == ["hostname_mismatch", "sslrootcert_system_weak", "sslrootcert_system_weak", "server_cert_untrusted"]
assert 'weak sslmode "verify-ca" may not be used with sslrootcert=system' in system["client says"][3]

# %% [markdown]
# Why libpq refuses `verify-ca` here: a system store holds a hundred-odd public CAs, and any of them will
# sign a certificate for *any* name its customer proves to own. `verify-ca` checks only that *some*
# trusted CA signed the certificate — with a public store that is true of every web server on the
# Internet. Only the name check (`verify-full`) ties the certificate to *your* database.
#
# > **The guide says** `verify-ca` fits "cuando se confía en la CA pero el host puede variar".
# > **Measured:** with `sslrootcert=system`, libpq 18 does not even allow it; with your own CA it
# > stays as weak as lesson 40 showed.

# %% [markdown] lang="es" en="3d349d21"
# Por qué libpq rechaza aquí `verify-ca`: un almacén del sistema contiene más de un centenar de CA
# públicas, y cualquiera de ellas firma un certificado para *cualquier* nombre que su cliente demuestre
# poseer. `verify-ca` solo comprueba que *alguna* CA de confianza firmó el certificado; con un almacén
# público eso se cumple para cualquier servidor web de Internet. Solo la comprobación del nombre
# (`verify-full`) vincula el certificado con *su* base de datos.
#
# > **La guía dice** que `verify-ca` sirve "cuando se confía en la CA pero el host puede variar".
# > **Medido:** con `sslrootcert=system`, libpq 18 ni siquiera lo permite; con una CA propia sigue siendo
# > tan débil como mostró la lección 40.

# %% [markdown]
# ## 2 · `sslcertmode`: does the client's certificate take part?
#
# The client always holds the lab's certificate for `conssl`; `sslcertmode` decides whether it is sent.
# Four pg_hba rules: `cert`, plain `scram-sha-256`, and `scram-sha-256` with `clientcert=verify-ca` /
# `verify-full`. `server saw` is the session's `pg_stat_ssl.client_dn`.

# %% [markdown] lang="es" en="1d230763"
# ## 2 · `sslcertmode`: ¿participa el certificado de cliente?
#
# El cliente tiene siempre a mano el certificado del laboratorio para `conssl`; `sslcertmode` decide si se
# envía. Cuatro reglas de pg_hba: `cert`, `scram-sha-256` a secas y `scram-sha-256` con
# `clientcert=verify-ca` / `verify-full`. `server saw` es el `pg_stat_ssl.client_dn` de la sesión.

# %%
certmode = lk.client_trust.frame(lk.client_trust.certmode_rows(lab, pki, user="conssl", password=secret_password))
lk.tables.verdict(certmode[["context", "setting", "connected", "server saw", "error key"]], uuid="certmode42")

# %%
by_rule = certmode.set_index(["context", "setting"])
for rule in ("cert", "scram-sha-256 clientcert=verify-ca", "scram-sha-256 clientcert=verify-full"):
    assert by_rule.loc[(rule, "disable"), "error key"] == "client_cert_required"
    assert by_rule.loc[(rule, "allow"), "connected"] and by_rule.loc[(rule, "require"), "connected"]
assert by_rule.loc[("scram-sha-256", "disable"), "server saw"] == "TLS, no client certificate"
assert by_rule.loc[("scram-sha-256", "allow"), "server saw"].startswith("client certificate")

# %% [markdown]
# Reading it: `allow` (the default) sends the certificate whenever the server asks (it asks because
# `ssl_ca_file` is set), so even a plain SCRAM login shows a DN in `pg_stat_ssl`. `disable` keeps the
# certificate home: rules that need one refuse. `require` refuses a server that did *not* ask for a
# certificate (`client_cert_not_requested`, measured in `tests/test_catalogue_ends.py`): a client that
# logs in by certificate notices a server that suddenly lets anyone in.

# %% [markdown] lang="es" en="6b83e526"
# Cómo leerlo: `allow` (el valor por defecto) envía el certificado siempre que el servidor lo pide (lo pide
# porque `ssl_ca_file` está definido), de modo que incluso un inicio de sesión SCRAM corriente muestra un DN
# en `pg_stat_ssl`. `disable` deja el certificado en casa: las reglas que lo exigen rechazan la conexión.
# `require` rechaza un servidor que *no* pidió certificado (`client_cert_not_requested`, medido en
# `tests/test_catalogue_ends.py`): un cliente que se autentica con certificado detecta así un servidor que
# de pronto deja entrar a cualquiera.

# %% [markdown]
# ## 3 · `require_auth`: which way of logging in the client accepts
#
# The same client (password and certificate at hand) against four rules for `conssl`: `trust`,
# `password` (clear text, over TLS), `scram-sha-256` and `cert`. `!password` means "anything but clear
# text"; `none` means "no password exchange at all".

# %% [markdown] lang="es" en="9d2aaceb"
# ## 3 · `require_auth`: qué forma de iniciar sesión acepta el cliente
#
# El mismo cliente (con contraseña y certificado a mano) frente a cuatro reglas para `conssl`: `trust`,
# `password` (texto plano, sobre TLS), `scram-sha-256` y `cert`. `!password` significa "cualquier cosa
# menos texto plano"; `none`, "ningún intercambio de contraseña".

# %%
auth = lk.client_trust.frame(lk.client_trust.require_auth_rows(lab, pki, user="conssl", password=secret_password))
auth_pivot = auth.pivot(index="context", columns="setting", values="outcome")
lk.tables.cells(auth_pivot.reindex(list(lk.client_trust.REQUIRE_AUTH_RULES))[list(lk.client_trust.REQUIRE_AUTH)],
                rule=lk.tables.outcome, hide_index=False, uuid="auth42")

# %%
cell = auth.set_index(["context", "setting"])
assert cell.loc[("scram-sha-256", "scram-sha-256"), "connected"]
assert cell.loc[("password", "scram-sha-256"), "error key"] == "require_auth_failed"
assert "server requested a cleartext password" in cell.loc[("password", "scram-sha-256"), "client says"]
assert "server did not complete authentication" in cell.loc[("trust", "scram-sha-256"), "client says"]
assert cell.loc[("password", "!password"), "error key"] == "require_auth_failed"
assert cell.loc[("cert", "none"), "connected"] and not cell.loc[("cert", "scram-sha-256"), "connected"]
invalid = lk.attempt(lab, sslmode="verify-full", sslrootcert=pki.paths.combined_crt, user="conssl",
                     password=secret_password, extra={"require_auth": "cert"})
assert invalid.error_key == "require_auth_invalid", invalid.error_text
invalid.error_text

# %% [markdown]
# Reading it: `require_auth=scram-sha-256` is the client-side twin of the server's `scram-sha-256` rule.
# A server (or someone posing as it) that asks for a clear-text password is refused *before* the client
# answers, and so is a server that lets the client in with no authentication at all. A certificate
# login counts as "no method" (`none`); there is no `require_auth=cert` — libpq refuses the word, and
# `sslcertmode=require` is the keyword for certificates.

# %% [markdown] lang="es" en="ffac3cb1"
# Cómo leerlo: `require_auth=scram-sha-256` es, en el cliente, el gemelo de la regla `scram-sha-256` del
# servidor. Un servidor (o alguien que se hace pasar por él) que pide la contraseña en texto plano queda
# rechazado *antes* de que el cliente responda, y lo mismo un servidor que deja entrar al cliente sin
# autenticación alguna. Un inicio de sesión con certificado cuenta como "ningún método" (`none`); no existe
# `require_auth=cert`: libpq rechaza la palabra, y la palabra clave para certificados es
# `sslcertmode=require`.

# %% [markdown]
# ## 4 · A revoked *server* certificate, noticed by the client
#
# We issue the server a new certificate (in this lesson's own PKI space), revoke it with the lab
# intermediate and write the revocation lists for the client only: one file (`sslcrl`) and a hashed
# folder (`sslcrldir`). The lab's own CRL files, which the server uses for client certificates, stay
# as they were.

# %% [markdown] lang="es" en="870b9883"
# ## 4 · Un certificado de *servidor* revocado, detectado por el cliente
#
# Emitimos para el servidor un certificado nuevo (en el espacio PKI propio de esta lección), lo revocamos
# con la CA intermedia del laboratorio y escribimos las listas de revocación solo para el cliente: un
# archivo (`sslcrl`) y una carpeta con nombres hash (`sslcrldir`). Las CRL del laboratorio, que el servidor
# usa para los certificados de cliente, quedan como estaban.

# %%
revoked = lk.client_trust.revoked_server(pki, trust / "crl", space="42")
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki, cert=revoked.crt, key=revoked.key), lk.layers.layer_ca(pki),
                   lk.layers.layer_hostssl("scram-sha-256", users=("conssl",)))
assert applied.ok, applied.reason
crl_rows = lk.client_trust.crl_rows(lab, pki, revoked, user="conssl", password=secret_password,
                                   include_dir=include_crl_dir)
crl = lk.client_trust.frame(crl_rows)
lk.tables.verdict(crl[["setting", "connected", "error key", "client says"]], uuid="crl42")

# %%
crl_by = crl.set_index("setting")
assert crl_by.loc["no CRL", "connected"] and crl_by.loc["sslcrl=lab combined.crl (not listing it)", "connected"]
assert crl_by.loc["sslcrl=revoked.crl", "error key"] == "server_cert_revoked"
assert crl_by.loc["sslcrl=missing file", "connected"]  # no warning, no revocation check
if include_crl_dir:
    assert crl_by.loc["sslcrldir=crl-dir", "error key"] == "server_cert_revoked"
    assert crl_by.loc["sslcrldir=crl-dir + sslcrl=missing file", "connected"]  # the trap: no check at all

# %% [markdown]
# Reading it:
#
# - libpq 18 prints only `certificate verify failed`; the words `certificate revoked` are in the
#   **server log** (`sslv3 alert certificate revoked`: the alert the client sent). The catalogue reads
#   both ends to name it `server_cert_revoked`.
# - A hashed folder works like the file; the names are OpenSSL's subject hashes (`<hash>.r0`), which
#   `openssl rehash` would write.
# - **The trap**: `sslcrl` naming a file that does not exist connects without a word — and so does the
#   same missing file *beside* a good `sslcrldir`: libpq hands both to OpenSSL in one call, the call fails
#   on the missing file, and libpq goes on with no revocation check at all. Check that the file exists.
#
# > **The guide says** a revocation list is for "cuando los clientes utilizan certificados SSL para
# > autenticarse" (the server's `ssl_crl_file` / `ssl_crl_dir`), and the client's `~/.postgresql` gets
# > `root.crt`, `postgresql.crt` and `postgresql.key` — no CRL. **Measured:** the client can check the
# > *server's* certificate against a CRL too (`sslcrl`, `sslcrldir`, or `~/.postgresql/root.crl`); it
# > needs one per CA of the server's chain, and nothing warns when the file is missing.

# %% [markdown] lang="es" en="67bae3b5"
# Cómo leerlo:
#
# - libpq 18 solo imprime `certificate verify failed`; las palabras `certificate revoked` aparecen en el
#   **log del servidor** (`sslv3 alert certificate revoked`: la alerta que envió el cliente). El catálogo
#   de errores lee ambos extremos para llamarlo `server_cert_revoked`.
# - Una carpeta con nombres hash funciona igual que el archivo; los nombres son los hash de sujeto de
#   OpenSSL (`<hash>.r0`), los mismos que escribiría `openssl rehash`.
# - **La trampa**: un `sslcrl` que nombra un archivo inexistente conecta sin decir nada, y lo mismo ocurre
#   con ese archivo ausente *junto a* un `sslcrldir` correcto: libpq entrega ambos a OpenSSL en una sola
#   llamada, la llamada falla por el archivo que falta y libpq sigue sin comprobar ninguna revocación.
#   Compruebe que el archivo existe.
#
# > **La guía dice** que una lista de revocación se usa "cuando los clientes utilizan certificados SSL para
# > autenticarse" (los `ssl_crl_file` / `ssl_crl_dir` del servidor), y en el `~/.postgresql` del cliente
# > coloca `root.crt`, `postgresql.crt` y `postgresql.key`, sin CRL. **Medido:** el cliente también puede
# > comprobar el certificado del *servidor* contra una CRL (`sslcrl`, `sslcrldir` o
# > `~/.postgresql/root.crl`); necesita una por cada CA de la cadena del servidor, y nada avisa cuando falta
# > el archivo.

# %% [markdown]
# ## 5 · Predict, then measure
#
# The pg_hba line for `conssl` says `md5`. The client insists on `require_auth=scram-sha-256`. Is it
# refused, as against the `password` line?

# %% [markdown] lang="es" en="55fdff33"
# ## 5 · Prediga y luego mida
#
# La línea de pg_hba para `conssl` dice `md5`. El cliente exige `require_auth=scram-sha-256`. ¿Queda
# rechazado, como frente a la línea `password`?

# %%
md5 = lk.client_trust.frame(lk.client_trust.require_auth_rows(lab, pki, user="conssl", password=secret_password,
                                                              rules=("md5",), values=("scram-sha-256",)))
assert md5["connected"].all()  # the server upgrades md5 to SCRAM for a role whose password is stored as SCRAM
md5[["context", "setting", "connected", "outcome"]]

# %% [markdown]
# It connects: a role whose password is stored as a SCRAM verifier (the default since PostgreSQL 14,
# `password_encryption = scram-sha-256`) is asked for SCRAM even on an `md5` line, and `require_auth` judges
# what the server *asked*, not what the file says.

# %% [markdown] lang="es" en="997a9e90"
# Conecta: a un rol cuya contraseña está guardada como verificador SCRAM (lo habitual desde PostgreSQL 14,
# `password_encryption = scram-sha-256`) se le pide SCRAM incluso en una línea `md5`, y `require_auth`
# juzga lo que el servidor *pidió*, no lo que dice el archivo.

# %% [markdown]
# ## 6 · The key result
#
# Every row of this lesson: the keyword, its value, the server's rule, whether it connected, what the
# server recorded, and the catalogue's key for the refusal.

# %% [markdown] lang="es" en="ef34a2c0"
# ## 6 · El resultado clave
#
# Todas las filas de esta lección: la palabra clave, su valor, la regla del servidor, si conectó, qué
# registró el servidor y la clave del catálogo de errores para cada rechazo.

# %% tags=["key-result"]
everything = pd.concat([system, certmode, auth, md5, crl], ignore_index=True).fillna("")
lk.tables.verdict(everything[["feature", "setting", "context", "connected", "server saw", "error key"]],
                  uuid="key42")

# %%
refused = everything[~everything["connected"]]
assert (refused["error key"] != "?").all(), refused[["setting", "client says"]]  # every refusal classified
assert set(refused["error key"]) >= {"sslrootcert_system_weak", "hostname_mismatch", "server_cert_untrusted",
                                     "client_cert_required", "require_auth_failed", "server_cert_revoked"}
len(everything), sorted(set(refused["error key"]))

# %% [markdown]
# ## 7 · What this means for a DBA
#
# - For a server certificate from a **public CA**, use `sslrootcert=system` and leave `sslmode` out or write
#   `verify-full`; for your own CA, `sslrootcert=<your root>` with `verify-full` (lessons 20-21).
# - Put `require_auth=scram-sha-256` in the connection strings of password logins: a server that
#   suddenly asks for a clear-text password, or asks nothing, is refused before anything leaves.
# - For certificate logins, `sslcertmode=require` makes the client notice a server that stopped asking.
# - A client CRL must cover every CA of the chain, and nothing tells you when its file is missing.
#
# Copy-paste (what the lesson measured):
#
# ```
# psql "host=db.example user=conssl dbname=postgres sslrootcert=system require_auth=scram-sha-256"
# ```

# %% [markdown] lang="es" en="13b6b5ed"
# ## 7 · Qué significa para un DBA
#
# - Para un certificado de servidor emitido por una **CA pública**, use `sslrootcert=system` y omita
#   `sslmode` o escriba `verify-full`; para una CA propia, `sslrootcert=<su CA raíz>` con `verify-full`
#   (lecciones 20-21).
# - Ponga `require_auth=scram-sha-256` en las cadenas de conexión de los inicios de sesión con contraseña:
#   un servidor que de pronto pide la contraseña en texto plano, o no pide nada, queda rechazado antes de
#   que salga nada.
# - En los inicios de sesión con certificado, `sslcertmode=require` hace que el cliente note que un
#   servidor dejó de pedirlo.
# - Una CRL del cliente debe cubrir todas las CA de la cadena, y nada avisa cuando falta su archivo.
#
# Copiar y pegar (lo que midió la lección):
#
# ```
# psql "host=db.example user=conssl dbname=postgres sslrootcert=system require_auth=scram-sha-256"
# ```

# %% tags=["nbval-ignore-output"]
everything[["feature", "setting", "psql"]].head(4)

# %%
lesson.finish()
