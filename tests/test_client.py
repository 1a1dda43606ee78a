"""attempt(): the record it returns, the secrets it never shows, the client files it never reads by accident.

The HOME tests first prove the danger is real (libpq 18 in this process does read ``$HOME/.postgresql`` at
connect time), then that attempt() is immune to it unless ``home=`` asks for exactly that.
"""
from __future__ import annotations

import fcntl
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from psycopg.conninfo import conninfo_to_dict

from labkit.client import AttemptResult, attempt, session
from labkit.roles import ensure_role
from labkit.tables import FRAME_COLUMNS, attempts_frame
from labkit.tables import attempts as styled
from labkit.errors import InvalidValue, LabkitError
from labkit.pki import LabPKI
from labkit.server import LabServer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.getbasetemp() / "labkit-pki")


def role_password(lab: LabServer, role: str) -> str:
    """A lesson role with a generated password (labkit's one role routine)."""
    return ensure_role(lab, role)


def tls_on(lab: LabServer, pki: LabPKI, hba: list[str] | None = None, **settings: object) -> None:
    lab.set_settings({"ssl_cert_file": lab.deliver("server-chain.crt", pki.paths.server_chain_crt, 0o644),
                      "ssl_key_file": lab.deliver("server.key", pki.paths.server_key, 0o600),
                      "ssl_ca_file": lab.deliver("combined.crt", pki.paths.combined_crt, 0o644),
                      "ssl_crl_file": lab.deliver("combined.crl", pki.paths.combined_crl, 0o644), **settings},
                     replace=True)
    lab.set_hba_rules(hba)
    assert lab.reload().ok


def every_text(result: AttemptResult) -> str:
    """Everything a reader could see of a result: each field, the row, the table, the repr."""
    return "\n".join([repr(result), str(result.as_row()), attempts_frame([result]).to_string(), result.psql])


# ---------------------------------------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------------------------------------


def test_record_of_a_verified_connection_with_client_certificate(any_lab: LabServer, pki: LabPKI) -> None:
    tls_on(any_lab, pki)
    p = pki.paths
    ok = attempt(any_lab, label="full", sslmode="verify-full", sslrootcert=p.root_crt, sslcert=p.client_crt,
                 sslkey=p.client_key)
    assert ok.connected and ok.error_key is None and ok.error_text == "" and ok.error_class is None
    assert (ok.label, ok.ssl, ok.tls_version, ok.bits, ok.compression) == ("full", True, "TLSv1.3", 256, "off")
    assert ok.cipher and ok.cipher.startswith("TLS_")
    assert ok.server_version and ok.server_version.startswith(str(any_lab.state.pg_major))
    assert ok.current_user == "postgres"
    serial = x509.load_pem_x509_certificate(p.client_crt.read_bytes()).serial_number
    assert ok.ssl_is_used is True and ok.ssl_client_cert_present is True
    assert ok.ssl_client_serial == str(serial)
    assert ok.ssl_client_dn == "/O=pgtls-lab/CN=conssl"
    assert ok.ssl_issuer_dn == "/O=pgtls-lab/CN=pgtls-lab Intermediate CA"
    assert ok.pg_stat_ssl["ssl"] is True and ok.pg_stat_ssl["version"] == "TLSv1.3"
    assert ok.pg_stat_ssl["client_serial"] == str(serial)
    assert ok.params == {"host": any_lab.host, "port": str(any_lab.port), "user": "postgres", "dbname": "postgres",
                         "sslmode": "verify-full", "sslrootcert": str(p.root_crt), "sslcert": str(p.client_crt),
                         "sslkey": str(p.client_key)}
    assert 0 < ok.duration_ms < 5000
    assert "connection authorized" in ok.server_log and f"[{ok.pg_stat_ssl['pid']}]" in ok.server_log

    # failing control: the same call trusting another CA
    bad = attempt(any_lab, label="rogue", sslmode="verify-full", sslrootcert=p.rogue_ca_crt)
    assert not bad.connected and bad.error_key == "server_cert_untrusted"
    assert bad.error_class == "server certificate not verified" and bad.entry and bad.entry.fix
    assert bad.tls_version is None and bad.pg_stat_ssl == {} and bad.ssl_client_dn is None
    assert bad.outcome == "server_cert_untrusted" and ok.outcome == "TLSv1.3"


def test_plain_connection_record(any_lab: LabServer) -> None:
    plain = attempt(any_lab, sslmode="disable")
    assert plain.connected and plain.ssl is False and plain.tls_version is None and plain.outcome == "no TLS"
    assert plain.ssl_is_used is False and plain.pg_stat_ssl["ssl"] is False


def test_sslinfo_missing_falls_back_to_pg_stat_ssl(any_lab: LabServer, pki: LabPKI) -> None:
    """sslinfo exists only in db postgres; in template1 the same facts come from pg_stat_ssl."""
    tls_on(any_lab, pki)
    p = pki.paths
    r = attempt(any_lab, dbname="template1", sslmode="require", sslcert=p.client_crt, sslkey=p.client_key)
    assert r.connected and r.ssl_is_used is True and r.ssl_client_cert_present is True
    assert r.ssl_client_dn == "/O=pgtls-lab/CN=conssl"


# ---------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------


def test_no_password_in_any_field(any_lab: LabServer, pki: LabPKI, tmp_path: Path) -> None:
    password = role_password(any_lab, "reporter")
    role_password(any_lab, "conssl")
    tls_on(any_lab, pki, ["hostssl all reporter 0.0.0.0/0 scram-sha-256", "hostssl all conssl 0.0.0.0/0 cert"])
    good = attempt(any_lab, sslmode="require", user="reporter", password=password)
    wrong = attempt(any_lab, sslmode="require", user="reporter", password="Wr0ng-but-secret")
    assert good.connected and wrong.error_key == "password_failed"
    key = tmp_path / "enc.key"
    k = serialization.load_pem_private_key(pki.paths.client_key.read_bytes(), None)
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(b"key-passphrase-42")))
    key.chmod(0o600)
    cert = attempt(any_lab, sslmode="require", user="conssl", password=None, sslcert=pki.paths.client_crt,
                   sslkey=key, sslpassword="key-passphrase-42")
    assert cert.connected, cert.error_text
    lab_password = any_lab.workspace.secret("postgres-password")
    for result, secret in ((good, password), (wrong, "Wr0ng-but-secret"), (cert, "key-passphrase-42")):
        text = every_text(result)
        assert secret not in text and lab_password not in text
    assert good.psql.startswith("PGPASSWORD=*** psql ")
    assert "sslpassword=***" in cert.psql and cert.params["sslpassword"] == "***"
    lab_pw = attempt(any_lab, sslmode="require")
    assert lab_pw.psql.startswith(f"PGPASSFILE={any_lab.workspace.passfile} psql ")
    assert lab_password not in every_text(lab_pw)


def test_psql_command_is_the_equivalent_command(any_lab: LabServer, pki: LabPKI, tmp_path: Path) -> None:
    """The psql string parses back to the same parameters, and a real psql run with it connects the same way."""
    tls_on(any_lab, pki)
    odd = tmp_path / "dir with space" / "it's root.crt"
    odd.parent.mkdir()
    shutil.copy(pki.paths.root_crt, odd)
    result = attempt(any_lab, sslmode="verify-ca", sslrootcert=odd)
    assert result.connected, result.error_text
    words = shlex.split(result.psql)
    assert words[0].startswith("PGPASSFILE=") and words[1] == "psql"
    assert conninfo_to_dict(words[2]) == result.params
    psql = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    if psql is None:
        pytest.skip("no psql binary on this machine to run the command with")
    run = subprocess.run(["bash", "-c", result.psql.replace(" psql ", f" {psql} ", 1)
                          + " -Atc 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'"],
                         capture_output=True, text=True, timeout=30, env={**os.environ, "HOME": str(tmp_path)},
                         check=False)
    assert (run.returncode, run.stdout.strip()) == (0, "t"), run.stderr
    # failing control: the same command pointing at the foreign CA is refused by psql too
    rogue = attempt(any_lab, sslmode="verify-ca", sslrootcert=pki.paths.rogue_ca_crt)
    run = subprocess.run(["bash", "-c", rogue.psql.replace(" psql ", f" {psql} ", 1) + " -Atc 'SELECT 1'"],
                         capture_output=True, text=True, timeout=30, env={**os.environ, "HOME": str(tmp_path)},
                         check=False)
    assert run.returncode != 0 and "certificate verify failed" in run.stderr


# ---------------------------------------------------------------------------------------------------------
# HOME isolation
# ---------------------------------------------------------------------------------------------------------


def _home(root: Path, **files: Path | bytes) -> Path:
    folder = root / ".postgresql"
    folder.mkdir(parents=True)
    for name, content in files.items():
        target = folder / name.replace("_", ".")
        target.write_bytes(content if isinstance(content, bytes) else content.read_bytes())
        target.chmod(0o600)
    return root


def test_home_client_files_are_never_read_unless_asked(any_lab: LabServer, pki: LabPKI, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    tls_on(any_lab, pki)
    p = pki.paths
    bogus = _home(tmp_path / "bogus", postgresql_crt=b"-- not a certificate --\n")
    monkeypatch.setenv("HOME", str(bogus))
    # the danger is real: libpq in this process reads $HOME/.postgresql at connect time
    with pytest.raises(psycopg.OperationalError, match=re.escape(f"{bogus}/.postgresql/postgresql.crt")):
        psycopg.connect(**any_lab.conninfo(sslmode="require")).close()
    # attempt() does not read it ...
    isolated = attempt(any_lab, sslmode="require")
    assert isolated.connected and isolated.ssl_client_cert_present is False, isolated.error_text
    assert isolated.client_defaults == "isolated"
    # ... unless home= points there
    asked = attempt(any_lab, sslmode="require", home=bogus)
    assert asked.error_key == "client_file_unreadable" and str(bogus) in asked.error_text
    assert asked.client_defaults == f"HOME={bogus}" and asked.psql.startswith(f"HOME={bogus} ")
    assert os.environ["HOME"] == str(bogus)  # restored after the connect

    # a complete ~/.postgresql as the guide prepares it: the client certificate is sent, root.crt verifies
    good = _home(tmp_path / "good", postgresql_crt=p.client_chain_crt, postgresql_key=p.client_key,
                 root_crt=p.root_crt)
    used = attempt(any_lab, sslmode="verify-ca", home=good)
    assert used.connected and used.ssl_client_dn == "/O=pgtls-lab/CN=conssl", used.error_text
    assert attempt(any_lab, sslmode="verify-ca").error_key == "root_cert_missing"  # control: isolated again
    # a root.crt in HOME turns sslmode=require into verification (libpq's compatibility rule)
    rogue = _home(tmp_path / "rogue", root_crt=p.rogue_ca_crt)
    assert attempt(any_lab, sslmode="require", home=rogue).error_key == "server_cert_untrusted"
    assert attempt(any_lab, sslmode="require").connected


def test_environment_variables_do_not_leak_in(any_lab: LabServer, pki: LabPKI, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    tls_on(any_lab, pki)
    p = pki.paths
    for var, value in {"PGSSLROOTCERT": str(p.rogue_ca_crt), "PGSSLCERT": str(tmp_path / "nothing.crt"),
                       "PGPASSWORD": "wrong-password", "PGSSLMAXPROTOCOLVERSION": "TLSv1.2",
                       "PGSSLCERTMODE": "require", "PGHOSTADDR": "127.0.0.2"}.items():
        monkeypatch.setenv(var, value)
    # control: plain libpq obeys them (and fails)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**any_lab.conninfo(sslmode="require")).close()
    clean = attempt(any_lab, sslmode="require")
    assert clean.connected and clean.tls_version == "TLSv1.3", clean.error_text
    assert "ignored from the environment" in clean.client_defaults and "PGSSLCERTMODE" in clean.client_defaults
    assert "wrong-password" not in every_text(clean)
    # home= mode: PGSSLCERT/PGSSLROOTCERT must not override <home>/.postgresql, and they are restored after
    good = _home(tmp_path / "good", postgresql_crt=p.client_chain_crt, postgresql_key=p.client_key,
                 root_crt=p.root_crt)
    used = attempt(any_lab, sslmode="verify-ca", home=good)
    assert used.connected and used.ssl_client_dn == "/O=pgtls-lab/CN=conssl", used.error_text
    assert os.environ["PGSSLCERT"] == str(tmp_path / "nothing.crt")


def test_isolation_folder_must_stay_empty(any_lab: LabServer) -> None:
    folder = Path(any_lab.workspace.path) / "client" / "no-home" / ".postgresql"
    attempt(any_lab, sslmode="disable")
    planted = folder / "root.crt"
    planted.write_text("x")
    try:
        with pytest.raises(LabkitError, match="must stay empty"):
            attempt(any_lab, sslmode="require")
    finally:
        planted.unlink()
    assert attempt(any_lab, sslmode="require").connected


# ---------------------------------------------------------------------------------------------------------
# Server log of one attempt
# ---------------------------------------------------------------------------------------------------------


def test_server_log_belongs_to_the_attempt(any_lab: LabServer, pki: LabPKI) -> None:
    tls_on(any_lab, pki)
    p = pki.paths
    started = time.perf_counter()
    revoked = attempt(any_lab, sslmode="require", sslcert=p.revoked_client_crt, sslkey=p.revoked_client_key)
    assert time.perf_counter() - started < 1.0  # bounded wait, not a fixed sleep per attempt
    assert revoked.error_key == "cert_revoked"
    lines = [ln for ln in revoked.server_log.splitlines() if not ln.startswith("\t")]
    pids = {re.search(r"\[(\d+)\]", ln).group(1) for ln in lines}  # type: ignore[union-attr]
    assert len(pids) == 1, revoked.server_log
    assert "connection received: host=127.0.0.1" in lines[0]
    assert any("could not accept SSL connection: certificate verify failed" in ln for ln in lines)
    nxt = attempt(any_lab, sslmode="require")
    assert pids.isdisjoint(set(re.findall(r"\[(\d+)\]", nxt.server_log)))
    # reload lines of the postmaster and admin-channel sessions are not an attempt's lines
    assert "SIGHUP" not in nxt.server_log and "[local]" not in nxt.server_log


def test_silent_failures_do_not_wait(any_lab: LabServer, pki: LabPKI) -> None:
    tls_on(any_lab, pki, ssl=False)
    started = time.perf_counter()
    result = attempt(any_lab, sslmode="require")
    assert result.error_key == "server_no_ssl"
    assert time.perf_counter() - started < 0.3


def test_no_wait_when_the_server_does_not_log_connections(any_lab: LabServer) -> None:
    any_lab.set_settings({"log_connections": False})
    assert any_lab.reload().ok
    started = time.perf_counter()
    quiet = attempt(any_lab, sslmode="require")
    assert quiet.connected and quiet.server_log == ""
    assert time.perf_counter() - started < 0.3
    any_lab.set_settings({"log_connections": None})
    assert any_lab.reload().ok
    assert "connection authorized" in attempt(any_lab, sslmode="require").server_log  # control


# ---------------------------------------------------------------------------------------------------------
# Tables, sessions, argument errors
# ---------------------------------------------------------------------------------------------------------


def test_frame_and_styling(any_lab: LabServer, pki: LabPKI) -> None:
    tls_on(any_lab, pki)
    results = [attempt(any_lab, label=m, sslmode=m) for m in ("disable", "require", "verify-ca")]
    frame = attempts_frame(results)
    assert frame.shape == (3, len(FRAME_COLUMNS))
    assert list(frame.columns[:3]) == ["label", "connected", "outcome"]
    assert list(frame["outcome"]) == ["no TLS", "TLSv1.3", "root_cert_missing"]
    assert frame.loc[2, "fix"].startswith("Pass sslrootcert")
    html = styled(frame).to_html()
    blocks = re.findall(r"([^{}]+)\{([^}]*)\}", html)
    green = " ".join(sel for sel, body in blocks if "background-color: #c8e6c9" in body)
    red = " ".join(sel for sel, body in blocks if "background-color: #ffcdd2" in body)
    assert "row0_col0" in green and "row1_col2" in green and "row2_col0" in red and "row2_col0" not in green
    assert attempts_frame([]).shape == (0, len(FRAME_COLUMNS))


def test_session_holds_a_connection(any_lab: LabServer, pki: LabPKI) -> None:
    tls_on(any_lab, pki)
    with session(any_lab, sslmode="verify-full", sslrootcert=pki.paths.root_crt) as conn:
        row = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True, "TLSv1.3")
    assert conn.closed
    with pytest.raises(LabkitError, match="root certificate file") as refused, \
            session(any_lab, sslmode="verify-full"):
        pass
    assert refused.value.hint and "sslrootcert" in refused.value.hint
    with pytest.raises(InvalidValue, match="keyword"), session(any_lab, sslmod="require"):
        pass


def test_argument_mistakes_fail_before_connecting(any_lab: LabServer, tmp_path: Path) -> None:
    mark = any_lab.log_mark()
    with pytest.raises(InvalidValue, match="sslmode"):
        attempt(any_lab, sslmode="verify_full")
    with pytest.raises(InvalidValue, match="home"):
        attempt(any_lab, home=tmp_path / "missing")
    with pytest.raises(InvalidValue, match="invalid connection option"):
        attempt(any_lab, extra={"no_such_option": 1})
    assert "connection received" not in any_lab.log_since(mark)


# ---------------------------------------------------------------------------------------------------------
# An encrypted key without sslpassword must not prompt on the terminal
# ---------------------------------------------------------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path
import psycopg
from labkit.server import LabServer
lab = LabServer.attach(sys.argv[1])
crt, key, mode = sys.argv[2], sys.argv[3], sys.argv[4]
if mode == "attempt":
    from labkit.client import attempt
    print("RESULT", attempt(lab, sslmode="require", sslcert=crt, sslkey=key).error_key, flush=True)
else:
    try:
        psycopg.connect(host=lab.host, port=lab.port, sslmode="require", sslcert=crt, sslkey=key, user="x")
    except psycopg.Error as exc:
        print("RESULT", exc, flush=True)
"""


def _run_on_a_terminal(argv: list[str], timeout: float) -> str:
    """Run argv with a pseudo-terminal as its controlling tty (what OpenSSL prompts on); return what it wrote,
    killing it after ``timeout`` if it is still waiting."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # preexec_fn is the only way to give the child a controlling terminal; the child runs no Python
    # code between fork and exec other than these two calls
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=take_terminal,  # noqa: PLW1509
                             env=env)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
                if b"RESULT" in output and output.endswith(b"\n"):
                    break
                if b"pass phrase" in output:
                    break
            elif child.poll() is not None:
                break
    finally:
        child.kill()
        child.wait()
        os.close(master)
    return output.decode(errors="replace")


def test_encrypted_key_without_password_does_not_prompt(lab16: LabServer, pki: LabPKI, tmp_path: Path) -> None:
    key = tmp_path / "enc.key"
    k = serialization.load_pem_private_key(pki.paths.client_key.read_bytes(), None)
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(b"passphrase")))
    key.chmod(0o600)
    base = [sys.executable, "-c", _CHILD, str(lab16.workspace.path), str(pki.paths.client_crt), str(key)]
    # control: plain libpq on a terminal asks for the pass phrase (and would wait for ever)
    assert "Enter PEM pass phrase" in _run_on_a_terminal([*base, "raw"], timeout=20)
    output = _run_on_a_terminal([*base, "attempt"], timeout=20)
    assert "pass phrase" not in output and "RESULT key_bad_decrypt" in output, output


def test_open_session_stays_open_until_closed(lab16: LabServer) -> None:
    from labkit.client import open_session

    conn = open_session(lab16, sslmode="require")
    try:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
    finally:
        conn.close()
    with pytest.raises(LabkitError, match="connection refused"):
        open_session(lab16, sslmode="require", user="nobody_at_all")
    with pytest.raises(InvalidValue, match="keyword"):
        open_session(lab16, sslmod="require")
