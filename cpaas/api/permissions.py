"""API access: a token grants its workspace; a session user needs a membership and, where the
view names one, a role permission (`required_permission` on the view)."""

from rest_framework import permissions

from cpaas.models import ApiToken
from cpaas.roles import role_allows


def api_workspace(request):
    """The workspace the API request acts in (the token's, or the session's active one)."""
    if isinstance(request.auth, ApiToken):
        return request.auth.workspace
    return getattr(request._request, "workspace", None)


class WorkspaceMember(permissions.BasePermission):
    message = "Authenticate with an API token of this workspace."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken):
            request.workspace = request.auth.workspace
            return True
        user = request.user
        if not (user and user.is_authenticated):
            return False
        workspace = getattr(request._request, "workspace", None)
        if workspace is None:
            return False
        request.workspace = workspace
        needed = getattr(view, "required_permission", None)
        if needed:
            write = request.method not in permissions.SAFE_METHODS
            perm = (
                needed[1]
                if isinstance(needed, tuple) and write
                else needed[0]
                if isinstance(needed, tuple)
                else needed
            )
            if not role_allows(request._request.role, perm):
                self.message = f"Your role ({request._request.role}) does not allow {perm}."
                return False
        return True


class ContactBrowsing(permissions.BasePermission):
    """Endpoints that open any contact: an agent's session gets 404 unless the workspace opens
    every contact to agents (they reach a contact through an inbox conversation). Tokens pass."""

    def has_permission(self, request, view) -> bool:
        from rest_framework.exceptions import NotFound

        from cpaas.roles import may_browse_contacts

        if isinstance(request.auth, ApiToken):
            return True
        if not may_browse_contacts(request._request.role, request.workspace):
            raise NotFound("Open this contact from a conversation in the inbox.")
        return True
