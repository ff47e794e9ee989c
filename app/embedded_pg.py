"""A private PostgreSQL cluster made with the `initdb`/`pg_ctl` found on this machine.

Two users: `make run` keeps a development cluster in ``./.pgdata`` (so a fresh machine needs no
database set-up), and the test suite makes a throwaway one when neither ``TEST_DATABASE_URL`` nor
a Docker engine is available. PostgreSQL refuses to run as root, so when we are root every server
command runs as the ``postgres`` user, and the data folder is handed to that user.

Command line: ``python -m app.embedded_pg start|stop|url`` (``start`` prints the database URL).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_DATADIR = PROJECT_ROOT / ".pgdata"
DEV_DBNAME = "ledger"
PORT_FILE = "ledger.port"


class EmbeddedPgError(RuntimeError):
    """The local PostgreSQL binaries are missing or a server command failed."""


def find_bin(name: str) -> str:
    """Path of a PostgreSQL server binary: PATH first, then Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise EmbeddedPgError(
        f"`{name}` was not found on PATH or in /usr/lib/postgresql/*/bin; install the PostgreSQL "
        "server package or set DATABASE_URL to an existing database."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """Prefix that runs a command as `postgres` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    return [find_bin("runuser"), "-u", "postgres", "--"]


def _hand_to_server_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("postgres")
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for parent in path.parents:  # every parent must be traversable by that user
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EmbeddedPgError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


@dataclass
class Cluster:
    datadir: Path
    port: int

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    @property
    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        _hand_to_server_user(self.datadir)
        _run(
            _as_server_user()
            + [find_bin("initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
               "--no-locale"]
        )

    def running(self) -> bool:
        proc = subprocess.run(
            _as_server_user() + [find_bin("pg_ctl"), "-D", str(self.datadir), "status"],
            capture_output=True, text=True, check=False,
        )
        return proc.returncode == 0

    def start(self, *, fast: bool = False, settings: Mapping[str, str] | None = None) -> None:
        """Start the server; `settings` are extra ``-c name=value`` server settings (e.g. memory sizes)."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        if fast:  # throwaway clusters: durability is not needed
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for name, value in (settings or {}).items():
            options += f" -c {name}={value}"
        _run(
            _as_server_user()
            + [find_bin("pg_ctl"), "-D", str(self.datadir), "-l", str(self.datadir / "server.log"),
               "-o", options, "-w", "-t", "60", "start"]
        )

    def stop(self) -> None:
        if self.initialised and self.running():
            _run(_as_server_user() + [find_bin("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"])

    def create_database(self, dbname: str) -> None:
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                                       autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def throwaway(datadir: Path, *, fast: bool = True, settings: Mapping[str, str] | None = None) -> Cluster:
    """A new cluster in `datadir` (which must not exist yet), started on a free port.

    `fast` (the default, for tests) turns durability off; the benchmark keeps it on and passes
    its own `settings`.
    """
    cluster = Cluster(datadir, free_port())
    cluster.init()
    cluster.start(fast=fast, settings=settings)
    return cluster


def dev_cluster(datadir: Path = DEV_DATADIR) -> Cluster | None:
    """The development cluster in ./.pgdata, if one was made."""
    port_file = datadir / PORT_FILE
    if not port_file.exists():
        return None
    return Cluster(datadir, int(port_file.read_text().strip()))


def default_url() -> str | None:
    """URL of the development cluster's database, or None when there is none."""
    cluster = dev_cluster()
    return cluster.url(DEV_DBNAME) if cluster else None


def ensure_dev_cluster(datadir: Path = DEV_DATADIR) -> Cluster:
    """Make (once) and start (if stopped) the development cluster; return it."""
    cluster = dev_cluster(datadir)
    if cluster is None or not cluster.initialised:
        cluster = Cluster(datadir, free_port())
        cluster.init()
    if not cluster.running():
        try:
            cluster.start()
        except EmbeddedPgError:  # the remembered port may have been taken since
            cluster.port = free_port()
            cluster.start()
    (datadir / PORT_FILE).write_text(f"{cluster.port}\n")
    cluster.create_database(DEV_DBNAME)
    return cluster


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command == "start":
        print(ensure_dev_cluster().url(DEV_DBNAME))
    elif command == "stop":
        cluster = dev_cluster()
        if cluster:
            cluster.stop()
    elif command == "url":
        url = default_url()
        if not url:
            print("no embedded cluster in ./.pgdata", file=sys.stderr)
            return 1
        print(url)
    else:
        print(f"usage: python -m app.embedded_pg start|stop|url (got {command!r})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
