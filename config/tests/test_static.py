"""The production static-files build (`collectstatic` with whitenoise's compressed manifest
storage, as `make run` and the Dockerfile run it) succeeds: a vendored file that references a
file we do not ship (a source map) fails it, and no other test builds the manifest."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.integration


def test_collectstatic_builds_the_manifest(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("vendor/chartjs/chart.umd.min.*.js"))
