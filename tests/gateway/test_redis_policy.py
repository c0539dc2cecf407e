"""What the gateway asks of its Redis, checked against real redis-servers set up each way."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx
import pytest
from django.test import override_settings

from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from core.checks import redis_policy_check
from tests.gateway.conftest import needs_postgres
from tests.servers import ROOT, GatewayServer, RedisServer, database_url
from tests.tokens import token_for

EVICTING = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")


def test_the_gateway_refuses_to_start_on_a_redis_that_may_evict_its_state(db):
    with RedisServer(*EVICTING) as redis:
        env = {"REDIS_URL": redis.url, "DATABASE_URL": database_url(), "PORT": "0"}
        started = subprocess.run(
            [sys.executable, "-m", "portal.serve"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert started.returncode != 0
    assert "maxmemory-policy noeviction" in started.stderr


def test_check_deploy_names_an_evicting_redis_and_one_without_persistence():
    with RedisServer(*EVICTING) as redis, override_settings(REDIS_URL=redis.url):
        found = {message.id for message in redis_policy_check()}

    assert found == {"core.E001", "core.W001"}


def test_check_deploy_is_content_with_noeviction_and_an_append_only_file():
    options = ("--maxmemory", "64mb", "--maxmemory-policy", "noeviction", "--appendonly", "yes")
    with RedisServer(*options) as redis, override_settings(REDIS_URL=redis.url):
        assert redis_policy_check() == []


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_killing_a_redis_with_an_append_only_file_under_load_loses_no_answered_call(
    subscription,
):
    headers = {"Authorization": f"Bearer {token_for(subscription.application)}"}
    answered: list[int] = []
    with (
        RedisServer("--appendonly", "yes", "--appendfsync", "always") as redis,
        GatewayServer(env={"REDIS_URL": redis.url}) as gateway,
    ):
        stop = threading.Event()
        url = f"{gateway.url}/gw/orders/x"
        load = threading.Thread(target=_calls, args=(url, headers, stop, answered))
        load.start()
        _wait_for(lambda: answered.count(200) >= 50)
        redis.stop()
        _wait_for(lambda: answered.count(503) >= 1)
        redis.start()
        ok_before = answered.count(200)
        _wait_for(lambda: answered.count(200) >= ok_before + 50)
        stop.set()
        load.join()
        with override_settings(REDIS_URL=redis.url):
            usage_ingest()

    assert UsageEvent.objects.filter(status=200).count() == answered.count(200)


def _calls(url: str, headers: dict[str, str], stop: threading.Event, answered: list[int]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            answered.append(client.get(url, headers=headers).status_code)


def _wait_for(condition, seconds: float = 30.0) -> None:
    done = threading.Event()
    for _ in range(int(seconds * 20)):
        if condition():
            return
        done.wait(0.05)
    raise TimeoutError("the load never reached the expected point")
