from config.errors import Conflict, DomainError


class DefinitionError(DomainError):
    """A workflow definition that cannot be saved; details name the step and the problem."""

    code = "invalid_definition"
    default_message = "The workflow definition is not valid."


class InvalidInputs(DomainError):
    code = "invalid_inputs"
    default_message = "The run's inputs are not valid."


class InvalidRunState(Conflict):
    code = "invalid_state"


class WorkflowInUse(Conflict):
    code = "workflow_in_use"
    default_message = "The workflow has runs in progress; cancel them or archive the workflow."


class InvalidSchedule(DomainError):
    code = "invalid_schedule"
    default_message = "The schedule is not valid."
