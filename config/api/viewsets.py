"""Moved to `accounts.viewsets` (config must not import accounts: it was a package cycle).

This name keeps working, lazily, for code written before the move; new code imports
`accounts.viewsets`. Remove once nothing imports it."""

_MOVED = {
    "DefaultWorkspace",
    "WorkspaceField",
    "WorkspaceScopedMixin",
    "WorkspaceScopedModelViewSet",
    "WorkspaceScopedViewSet",
}


def __getattr__(name: str):
    if name in _MOVED:
        from accounts import viewsets  # lazily: importing this module imports no app

        return getattr(viewsets, name)
    raise AttributeError(name)
