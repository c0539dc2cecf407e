"""`manage.py catalog export [-o FILE]` and `manage.py catalog apply FILE [--dry-run] [--prune]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apis.catalog_document import CatalogError, Change, catalog_apply, catalog_export, catalog_plan
from core.errors import PortcullisError
from core.yaml_documents import YamlRefused, yaml_as_json


class Command(BaseCommand):
    help = "Keep the catalog (providers, APIs, plans, prompts) in one YAML document."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="Write the catalog as YAML.")
        export.add_argument("-o", "--output", help="File to write (default: standard output).")
        apply = actions.add_parser("apply", help="Make the catalog match a YAML document.")
        apply.add_argument("file", help="The document ('-' for standard input).")
        apply.add_argument("--dry-run", action="store_true", help="Print the difference only.")
        apply.add_argument(
            "--prune", action="store_true", help="Delete what the document does not name."
        )
        apply.add_argument(
            "--yes",
            action="store_true",
            help="Confirm, without asking, deletions that end subscriptions (with --prune).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            self._export(options["output"])
        else:
            self._apply(options)

    def _export(self, output: str | None) -> None:
        text = yaml.safe_dump(catalog_export(), sort_keys=False, allow_unicode=True, width=100)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")

    def _apply(self, options: dict[str, Any]) -> None:
        changes = self._plan(options["file"], prune=options["prune"])
        for change in changes:
            self.stdout.write(str(change))
        if not changes:
            self.stdout.write("Nothing to change.")
            return
        if options["dry_run"]:
            self.stdout.write(f"{len(changes)} change(s); dry run, nothing applied.")
            return
        self._confirm([change for change in changes if change.subscriptions], options["yes"])
        try:
            applied = catalog_apply(changes)
        except (PortcullisError, ValidationError) as exc:
            raise CommandError(f"Nothing applied: {_reason(exc)}") from exc
        self.stdout.write(self.style.SUCCESS(f"{applied} change(s) applied."))

    def _plan(self, file: str, *, prune: bool) -> list[Change]:
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
            return catalog_plan(yaml_as_json(text), prune=prune)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        except (YamlRefused, CatalogError) as exc:
            raise CommandError(str(exc)) from exc

    def _confirm(self, deletions: list[Change], confirmed: bool) -> None:
        """Deletions that end subscriptions run only when confirmed, here or by --yes."""
        if not deletions or confirmed:
            return
        ending = sum(change.subscriptions for change in deletions)
        question = f"This deletes {len(deletions)} item(s) ending {ending} subscription(s). "
        if not sys.stdin.isatty():
            raise CommandError(question + "Confirm with --yes; nothing applied.")
        if input(question + "Type 'yes' to go on: ").strip() != "yes":
            raise CommandError("Not confirmed; nothing applied.")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{name}: {', '.join(errors)}" for name, errors in exc.message_dict.items()
        )
    return getattr(exc, "detail", "") or str(exc)
