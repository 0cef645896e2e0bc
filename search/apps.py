from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search: keyword, semantic and hybrid"

    def ready(self) -> None:
        from accounts.workspace_settings import register_validator
        from search import embeddings, indexing

        register_validator("embedding_model", embeddings.check_model_setting)
        indexing.connect()
