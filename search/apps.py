from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search: keyword, semantic and hybrid"

    def ready(self) -> None:
        from celery.signals import worker_init

        from accounts.workspace_settings import register_validator
        from search import embeddings, indexing

        register_validator("embedding_model", embeddings.check_model_setting)
        indexing.connect()
        worker_init.connect(_warm_up_worker, weak=False)


def _warm_up_worker(**kwargs) -> None:
    from search import embeddings

    embeddings.warm_up()
