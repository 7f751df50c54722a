"""The local two-Region rehearsal: emulated AWS over moto on 127.0.0.1 (docs/design/failover-and-rehearsal.md).

Never shipped in the Lambda package; used by `drctl drill --local`, `make demo`, `make rehearsal` and the tests.
"""
