"""Reserved concurrency, summed over the whole stack per Region, against the account's Lambda quota there.

Lambda lets an account reserve "up to the Unreserved account concurrency value that is shown, minus 100 for
functions that don't have reserved concurrency"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html); an account below the default quota
of 1,000 (new accounts) keeps at least 50 (PutFunctionConcurrency's InvalidParameterValueException "below its
minimum value of [50]"). The quota and the reservations are per account and Region, so every function of the stack
that reserves concurrency counts: today each site's orchestrator and switch endpoint (``site_reservations``).
Reservations made outside this stack in the same account are the operator's to subtract from the declared quota.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_LAMBDA_CONCURRENCY_QUOTA = 1000
MIN_UNRESERVED_CONCURRENCY = 100
MIN_UNRESERVED_CONCURRENCY_SMALL_ACCOUNT = 50
QUOTAS_KEY = "lambdaConcurrencyQuotas"


@dataclass(frozen=True)
class Reservation:
    region: str
    key: str  # the config key that declares it, e.g. "sites[0].switchReservedConcurrency"
    amount: int


def unreserved_minimum(quota: int) -> int:
    """What Lambda keeps unreserved in an account and Region with this concurrency quota."""
    return (
        MIN_UNRESERVED_CONCURRENCY
        if quota >= DEFAULT_LAMBDA_CONCURRENCY_QUOTA
        else MIN_UNRESERVED_CONCURRENCY_SMALL_ACCOUNT
    )


def concurrency_problems(
    reservations: Iterable[Reservation],
    quotas: Mapping[str, int],
    *,
    hide_amounts: bool = False,
    hide_quotas: bool = False,
) -> list[str]:
    """One message per Region whose reservations leave less than Lambda's unreserved minimum of the quota declared
    for it (``lambdaConcurrencyQuotas``; 1,000 when not declared), naming every reserving key. ``hide_amounts`` /
    ``hide_quotas``: those keys are secret, so their values (and what they reveal) are not shown."""
    by_region: dict[str, list[Reservation]] = {}
    for reservation in reservations:
        by_region.setdefault(reservation.region, []).append(reservation)
    messages = []
    for region, held in sorted(by_region.items()):
        quota = quotas.get(region, DEFAULT_LAMBDA_CONCURRENCY_QUOTA)
        reserved = sum(reservation.amount for reservation in held)
        keep = unreserved_minimum(quota)
        if quota - reserved >= keep:
            continue
        key = f"{QUOTAS_KEY}.{region}"
        if hide_quotas:
            limit = f"the account's quota there ({key}, secret)"
        elif region in quotas:
            limit = f"the account's quota of {quota} there ({key})"
        else:
            limit = f"the account's quota of {quota} there ({key} not declared: the default)"
        if hide_amounts or hide_quotas:
            keys = ", ".join(reservation.key for reservation in held)
            what = f"{keys} (values not shown) leave less than {keep} of {limit} unreserved"
        else:
            keys = " + ".join(f"{reservation.key} {reservation.amount}" for reservation in held)
            what = (
                f"the stack reserves {reserved} concurrent executions in {region} ({keys}), leaving "
                f"{quota - reserved} of {limit} unreserved"
            )
        messages.append(
            f"{what}; Lambda keeps at least {keep} unreserved and would refuse the deploy. Lower the reservations, "
            f"or raise the quota (Service Quotas, Lambda 'Concurrent executions') and declare it as {key}"
        )
    return messages
