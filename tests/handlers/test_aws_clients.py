"""The shared client factory: retries, timeouts and the Content-MD5 that locked buckets need on copies."""

from __future__ import annotations

from typing import Any

from handlers import aws


def test_clients_use_standard_retries_and_explicit_timeouts() -> None:
    config = aws.client("dynamodb", "us-east-1").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.DEFAULT_MAX_ATTEMPTS}
    assert aws.client("s3", "us-east-1", max_attempts=8).meta.config.retries["total_max_attempts"] == 8
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT_SECONDS, aws.READ_TIMEOUT_SECONDS)


def test_s3_copies_declare_the_empty_body_md5(mock_aws: None) -> None:
    s3 = aws.client("s3", "us-east-1")
    sent: dict[str, Any] = {}

    def record(request: Any, **_: Any) -> None:  # a before-send handler that returns a value replaces the response
        sent[request.url] = dict(request.headers)

    s3.meta.events.register("before-send.s3.*", record)
    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="locked",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    s3.put_object(Bucket="locked", Key="a", Body=b"data")
    s3.copy_object(Bucket="locked", Key="b", CopySource={"Bucket": "locked", "Key": "a"})
    [copy_headers] = [headers for url, headers in sent.items() if url.rstrip("/").endswith("/b")]
    md5 = copy_headers["Content-MD5"]
    assert (md5.decode() if isinstance(md5, bytes) else md5) == "1B2M2Y8AsgTpgAmY7PhCfg=="  # md5(b"")
    assert s3.get_object(Bucket="locked", Key="b")["Body"].read() == b"data"
