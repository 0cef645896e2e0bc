"""The workflows app's API, one module per area."""
