"""Several upstream targets: balanced by weight or load, dead ones kept out, retried once."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import httpx
import pytest
from django.test import Client

from apis import tasks
from apis.gateway import circuits
from apis.gateway.circuits import CLOSED, HALF_OPEN, OPEN, circuits_of
from apis.models import Api
from tests.ai.fakes import EndlessLineProvider
from tests.asgi import in_a_loop_of_its_own
from tests.gateway.balancing import balance, dead_url
from tests.problems import assert_problem
from tests.servers import CountingUpstream, Upstream, free_port
from tests.tokens import token_for


@pytest.fixture
def servers():
    """Start loopback upstreams on demand; all stopped when the test ends."""
    with ExitStack() as stack:
        yield lambda port=0: stack.enter_context(Upstream(port))


def calls(server: Upstream) -> int:
    return sum(server.hits.values())


def circuit(target):
    return circuits_of([target])[target.pk]


def wait_for_trial(target, timeout: float = 5) -> None:
    """Until the open circuit's cool-down is over (polled, as the gateway itself would see it)."""
    deadline = time.monotonic() + timeout
    while circuit(target).reopens_in > 0 and time.monotonic() < deadline:
        time.sleep(0.05)


def dead_target_due_for_trial(gw, api: Api, live: Upstream):
    """A dead target beside a live one, its circuit opened by calls and its cool-down over."""
    _, dead = balance(api, (live.url, 1), (dead_url(), 1))
    for _ in range(4):
        assert gw.get("/gw/orders/x").status_code == 200
    assert circuit(dead).state == OPEN
    wait_for_trial(dead)
    return dead


def test_calls_are_shared_by_weight(gw, api, servers):
    heavy, light = servers(), servers()
    balance(api, (heavy.url, 3), (light.url, 1))

    statuses = {gw.get("/gw/orders/x").status_code for _ in range(40)}

    assert statuses == {200}
    assert (calls(heavy), calls(light)) == (30, 10)


def test_least_in_flight_sends_calls_past_a_busy_target(live_server, subscription, servers):
    busy = CountingUpstream(hold_until=2, hold_seconds=3)
    idle = servers()
    with busy:
        balance(subscription.api, (busy.url, 1), (idle.url, 1), balancing="least_in_flight")
        client = httpx.Client(
            base_url=live_server.url,
            headers={"Authorization": f"Bearer {token_for(subscription.application)}"},
        )
        held = threading.Thread(target=client.get, args=("/gw/orders/held",))
        held.start()
        deadline = time.monotonic() + 5
        while busy.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)

        statuses = [client.get("/gw/orders/x").status_code for _ in range(6)]
        held.join()

    assert busy.peak == 1
    assert statuses == [200] * 6
    assert calls(idle) == 6


def test_a_dead_target_opens_its_circuit_while_calls_go_to_the_live_one(gw, api, servers):
    live = servers()
    live_target, dead_target = balance(api, (live.url, 1), (dead_url(), 1))

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(6)]

    assert statuses == [200] * 6
    assert calls(live) == 6
    dead = circuit(dead_target)
    assert (dead.state, dead.reason) == (OPEN, "connect error")
    assert circuit(live_target).state == CLOSED


def test_a_status_left_out_of_the_failure_statuses_does_not_count_against_its_target(
    gw, api, servers
):
    erring, live = servers(), servers()
    targets = balance(api, (f"{erring.url}/status/500", 1), (live.url, 1), failure_statuses=[502])

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(6)]

    # With 500 among them (the default), the second 500 would have opened the circuit.
    assert sorted(statuses) == [200] * 3 + [500] * 3
    assert calls(erring) == 3
    assert circuit(targets[0]).state == CLOSED


def test_every_target_down_answers_503_at_once_naming_the_api(gw, api, servers):
    first, second = servers(), servers()
    balance(api, (f"{first.url}/status/503", 1), (f"{second.url}/status/503", 1))
    passed_through = [gw.get("/gw/orders/x") for _ in range(4)]
    tried = calls(first) + calls(second)

    refused = gw.get("/gw/orders/x")

    assert [r["X-Upstream"] for r in passed_through] == ["yes"] * 4
    body = assert_problem(refused, 503)
    assert "orders" in body["detail"]
    assert body["api"] == "orders"
    assert refused["Retry-After"] == "1"
    assert "X-Upstream" not in refused
    assert calls(first) + calls(second) == tried == 4


def test_a_restarted_target_closes_its_circuit_with_one_trial_call(gw, api, servers):
    live = servers()
    port = free_port()
    _, returning = balance(api, (live.url, 1), (f"http://127.0.0.1:{port}", 1))
    for _ in range(4):
        assert gw.get("/gw/orders/x").status_code == 200
    assert circuit(returning).state == OPEN
    back = servers(port)
    wait_for_trial(returning)

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(4)]

    assert statuses == [200] * 4
    assert calls(back) >= 1
    assert circuit(returning).state == CLOSED


def test_a_failed_trial_opens_the_circuit_again(gw, api, servers):
    dead = dead_target_due_for_trial(gw, api, servers())

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(2)]

    assert statuses == [200, 200]
    assert circuit(dead).state == OPEN
    assert circuit(dead).reopens_in >= 1


def test_a_trial_call_in_flight_keeps_other_calls_off_the_target(gw, api, servers):
    dead = dead_target_due_for_trial(gw, api, servers())
    api = Api.objects.get(pk=api.pk)
    first = in_a_loop_of_its_own(circuits.choose, api, [dead])
    second = in_a_loop_of_its_own(circuits.choose, api, [dead])

    assert (first.target.pk, first.trial) == (dead.pk, True)
    assert circuit(dead).state == HALF_OPEN
    assert second >= 1


def test_a_get_is_retried_on_another_target_after_a_reset(gw, api, servers):
    resetting, live = servers(), servers()
    balance(api, (f"{resetting.url}/reset", 1), (live.url, 1))

    response = gw.get("/gw/orders/x")

    assert response.status_code == 200
    # aiohttp itself tries an idempotent call twice on a connection that broke (RFC 9112
    # §9.3.1): two calls reached the resetting target before the gateway moved on.
    assert (calls(resetting), calls(live)) == (2, 1)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE"])
def test_other_idempotent_methods_are_retried_on_another_target_after_a_reset(
    gw, api, servers, method
):
    resetting, live = servers(), servers()
    balance(api, (f"{resetting.url}/reset", 1), (live.url, 1))

    response = gw.generic(method, "/gw/orders/x")

    assert response.status_code == 200
    assert calls(resetting) >= 1
    assert calls(live) == 1


def test_a_post_is_not_retried_once_it_may_have_reached_the_upstream(gw, api, servers):
    resetting, live = servers(), servers()
    balance(api, (f"{resetting.url}/reset", 1), (live.url, 1))

    response = gw.post("/gw/orders/x", data=b'{"pay": 10}')

    assert_problem(response, 502)
    assert (calls(resetting), calls(live)) == (1, 0)


def test_a_post_is_retried_when_nothing_was_sent(gw, api, servers):
    live = servers()
    balance(api, (dead_url(), 1), (live.url, 1))

    response = gw.post("/gw/orders/x", data=b'{"pay": 10}')

    assert response.status_code == 200
    assert calls(live) == 1


def test_probes_open_failing_targets_and_close_recovered_ones(api, servers):
    healthy, failing = servers(), servers()
    port = free_port()
    targets = balance(
        api,
        (healthy.url, 1),
        (f"{failing.url}/status/500", 1),
        (f"http://127.0.0.1:{port}", 1),
        health_path="/healthz",
        circuit_cool_down=600,
    )

    first = tasks.targets_probe()
    states = [circuit(target) for target in targets]
    servers(port)
    second = tasks.targets_probe()

    assert first == {"healthy": 1, "unhealthy": 2}
    assert [state.state for state in states] == [CLOSED, OPEN, OPEN]
    assert states[1].reason == "health probe: answered 500"
    assert healthy.hits["/healthz"] == 2
    assert second == {"healthy": 2, "unhealthy": 1}
    assert [circuit(target).state for target in targets] == [CLOSED, OPEN, CLOSED]


def test_a_probe_reads_only_the_status_of_a_health_answer_that_never_ends(api):
    # Read whole, a health path's endless answer would hold the probe until its 16 MiB end.
    with EndlessLineProvider(most=16 * 1024 * 1024) as endless:
        (target,) = balance(api, (endless.base_url, 1), health_path="/healthz")

        probed = tasks.targets_probe()

    assert probed == {"healthy": 1, "unhealthy": 0}
    assert circuit(target).state == CLOSED
    assert endless.cut_short, "the probe read the health answer to its end"
    assert endless.sent < endless.most


def test_admin_and_metrics_show_each_targets_circuit(gw, api, servers, staff):
    live = servers()
    down = dead_url()
    balance(api, (live.url, 1), (down, 1))
    for _ in range(4):
        gw.get("/gw/orders/x")
    admin = Client()
    admin.force_login(staff)

    page = admin.get(f"/admin/apis/api/{api.pk}/change/").content.decode()
    metrics = admin.get("/metrics").content.decode()

    assert "open: connect error" in page
    assert "closed (0 recent failures)" in page
    assert f'portcullis_upstream_target_state{{api="orders",state="open",target="{down}"}} 1.0' in (
        metrics
    )
    assert (
        f'portcullis_upstream_target_state{{api="orders",state="closed",target="{live.url}"}} 1.0'
        in metrics
    )
