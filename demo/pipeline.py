"""The pipeline demo: Business Central -> Meltano -> DuckDB, an incremental run, and a write-back.

Run from the repository root (the README's first command):

    python3 -m pip install uv && uv run --frozen --no-dev --group demo python demo/pipeline.py

It starts the emulator, then drives Meltano with the repository's own meltano.yml in its `demo`
environment: `meltano install` of the three plugins it needs, `meltano run tap-businesscentral
target-duckdb`, a query of the DuckDB file, edits made in "BC" and a second run that picks up
exactly those, and a write-back of a few customers through target-businesscentral. The settings
reach Meltano as environment variables made from the emulator's ready file; nothing is written
to meltano.yml. Every check that fails stops the demo with a non-zero exit, so CI runs it as a
test. The emulator package itself never imports the tap or the target: this script only runs
their command lines through Meltano.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STEPS = 8
STREAMS = ("customers", "salesInvoices", "salesInvoiceLines")
PLUGINS = ("tap-businesscentral", "target-duckdb", "target-businesscentral")
CONNECTION = (
    "tenant_id",
    "environment_name",
    "client_id",
    "client_secret",
    "api_url",
    "authority_url",
    "ca_bundle",
)
DEMO_OUTPUT = REPO / ".meltano" / "demo"
DUCKDB_FILE = DEMO_OUTPUT / "bc.duckdb"
DUCKDB_PYTHON = REPO / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
SCHEMA = "businesscentral"
EDITED_CUSTOMERS = 3
WRITTEN_BACK = 2

# Run by the Python of target-duckdb's own virtualenv: the duckdb that wrote the file reads it.
QUERY = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1], read_only=True) as db:
    print(json.dumps(db.execute(sys.argv[2]).fetchall(), default=str))
"""


class DemoError(Exception):
    """A step did not do what the demo shows it doing."""


class Progress:
    """One line per step, with the time since the start."""

    def __init__(self) -> None:
        """Start the clock."""
        self.started = time.monotonic()
        self.step = 0

    def __call__(self, text: str) -> None:
        """Print the next step's line."""
        self.step += 1
        elapsed = time.monotonic() - self.started
        print(f"[{self.step}/{STEPS} {elapsed:5.0f}s] {text}", flush=True)


def start_emulator(work: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """`bc-emulator serve` on a free loopback port; returns once its ready file exists."""
    ready = work / "ready.json"
    process = subprocess.Popen(
        [
            str(BIN / "bc-emulator"),
            "serve",
            "--seed=1",
            "--scale=1",
            f"--ready-file={ready}",
            f"--data-dir={work / 'data'}",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            msg = "the emulator did not start (bc-emulator serve)"
            raise DemoError(msg)
        time.sleep(0.2)
    return process, json.loads(ready.read_text())


def meltano_environment(info: dict[str, Any]) -> dict[str, str]:
    """Meltano's environment: the demo environment and the emulator's settings for both plugins."""
    env = {k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}}
    env.update(
        MELTANO_ENVIRONMENT="demo",
        MELTANO_VENV_BACKEND="uv" if shutil.which("uv") else "virtualenv",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_DISABLE_TRACKING="true",
        NO_COLOR="1",
    )
    for plugin in ("TAP_BUSINESSCENTRAL", "TARGET_BUSINESSCENTRAL"):
        for name in CONNECTION:
            env[f"{plugin}_{name.upper()}"] = str(info[name])
    return env


def meltano(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run one Meltano command in the repository; its output only when it fails."""
    done = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        msg = f"`meltano {' '.join(args)}` failed (exit {done.returncode})"
        raise DemoError(msg)
    return done.stderr


def query(sql: str) -> list[list[Any]]:
    """Rows of a query of the DuckDB file, read with target-duckdb's own duckdb."""
    done = subprocess.run(
        [str(DUCKDB_PYTHON), "-c", QUERY, str(DUCKDB_FILE), sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        msg = f"querying {DUCKDB_FILE.name} failed: {done.stderr.strip().splitlines()[-1:]}"
        raise DemoError(msg)
    rows: list[list[Any]] = json.loads(done.stdout)
    return rows


class Emulator:
    """What the demo asks of the emulator over HTTP: rows, edits, and the truth to compare with."""

    def __init__(self, info: dict[str, Any]) -> None:
        """Sign in with the ready file's client credentials, trusting only the emulator's CA."""
        self.info = info
        self.session = requests.Session()
        self.session.trust_env = False  # trust the emulator's CA, not REQUESTS_CA_BUNDLE
        self.session.verify = info["ca_bundle"]
        token = self.session.post(
            f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "scope": "https://api.businesscentral.dynamics.com/.default",
            },
            timeout=30,
        )
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        self.root = (
            f"{info['api_url']}/v2.0/{info['tenant_id']}/{info['environment_name']}/api/v2.0"
        )

    def rows(self, entity_set: str) -> list[dict[str, Any]]:
        """Every row of a set in every company (invoice lines through their invoices)."""
        rows: list[dict[str, Any]] = []
        for company in self.info["companies"]:
            path = "salesInvoices" if entity_set == "salesInvoiceLines" else entity_set
            url: str | None = f"{self.root}/companies({company['id']})/{path}"
            params = {"$expand": "salesInvoiceLines"} if path != entity_set else {}
            while url:
                response = self.session.get(url, params=params, timeout=60)
                response.raise_for_status()
                body = response.json(parse_float=Decimal)
                for row in body["value"]:
                    found = row.pop("salesInvoiceLines", None) if params else [row]
                    rows.extend(found or [])
                url, params = body.get("@odata.nextLink"), {}
        return rows

    def customer(self, company_id: str, customer_id: str) -> dict[str, Any]:
        """One customer as BC serves it now."""
        response = self.session.get(
            f"{self.root}/companies({company_id})/customers({customer_id})", timeout=30
        )
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    def company_name(self, company_id: str) -> str:
        """A company's name, for the output."""
        return next(str(c["name"]) for c in self.info["companies"] if c["id"] == company_id)

    def edit(self, entity_set: str, ids: list[str], changes: dict[str, Any]) -> None:
        """Change rows as a BC user would (the emulator's test hook, not BC's API)."""
        response = self.session.post(
            f"{self.info['api_url']}/_emulator/edit",
            json={"entity_set": entity_set, "ids": ids, "changes": changes},
            timeout=60,
        )
        response.raise_for_status()


def table(stream: str) -> str:
    """The DuckDB table of a stream: target-duckdb lower-cases names."""
    return f"{SCHEMA}.{stream.lower()}"


def snapshot(stream: str, columns: str) -> dict[str, tuple[Any, ...]]:
    """Each row's id -> the given columns, to tell which rows a run changed."""
    rows = query(f"SELECT id, {columns} FROM {table(stream)}")
    return {str(row[0]): tuple(row[1:]) for row in rows}


def show_counts(bc: Emulator) -> None:
    """Rows per table, next to the emulator's count: any row lost fails the demo."""
    for stream in STREAMS:
        loaded = query(f"SELECT count(*) FROM {table(stream)}")[0][0]
        expected = len(bc.rows(stream))
        print(f"      {stream:<20} {loaded:>6} rows in DuckDB, {expected:>6} in BC")
        if loaded != expected:
            msg = f"{stream}: {loaded} rows loaded, BC has {expected}"
            raise DemoError(msg)


def show_sales_by_customer() -> None:
    """The business query: invoiced sales by customer, from invoice headers and their lines."""
    rows = query(
        f"""
        SELECT i.customernumber, i.customername, count(DISTINCT i.id),
               round(sum(l.amountincludingtax), 2) AS sales
        FROM {table("salesInvoices")} i JOIN {table("salesInvoiceLines")} l ON l.documentid = i.id
        GROUP BY 1, 2 ORDER BY sales DESC LIMIT 5
        """
    )
    print("      top customers by invoiced sales (incl. tax):")
    for number, name, invoices, sales in rows:
        print(f"        {number:>8}  {name:<36} {invoices:>3} invoices {sales:>12,.2f}")


def edit_and_rerun(bc: Emulator, env: dict[str, str]) -> list[dict[str, Any]]:
    """Edit a few customers in BC, run again, and show that exactly those rows changed."""
    rows = query(
        f"SELECT id, companyid, displayname FROM {table('customers')}"
        f" ORDER BY number, companyid LIMIT {EDITED_CUSTOMERS}"
    )
    edited = [{"id": i, "companyId": c, "displayName": n} for i, c, n in rows]
    before = snapshot("customers", "displayname, phonenumber")
    stamp = time.strftime("%H%M%S")
    for number, customer in enumerate(edited):
        bc.edit("customers", [customer["id"]], {"phoneNumber": f"+1 555 {stamp}{number}"})
    meltano(env, "run", "tap-businesscentral", "target-duckdb")
    after = snapshot("customers", "displayname, phonenumber")
    changed = sorted(key for key in after if after[key] != before.get(key))
    for key in changed:
        print(f"      customer {key}: phone {before[key][1]!r} -> {after[key][1]!r}")
    if changed != sorted(c["id"] for c in edited) or len(after) != len(before):
        msg = f"the incremental run changed {changed}, not the {len(edited)} edited customers"
        raise DemoError(msg)
    print(f"      the second run changed exactly the {len(changed)} edited rows")
    return edited


def write_back(bc: Emulator, env: dict[str, str], customers: list[dict[str, Any]]) -> None:
    """Send changed customers to target-businesscentral through Meltano; show them in BC."""
    schema = {
        "type": "SCHEMA",
        "stream": "customers",
        "key_properties": ["companyId", "id"],
        "schema": {
            "type": "object",
            "properties": {
                "companyId": {"type": "string"},
                "id": {"type": "string"},
                "displayName": {"type": "string"},
            },
        },
    }
    lines = [json.dumps(schema)]
    lines.extend(
        json.dumps({"type": "RECORD", "stream": "customers", "record": c}) for c in customers
    )
    log = meltano(env, "invoke", "target-businesscentral", stdin="\n".join(lines) + "\n")
    summary = [line for line in log.splitlines() if "Summary customers" in line]
    print("      " + (summary[-1].split("Summary", 1)[1].strip() if summary else "written"))
    for customer in customers:
        now = bc.customer(customer["companyId"], customer["id"])
        company = bc.company_name(customer["companyId"])
        print(f"      BC now has customer {now['number']} in {company}: {now['displayName']!r}")
        if now["displayName"] != customer["displayName"]:
            msg = f"customer {customer['id']} did not change in BC"
            raise DemoError(msg)


def run_steps(progress: Progress, bc: Emulator, env: dict[str, str]) -> None:
    """Steps 2 to 6, against a started emulator."""
    DEMO_OUTPUT.mkdir(parents=True, exist_ok=True)
    DUCKDB_FILE.unlink(missing_ok=True)  # a fresh file, and so a fresh state (below)
    meltano(env, "state", "clear", "--force", "demo:tap-businesscentral-to-target-duckdb")

    progress(f"meltano install {' '.join(PLUGINS)} (slow only the first time) ...")
    meltano(env, "install", *PLUGINS)

    progress("meltano run tap-businesscentral target-duckdb (first run: every row) ...")
    meltano(env, "run", "tap-businesscentral", "target-duckdb")

    progress(f"Querying {DUCKDB_FILE.relative_to(REPO)} with duckdb:")
    show_counts(bc)
    show_sales_by_customer()

    progress(f"Editing {EDITED_CUSTOMERS} customers in BC, then running again (incremental) ...")
    edited = edit_and_rerun(bc, env)

    back = [{**c, "displayName": f"{c['displayName']} (from DuckDB)"} for c in edited]
    back = back[:WRITTEN_BACK]
    progress(f"Writing {len(back)} changed customers back: meltano invoke target-businesscentral")
    write_back(bc, env, back)


def run_demo(work: Path) -> None:
    """Every step, the emulator's files in ``work``; the emulator stops whatever happens."""
    progress = Progress()
    progress("Starting the Business Central emulator (seed 1) on loopback ...")
    process, info = start_emulator(work)
    bc = None
    try:
        bc = Emulator(info)
        run_steps(progress, bc, meltano_environment(info))
        progress("Stopping the emulator and removing its files ...")
    finally:
        if bc is not None:
            bc.session.close()  # no idle keep-alive connection for the server to wait on
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    progress(f"Done. The DuckDB file stays at {DUCKDB_FILE} (Meltano's state in .meltano/).")


def main() -> int:
    """Run the demo; on a failed step, exit 1 with one line that names it."""
    os.chdir(REPO)
    with tempfile.TemporaryDirectory(prefix="bc-demo-") as folder:
        try:
            run_demo(Path(folder))
        except DemoError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
