from django.apps import AppConfig


class HarborsConfig(AppConfig):
    name = "harbors"
    verbose_name = "Harbour regions"
