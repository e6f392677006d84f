"""Run the emulator: seeded data, TLS on loopback, uvicorn, and the settings a client needs.

The same `Emulator` runs in the foreground for `bc-emulator serve` and in a background thread for
pytest fixtures and benchmarks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from typing_extensions import Self

from businesscentral_emulator.app import create_app
from businesscentral_emulator.chaos.faults import FaultPlan, FaultRule, Latency
from businesscentral_emulator.chaos.limits import LimitSettings
from businesscentral_emulator.entra.service import EntraConfig, EntraService
from businesscentral_emulator.rules.writes import WriteSettings
from businesscentral_emulator.store.backend import Backend
from businesscentral_emulator.tls import generate_tls_files

logger = logging.getLogger(__name__)

ONPREM_USER = "ADMIN"
_STARTUP_TIMEOUT = 120.0


@dataclass
class EmulatorConfig:
    """How to run the emulator."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    scale: float = 1.0
    companies: int = 2
    tls: bool = True
    token_lifetime: int = 3599
    data_dir: Path | None = None
    ready_file: Path | None = None
    log_level: str = "warning"
    entra: EntraConfig = field(default_factory=EntraConfig)
    # BC's limits; off here (tests), on with BC's values in the CLI (`bc-emulator serve`).
    limits: LimitSettings = field(default_factory=lambda: LimitSettings(enabled=False))
    conflict_status: int = 409
    latency_ms: float = 0.0
    latency_per_kb_ms: float = 0.0
    fault_seed: int = 0
    faults: list[FaultRule] = field(default_factory=list)


class Emulator:
    """A seeded emulator bound to a port; `start()` in a thread or `serve_forever()`."""

    def __init__(self, config: EmulatorConfig) -> None:
        """Seed the data and bind the socket (so the port is known before serving)."""
        self.config = config
        self._tmp = tempfile.TemporaryDirectory(prefix="bc-emulator-")
        self.data_dir = config.data_dir or Path(self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        entra_config = dataclasses.replace(
            config.entra, access_token_lifetime=config.token_lifetime
        )
        self.entra = EntraService(entra_config)
        self.onprem_password = self.entra.config.client_secret[::-1]
        started = time.perf_counter()
        self.backend = Backend(
            self.data_dir, seed=config.seed, scale=config.scale, companies=config.companies
        )
        self.seed_seconds = time.perf_counter() - started
        self.tls = generate_tls_files(self.data_dir / "tls") if config.tls else None
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((config.host, config.port))
        self.port: int = self.socket.getsockname()[1]
        self.app, self.faults = create_app(
            self.backend,
            self.entra,
            (ONPREM_USER, self.onprem_password),
            self.info,
            (WriteSettings(conflict_status=config.conflict_status), config.limits),
            config.fault_seed,
        )
        self.faults.latency = Latency(config.latency_ms, config.latency_per_kb_ms)
        if config.faults:
            self.faults.arm(FaultPlan(faults=list(config.faults)))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The origin clients talk to."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"{scheme}://{host}:{self.port}"

    def info(self) -> dict[str, Any]:
        """The settings a tap or target needs to connect (the ready file's content)."""
        entra = self.entra.config
        production = self.backend.environments["production"]
        return {
            "api_url": self.base_url,
            "authority_url": self.base_url,
            "tenant_id": entra.tenant_id,
            "tenant_domain": entra.tenant_domain,
            "environment_name": "production",
            "environments": list(self.backend.environments),
            "client_id": entra.client_id,
            "client_secret": entra.client_secret,
            "public_client_id": entra.public_client_id,
            "companies": [{"id": c.id, "name": c.name} for c in production.companies],
            "custom_apis": list(production.apis)[1:],
            "ca_bundle": str(self.tls.ca_bundle) if self.tls else None,
            "onprem_base_url": f"{self.base_url}/BC/api/v2.0",
            "onprem_username": ONPREM_USER,
            "onprem_password": self.onprem_password,
            "admin_url": f"{self.base_url}/_emulator",
            "seed": self.backend.seed,
            "scale": self.backend.scale,
        }

    def _uvicorn(self) -> uvicorn.Server:
        tls = self.tls
        config = uvicorn.Config(
            self.app,
            log_level=self.config.log_level,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
            timeout_keep_alive=75,
            lifespan="off",
        )
        return uvicorn.Server(config)

    def _write_ready_file(self) -> None:
        if self.config.ready_file is None:
            return
        path = self.config.ready_file
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.info(), indent=2))
        partial.chmod(0o600)
        partial.replace(path)

    def start(self) -> Emulator:
        """Serve in a background thread; returns once requests are answered."""
        self._server = self._uvicorn()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                msg = "the emulator did not start"
                raise RuntimeError(msg)
            time.sleep(0.01)
        self._write_ready_file()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted; writes the ready file once serving."""
        self._server = self._uvicorn()
        watcher = threading.Thread(target=self._announce_when_started, daemon=True)
        watcher.start()
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.close()

    def _announce_when_started(self) -> None:
        while self._server is not None and not self._server.started:
            time.sleep(0.01)
        self._write_ready_file()
        logger.warning("Business Central emulator ready at %s", self.base_url)

    def stop(self) -> None:
        """Stop serving and release everything."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Release the socket, databases and temporary files."""
        with contextlib.suppress(OSError):
            self.socket.close()
        for env in self.backend.environments.values():
            env.store.close()
        if self.config.ready_file is not None:
            self.config.ready_file.unlink(missing_ok=True)
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        """Start in a background thread."""
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop."""
        self.stop()
