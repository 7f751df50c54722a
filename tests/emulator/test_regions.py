"""Region loss as a real fault (emulator/regions.py) and the client factory's DR_REGION_ENDPOINTS.

Each rule against what AWS does: a lost Region's endpoints are gone; its buckets and tables fail through any
endpoint (moto serves every bucket from every endpoint, so the proxy blocks by location); global services fail
with their owner Region (Route 53's control plane is us-east-1); restoring brings the data back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from emulator.regions import Emulator
from handlers.aws import client as runtime_client
from handlers.aws import region_endpoint

EAST, WEST = "us-east-1", "us-west-2"
CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError, ConnectionResetError)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator([EAST, WEST]) as started:
        yield started


@pytest.fixture
def fresh(emulator: Emulator) -> Iterator[Emulator]:
    yield emulator
    for region in emulator.regions:
        emulator.restore_region(region)


def _bucket(emulator: Emulator, name: str, region: str) -> None:
    s3 = emulator.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=name, Key="k", Body=b"before the outage")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code"))


def test_client_factory_maps_each_region_to_its_endpoint(fresh: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DR_REGION_ENDPOINTS", json.dumps(fresh.endpoints()))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    assert runtime_client("s3", WEST).meta.endpoint_url == fresh.endpoint(WEST)
    assert runtime_client("dynamodb", EAST).meta.endpoint_url == fresh.endpoint(EAST)
    with pytest.raises(ValueError, match="DR_REGION_ENDPOINTS: no endpoint for Region 'eu-west-1'"):
        runtime_client("s3", "eu-west-1")  # never a silent fall-back to the real endpoint


def test_client_factory_unchanged_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DR_REGION_ENDPOINTS", raising=False)
    assert region_endpoint(EAST) == {}
    monkeypatch.setenv("DR_REGION_ENDPOINTS", "{not json")
    with pytest.raises(ValueError, match="DR_REGION_ENDPOINTS: not JSON"):
        region_endpoint(EAST)


def test_the_endpoints_listen_on_loopback_only(fresh: Emulator) -> None:
    assert all(url.startswith("http://127.0.0.1:") for url in fresh.endpoints().values())
    assert fresh.upstream.startswith("http://127.0.0.1:")


def test_losing_a_region_blocks_its_buckets_through_every_endpoint(fresh: Emulator) -> None:
    _bucket(fresh, "regions-east-bucket", EAST)
    _bucket(fresh, "regions-west-bucket", WEST)
    fresh.lose_region(EAST)
    west = fresh.client("s3", WEST, max_attempts=1)
    with pytest.raises(ClientError) as refused:
        west.get_object(Bucket="regions-east-bucket", Key="k")  # an east bucket through the west endpoint
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert _code(refused.value) == "ServiceUnavailable"
    assert west.get_object(Bucket="regions-west-bucket", Key="k")["Body"].read() == b"before the outage"


def test_a_lost_regions_own_endpoint_resets_connections(fresh: Emulator) -> None:
    fresh.lose_region(EAST)
    with pytest.raises(CONNECTION_ERRORS):
        fresh.client("s3", EAST, max_attempts=1).list_buckets()


def test_losing_a_region_blocks_its_tables_whatever_endpoint_is_used(fresh: Emulator) -> None:
    for region in (EAST, WEST):
        fresh.client("dynamodb", region).create_table(
            TableName="regions-table",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    fresh.lose_region(EAST)
    import boto3

    # An east client pointed (wrongly) at the west proxy: the table lives in us-east-1 (its signing Region).
    misrouted = boto3.client(
        "dynamodb",
        region_name=EAST,
        endpoint_url=fresh.endpoint(WEST),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=__import__("handlers.aws", fromlist=["client_config"]).client_config(max_attempts=1),
    )
    with pytest.raises(ClientError) as refused:
        misrouted.describe_table(TableName="regions-table")
    assert _code(refused.value) == "ServiceUnavailable"
    assert fresh.client("dynamodb", WEST).describe_table(TableName="regions-table")["Table"]["TableName"]


def test_route53_control_plane_belongs_to_us_east_1(fresh: Emulator) -> None:
    route53 = fresh.client("route53", WEST, max_attempts=1)  # the recovery Region's client
    zone = route53.create_hosted_zone(Name="regions.example.com", CallerReference="regions")["HostedZone"]["Id"]
    change = {
        "Changes": [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": "www.regions.example.com",
                    "Type": "A",
                    "TTL": 30,
                    "ResourceRecords": [{"Value": "192.0.2.1"}],
                },
            }
        ]
    }
    fresh.lose_region(WEST)
    fresh.client("route53", EAST, max_attempts=1).change_resource_record_sets(HostedZoneId=zone, ChangeBatch=change)
    fresh.restore_region(WEST)
    fresh.lose_region(EAST)
    with pytest.raises(ClientError) as refused:
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=change)
    assert _code(refused.value) == "ServiceUnavailable"


def test_restoring_a_region_brings_back_its_data(fresh: Emulator) -> None:
    _bucket(fresh, "regions-restored", EAST)
    fresh.lose_region(EAST)
    assert not fresh.is_available(EAST)
    fresh.restore_region(EAST)
    body = fresh.client("s3", EAST).get_object(Bucket="regions-restored", Key="k")["Body"].read()
    assert body == b"before the outage"


def test_unknown_region_is_named(fresh: Emulator) -> None:
    with pytest.raises(KeyError, match="eu-west-1"):
        fresh.lose_region("eu-west-1")


def test_replication_rules_are_read_as_written_even_past_the_proxies(fresh: Emulator) -> None:
    """moto's GetBucketReplication answers an empty prefix and DeleteMarkerReplication Disabled for every rule;
    the emulator reads the configuration as stored, whether it came through a proxy or straight to moto."""
    rules = [
        {
            "ID": "logs",
            "Priority": 2,
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "k", "Value": "v"}]}},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": "arn:aws:s3:::replica", "StorageClass": "STANDARD_IA"},
        },
        {
            "ID": "all",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": "arn:aws:s3:::replica"},
        },
    ]
    for bucket, upstream in (("rules-proxied", False), ("rules-direct", True)):
        s3 = fresh.client("s3", EAST, upstream=upstream)
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(
            Bucket=bucket, ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": rules}
        )
        stored = fresh.bucket_replication(bucket)
        assert stored is not None and stored["Rules"] == rules, bucket


def test_an_empty_filter_reads_back_as_an_empty_filter(fresh: Emulator) -> None:
    """``Filter: {}`` (every object, V2 schema) must not read back as a string or as the legacy schema."""
    s3 = fresh.client("s3", EAST)
    s3.create_bucket(Bucket="rules-empty-filter")
    s3.put_bucket_versioning(Bucket="rules-empty-filter", VersioningConfiguration={"Status": "Enabled"})
    rule = {
        "ID": "everything",
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {"Bucket": "arn:aws:s3:::replica"},
    }
    s3.put_bucket_replication(
        Bucket="rules-empty-filter",
        ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": [rule]},
    )
    stored = fresh.bucket_replication("rules-empty-filter")
    assert stored is not None and stored["Rules"] == [rule]


def test_moto_as_a_separate_process_serves_the_same_way() -> None:
    with Emulator([EAST, WEST], separate_process=True) as separate:
        _bucket(separate, "regions-separate", WEST)
        separate.lose_region(WEST)
        with pytest.raises(ClientError) as refused:
            separate.client("s3", EAST, max_attempts=1).get_object(Bucket="regions-separate", Key="k")
        assert _code(refused.value) == "ServiceUnavailable"
        process = separate._moto_process
    assert process is not None and process.poll() is not None  # stopped with the emulator


def test_concurrent_conditional_writes_through_the_proxies_are_atomic(fresh: Emulator) -> None:
    """DynamoDB never lets two conditional writes on one item both succeed; moto alone can (no lock between its
    condition check and its write). Through the proxies, exactly one writer wins each item."""
    from concurrent.futures import ThreadPoolExecutor

    dynamodb = fresh.client("dynamodb", EAST, max_attempts=1, max_pool_connections=16)
    dynamodb.create_table(
        TableName="regions-locks",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def claim(job: tuple[int, int]) -> bool:
        item, writer = job
        try:
            dynamodb.put_item(
                TableName="regions-locks",
                Item={"pk": {"S": f"lock-{item}"}, "owner": {"N": str(writer)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            assert _code(error) == "ConditionalCheckFailedException"
            return False
        return True

    jobs = [(item, writer) for item in range(50) for writer in range(4)]
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(claim, jobs))
    winners: dict[int, int] = {}
    for (item, _writer), success in zip(jobs, won, strict=True):
        winners[item] = winners.get(item, 0) + success
    assert set(winners.values()) == {1}


def test_a_copy_out_of_a_lost_regions_bucket_fails(fresh: Emulator) -> None:
    _bucket(fresh, "regions-copy-source", WEST)
    _bucket(fresh, "regions-copy-target", EAST)
    east = fresh.client("s3", EAST, max_attempts=1)
    east.copy_object(
        Bucket="regions-copy-target", Key="copied", CopySource={"Bucket": "regions-copy-source", "Key": "k"}
    )
    fresh.lose_region(WEST)
    with pytest.raises(ClientError) as refused:
        east.copy_object(
            Bucket="regions-copy-target", Key="again", CopySource={"Bucket": "regions-copy-source", "Key": "k"}
        )
    assert _code(refused.value) == "ServiceUnavailable"


def test_a_client_that_hangs_up_first_is_not_reported_as_a_proxy_error(capsys: pytest.CaptureFixture[str]) -> None:
    from emulator.regions import _ProxyHandler, _ProxyServer

    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler, emulator=None, region="us-east-1")  # type: ignore[arg-type]
    try:
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a proxy defect")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a proxy defect" in capsys.readouterr().err
    finally:
        server.server_close()
