"""A bad notebook parameter fails at the validation cell, names the parameter and what is allowed, and starts
nothing: no server, no ``state.json`` in the workspace. One row per (lesson, bad value).

Each notebook runs through papermill with labkit's kernels (the way ``labkit run -p`` overrides a
parameter) in a fresh workspace below ``tmp_path``. The validation cell is the one that calls
``lk.begin(`` -- every check of a knob comes before it, so nothing has been started when a value is
refused.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

papermill = pytest.importorskip("papermill")

from labkit.kernels import NOTEBOOK_KERNEL_MANAGER  # noqa: E402 - after the papermill check

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# (notebook, {parameter: bad value}, the parameter named in the error, words the error must contain)
CASES = [
    ("00_requirements", {"backend": "podman"}, "backend", ["'auto', 'local', 'docker'"]),
    ("00_requirements", {"pg_version": "9.6"}, "pg_version", ["12-18"]),
    ("02_version_matrix", {"refresh": "yes"}, "refresh", ["'yes'", "True or False"]),
    ("02_version_matrix", {"pg_version": 19}, "pg_version", ["19", "12-18"]),
    ("01_pki", {"key_type": "dsa"}, "key_type", ["'ecdsa-p256', 'rsa-2048'"]),
    ("10_layer1_ssl_on", {"keep_server": "yes"}, "keep_server", ["True or False"]),
    ("11_layer2_protocols", {"tls_min": "TLSv9"}, "tls_min", ["'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'"]),
    ("11_layer2_protocols", {"tls_max": "TLSv1.0"}, "tls_max", ["'', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'"]),
    ("11_layer2_protocols", {"tls_min": "TLSv1.3", "tls_max": "TLSv1.2"}, "tls_min", ["'TLSv1', 'TLSv1.1', 'TLSv1.2'"]),
    ("12_layer3_hostssl", {"pg_version": 11}, "pg_version", ["12-18"]),
    ("13_layer4_ciphers", {"ciphers": "NOPE-NOTHING"}, "ciphers", ["'NOPE-NOTHING'", "an OpenSSL cipher list"]),
    ("13_layer4_ciphers", {"prefer_server_ciphers": "yes"}, "prefer_server_ciphers", ["'yes'", "True or False"]),
    ("14_layer5_crl", {"crl_source": "everything"}, "crl_source", ["'everything'", "'combined', 'dir'"]),
    ("15_layer6_ca_file", {"ca_bundle": "all"}, "ca_bundle", ["'all'", "'root_only', 'intermediate_only'"]),
    ("15_layer6_ca_file", {"backend": "podman"}, "backend", ["'podman'", "'auto', 'local', 'docker'"]),
    ("16_validate_reload", {"bad_min_protocol": "TLSv1.2"}, "bad_min_protocol",
     ["'TLSv1.2'", "NOT one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"]),
    ("16_validate_reload", {"pg_version": 9}, "pg_version", ["9", "12-18"]),
    ("20_verify_ca", {"sslrootcert_choice": "nowhere"}, "sslrootcert_choice",
     ["'nowhere'", "'root'", "'combined'", "'rogue'", "'missing'"]),
    ("20_verify_ca", {"server_cert": "wrong_host"}, "server_cert", ["'server'", "'server_chain'"]),
    ("21_verify_full", {"host_choice": "db.example"}, "host_choice", ["'localhost'", "'127.0.0.1'"]),
    ("21_verify_full", {"backend": "podman"}, "backend", ["'podman'", "'auto'", "'local'", "'docker'"]),
    ("22_client_cert_auth", {"open_key_mode": 0o600}, "open_key_mode", ["0o600", "0o644, 0o604, 0o666"]),
    # a value that would add a line to labkit.conf is refused before anything starts (issue 8)
    ("16_validate_reload", {"bad_min_protocol": "TLSv1.2'\nlisten_addresses = '127.0.0.1,127.0.0.2'\n#"},
     "bad_min_protocol", ["control characters"]),
    ("22_client_cert_auth", {"use_crl": "yes"}, "use_crl", ["True or False"]),
    ("23_sslmode_matrix", {"tls_max": "TLSv1.4"}, "tls_max", ["'TLSv1.2'", "'TLSv1.3'"]),
    ("23_sslmode_matrix", {"pg_version": "abc"}, "pg_version", ["'abc'", "12-18"]),
    ("30_monitoring", {"plaintext_client": "many"}, "plaintext_client", ["True or False"]),
    ("31_traffic_capture", {"use_tcpdump": "yes"}, "use_tcpdump", ["True or False"]),
    ("32_cert_rotation", {"rotate_to": "server3"}, "rotate_to", ["'server2', 'server_by_root'"]),
    ("32_cert_rotation", {"pg_version": "abc"}, "pg_version", ["12-18"]),
    ("33_passphrase", {"backend": "podman"}, "backend", ["'auto', 'local', 'docker'"]),
    ("33_passphrase", {"restart_timeout": 0}, "restart_timeout", ["an integer from 5 to 120"]),
    ("34_tls12_vs_13", {"old_client_version": "SSLv3"}, "old_client_version", ["'SSLv3'", "'TLSv1', 'TLSv1.1'"]),
    ("34_tls12_vs_13", {"timing_repeats": 0}, "timing_repeats", ["0", "an integer from 1 to 100"]),
    ("35_troubleshooting", {"include_reload_errors": 1}, "include_reload_errors", ["True or False"]),
    ("35_troubleshooting", {"key_type": "dsa"}, "key_type", ["'dsa'", "'ecdsa-p256'"]),
    ("40_man_in_the_middle", {"include_cert_auth": "yes"}, "include_cert_auth", ["True or False"]),
    ("40_man_in_the_middle", {"include_stolen_key": 1}, "include_stolen_key", ["True or False"]),
    ("41_decrypting_the_capture", {"sslmode": "prefer"}, "sslmode", ["'prefer'", "'require', 'verify-ca', 'verify-full'"]),
    ("41_decrypting_the_capture", {"use_tshark": "no"}, "use_tshark", ["True or False"]),
    ("41_decrypting_the_capture", {"plaintext_width": 5}, "plaintext_width", ["5", "an integer from 20 to 400"]),
    ("42_client_trust", {"wrong_host": "localhost"}, "wrong_host", ["'localhost'", "'db.other-host.example'"]),
    ("42_client_trust", {"include_crl_dir": "yes"}, "include_crl_dir", ["True or False"]),
    ("43_direct_tls", {"direct_pg_version": 16}, "direct_pg_version", ["16", "17, 18"]),
    ("43_direct_tls", {"timing_repeats": 0}, "timing_repeats", ["0", "an integer from 1 to 100"]),
    ("44_tls13_suites_groups", {"only_suite": "TLS_AES_512"}, "only_suite", ["'TLS_AES_512'", "'TLS_AES_256_GCM_SHA384'"]),
    ("44_tls13_suites_groups", {"only_group": "x448"}, "only_group", ["'x448'", "'prime256v1', 'secp384r1', 'X25519'"]),
    ("45_cert_to_role_maps", {"domain": "example.net"}, "domain", ["'example.net'", "'example.com', 'example.org'"]),
    ("45_cert_to_role_maps", {"include_dn_map": 1}, "include_dn_map", ["True or False"]),
]


def test_every_lesson_has_a_row() -> None:
    lessons = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    assert lessons == {c[0] for c in CASES}


@pytest.mark.parametrize(("notebook", "params", "name", "words"), CASES,
                         ids=[f"{c[0][:2]}-{'-'.join(c[1])}" for c in CASES])
def test_bad_parameter_fails_at_validation(tmp_path: Path, notebook: str, params: dict[str, object], name: str,
                                           words: list[str]) -> None:
    workspace = tmp_path / "ws"
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(out), kernel_name="python3",
                                   parameters={**params, "workspace": str(workspace)}, cwd=str(NOTEBOOKS),
                                   progress_bar=False, kernel_manager_class=NOTEBOOK_KERNEL_MANAGER)
    error = caught.value
    assert error.ename == "InvalidValue", (error.ename, error.evalue)
    assert f"invalid {name}:" in error.evalue, error.evalue
    for word in words:
        assert word in error.evalue, (word, error.evalue)
    code = [c for c in nbformat.read(str(out), as_version=4).cells if c.cell_type == "code"]
    failed = [c for c in code if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "lk.begin(" in failed[0].source, "failed in another cell than the validation cell"
    assert not (workspace / "state.json").exists(), "a lab was started for a bad parameter"
