"""The connector's metadata.yaml and Dockerfile agree with each other and with the package."""

from __future__ import annotations

import uuid

import pytest
import yaml
from tests_support import REPO

FOLDER = REPO / "tap-businesscentral" / "airbyte"
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_metadata_names_the_image_the_dockerfile_builds():
    data = yaml.safe_load((FOLDER / "metadata.yaml").read_text())["data"]
    assert data["connectorType"] == "source"
    uuid.UUID(data["definitionId"])
    dockerfile = (FOLDER / "Dockerfile").read_text()
    assert f"io.airbyte.name={data['dockerRepository']}" in dockerfile
    assert f"io.airbyte.version={data['dockerImageTag']}" in dockerfile
    assert 'ENTRYPOINT ["source-businesscentral"]' in dockerfile
    assert "[airbyte]" in dockerfile


def test_the_executable_and_the_extra_are_declared():
    project = tomllib.loads((REPO / "tap-businesscentral" / "pyproject.toml").read_text())
    scripts = project["project"]["scripts"]
    assert scripts["source-businesscentral"] == "tap_businesscentral.airbyte.cli:main"
    extra = project["project"]["optional-dependencies"]["airbyte"]
    assert any(d.startswith("airbyte-protocol-models-pdv2") for d in extra)
