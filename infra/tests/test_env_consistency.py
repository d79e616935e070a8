"""One source of truth for names: every environment variable the template gives a soyl process is
one that process reads (a `SOYL_*` env of submitter/src/config.rs, or one the image's entrypoint
reads), the settings the AWS backend requires are set, and they name the resources the template
creates with the names, prefixes and limits the binaries expect.

The config file is `submitter/src/config.rs` of this checkout; SOYL_CONFIG_RS overrides it with one
or more paths (os.pathsep-separated, their names are unioned), e.g. to check against a branch
that is not merged yet. SOYL_ITEM_RS does the same for jobs/src/aws/dynamo/item.rs."""

import re

import pytest

from conftest import ENTRYPOINT, paths_from_env

CONFIG_FILES = paths_from_env("SOYL_CONFIG_RS", "submitter/src/config.rs")
ITEM_FILES = paths_from_env("SOYL_ITEM_RS", "jobs/src/aws/dynamo/item.rs")

# Read by the Lambda Web Adapter extension in the API image, not by soyl.
ADAPTER_PREFIX = "AWS_LWA_"
REQUIRED_EVERYWHERE = {"SOYL_BACKEND", "SOYL_QUEUE_URL", "SOYL_BUCKET", "SOYL_TABLE"}
REQUIRED_WORKER = REQUIRED_EVERYWHERE | {"SOYL_DLQ_URL", "SOYL_MODELS_URI", "SOYL_VISIBILITY_TIMEOUT_S",
                                         "SOYL_MAX_RECEIVES", "SOYL_STOP_TIMEOUT_S", "SOYL_LISTEN"}


def config_text():
    missing = [str(p) for p in CONFIG_FILES if not p.is_file()]
    assert not missing, f"config file(s) not found: {missing}"
    return "\n".join(p.read_text() for p in CONFIG_FILES)


def binary_env_names():
    return set(re.findall(r'env\s*=\s*"(SOYL_[A-Z0-9_]+)"', config_text()))


def binary_default(env):
    """The `default_value = "..."` of the clap field whose env is `env`."""
    for attr in re.findall(r"#\[arg\((.*?)\)\]", config_text(), flags=re.S):
        if f'env = "{env}"' in attr:
            m = re.search(r'default_value\s*=\s*"([^"]*)"', attr)
            return m.group(1) if m else None
    return None


def entrypoint_env_names():
    return set(re.findall(r"\$\{(SOYL_[A-Z0-9_]+)", ENTRYPOINT.read_text()))


def resolve(value, template):
    """A template value reduced to something comparable: literals as str, {"Ref": X} kept."""
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        m, k1, k2 = value["Fn::FindInMap"]
        return str(template["Mappings"][m][k1][k2])
    if isinstance(value, (int, float)):
        return str(value)
    return value


def processes(template):
    """(name, kind, {env: value}) for every Lambda function and container the template defines."""
    out = []
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Lambda::Function":
            env = props.get("Environment", {}).get("Variables", {})
            out.append((name, "api", {k: resolve(v, template) for k, v in env.items()}))
        elif res["Type"] == "AWS::ECS::TaskDefinition":
            for c in props["ContainerDefinitions"]:
                env = {e["Name"]: resolve(e["Value"], template) for e in c.get("Environment", [])}
                out.append((f"{name}/{c['Name']}", "worker", env))
    return out


def test_the_template_defines_api_and_worker_processes(template):
    kinds = [k for _, k, _ in processes(template)]
    assert kinds.count("api") >= 1 and kinds.count("worker") >= 1


def test_every_variable_the_template_sets_is_read_by_the_binary_or_entrypoint(template):
    known = binary_env_names() | entrypoint_env_names()
    for name, _, env in processes(template):
        for var in env:
            if var.startswith(ADAPTER_PREFIX):
                continue
            assert var in known, f"{name} sets {var}, which neither soyl ({CONFIG_FILES}) nor the entrypoint reads"


def test_required_aws_settings_are_set(template):
    for name, kind, env in processes(template):
        required = REQUIRED_WORKER if kind == "worker" else REQUIRED_EVERYWHERE
        missing = required - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["SOYL_BACKEND"] == "aws", name


def test_required_settings_are_ones_the_binary_reads():
    names = binary_env_names()
    assert REQUIRED_WORKER - {"SOYL_MODELS_URI"} <= names, sorted(REQUIRED_WORKER - names)
    assert "SOYL_MODELS_URI" in entrypoint_env_names()


def test_queue_urls_name_job_queues_and_their_own_dead_letter_queues(template):
    res = template["Resources"]
    for name, kind, env in processes(template):
        queue = env["SOYL_QUEUE_URL"]["Ref"]
        assert res[queue]["Type"] == "AWS::SQS::Queue"
        redrive = res[queue]["Properties"]["RedrivePolicy"]
        dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        if kind == "worker":
            assert env["SOYL_DLQ_URL"] == {"Ref": dlq}, f"{name}: SOYL_DLQ_URL is not {queue}'s dead-letter queue"
            # The worker's lease and dead-lettering agree with the queue's own settings.
            assert env["SOYL_VISIBILITY_TIMEOUT_S"] == res[queue]["Properties"]["VisibilityTimeout"]
            assert env["SOYL_MAX_RECEIVES"] == redrive["maxReceiveCount"]


def test_both_queues_have_a_worker_service(template):
    queues = {env["SOYL_QUEUE_URL"]["Ref"] for _, kind, env in processes(template) if kind == "worker"}
    job_queues = {n for n, r in template["Resources"].items()
                  if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}
    assert queues == job_queues == {"InteractiveQueue", "BulkQueue"}


def test_bucket_and_table_are_the_stacks(template):
    res = template["Resources"]
    for name, _, env in processes(template):
        assert res[env["SOYL_BUCKET"]["Ref"]]["Type"] == "AWS::S3::Bucket", name
        assert res[env["SOYL_TABLE"]["Ref"]]["Type"] == "AWS::DynamoDB::Table", name


def test_prefixes_match_the_binary_defaults_and_the_lifecycle_rules(template):
    rules = template["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {resolve(r.get("Prefix"), template) for r in rules if "ExpirationInDays" in r}
    for var in ("SOYL_MEDIA_PREFIX", "SOYL_RESULTS_PREFIX"):
        default = binary_default(var)
        assert default, f"{var} has no default in config.rs"
        for name, _, env in processes(template):
            assert env.get(var, default) == default, f"{name}: {var} differs from the binary's default"
        assert default in expiring, f"no lifecycle rule expires {default}"


def test_retention_is_the_same_for_media_records_and_ttl(template):
    for name, _, env in processes(template):
        assert env["SOYL_RETENTION_DAYS"] == {"Ref": "RetentionDays"}, name


def item_constants():
    missing = [str(p) for p in ITEM_FILES if not p.is_file()]
    assert not missing, f"item file(s) not found: {missing}"
    text = "\n".join(p.read_text() for p in ITEM_FILES)
    return dict(re.findall(r'const ([A-Z_]+): &str = "([^"]+)";', text))




def test_table_matches_the_dynamodb_job_store(template):
    c = item_constants()
    table = template["Resources"]["JobTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": c["ID"], "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": c["EXPIRES_AT"], "Enabled": True}
    gsis = {g["IndexName"]: g for g in table["GlobalSecondaryIndexes"]}
    assert set(gsis) == {c["BY_TENANT"], c["BY_BATCH"], c["BY_ACTIVE"], c["BY_UNCLAIMED"]}
    for index, partition, sort in (
        (c["BY_TENANT"], c["TENANT"], c["ID"]),
        (c["BY_BATCH"], c["TENANT_BATCH"], c["ID"]),
        (c["BY_ACTIVE"], c["ACTIVE_TENANT"], c["ID"]),
        (c["BY_UNCLAIMED"], c["UNCLAIMED_SHARD"], c["CREATED_AT"]),
    ):
        assert gsis[index]["KeySchema"] == [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ]
    for index in (c["BY_TENANT"], c["BY_BATCH"], c["BY_UNCLAIMED"]):
        assert gsis[index]["Projection"] == {"ProjectionType": "ALL"}
    # The quota's count filters on the TTL, so the sparse index must carry it.
    assert gsis[c["BY_ACTIVE"]]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": [c["EXPIRES_AT"]],
    }
    keys = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert keys == {
        c["ID"]: "S",
        c["TENANT"]: "S",
        c["TENANT_BATCH"]: "S",
        c["ACTIVE_TENANT"]: "S",
        c["UNCLAIMED_SHARD"]: "S",
        c["CREATED_AT"]: "N",
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


@pytest.mark.parametrize("var", ["SOYL_QUEUE_URL", "SOYL_BUCKET", "SOYL_TABLE", "SOYL_DLQ_URL", "SOYL_BACKEND"])
def test_names_the_template_relies_on_exist_in_the_binary(var):
    assert var in binary_env_names()


def test_bulk_queue_settings_name_the_bulk_queue_and_its_own_dead_letter_queue(template):
    """SOYL_BULK_QUEUE_URL (read by soyl as --bulk-queue-url) is the BulkQueue wherever it is set,
    every API function sets it (so `priority: bulk` jobs never land on the interactive queue),
    and a SOYL_BULK_DLQ_URL, where set, is the bulk queue's own dead-letter queue."""
    assert {"SOYL_BULK_QUEUE_URL", "SOYL_BULK_DLQ_URL"} <= binary_env_names()
    res = template["Resources"]
    bulk_dlq = res["BulkQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    for name, kind, env in processes(template):
        if kind == "api":
            assert "SOYL_BULK_QUEUE_URL" in env, f"{name} sends bulk jobs to its job queue"
        if "SOYL_BULK_QUEUE_URL" in env:
            assert env["SOYL_BULK_QUEUE_URL"] == {"Ref": "BulkQueue"}, name
        if "SOYL_BULK_DLQ_URL" in env:
            assert env["SOYL_BULK_DLQ_URL"] == {"Ref": bulk_dlq}, name
