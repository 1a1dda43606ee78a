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

# %% tags=["parameters"]
backend = "auto"
pg_version = 16
workspace = None
keep_server = False
key_type = "ecdsa-p256"
tls_min = "TLSv1.2"
tls_max = "TLSv1.3"

# %%
import pandas as pd

import labkit.lesson
from labkit import attempts, layers, tlsprobe
from labkit.course_basics import apply_frame, expected_libpq, gist, server_reason, settings_frame
from labkit.tables import table, verdict
from labkit.errors import InvalidValue

pd.set_option("display.max_colwidth", None)
VERSIONS = labkit.lesson.TLS_VERSIONS
labkit.lesson.check_choice("tls_min", tls_min, VERSIONS)
labkit.lesson.check_choice("tls_max", tls_max, ("", *VERSIONS))
if tls_max and VERSIONS.index(tls_min) > VERSIONS.index(tls_max):
    raise InvalidValue("tls_min", tls_min, VERSIONS[:VERSIONS.index(tls_max) + 1],
                       f"tls_min must not be above tls_max={tls_max!r}")
lesson = labkit.lesson.begin(backend=backend, pg_version=pg_version, workspace=workspace, key_type=key_type,
                             keep_server=keep_server)
lab, pki = lesson.lab, lesson.pki
assert layers.apply(lab, layers.layer_ssl_on(pki)).ok

# %% [markdown]
# ## The matrix: client cap × server range
#
# Server ranges tried: PostgreSQL's default (no layer 2), your knobs, TLS 1.3 only, and the most
# permissive floor (`TLSv1`). Clients: libpq with `ssl_min_protocol_version=TLSv1` and
# `ssl_max_protocol_version` = 1.1, 1.2 or 1.3, and the raw probe offering exactly TLS 1.0 or 1.1.

# %%
SERVER_RANGES = [("PostgreSQL default", None), (f"knobs {tls_min}..{tls_max or '(none)'}", (tls_min, tls_max)),
                 ("TLS 1.3 only", ("TLSv1.3", "TLSv1.3")), ("legacy floor TLSv1..(none)", ("TLSv1", ""))]
CAPS = ["TLSv1.1", "TLSv1.2", "TLSv1.3"]
rows = []
for name, bounds in SERVER_RANGES:
    lab.reset_config()
    chosen = [layers.layer_ssl_on(pki)] + ([layers.layer_protocols(*bounds)] if bounds else [])
    assert layers.apply(lab, *chosen).ok
    smin, smax = lab.show("ssl_min_protocol_version"), lab.show("ssl_max_protocol_version")
    for probe in tlsprobe.probe_matrix(lab, versions=("TLSv1", "TLSv1.1")).to_dict("records"):
        rows.append({"server range": name, "client": f"raw probe, only {probe['version_asked']}",
                     "connected": probe["result"] == "accepted", "outcome": probe["negotiated_version"] or probe["result"],
                     "expected": "", "client says": probe["error"] or "", "server log says": gist(probe["server_log"]),
                     "psql": "(no psql equivalent: libpq cannot offer this version)"})
    for cap in CAPS:
        r = attempts.attempt(lab, label=cap, sslmode="require", ssl_min_protocol_version="TLSv1",
                             ssl_max_protocol_version=cap)
        rows.append({"server range": name, "client": f"libpq, max {cap}", "connected": r.connected,
                     "outcome": r.outcome, "expected": expected_libpq(smin, smax, cap) or "refused",
                     "client says": gist(r.error_text), "server log says": server_reason(r), "psql": r.psql})
matrix = pd.DataFrame(rows)

# %% [markdown]
# At a glance (each cell: the negotiated version, or why it failed):

# %%
glance = matrix.pivot(index="server range", columns="client", values="outcome").reindex(
    [n for n, _ in SERVER_RANGES]).reset_index()


def _paint(row):
    return ["" if c == "server range" else
            "background-color: #c8e6c9" if str(row[c]).startswith("TLS") else "background-color: #ffcdd2"
            for c in row.index]


# %% tags=["key-result"]
glance.style.apply(_paint, axis=1).set_uuid("glance").hide(axis="index")

# %% [markdown]
# Every attempt with both ends' words (what libpq printed, what the server logged) and the `psql`
# command to repeat it:

# %%
verdict(matrix, columns=["server range", "client", "connected", "outcome"], uuid="matrix")

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

# %%
try:
    layers.layer_protocols("TLSv1.3", "TLSv1.2")
except InvalidValue as exc:
    refused = str(exc)
print(refused)

# %% [markdown]
# What would the server itself do? We write the two lines directly and reload, without labkit's
# rollback, then ask `pg_settings` and the raw probe:

# %%
lab.reset_config()
assert layers.apply(lab, layers.layer_ssl_on(pki), layers.layer_protocols(tls_min, tls_max)).ok
lab.set_settings({"ssl_min_protocol_version": "TLSv1.3", "ssl_max_protocol_version": "TLSv1.2"})
raw_reload = attempts.reload_settled(lab)
said = [gist(line) for line in raw_reload.log.splitlines()
        if "SIGHUP" not in line and "connection" not in line and "[local]" not in line]
shown = settings_frame(lab, ["ssl_min_protocol_version", "ssl_max_protocol_version"])
still = tlsprobe.probe_matrix(lab, versions=("TLSv1.2", "TLSv1.3"))
table(pd.DataFrame({"the server log after the reload": said}), "said")

# %%
table(shown, "shown")

# %%
table(still[["version_asked", "result", "negotiated_version"]], "still")

# %% [markdown]
# > **Measured:** the reload does not fail loudly. `pg_settings` now *reports* min `TLSv1.3` / max
# > `TLSv1.2`, while the server keeps using its previous TLS context (*SSL configuration was not
# > reloaded*) and still accepts TLS 1.2. Anyone checking only `pg_settings` -- or only the guide's
# > `pg_file_settings where error is not null`, which stays empty here -- believes a range is in force that
# > is not. The log is the only witness.

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

# %%
lab.reset_config()
assert layers.apply(lab, layers.layer_ssl_on(pki)).ok
bad = layers.apply(lab, layers.layer_protocols("TLSv1.3", "TLSv1.2", unchecked=True))
table(apply_frame(bad), "bad")

# %%
assert not bad.ok and bad.rolled_back
assert lab.show("ssl_min_protocol_version") == "TLSv1.2"

# %% [markdown]
# The guide's spelling `TLSv1.0` (from its PostgreSQL table) is a different mistake: not a bad range but
# an unknown value, which the server reports in `pg_file_settings`:

# %%
spelled = layers.apply(lab, layers.layer_protocols("TLSv1.0", "TLSv1.3", unchecked=True))
table(apply_frame(spelled), "spelled")

# %%
assert not spelled.ok and spelled.rolled_back
assert any("TLSv1.0" in str(d) for d in apply_frame(spelled)["detail"])

# %%
lesson.finish()
