"""A throwaway local PostgreSQL server for tests and the dev stack (no Docker here).

Installs Debian's `postgresql` package when the binaries are missing, then runs
initdb/pg_ctl as the `postgres` user (the server refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def install_postgres() -> Path:
    if (bindir := _bin_dir()) is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)
        bindir = _bin_dir()
    if bindir is None:
        raise RuntimeError("postgresql binaries not found after install")
    return bindir


@dataclass
class LocalPostgres:
    data_dir: Path
    port: int
    user: str = "boomerang"
    password: str = "boomerang"

    def _as_postgres(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)

    def start(self, timeout: float = 60) -> None:
        bindir = install_postgres()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            pwfile = self.data_dir / "pw"
            pwfile.write_text(self.password)
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            self._as_postgres(
                str(bindir / "initdb"), "-D", str(pgdata), "-U", self.user,
                f"--pwfile={pwfile}", "-A", "scram-sha-256", "--no-sync",
            )
        opts = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(bindir / "pg_ctl"), "-D", str(pgdata), "-o", opts,
            "-l", str(self.data_dir / "server.log"), "-w", "-t", str(int(timeout)), "start",
        )

    def stop(self) -> None:
        bindir = _bin_dir()
        pgdata = self.data_dir / "pgdata"
        if bindir and (pgdata / "postmaster.pid").exists():
            self._as_postgres(str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user={self.user} password={self.password} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

