"""`manage.py rotate_keys`: new active token keys; the old ones verify until their tokens expire."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from keys.services import token_keys_rotate


class Command(BaseCommand):
    help = "Create new active signing and encryption keys; previous keys keep verifying."

    def handle(self, *args: Any, **options: Any) -> None:
        for key in token_keys_rotate():
            self.stdout.write(f"active {key.use} key {key.kid} ({key.alg})")
