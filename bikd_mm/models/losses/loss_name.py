def check_loss_name(loss_name: str, owner: str | None = None) -> str:
    """Refuse a loss name that mmengine would not count as a loss.

    Args:
        loss_name (str): The name the loss is logged under.
        owner (str, optional): The loss class, for the message.

    Returns:
        str: ``loss_name``.

    Raises:
        ValueError: If ``loss_name`` does not start with ``loss_``.
    """
    if not loss_name.startswith('loss_'):
        raise ValueError(
            (f'{owner}: ' if owner else '')
            + 'loss_name must start with "loss_" (mmengine sums only those '
            f'keys), got {loss_name!r}'
        )
    return loss_name
