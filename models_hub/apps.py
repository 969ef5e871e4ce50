from django.apps import AppConfig


class ModelsHubConfig(AppConfig):
    name = "models_hub"
    verbose_name = "Model registry"
