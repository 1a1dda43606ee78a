"""The man in the middle, measured: every cell of lesson 40's table through a real relay and a real server."""
from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from labkit import mitm
from labkit.catalogue import classify
from labkit.errors import InvalidValue

from .helpers import lesson_with

CHECK_FAILED = "SCRAM channel binding check failed"
NOT_OFFERED = ("channel binding is required, but server did not offer an authentication method that supports "
               "channel binding")
READ = "read the data"
ATTACKER, OTHER, STOLEN = ("attacker's own CA", "lab CA, other host (db.other-host.example)",
                           "the server's own key (stolen)")

# (disguise, to server, auth, sslmode) -> attacker's verdict for channel_binding disable, prefer, require
EXPECTED: dict[tuple[str, str, str, str], tuple[str, str, str]] = {}
for _upstream in ("plain", "tls"):
    _bound = "stopped: channel_binding_not_offered" if _upstream == "plain" else "stopped: channel_binding_mismatch"
    _prefer = READ if _upstream == "plain" else "stopped: channel_binding_mismatch"
    EXPECTED[(ATTACKER, _upstream, "scram", "require")] = (READ, _prefer, _bound)
    EXPECTED[(OTHER, _upstream, "scram", "require")] = (READ, _prefer, _bound)
    EXPECTED[(OTHER, _upstream, "scram", "verify-ca")] = (READ, _prefer, _bound)
    for _mode in ("verify-ca", "verify-full"):
        EXPECTED[(ATTACKER, _upstream, "scram", _mode)] = ("stopped: server_cert_untrusted",) * 3
    EXPECTED[(OTHER, _upstream, "scram", "verify-full")] = ("stopped: hostname_mismatch",) * 3
    _stolen_bound = "stopped: channel_binding_not_offered" if _upstream == "plain" else READ
    for _mode in ("require", "verify-ca", "verify-full"):
        EXPECTED[(STOLEN, _upstream, "scram", _mode)] = (READ, READ, _stolen_bound)
for _mode in ("require", "verify-ca", "verify-full"):
    EXPECTED[(ATTACKER, "tls", "cert", _mode)] = ("-", "stopped: client_cert_required" if _mode == "require"
                                                   else "stopped: server_cert_untrusted", "-")
    EXPECTED[(OTHER, "tls", "cert", _mode)] = ("-", "stopped: hostname_mismatch" if _mode == "verify-full"
                                                else "stopped: client_cert_required", "-")
    EXPECTED[(STOLEN, "tls", "cert", _mode)] = ("-", "stopped: client_cert_required", "-")


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    """The table, measured once; the role's password stays in here (a failing assert must not print it)."""
    workspace = tmp_path_factory.mktemp("mitm")
    with lesson_with(workspace, mitm.server_layers) as lesson:
        disguises = [mitm.attacker_ca_disguise(workspace / "mallory"), mitm.other_host_disguise(lesson.pki),
                     mitm.stolen_key_disguise(lesson.pki)]
        password = lesson.password("sinssl")
        table = mitm.matrix(lesson.lab, lesson.pki, disguises=disguises, user="sinssl", password=password,
                            cert_user="conssl")
        table.attrs["password in the table"] = password in table.to_string()
        yield table


def test_every_cell_of_the_table(measured: pd.DataFrame) -> None:
    wide = mitm.pivot(measured)
    got = {key: tuple(row) for key, row in zip(wide.index, wide.itertuples(index=False))}
    assert got == EXPECTED


def test_what_the_relay_saw(measured: pd.DataFrame) -> None:
    table = measured
    assert not table["password seen"].any()  # SCRAM: never, even for an attacker holding the TLS session
    got_in = table[table["connected"]]
    assert got_in["'Passw0rd' seen"].all() and got_in["client TLS"].all()
    assert not got_in[got_in["to server"] == "plain"]["server saw TLS"].any()  # client thinks TLS; server: none
    assert set(got_in[got_in["to server"] == "plain"]["GS2 header"]) == {"n,,", "y,,"}
    bound = table[(table["auth"] == "scram") & (table["to server"] == "tls") & (table["channel_binding"] != "disable")
                  & (table["server offered"] != "-")]
    assert set(bound["client chose"]) == {"SCRAM-SHA-256-PLUS"}
    assert set(bound["GS2 header"]) == {"p=tls-server-end-point,,"}
    refused = table[table["relay"].str.contains("refused the relay")]
    assert not refused["connected"].any() and set(refused["server offered"]) == {"-"}
    assert table.attrs["password in the table"] is False


def test_relay_refuses_bad_arguments(tmp_path: Path) -> None:
    disguise = mitm.attacker_ca_disguise(tmp_path)
    assert (disguise.key_path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(InvalidValue, match="192.0.2.1"):
        mitm.MitmRelay("192.0.2.1", 5432, disguise)
    with pytest.raises(InvalidValue, match="'ssh'"):
        mitm.MitmRelay("127.0.0.1", 5432, disguise, upstream="ssh")
    with pytest.raises(InvalidValue, match="disguise"):
        mitm.MitmRelay("127.0.0.1", 5432, "mallory.crt")  # type: ignore[arg-type]


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def test_reading_a_scram_exchange_from_bytes() -> None:
    startup = struct.pack("!II", 8 + 5, 196608) + b"u\0x\0\0"
    first = b"p=tls-server-end-point,,n=,r=abc"
    client = startup + _message(b"p", b"SCRAM-SHA-256-PLUS\0" + struct.pack("!I", len(first)) + first)
    server = _message(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")
    seen = mitm.what_the_relay_saw(client, server + b"Passw0rd", password="s3cret-pw")
    assert seen == {"server offered": "SCRAM-SHA-256-PLUS, SCRAM-SHA-256", "client chose": "SCRAM-SHA-256-PLUS",
                    "GS2 header": "p=tls-server-end-point,,", "'Passw0rd' seen": True, "password seen": False}
    assert mitm.what_the_relay_saw(client, server, password="abc")["password seen"]  # control: it can say yes


@pytest.mark.parametrize(("text", "key"), [
    (f'connection to server at "127.0.0.1", port 5416 failed: FATAL:  {CHECK_FAILED}', "channel_binding_mismatch"),
    (f'connection to server at "127.0.0.1", port 5416 failed: {NOT_OFFERED}', "channel_binding_not_offered")],
    ids=["check-failed", "not-offered"])
def test_the_catalogue_knows_the_channel_binding_errors(text: str, key: str) -> None:
    entry = classify(text)
    assert entry is not None and entry.key == key and entry.error_class == "channel binding"
