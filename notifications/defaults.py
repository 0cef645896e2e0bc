"""Built-in templates for our own events: used when a workspace has not written its own
under the same key. Keys are also what rules and the send API name in `template`."""

from notifications.models import EventType

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "run_failed": {
        "subject": "Run #{{ run.id }} of {{ workflow.name }} failed",
        "body": 'The run #{{ run.id }} of the workflow "{{ workflow.name }}" failed'
        "{% if run.error %}: {{ run.error }}{% endif %}.",
        "html_body": "<p>The run #{{ run.id }} of the workflow <b>{{ workflow.name }}</b> failed"
        "{% if run.error %}: {{ run.error }}{% endif %}.</p>",
    },
    "run_succeeded": {
        "subject": "Run #{{ run.id }} of {{ workflow.name }} succeeded",
        "body": 'The run #{{ run.id }} of the workflow "{{ workflow.name }}" succeeded.',
        "html_body": "",
    },
    "run_waiting": {
        "subject": "Run #{{ run.id }} of {{ workflow.name }} waits for approval",
        "body": 'The run #{{ run.id }} of the workflow "{{ workflow.name }}" is waiting for '
        "an approval before it goes on.",
        "html_body": "",
    },
    "budget_80": {
        "subject": "{{ workspace.name }} has used 80% of its monthly budget",
        "body": "The workspace {{ workspace.name }} has used {{ budget.percent }}% of its monthly "
        "{{ budget.kind }} budget ({{ budget.used }} of {{ budget.limit }}).",
        "html_body": "",
    },
    "budget_100": {
        "subject": "{{ workspace.name }} has reached its monthly budget",
        "body": "The workspace {{ workspace.name }} has used {{ budget.used }} of its monthly "
        "{{ budget.kind }} budget of {{ budget.limit }}: new steps will not start.",
        "html_body": "",
    },
    "security_alert": {
        "subject": "Security alert: {{ alert.title }}",
        "body": "A security alert was raised ({{ alert.severity }}): {{ alert.title }}.",
        "html_body": "",
    },
    "task_failed": {
        "subject": "Background task {{ task.name }} failed",
        "body": "The background task {{ task.name }} ({{ task.task_type }}) ended "
        "{{ task.status }}{% if task.error %}: {{ task.error }}{% endif %}.",
        "html_body": "",
    },
    "weekly_report": {
        "subject": "Your {{ report.label }} for {{ workspace.name }} is ready",
        "body": "The {{ report.label }} for {{ workspace.name }} "
        "({{ report.period_start }} to {{ report.period_end }}) is ready.\n\n"
        "Runs: {{ report.runs }} ({{ report.failed }} failed, success rate "
        "{{ report.success_rate }}). Tokens: {{ report.tokens }}. Cost: {{ report.cost }}.\n"
        "{% if report.insights %}\nInsights:\n{% for insight in report.insights %}"
        "- [{{ insight.severity }}] {{ insight.title }}\n{% endfor %}{% endif %}\n"
        "The report: {{ report.url }} (CSV: {{ report.csv_url }})",
        "html_body": "<p>The {{ report.label }} for <b>{{ workspace.name }}</b> "
        "({{ report.period_start }} to {{ report.period_end }}) is ready.</p>"
        "<ul><li>Runs: {{ report.runs }} ({{ report.failed }} failed, success rate "
        "{{ report.success_rate }})</li><li>Tokens: {{ report.tokens }}</li>"
        "<li>Cost: {{ report.cost }}</li></ul>"
        "{% if report.insights %}<p>Insights:</p><ul>{% for insight in report.insights %}"
        "<li>[{{ insight.severity }}] {{ insight.title }}</li>{% endfor %}</ul>{% endif %}"
        '<p><a href="{{ report.url }}">The report</a> '
        '(<a href="{{ report.csv_url }}">CSV</a>)</p>',
    },
    "password_reset": {
        "subject": "Reset your Docchain password",
        "body": "Someone asked to reset the password of {{ user.username }}. If it was you, "
        "open {{ reset_url }} within the hour; if not, ignore this email.",
        "html_body": "<p>Someone asked to reset the password of {{ user.username }}.</p>"
        '<p><a href="{{ reset_url }}">Reset the password</a> within the hour; if it was not '
        "you, ignore this email.</p>",
    },
}

TEMPLATE_FOR_EVENT = {
    EventType.RUN_FAILED: "run_failed",
    EventType.RUN_SUCCEEDED: "run_succeeded",
    EventType.RUN_WAITING: "run_waiting",
    EventType.BUDGET_80: "budget_80",
    EventType.BUDGET_100: "budget_100",
    EventType.SECURITY_ALERT: "security_alert",
    EventType.TASK_FAILED: "task_failed",
    EventType.WEEKLY_REPORT: "weekly_report",
}
