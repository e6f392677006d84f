"""The packages install the ways users install them, each into an environment of its own.

From built wheels with pip; from a git URL (`git+file://` of a temporary clone: a real git
install, with no network) with pip and with uv; and with `meltano install` from the repo's
meltano.yml under Meltano's virtualenv (pip) and uv backends. Each installed command then runs
from its own environment, not from the one running the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests_support import CONNECTION_SETTINGS, REPO, client_config, meltano_env

BIN = Path(sys.executable).parent
VERSION = "0.1.0"
WHEELS = {
    "businesscentral-api": "businesscentral_api",
    "tap-dynamics-businesscentral": "tap_dynamics_businesscentral",
    "target-dynamics-businesscentral": "target_dynamics_businesscentral",
    "businesscentral-emulator": "businesscentral_emulator",
}

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def repository_copy(folder: Path) -> Path:
    """The repository's files (tracked or new, not ignored) committed to a fresh git repo."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    git = ("git", "-c", "user.name=test", "-c", "user.email=test@example.com")
    run(*git, "init", "--quiet", "--initial-branch=main", cwd=folder)
    run(*git, "add", "--all", cwd=folder)
    run(*git, "commit", "--quiet", "--message", "copy", cwd=folder)
    return folder


def about(executable: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(run(executable, "--about", "--format=json"))
    return document


def fresh_venv(folder: Path) -> Path:
    """A venv holding the locked third-party dependencies, none of this repository's packages.

    uv puts them in from its cache in seconds; pip then resolves and installs our packages
    (finding the dependencies satisfied) instead of spending a minute downloading the same ones.
    """
    run(sys.executable, "-m", "venv", folder)
    requirements = folder.parent / f"{folder.name}-requirements.txt"
    export = ("export", "--frozen", "--no-dev", "--no-emit-workspace", "--all-packages")
    run(BIN / "uv", *export, "--no-hashes", "--output-file", requirements, cwd=REPO)
    run(BIN / "uv", "pip", "install", "--quiet", "--python", folder / "bin" / "python",
        "--requirement", requirements)  # fmt: skip
    return folder / "bin"


def test_built_wheels_install_with_pip_and_every_command_runs(tmp_path):
    dist = tmp_path / "dist"
    run(BIN / "uv", "build", "--all-packages", "--quiet", "--out-dir", dist, cwd=REPO)
    wheels = {name: dist / f"{stem}-{VERSION}-py3-none-any.whl" for name, stem in WHEELS.items()}
    for name, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            metadata = archive.read(f"{WHEELS[name]}-{VERSION}.dist-info/METADATA").decode()
        assert f"{WHEELS[name]}-{VERSION}.dist-info/licenses/LICENSE" in names, name
        assert "License-Expression: Apache-2.0" in metadata, name
        assert f"Name: {name}" in metadata

    venv = fresh_venv(tmp_path / "venv")
    run(venv / "python", "-m", "pip", "install", "--quiet", *wheels.values())
    tap = about(venv / "tap-businesscentral")
    assert (tap["name"], tap["version"]) == ("tap-businesscentral", VERSION)
    target = about(venv / "target-businesscentral")
    assert (target["name"], target["version"]) == ("target-businesscentral", VERSION)
    assert "--device-code" in run(venv / "bc-login", "--help")

    # The emulator runs from its wheel (its EDMX inside), and the tap from its wheel reads it.
    ready = tmp_path / "ready.json"
    args = ("serve", "--port", "0", "--scale", "0.1", "--ready-file", ready)
    emulator = subprocess.Popen(
        [str(venv / "bc-emulator"), *map(str, args), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and emulator.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), "the emulator from its wheel did not start"
        config = tmp_path / "config.json"
        config.write_text(json.dumps(client_config(json.loads(ready.read_text()))))
        catalog = json.loads(run(venv / "tap-businesscentral", "--config", config, "--discover"))
        assert "customers" in {stream["tap_stream_id"] for stream in catalog["streams"]}
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return repository_copy(tmp_path_factory.mktemp("clone"))


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_tap_and_target_install_from_a_git_url(installer, clone, tmp_path):
    # Bare URLs, as a Meltano pip_url holds them (it splits on whitespace, so no "name @ url").
    url = f"git+file://{clone}"
    requirements = [
        f"{url}#subdirectory=businesscentral-api",
        f"{url}#subdirectory=tap-businesscentral",
        f"{url}#subdirectory=target-businesscentral",
    ]
    if installer == "pip":
        venv = fresh_venv(tmp_path / "venv")
        run(venv / "python", "-m", "pip", "install", "--quiet", *requirements)
    else:
        run(BIN / "uv", "venv", "--quiet", "--python", sys.executable, tmp_path / "venv")
        venv = tmp_path / "venv" / "bin"
        run(BIN / "uv", "pip", "install", "--quiet", "--python", venv / "python", *requirements)
    assert about(venv / "tap-businesscentral")["version"] == VERSION
    assert about(venv / "target-businesscentral")["version"] == VERSION


@pytest.mark.parametrize("backend", ["virtualenv", "uv"])
def test_meltano_install_with_each_backend_then_the_tap_discovers(backend, emulator, tmp_path):
    project = repository_copy(tmp_path / "project")
    env = meltano_env(MELTANO_VENV_BACKEND=backend)
    # The plugins must come from Meltano's virtualenvs, not from this environment's PATH.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != BIN)
    meltano = str(BIN / "meltano")
    run(meltano, "install", "tap-businesscentral", "target-businesscentral", cwd=project, env=env)

    for kind, name in (
        ("extractors", "tap-businesscentral"),
        ("loaders", "target-businesscentral"),
    ):
        installed = project / ".meltano" / kind / name / "venv" / "bin" / name
        assert about(installed)["version"] == VERSION
    out = run(meltano, "invoke", "target-businesscentral", "--about", cwd=project, env=env)
    assert "Version: 0.1.0" in out

    for name in CONNECTION_SETTINGS:
        env[f"TAP_BUSINESSCENTRAL_{name.upper()}"] = str(emulator.info[name])
    catalog = json.loads(
        run(meltano, "invoke", "tap-businesscentral", "--discover", cwd=project, env=env)
    )
    assert "customers" in {stream["tap_stream_id"] for stream in catalog["streams"]}
