"""Shared helpers for the infra checks: paths, and a YAML loader that understands
CloudFormation's short-form tags (!Ref, !Sub, ...) as plain {"Ref": ...} / {"Fn::Sub": ...}."""

import os
import pathlib

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "soyl.yaml"
DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = REPO / "infra" / "docker" / "entrypoint.sh"


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else ("Fn::GetAtt" if suffix == "GetAtt" else f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template():
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def paths_from_env(var, default):
    """Files named by `var` (os.pathsep-separated, relative to the repo or absolute), else `default`."""
    raw = os.environ.get(var)
    if not raw:
        return [REPO / default]
    return [pathlib.Path(p) if os.path.isabs(p) else REPO / p for p in raw.split(os.pathsep) if p]


@pytest.fixture(scope="session")
def template():
    return load_template()
