from orders.exceptions import WorkflowError


class ShippingError(WorkflowError):
    """A shipping action was refused; the message is meant for staff."""
