"""Property: whatever an agent sends, the answer is 200 (stored) or 400 (nothing written).

Hypothesis generates bodies three ways (arbitrary JSON, the reference report with one part
replaced or removed, arbitrary bytes) and `time` parameters; a fixed seed and a bounded number
of examples keep the run repeatable.
"""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetwatch.monitoring.models import DeviceState, Metric
from tests.ingest.payloads import example_report

pytestmark = pytest.mark.django_db

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "wan", "DeviceMonitoring", "\n", "\x00", "\ud800", "00:ee:ad:34:f5:3b"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


REPORT_PATHS = [p for p in _paths(example_report()) if p]


@st.composite
def mutated_reports(draw):
    report = example_report()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(REPORT_PATHS))
        parent = report
        try:
            for part in path[:-1]:
                parent = parent[part]
            if draw(st.booleans()):
                parent[path[-1]] = draw(json_values)
            else:
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this part
    return json.dumps(report).encode()


bodies = (
    mutated_reports()
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"type": st.just("DeviceMonitoring")}, optional={"interfaces": json_values, "resources": json_values}
    ).map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
)
NOW = datetime.now(UTC)
times = (
    st.none()
    | st.text(max_size=30)
    | st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%d-%m-%Y_%H:%M:%S.%f")
    )
    | st.integers(-3, 3).map(lambda days: (NOW + timedelta(days=days)).strftime("%d-%m-%Y_%H:%M:%S.%f"))
)


def stored(timeseries, device):
    state = DeviceState.objects.filter(device=device).values_list("data", "data_time", "counters")
    return (
        timeseries.count_points(),
        timeseries.count_points(retention="short"),
        list(state),
        Metric.objects.count(),
    )


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, time=times)
def test_every_body_gets_200_or_400_and_a_400_writes_nothing(client, device_a, timeseries, body, time):
    before = stored(timeseries, device_a)
    url = f"/api/v1/monitoring/device/{device_a.pk}/?key={device_a.key}"
    if time is not None:
        url += "&" + urlencode({"time": time})
    response = client.post(url, body, content_type="application/json")
    assert response.status_code in (200, 400), (response.status_code, response.content)
    if response.status_code == 400:
        assert set(response.json()) == {"detail"}
        assert stored(timeseries, device_a) == before
