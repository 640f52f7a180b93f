"""The metrics screen, its charts and CSV files, and the metrics API, over the hand-made
records of tests/reports/metrics_setup.py (figures checked in test_metrics.py)."""

from __future__ import annotations

import io

import pytest
from defusedxml import ElementTree
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from rxdesk.patients.models import Patient
from rxdesk.reports.metrics_charts import CHARTS, CSVS
from tests.reports import metrics_setup as setup

RANGE = {"start": "2025-02-03", "end": "2025-02-04"}
SVG = "{http://www.w3.org/2000/svg}svg"


@pytest.fixture
def records(technician):
    return setup.everything(technician)


@pytest.fixture
def client(pharmacist) -> Client:
    c = Client()
    c.force_login(pharmacist)
    return c


def test_the_page_shows_safety_first_and_names_no_patient(records, client):
    response = client.get(reverse("metrics_home"), RANGE)

    assert response.status_code == 200
    html = response.content.decode()
    order = [
        html.index('id="safety"'),
        html.index('id="workload"'),
        html.index('id="steps"'),
        html.index('id="throughput"'),
        html.index('id="inventory"'),
        html.index('id="claims"'),
    ]
    assert order == sorted(order)
    assert "Metrics 02/03/2025 – 02/04/2025" in html
    assert "333.3" in html  # errors per 1,000 fills
    assert "Turns = cost of units dispensed" in html
    assert html.count('src="/reports/metrics/chart/') == 9
    for patient in Patient.objects.all():
        assert patient.last_name not in html
        assert patient.first_name not in html


def test_a_backwards_range_is_shown_beside_the_form(client):
    response = client.get(reverse("metrics_home"), {"start": "2025-02-04", "end": "2025-02-03"})

    assert response.status_code == 422
    assert "The last day is before the first day." in response.content.decode()


def test_the_page_reads_in_a_fixed_number_of_queries(records, client, technician):
    url = reverse("metrics_home")
    with CaptureQueriesContext(connection) as before:
        client.get(url, RANGE)
    # Twice the fills: the page must not run a query per fill.
    for _ in range(3):
        more = setup.workflow(technician)
        assert more
    with CaptureQueriesContext(connection) as after:
        response = client.get(url, RANGE)

    assert response.status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_chart_is_valid_svg_and_png(records, client, name):
    svg = client.get(reverse("metrics_chart", args=[name, "svg"]), RANGE)
    png = client.get(reverse("metrics_chart", args=[name, "png"]), {**RANGE, "download": "1"})

    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert ElementTree.fromstring(svg.content).tag == SVG
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert (
        png["Content-Disposition"] == f'attachment; filename="metrics-{name}-20250203-20250204.png"'
    )
    Image.open(io.BytesIO(png.content)).verify()
    assert Image.open(io.BytesIO(png.content)).size == (640, 300)


def test_the_errors_chart_has_one_bar_per_check(records, client):
    svg = client.get(reverse("metrics_chart", args=["errors", "svg"]), RANGE)

    root = ElementTree.fromstring(svg.content)
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
    assert len(bars) == 3
    # 333.3 each on a 0..400 scale (ticks of 100) over 204 px: 169.98 px.
    assert {b.get("height") for b in bars} == {"169.98"}


def test_unknown_chart_or_format_is_not_found(client):
    assert client.get(reverse("metrics_chart", args=["nope", "svg"])).status_code == 404
    assert client.get(reverse("metrics_chart", args=["errors", "gif"])).status_code == 404
    assert client.get(reverse("metrics_csv", args=["nope"])).status_code == 404


def test_errors_csv(records, client):
    response = client.get(reverse("metrics_csv", args=["errors"]), RANGE)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode() == (
        "check,caught,fills_filled,per_1000_fills\r\n"
        "Sent back at data verification,1,3,333.3\r\n"
        "Product scan did not match (overridden at filling),1,3,333.3\r\n"
        "Sent back at final verification,1,3,333.3\r\n"
    )


@pytest.mark.parametrize("name", sorted(CSVS))
def test_every_csv_has_a_header_and_rows(records, client, name):
    response = client.get(reverse("metrics_csv", args=[name]), RANGE)

    assert response.status_code == 200
    lines = response.content.decode().split("\r\n")
    assert len(lines) >= 3
    assert "," in lines[0]


def test_steps_csv(records, client):
    response = client.get(reverse("metrics_csv", args=["steps"]), RANGE)

    assert response.content.decode().split("\r\n")[1:5] == [
        "Entered → data verified,4,20.0,990.0",
        "Data verified → filled,3,20.0,40.0",
        "Filled → final verified,3,35.0,40.0",
        "Final verified → sold,1,1680.0,1680.0",
    ]


# --- API ----------------------------------------------------------------------------------------


def test_api_errors_json(records, client):
    response = client.get("/api/v1/metrics/errors", RANGE)

    assert response.status_code == 200
    assert response.json() == {
        "start": "2025-02-03",
        "end": "2025-02-04",
        "fills": 3,
        "rows": [
            {
                "key": "data_verification",
                "label": "Sent back at data verification",
                "count": 1,
                "per_1000": "333.3",
            },
            {
                "key": "fill_scan",
                "label": "Product scan did not match (overridden at filling)",
                "count": 1,
                "per_1000": "333.3",
            },
            {
                "key": "final_verification",
                "label": "Sent back at final verification",
                "count": 1,
                "per_1000": "333.3",
            },
        ],
        "total": 3,
        "total_per_1000": "1000.0",
    }


def test_api_other_metrics(records, client):
    steps = client.get("/api/v1/metrics/steps", RANGE).json()
    turns = client.get("/api/v1/metrics/inventory/turns", RANGE).json()
    dead = client.get("/api/v1/metrics/inventory/dead-stock", {**RANGE, "days": 180}).json()
    rejects = client.get("/api/v1/metrics/claims/rejects", RANGE).json()
    volume = client.get("/api/v1/metrics/volume", RANGE).json()
    queues = client.get("/api/v1/metrics/queues", RANGE).json()
    alerts = client.get("/api/v1/metrics/alerts", RANGE).json()

    assert [(r["median"], r["p90"]) for r in steps["rows"]] == [
        ("20.0", "990.0"),
        ("20.0", "40.0"),
        ("35.0", "40.0"),
        ("1680.0", "1680.0"),
    ]
    assert (turns["turns"], turns["annualized"], turns["dispensed_cost"]) == (
        "0.23",
        "42.44",
        "37.50",
    )
    assert [r["ndc"] for r in dead["rows"]] == ["0093-0004-30", "0093-0005-05"]
    assert (rejects["submitted"], rejects["rejected"], rejects["rate"]) == (7, 3, "42.9")
    assert (volume["new"], volume["refill"]) == (2, 1)
    assert queues["hours"][10]["mean"]["to_fill"] == "1.5"
    assert (alerts["raised"], alerts["override_share"]) == (3, "50.0")


def test_api_charts(records, client):
    svg = client.get("/api/v1/metrics/charts/queues/svg", RANGE)
    png = client.get("/api/v1/metrics/charts/rejects-plan/png", RANGE)

    assert svg["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert ElementTree.fromstring(svg.content).tag == SVG
    assert png["Content-Type"] == "image/png"
    Image.open(io.BytesIO(png.content)).verify()


def test_api_refuses_bad_input_with_a_problem(client):
    backwards = client.get("/api/v1/metrics/errors", {"start": "2025-02-04", "end": "2025-02-03"})
    unknown = client.get("/api/v1/metrics/charts/nope/svg")
    days = client.get("/api/v1/metrics/inventory/dead-stock", {"days": 0})

    assert backwards.status_code == 422
    assert backwards["Content-Type"] == "application/problem+json"
    assert unknown.status_code == 422
    assert days.status_code == 422


def test_api_reads_only_the_callers_pharmacy(records, other_site):
    from tests.factories import UserFactory

    theirs = Client()
    theirs.force_login(UserFactory(site=other_site, role="auditor", username="lakeside-aud"))

    body = theirs.get("/api/v1/metrics/errors", RANGE).json()

    assert (body["fills"], body["total"]) == (0, 0)


def test_a_technician_is_refused_with_nothing_shown(records, technician):
    c = Client()
    c.force_login(technician)

    assert c.get(reverse("metrics_home")).status_code == 403
    assert c.get("/api/v1/metrics/errors").status_code == 403
