# %% [markdown]
# # 45 · Certificates to roles: `pg_ident.conf` maps
#
# With pg_hba's `cert` method the server logs a client in only as the role its certificate names: the CN
# must equal the user name asked for (lesson 22, the guide's user "otros"). Real certificates rarely name
# database roles — they name people (`alice@example.com`) or machines — and one person may need several
# roles. A **user name map** (`map=NAME` on the pg_hba line, lines of that map in `pg_ident.conf`) tells
# the server which certificate names may log in as which roles.
#
# This lesson measures, on one lab, every way a map is written and every way it fails:
#
# - an **exact** line (`conssl` → `reporter`);
# - a **regular expression** (`/^(.*)@example\.com$` → `\1`): every address of one domain maps to the
#   role of the same name;
# - **one certificate, several roles** (`alice@example.com` → `app_ro` and `app_rw`);
# - **`clientname=DN`** (PostgreSQL 14+): the map sees the whole subject DN instead of the CN;
# - the failures: a CN that is not the role and **no map**; a map with **no matching line**; a
#   rule naming a map that **does not exist** — what the client reads, what the server log says.
#
# Why it matters: a map is a permission table. One regex too broad lets every certificate the CA ever
# issued into a role; the client's message never says which map refused, only the server log does.
#
# Guide coverage: *Fase #2 › Tercera capa nivel Usuario* (`cert`, the user "otros" refused), taken past the
# guide. Beyond the guide — PostgreSQL docs: *Client Authentication › User Name Maps* (`pg_ident.conf`,
# regular expressions, `\1`), *Certificate Authentication* (`clientname=CN|DN`, `map=`), the view
# `pg_ident_file_mappings` (15+).
#
# ```mermaid
# flowchart LR
#   C[client certificate<br/>CN / DN] --> H{pg_hba line<br/>cert map=NAME}
#   H -->|no map| E[CN must equal the role]
#   H -->|map=NAME| I[(pg_ident.conf<br/>NAME  system-name  role)]
#   I -->|a line matches| OK[logged in as the role]
#   I -->|none| F[no match in usermap]
# ```

# %% [markdown] lang="es" en="4d4624b6"
# # 45 · De certificados a roles: los mapas de `pg_ident.conf`
#
# Con el método `cert` de pg_hba, el servidor deja entrar a un cliente solo como el rol que nombra su
# certificado: el CN debe coincidir con el nombre de usuario pedido (lección 22, el usuario "otros" de la
# guía). Los certificados reales rara vez nombran roles de base de datos (nombran personas,
# `alice@example.com`, o máquinas), y una persona puede necesitar varios roles. Un **mapa de nombres de
# usuario** (`map=NOMBRE` en la línea de pg_hba, y las líneas de ese mapa en `pg_ident.conf`) indica al
# servidor qué nombres de certificado pueden entrar como qué roles.
#
# Esta lección mide, en un solo laboratorio, cada forma de escribir un mapa y cada forma en que falla:
#
# - una línea **exacta** (`conssl` → `reporter`);
# - una **expresión regular** (`/^(.*)@example\.com$` → `\1`): cada dirección de un dominio se asigna al
#   rol del mismo nombre;
# - **un certificado, varios roles** (`alice@example.com` → `app_ro` y `app_rw`);
# - **`clientname=DN`** (PostgreSQL 14+): el mapa ve el DN completo del sujeto en lugar del CN;
# - los fallos: un CN que no es el rol y **ningún mapa**; un mapa **sin ninguna línea que coincida**; una
#   regla que nombra un mapa que **no existe**: qué lee el cliente y qué dice el log del servidor.
#
# Por qué importa: un mapa es una tabla de permisos. Una expresión regular demasiado amplia deja entrar en
# un rol a todos los certificados que la CA haya emitido; el mensaje del cliente nunca dice qué mapa lo
# rechazó, solo lo dice el log del servidor.
#
# Cobertura de la guía: *Fase #2 › Tercera capa nivel Usuario* (`cert`, el usuario "otros" rechazado),
# llevada más allá de la guía. Fuera de la guía — documentación de PostgreSQL: *Client Authentication ›
# User Name Maps* (`pg_ident.conf`, expresiones regulares, `\1`), *Certificate Authentication*
# (`clientname=CN|DN`, `map=`), la vista `pg_ident_file_mappings` (15+).
#
# ```mermaid
# flowchart LR
#   C[certificado de cliente<br/>CN / DN] --> H{línea de pg_hba<br/>cert map=NOMBRE}
#   H -->|sin mapa| E[el CN debe ser el rol]
#   H -->|map=NOMBRE| I[(pg_ident.conf<br/>NOMBRE  nombre-del-sistema  rol)]
#   I -->|una línea coincide| OK[sesión con ese rol]
#   I -->|ninguna| F[no match in usermap]
# ```

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
lang = "en"  # the edition being read: "en" or "es" (the Spanish build sets "es")
server_lang = "en"  # the server's message language: "en", or "es" on a build with Spanish messages
key_type = "ecdsa-p256"
domain = "example.com"  # the e-mail domain the regex map accepts
include_dn_map = True  # also show a map that reads the whole subject DN, not only the CN

# %%
import pandas as pd

import labkit as lk

# %%
lk.check_choice("domain", domain, ("example.com", "example.org"))
lk.check_bool("include_dn_map", include_dn_map)
lesson = lk.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                  keep_server=keep_server, lang=lang, server_lang=server_lang)
lab, pki = lesson.lab, lesson.pki
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## 1 · The certificates
#
# The lab's `conssl` certificate (CN = the role), and two more in this lesson's own PKI space: Alice's,
# with an e-mail address as CN and a department, and Bob's, from another domain.

# %% [markdown] lang="es" en="bed0fd7f"
# ## 1 · Los certificados
#
# El certificado `conssl` del laboratorio (CN = el rol) y dos más en el espacio PKI propio de esta lección:
# el de Alice, con una dirección de correo como CN y un departamento, y el de Bob, de otro dominio.

# %%
DN_ALICE = f"CN=alice@{domain},OU=dba,O=pgtls-lab"
certs = {"conssl": (pki.paths.client_crt, pki.paths.client_key),
         f"alice@{domain}": pki.issue_client("alice", subject=DN_ALICE, name="alice", space="45"),
         "bob@other.org": pki.issue_client("bob", subject="CN=bob@other.org,O=pgtls-lab", name="bob", space="45")}
for role in ("alice", "app_ro", "app_rw", "auditor", "ops", "otros"):
    lesson.ensure_role(role)
described = pki.describe(space="45")
described[described["file"].str.startswith("spaces/45/")][["file", "subject", "issuer", "chain_verifies"]]

# %% [markdown]
# ## 2 · The maps and the pg_hba lines
#
# `pg_ident.conf` holds three maps; the pg_hba lines say which role uses which map. `ops` names a map
# (`nosuch`) that is not in the file, and `otros` uses no map at all.

# %% [markdown] lang="es" en="d88bea73"
# ## 2 · Los mapas y las líneas de pg_hba
#
# `pg_ident.conf` contiene tres mapas; las líneas de pg_hba dicen qué rol usa qué mapa. `ops` nombra un
# mapa (`nosuch`) que no está en el archivo, y `otros` no usa ningún mapa.

# %%
regex = "/^(.*)@" + domain.replace(".", r"\.") + "$"
maps = {"exact": [("conssl", "reporter")],
        "email": [(regex, r"\1"), (f"alice@{domain}", "app_ro"), (f"alice@{domain}", "app_rw")],
        "dn": [(DN_ALICE, "auditor"), ("conssl", "auditor")]}
written = lk.hba.set_ident_maps(lab, maps)
print(written)

# %%
rules = ["hostssl  all  conssl  0.0.0.0/0  cert", "hostssl  all  otros  0.0.0.0/0  cert",
         "hostssl  all  reporter  0.0.0.0/0  cert  map=exact",
         *[f"hostssl  all  {role}  0.0.0.0/0  cert  map=email" for role in ("alice", "app_ro", "app_rw")],
         "hostssl  all  auditor  0.0.0.0/0  cert  clientname=DN  map=dn",
         "hostssl  all  ops  0.0.0.0/0  cert  map=nosuch"]
applied = lk.apply(lab, lk.layers.layer_ssl_on(pki), lk.layers.layer_ca(pki),
                   lk.layers.layer_hostssl("cert", users=("conssl",), extra_rules=rules[1:]))
assert applied.ok, applied.reason
mappings = lk.hba.ident_mappings(lab)
assert mappings["error"].isna().all() and set(mappings["map_name"]) == {"exact", "email", "dn"}
mappings

# %% [markdown]
# ## 3 · Every login
#
# Each certificate asks for the roles that make a point; `verify-full` and the lab root on the client,
# no password (the certificate is the credential). `server log` is the line that gives the reason.

# %% [markdown] lang="es" en="3b533733"
# ## 3 · Cada inicio de sesión
#
# Cada certificado pide los roles que ilustran algo; en el cliente, `verify-full` y la CA raíz del
# laboratorio, sin contraseña (el certificado es la credencial). `server log` es la línea que da el motivo.

# %%
tries = [("conssl", "conssl"), ("conssl", "otros"), ("conssl", "reporter"),
         (f"alice@{domain}", "alice"), ("bob@other.org", "alice"), (f"alice@{domain}", "app_ro"),
         (f"alice@{domain}", "app_rw"), ("conssl", "app_ro"), ("conssl", "ops")]
if include_dn_map:
    tries += [(f"alice@{domain}", "auditor"), ("conssl", "auditor")]
hba_maps = {"reporter": "exact", "alice": "email", "app_ro": "email", "app_rw": "email", "auditor": "dn (clientname=DN)",
            "ops": "nosuch (not in pg_ident.conf)"}

# %% [markdown]
# ## 4 · Predict, then measure
#
# Bob's certificate (`bob@other.org`) asks for the role `alice`, whose line uses the regex map. Does the
# regex let him in? And Alice's certificate asks for `app_rw`: one name, two roles — does the second line
# count?

# %% [markdown] lang="es" en="f89d106a"
# ## 4 · Prediga y luego mida
#
# El certificado de Bob (`bob@other.org`) pide el rol `alice`, cuya línea usa el mapa con expresión
# regular. ¿Le deja entrar la expresión? Y el certificado de Alice pide `app_rw`: un nombre, dos roles;
# ¿cuenta la segunda línea?

# %%
results = [lk.attempt(lab, label=f"{cert} as {role}", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                      user=role, password=None, sslcert=certs[cert][0], sslkey=certs[cert][1]) for cert, role in tries]
table = pd.DataFrame([lk.hba.map_login_row(cert, role, hba_maps.get(role, "(none)"), result)
                      for (cert, role), result in zip(tries, results)])

# %% tags=["key-result"]
lk.tables.verdict(table[["certificate", "requested role", "map", "connected", "logged in as", "server log",
                         "catalogue key"]], uuid="key45")

# %%
row = table.set_index(["certificate", "requested role"])
ALICE = f"alice@{domain}"
assert row.loc[("conssl", "conssl"), "connected"] and row.loc[("conssl", "reporter"), "logged in as"] == "reporter"
assert row.loc[("conssl", "otros"), "catalogue key"] == "cert_auth_failed"
assert "provided user name (otros) and authenticated user name (conssl) do not match" in row.loc[("conssl", "otros"), "server log"]
assert row.loc[(ALICE, "alice"), "connected"] and row.loc[(ALICE, "app_ro"), "connected"]
assert row.loc[(ALICE, "app_rw"), "logged in as"] == "app_rw"

# %%
for who, role in (("bob@other.org", "alice"), ("conssl", "app_ro"), ("conssl", "ops")):
    assert row.loc[(who, role), "catalogue key"] == "usermap_no_match"
    assert f'certificate authentication failed for user "{role}"' in row.loc[(who, role), "client says"]
assert 'no match in usermap "nosuch"' in row.loc[("conssl", "ops"), "server log"]
if include_dn_map:
    assert row.loc[(ALICE, "auditor"), "connected"]
    assert 'authenticated as "CN=conssl,O=pgtls-lab"' in row.loc[("conssl", "auditor"), "server log"]

# %% [markdown]
# Reading it:
#
# - **The client never learns which map refused**: every failure reads `certificate authentication
#   failed for user "…"`. The server log names the map and the name the certificate gave
#   (`authenticated as "bob@other.org"`) — the catalogue reads it to tell `usermap_no_match` from the
#   plain CN/role mismatch (`cert_auth_failed`, the guide's "otros").
# - **A missing map is not an error at reload**: `map=nosuch` loads without complaint and refuses every
#   login with the same `no match in usermap` line. `pg_ident_file_mappings` (section 2) is where you
#   see that the map has no lines.
# - **`clientname=DN`** hands the map the whole subject, written as RFC 2253 (`CN=…,OU=…,O=…`); a line
#   with the bare CN (`conssl`) no longer matches — the log shows the DN it compared.
# - **A regex map is a door for a whole family**: `\1` turns any `…@example.com` certificate into the
#   role of the same name, present or future. Anchor it (`^…$`) and escape the dots, as here.

# %% [markdown] lang="es" en="5f7e0024"
# Cómo leerlo:
#
# - **El cliente nunca sabe qué mapa lo rechazó**: todos los fallos dicen `certificate authentication
#   failed for user "…"`. El log del servidor nombra el mapa y el nombre que dio el certificado
#   (`authenticated as "bob@other.org"`); el catálogo de errores lo lee para distinguir `usermap_no_match`
#   de la simple discrepancia entre CN y rol (`cert_auth_failed`, el "otros" de la guía).
# - **Un mapa inexistente no es un error en la recarga**: `map=nosuch` se carga sin quejas y rechaza cada
#   inicio de sesión con la misma línea `no match in usermap`. `pg_ident_file_mappings` (sección 2) es
#   donde se ve que el mapa no tiene líneas.
# - **`clientname=DN`** entrega al mapa el sujeto completo, escrito según RFC 2253 (`CN=…,OU=…,O=…`); una
#   línea con el CN a secas (`conssl`) deja de coincidir, y el log muestra el DN que comparó.
# - **Un mapa con expresión regular es una puerta para toda una familia**: `\1` convierte cualquier
#   certificado `…@example.com` en el rol del mismo nombre, presente o futuro. Ánclela (`^…$`) y escape
#   los puntos, como aquí.

# %% [markdown]
# ## 5 · What this means for a DBA
#
# > **The guide says** the certificate's CN must equal the user ("otros" is refused) and stops there.
# > **Measured:** with `map=` the CN may be anything the map pairs with the role, and a `clientname=DN`
# > map compares the whole subject (the bare CN `conssl` no longer matched).
#
# - Prefer exact lines; use a regex only anchored, with escaped dots, and only towards roles that exist
#   for that purpose.
# - After every edit of `pg_ident.conf`: reload, read `pg_ident_file_mappings` (errors, map names), and
#   try one login per line — the client will not tell you why a line does not match.
#
# Copy-paste (the lines this lesson measured):
#
# ```
# # pg_hba.conf
# hostssl  all  app_rw  0.0.0.0/0  cert  map=email
# # pg_ident.conf
# email  /^(.*)@example\.com$  \1
# email  alice@example.com     app_rw
# ```

# %% [markdown] lang="es" en="8494c3f3"
# ## 5 · Qué significa para un DBA
#
# > **La guía dice** que el CN del certificado debe coincidir con el usuario ("otros" es rechazado), y ahí
# > se detiene. **Medido:** con `map=` el CN puede ser cualquier nombre que el mapa asocie al rol, y un mapa
# > con `clientname=DN` compara el sujeto completo (el CN `conssl` a secas dejó de coincidir).
#
# - Prefiera líneas exactas; use una expresión regular solo anclada, con los puntos escapados, y solo hacia
#   roles creados para ese fin.
# - Tras cada cambio en `pg_ident.conf`: recargue, lea `pg_ident_file_mappings` (errores, nombres de mapa)
#   y pruebe un inicio de sesión por línea; el cliente no le dirá por qué una línea no coincide.
#
# Copiar y pegar (las líneas que midió esta lección):
#
# ```
# # pg_hba.conf
# hostssl  all  app_rw  0.0.0.0/0  cert  map=email
# # pg_ident.conf
# email  /^(.*)@example\.com$  \1
# email  alice@example.com     app_rw
# ```

# %% tags=["nbval-ignore-output"]
pd.DataFrame({"attempt": [r.label for r in results], "psql": [r.short_psql for r in results]}).head(3)

# %%
lesson.finish()
