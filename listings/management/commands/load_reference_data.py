from typing import Any

from django.core.management.base import BaseCommand

from harbors.reference_data import harbors_reference_data_load
from listings.reference_data import listings_reference_data_load


class Command(BaseCommand):
    help = (
        "Load the reference data: countries, harbour regions and ports, transport factors, the "
        "European List of Waste, R/D operations, NACE and material categories. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = {**harbors_reference_data_load(), **listings_reference_data_load()}
        for table, count in counts.items():
            self.stdout.write(f"{table}: {count}")
