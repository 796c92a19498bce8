"""schemathesis hooks for scripts/api_check.py (loaded through SCHEMATHESIS_HOOKS).

`application/x-protobuf` (POST /api/v1/write) and `application/vnd.google.protobuf` (the
Pushgateway API's delimited MetricFamily messages) are not formats schemathesis can
generate from a schema: their bodies are drawn here, half arbitrary bytes (which the
server must refuse with a 4xx, never a 5xx), half well-formed messages, written by the
small encoders below (uncompressed: the Content-Encoding header schemathesis draws may
say otherwise, and the server must then answer 400 or 415).
"""

import struct
import time

import schemathesis
from hypothesis import strategies as st


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def write_request(series):
    """series: [(labels dict with __name__, [(ts_ms, value)])] -> WriteRequest bytes."""
    out = b""
    for labels, samples in series:
        body = b""
        for name, value in sorted(labels.items()):
            body += field(1, field(1, name.encode()) + field(2, value.encode()))
        for ts, value in samples:
            body += field(2, varint(1 << 3 | 1) + struct.pack("<d", value) + varint(2 << 3 | 0) + varint(ts & (2**64 - 1)))
        out += field(1, body)
    return out


names = st.from_regex(r"\A[a-z_][a-z0-9_]{0,20}\Z")
values = st.floats(allow_nan=False, allow_infinity=False, width=64)
now = int(time.time() * 1000)
series = st.tuples(
    st.builds(lambda metric, job: {"__name__": metric, "job": job}, names, names),
    st.lists(st.tuples(st.integers(now - 3_600_000, now), values), max_size=5),
)
write_requests = st.lists(series, max_size=5).map(write_request)

schemathesis.openapi.media_type("application/x-protobuf", st.one_of(st.binary(max_size=512), write_requests))


def metric_family(name, type_number, metrics):
    """A length-delimited client_model MetricFamily of gauges, counters or untyped metrics
    (value message field 2, 3 or 5): metrics is [(labels dict, value)]."""
    value_field = {0: 3, 1: 2, 3: 5}[type_number]
    body = field(1, name.encode()) + varint(3 << 3) + varint(type_number)
    for labels, value in metrics:
        pairs = b"".join(field(1, field(1, k.encode()) + field(2, v.encode())) for k, v in sorted(labels.items()))
        body += field(4, pairs + field(value_field, varint(1 << 3 | 1) + struct.pack("<d", value)))
    return varint(len(body)) + body


families = st.lists(
    st.tuples(names, st.sampled_from([0, 1, 3]), st.lists(st.tuples(st.dictionaries(names, names, max_size=3), values), max_size=3)),
    max_size=4, unique_by=lambda family: family[0],
).map(lambda drawn: b"".join(metric_family(*family) for family in drawn))

schemathesis.openapi.media_type("application/vnd.google.protobuf", st.one_of(st.binary(max_size=512), families))
