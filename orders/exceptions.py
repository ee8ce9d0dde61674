class WorkflowError(Exception):
    """A workflow action was refused; the message tells staff why and what to do."""


class ChecklistIncomplete(WorkflowError):
    """Advance refused because required steps of the current state are not done."""

    def __init__(self, message, *, missing):
        self.missing = list(missing)
        super().__init__(message)


class StaleAction(WorkflowError):
    """Someone else acted on the order first (it is no longer where the user saw it)."""
