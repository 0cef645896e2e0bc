"""The plain-DRF peer the API benches compare against: what a user would write without us."""
