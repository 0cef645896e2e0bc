"""The workflows app's HTTP API (authoring and reads): workflows, steps, versions, import and
export, schedules, analytics, documents and lineage, budgets. Views only parse, call a service
or a selector, and render."""
