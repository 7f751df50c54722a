"""The one publisher of DR metrics: CloudWatch namespace ``DR/Recovery``, shared by the RPO age and the audit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from handlers.runtime_names import RECOVERY_METRICS_NAMESPACE as NAMESPACE

MAX_METRIC_DATA_PER_CALL = 1000


def publish_metrics(
    cloudwatch: Any,
    values: Mapping[str, float],
    dimensions: Mapping[str, str],
    unit: str = "Count",
    timestamp: datetime | None = None,
) -> None:
    """One put per 1,000 values to CloudWatch ``DR/Recovery``; shared by the RPO age and the audit."""
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
            "Value": float(value),
            "Unit": unit,
            # The instant the value describes (the run's clock), not when the request happens to leave.
            "Timestamp": timestamp or datetime.now(UTC),
        }
        for name, value in values.items()
    ]
    for start in range(0, len(data), MAX_METRIC_DATA_PER_CALL):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + MAX_METRIC_DATA_PER_CALL])
