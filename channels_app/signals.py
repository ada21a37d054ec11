"""The one receiver: a new workspace starts with a sandbox channel of every kind (written in
the transaction that creates the workspace)."""


def workspace_created(sender, instance, created, raw=False, **kwargs) -> None:
    if not created or raw:
        return
    from .services.channels import sandbox_channels_ensure

    sandbox_channels_ensure(workspace=instance)
