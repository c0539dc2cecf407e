"""The gateway as deployed: gunicorn processes on PostgreSQL and a shared Redis."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from apis.services import subscription_revoke
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.polling import eventually
from tests.servers import GatewayServer, RedisServer, rss_kib
from tests.tokens import token_for

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]

GIGABYTE = 1024**3


def _headers(subscription) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(subscription.application)}"}


def _set_rate(subscription, rate: str) -> None:
    subscription.plan.rate_limit = rate
    subscription.plan.save()


def test_several_processes_on_one_redis_admit_exactly_the_limit(subscription):
    _set_rate(subscription, "7/d")
    headers = _headers(subscription)
    env = {"REDIS_URL": os.environ["REDIS_URL"]}
    with GatewayServer(env=env, workers=2) as first, GatewayServer(env=env, workers=2) as second:
        urls = [f"{server.url}/gw/orders/x" for server in (first, second) for _ in range(15)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda url: httpx.get(url, headers=headers).status_code, urls))

    assert statuses.count(200) == 7
    assert statuses.count(429) == 23


def test_redis_down_answers_503_at_once_and_recovers_by_itself(subscription):
    headers = _headers(subscription)
    with RedisServer() as redis, GatewayServer(env={"REDIS_URL": redis.url}) as gateway:
        url = f"{gateway.url}/gw/orders/x"
        assert httpx.get(url, headers=headers).status_code == 200

        redis.stop()
        down = httpx.get(url, headers=headers, timeout=1.0)

        redis.start()
        recovered = _eventually_status(url, headers, 200)

    assert down.status_code == 503
    assert down.headers["Content-Type"] == "application/problem+json"
    assert down.headers["Retry-After"] == "1"
    assert recovered == 200


def test_redis_down_with_fail_open_serves_calls_unlimited(subscription):
    headers = _headers(subscription)
    fail_open = {"PORTCULLIS_GATEWAY_FAIL_OPEN": "true"}
    with RedisServer() as redis, GatewayServer(env={"REDIS_URL": redis.url, **fail_open}) as gw:
        url = f"{gw.url}/gw/orders/x"
        assert httpx.get(url, headers=headers).status_code == 200

        redis.stop()
        time.sleep(1.5)  # past every in-process memory: catalog, revocation list
        down = httpx.get(url, headers=headers, timeout=5.0)
        redis.start()

    assert down.status_code == 200
    assert "RateLimit" not in down.headers


def test_a_revoked_subscription_is_refused_by_every_process(subscription):
    # That each process re-reads within LOOKUP_REFRESH is proven on the clock, in process
    # (test_authenticate.py); here, that every process of a server does.
    headers = _headers(subscription)
    with GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}, workers=2) as gateway:
        url = f"{gateway.url}/gw/orders/x"
        assert all(httpx.get(url, headers=headers).status_code == 200 for _ in range(4))

        subscription_revoke(subscription=subscription)
        statuses = eventually(
            lambda: {httpx.get(url, headers=headers).status_code for _ in range(6)}, {403}
        )

    assert statuses == {403}


def test_one_gigabyte_download_streams_in_constant_memory(subscription):
    headers = _headers(subscription)
    with GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}) as gateway:
        (worker,) = gateway.worker_pids()
        httpx.get(f"{gateway.url}/gw/orders/bytes/1000", headers=headers)
        before = rss_kib(worker)
        peak, received = _download(f"{gateway.url}/gw/orders/bytes/{GIGABYTE}", headers, worker)

    assert received == GIGABYTE
    assert peak - before < 64 * 1024, f"worker RSS grew by {(peak - before) // 1024} MiB"


def test_large_upload_reaches_the_upstream_intact(subscription):
    body = os.urandom(9 * 1024 * 1024)
    with GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}) as gateway:
        response = httpx.post(
            f"{gateway.url}/gw/orders/upload", content=body, headers=_headers(subscription)
        )

    assert response.status_code == 200
    assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def _download(url: str, headers: dict[str, str], pid: int) -> tuple[int, int]:
    peak, received, done = 0, 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            for chunk in response.iter_raw(1024 * 1024):
                received += len(chunk)
    finally:
        done.set()
        sampler.join()
    return peak, received


def _eventually_status(url: str, headers: dict[str, str], wanted: int) -> int:
    deadline = time.monotonic() + 5
    status = 0
    while time.monotonic() < deadline and status != wanted:
        try:
            status = httpx.get(url, headers=headers, timeout=1.0).status_code
        except httpx.HTTPError:
            status = 0
        time.sleep(0.1)
    return status


def test_chunked_upload_streams_through_to_the_upstream(subscription):
    pieces = [os.urandom(256 * 1024) for _ in range(12)]
    with GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}) as gateway:
        response = httpx.post(
            f"{gateway.url}/gw/orders/upload",
            content=iter(pieces),  # no length: httpx sends Transfer-Encoding: chunked
            headers=_headers(subscription),
        )

    assert response.status_code == 200
    echoed = response.json()
    assert echoed["body_size"] == sum(map(len, pieces))
    assert echoed["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert echoed["headers"]["Transfer-Encoding"] == "chunked"


def test_chunked_upload_over_the_body_limit_answers_413(subscription):
    limit = {"REDIS_URL": os.environ["REDIS_URL"], "PORTCULLIS_GATEWAY_BODY_LIMIT": "1048576"}
    pieces = [os.urandom(256 * 1024) for _ in range(8)]
    with GatewayServer(env=limit) as gateway:
        response = httpx.post(
            f"{gateway.url}/gw/orders/upload", content=iter(pieces), headers=_headers(subscription)
        )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"


def test_the_answer_carries_one_date_of_the_gateway_and_no_server_names(subscription):
    with GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}) as gateway:
        response = httpx.get(f"{gateway.url}/gw/orders/x", headers=_headers(subscription))

    assert response.status_code == 200
    assert len(response.headers.get_list("date")) == 1
    assert "server" not in response.headers


def test_cookies_an_upstream_sets_are_never_sent_on_later_calls(subscription):
    headers = _headers(subscription)
    with GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}) as gateway:
        set_cookies = httpx.get(f"{gateway.url}/gw/orders/cookies/2", headers=headers)
        later = httpx.get(f"{gateway.url}/gw/orders/x", headers=headers)

    assert len(set_cookies.headers.get_list("set-cookie")) == 2
    assert "cookie" not in {name.lower() for name in later.json()["headers"]}


def test_a_malformed_chunked_body_is_refused_by_the_server_not_answered_500(subscription):
    token = token_for(subscription.application)
    head = (
        "POST /gw/orders/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with (
        GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"]}) as gateway,
        socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock,
    ):
        sock.sendall(head.encode() + b"5\r\nhello\r\nzz\r\nnot a chunk\r\n")
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 400")
