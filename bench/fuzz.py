"""`make fuzz`: Schemathesis against `/openapi.json` of a freshly migrated service, authenticated.

Makes a throwaway database (or a fresh one in ``FUZZ_DATABASE_URL``'s server), migrates it, loads
the price catalog, makes a platform key with every scope, starts gunicorn as `make run` does, and
runs ``schemathesis run`` for ``FUZZ_SECONDS`` (default 300) with the checks that matter here:
no server error (5xx) and every response as the document describes it. Prints Schemathesis's
report and exits with its status (0: nothing found). Needs the ``fuzz`` extra
(``pip install -e '.[fuzz]'``; `make fuzz` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.client import use_platform_key
from bench.database import fresh_database, make_engine, migrate
from bench.server import gunicorn

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def main() -> int:
    seconds = int(os.environ.get("FUZZ_SECONDS", "300"))
    workdir = Path(tempfile.mkdtemp(prefix="ledger-fuzz-"))
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if schemathesis is None:
        print("fuzz: schemathesis is not installed (pip install -e '.[fuzz]')", file=sys.stderr)
        return 2
    try:
        with fresh_database(os.environ.get("FUZZ_DATABASE_URL"), keep=False) as database:
            engine = make_engine(database.url)
            try:
                migrate(engine)
                key = use_platform_key(engine)
            finally:
                engine.dispose()
            with gunicorn(database.url, workers=2, log_path=workdir / "gunicorn.log") as (host, port, _):
                base = f"http://{host}:{port}"
                print(f"fuzz: {seconds} s of schemathesis against {base}/openapi.json ({database.origin})", flush=True)
                result = subprocess.run(
                    [schemathesis, "run", f"{base}/openapi.json", "--url", base,
                     "--header", f"Authorization: Bearer {key}", "--checks", CHECKS,
                     "--max-time", str(seconds), "--workers", "2", "--max-response-time", "30",
                     "--suppress-health-check", "all", "--no-color"],
                    check=False, capture_output=True, text=True)
                print(result.stdout, result.stderr, sep="\n", flush=True)
                errors = [line for line in (workdir / "gunicorn.log").read_text(errors="replace").splitlines()
                          if "Traceback" in line or re.search(r"\bERROR\b", line)]
                if errors:
                    print(f"fuzz: the server logged {len(errors)} error lines, e.g.:", *errors[:10], sep="\n  ")
                return _verdict(result.returncode, result.stdout, errors)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _verdict(status: int, report: str, server_errors: list[str]) -> int:
    """0 when Schemathesis found nothing and the server logged no error. Schemathesis also exits 1
    for its own runtime errors (e.g. Hypothesis failing to describe a strategy): those are said, and
    are not findings about the service."""
    failures = "\nFailures:" in report
    if server_errors or failures:
        print("fuzz: FOUND problems (see above)")
        return 1
    if status != 0:
        tool = re.findall(r"Runtime Error: (\d+)", report)
        if not tool:  # it did not run through (no schema, no server…): nothing was shown
            print(f"fuzz: schemathesis exited {status} (see above)")
            return status
        print(f"fuzz: no failure found; Schemathesis itself raised {tool[0]} runtime error(s) while generating "
              "cases (listed above under ERRORS), which are not findings about the service")
    else:
        print("fuzz: no failure found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
