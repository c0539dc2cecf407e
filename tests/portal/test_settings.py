"""Settings from the environment, checked by starting the project in a fresh process."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from portal.celery import app

BASE_DIR = settings.BASE_DIR

# Print what the settings chose, as JSON, from a process that imported them with a given env.
SHOW_CHOICES = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "database": settings.DATABASES["default"]["NAME"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION", ""),
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "issuer": settings.PORTCULLIS["KEYS"]["ISSUER"],
}))
"""

PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "PORTCULLIS_KEK": secrets.token_urlsafe(32),
    "DJANGO_ALLOWED_HOSTS": "portcullis.example.com",
}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run Python in the project with only `env` on top of a clean environment."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "PORTCULLIS_"))
        and name not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL"}
    }
    clean["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def choices(**env: str) -> dict:
    result = run(["-c", SHOW_CHOICES], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_without_a_secret_key_refuses_to_start_with_a_clear_message():
    env = {name: value for name, value in PRODUCTION.items() if name != "DJANGO_SECRET_KEY"}
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_without_a_key_encryption_key_refuses_to_start():
    env = {name: value for name, value in PRODUCTION.items() if name != "PORTCULLIS_KEK"}
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "PORTCULLIS_KEK is not set" in result.stderr


def test_deploy_check_passes_with_production_variables():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_on_the_development_defaults():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode != 0


def test_nothing_set_means_sqlite_local_memory_and_eager_tasks():
    chosen = choices()
    assert chosen["engine"] == "django.db.backends.sqlite3"
    assert chosen["database"] == str(BASE_DIR / "db.sqlite3")
    assert chosen["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert chosen["eager"] is True
    assert chosen["debug"] is False
    assert chosen["allowed_hosts"] == ["localhost", "127.0.0.1"]
    assert chosen["issuer"] == "http://127.0.0.1:8000"


def test_nothing_set_warns_about_the_development_secret_key():
    result = run(["-c", SHOW_CHOICES])
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_database_and_redis_urls_select_postgresql_and_redis_everywhere():
    chosen = choices(
        DATABASE_URL="postgres://portcullis@db.internal:5432/catalog",
        REDIS_URL="redis://cache.internal:6379/3",
    )
    assert chosen["engine"] == "django.db.backends.postgresql"
    assert chosen["database"] == "catalog"
    assert chosen["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert chosen["cache_location"] == "redis://cache.internal:6379/3"
    assert chosen["broker"] == "redis://cache.internal:6379/3"
    assert chosen["eager"] is False


@pytest.mark.parametrize(
    ("name", "value", "key", "expected"),
    [
        ("DJANGO_DEBUG", "true", "debug", True),
        (
            "DJANGO_ALLOWED_HOSTS",
            "a.example,b.example",
            "allowed_hosts",
            ["a.example", "b.example"],
        ),
        ("PORTCULLIS_ISSUER", "https://id.example", "issuer", "https://id.example"),
    ],
)
def test_contract_variables_are_read(name, value, key, expected):
    assert choices(**{name: value})[key] == expected


SHOW_SECRET_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def test_nothing_set_generates_a_random_secret_key_per_install_and_keeps_it(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    created = run(["-c", SHOW_SECRET_KEY], DJANGO_SECRET_KEY_FILE=str(first)).stdout
    again = run(["-c", SHOW_SECRET_KEY], DJANGO_SECRET_KEY_FILE=str(first)).stdout
    other = run(["-c", SHOW_SECRET_KEY], DJANGO_SECRET_KEY_FILE=str(second)).stdout

    assert created == again == first.read_text()
    assert other != created
    assert len(created.strip()) >= 50
    assert first.stat().st_mode & 0o077 == 0


def test_the_generated_key_file_is_kept_out_of_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".secret_key"], cwd=BASE_DIR, check=False
    )
    assert ignored.returncode == 0


def test_beat_schedules_tasks_a_worker_knows_the_prune_hourly_and_the_probes_every_10_s():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert schedule["usage-prune"] == {"task": "apis.usage_prune", "schedule": 3600.0}
    assert schedule["targets-probe"] == {"task": "apis.targets_probe", "schedule": 10.0}
