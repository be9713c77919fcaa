"""``/status.json`` in-process: the documented schema, the version, the window's arithmetic.

A real configuration (the prometheus exporter without a listener) and a real FastAPI app
called through httpx; the document is built with chosen clocks, so the expected rates follow
from the requests sent and the seconds between two looks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI, Response
from hypothesis import given
from hypothesis import strategies as st

import otelkit
from otelkit.exporters.prometheus import _endpoint
from otelkit.ops.rules import SLO, clear_slos, register_slo
from otelkit.status import _document, _page
from otelkit.status._read import Reading
from otelkit.status._window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator

DOCS = Path(__file__).resolve().parents[2] / "docs" / "status.md"


def documented_schema() -> dict[str, Any]:
    """The JSON Schema block of docs/status.md."""
    text = DOCS.read_text()
    (block,) = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    schema: dict[str, Any] = json.loads(block)
    return schema


def shop() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> Response:
        return Response(status_code=500)

    otelkit.instrument_app(app)
    return app


def send(app: FastAPI, items: int, failures: int) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            for n in range(items):
                (await client.get(f"/items/{n}")).raise_for_status()
            for _ in range(failures):
                assert (await client.get("/boom")).status_code == 500

    asyncio.run(run())


@pytest.fixture
def running() -> Iterator[Any]:
    """A configuration with the prometheus exporter (no listener); its reader."""
    telemetry = otelkit.init_telemetry("status-unit", prometheus_port=0)
    register_slo(SLO("items-up", objective=99.5, route="/items/{item_id}"))
    otelkit.add_health_check("cache", lambda: False, critical=False)
    try:
        yield _endpoint._current
    finally:
        clear_slos()
        telemetry.health.remove("cache")


def test_documents_satisfy_the_documented_schema_version_1(running: Any) -> None:
    validator = jsonschema.Draft202012Validator(
        documented_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    window, app = Window(), shop()
    first = _document.build(running, window, now=1000.0)
    send(app, items=5, failures=1)
    second = _document.build(running, window, now=1005.0)
    for document in (first, second):
        validator.validate(document)
        assert document["version"] == _document.VERSION == 1
        json.dumps(document, allow_nan=False)  # strict JSON: no NaN, no infinity
    assert first["window"]["seconds"] is None
    assert first["totals"]["rps"] is None
    assert second["health"]["status"] == "degraded"  # the non-critical check fails
    assert [c["name"] for c in second["health"]["checks"]] == ["cache"]


def test_rates_and_ratios_cover_the_seconds_between_two_looks(running: Any) -> None:
    window, app = Window(), shop()
    send(app, items=4, failures=0)  # before the first look: not in the window
    _document.build(running, window, now=2000.0)
    send(app, items=27, failures=3)
    later = _document.build(running, window, now=2010.0)
    assert later["window"]["seconds"] == 10.0
    totals = later["totals"]
    assert totals["requests"] == 4 + 27 + 3
    assert totals["rps"] == pytest.approx((27 + 3) / 10)
    assert totals["error_ratio"] == pytest.approx(3 / 30)
    routes = {row["route"]: row for row in later["routes"]}
    assert routes["/items/{item_id}"]["rps"] == pytest.approx(27 / 10)
    assert routes["/items/{item_id}"]["requests"] == 31
    assert routes["/boom"]["error_ratio"] == 1.0
    assert [row["route"] for row in later["routes"]] == ["/items/{item_id}", "/boom"]
    assert later["series"]["rps"] == [totals["rps"]]
    p50, p95, p99 = (routes["/items/{item_id}"][k] for k in ("p50", "p95", "p99"))
    assert 0 < p50 <= p95 <= p99
    (objective,) = later["slos"]
    assert objective["bad_ratio"] == 0.0
    assert objective["burn_rate"] == 0.0
    assert objective["budget_remaining"] == 1.0


def test_without_the_prometheus_exporter_the_figures_answer_503() -> None:
    from otelkit.status._http import json_response

    status, _, body = json_response(None)
    assert status == 503
    assert "prometheus" in json.loads(body)["error"]


def test_the_page_is_one_self_contained_document() -> None:
    body, policy = _page.page("/ops/status.json")
    html = body.decode()
    assert '<meta name="otelkit-status-json" content="/ops/status.json">' in html
    assert "{{" not in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # nothing from elsewhere
    assert "default-src 'none'" in policy
    assert policy.count("'sha256-") == 2  # the two scripts, by their hashes
    assert _page.weight() == len(_page.page("/status.json")[0])


@given(st.lists(st.floats(min_value=0.1, max_value=40), min_size=1, max_size=200))
def test_the_window_keeps_a_bounded_ring_of_spaced_readings(steps: list[float]) -> None:
    window, now = Window(span=60.0, every=5.0, full_every=20.0), 0.0
    for step in steps:
        now += step
        baseline, history = window.observe(Reading(taken=now))
        kept = history if history[-1] in window._kept else history[:-1]
        assert len(window._kept) <= 60 / 5 + 1
        assert all(b.taken - a.taken >= 5.0 for a, b in itertools.pairwise(kept))
        assert all(now - r.taken <= 60.0 for r in history)
        assert history[-1].taken == now
        full = [r for r in kept if r.full]
        assert all(b.taken - a.taken >= 20.0 for a, b in itertools.pairwise(full))
        if baseline is not None:
            assert baseline.full
            assert baseline is next(r for r in history if r.full)
            assert now - baseline.taken <= 60.0


@given(
    st.one_of(
        st.text().filter(lambda p: not p.startswith("/") or p.endswith("/") or " " in p),
        st.integers(),
        st.none(),
    )
)
def test_a_bad_path_is_refused_naming_the_argument(path: Any) -> None:
    for factory, name in ((otelkit.status_app, "status_app"), (otelkit.status_wsgi, "status_wsgi")):
        with pytest.raises(otelkit.ConfigError, match=rf"{name}\(path="):
            factory(path=path)


def test_a_database_pool_is_shown_when_sqlalchemy_is_instrumented(
    running: Any, tmp_path: Path
) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    otelkit.instrument_sqlalchemy(engine)
    try:

        def this_pool() -> Any:  # pools of earlier tests in this process may be listed too
            pools = _document.build(running, Window())["db_pools"]
            (pool,) = [p for p in pools if str(tmp_path) in p["pool"]]
            return pool

        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
            during = this_pool()
        after = this_pool()
    finally:
        engine.dispose()
    assert (during["used"], during["idle"]) == (1, 0)
    assert (after["used"], after["idle"]) == (0, 1)
    assert during["pool"] == after["pool"]
    assert after["max"] >= 1
