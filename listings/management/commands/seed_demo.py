from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from listings.demo import demo_reset, demo_seed


class Command(BaseCommand):
    help = (
        "Seed a deterministic demo network of fictional NWE companies, sites and published "
        "listings, plus demo users (see listings/demo.py for the logins). Idempotent: does "
        "nothing when demo data exists, unless --reset. Needs load_reference_data first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=2026, help="Random seed for the small variations."
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help='Delete the demo organisations (ref "DEMO-…") and demo users first.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reset"]:
            deleted = demo_reset()
            self.stdout.write(f"Deleted {deleted} demo organisations and the demo users.")
        summary = demo_seed(seed=options["seed"])
        for line in summary.lines():
            self.stdout.write(self.style.SUCCESS(line) if summary.created else line)
