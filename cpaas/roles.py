"""What each role may do, decided on the server. Views and API endpoints name a permission;
this table is the only place that maps permissions to roles."""

from .models import Role

A, M, G, V = Role.ADMIN, Role.MARKETER, Role.AGENT, Role.VIEWER

PERMISSIONS: dict[str, frozenset[str]] = {
    "contacts.view": frozenset({A, M, G, V}),
    # browse any contact (lists, contact pages); agents reach a contact through an inbox
    # conversation they can see, unless the workspace opens every contact to them
    # (Workspace.contacts_open_to_agents): see may_browse_contacts
    "contacts.browse": frozenset({A, M, V}),
    "contacts.edit": frozenset({A, M}),
    "contacts.import": frozenset({A, M}),
    "contacts.export": frozenset({A, M}),
    "segments.edit": frozenset({A, M}),
    "attributes.edit": frozenset({A}),
    "events.view": frozenset({A, M, G, V}),
    "journeys.view": frozenset({A, M, V}),
    "journeys.edit": frozenset({A, M}),
    "journeys.publish": frozenset({A, M}),
    "experiments.view": frozenset({A, M, V}),
    "experiments.edit": frozenset({A, M}),  # create, edit, start, stop, declare a winner
    # journey analytics, the KPI reports, messaging health and the dashboard's figures (the home
    # page itself is open to every role and shows each what it may see)
    "analytics.view": frozenset({A, M, V}),
    "inbox.view": frozenset({A, G}),  # conversations of the queues the agent belongs to (admins: all)
    "inbox.reply": frozenset({A, G}),  # reply, notes, promises to pay, dispositions, resolve
    "inbox.assign": frozenset({A, G}),  # claim, assign and transfer
    "inbox.supervise": frozenset({A}),  # every queue, the supervisor page
    "inbox.manage": frozenset({A}),  # queues and members, SLA policies, canned replies, business hours
    "consent.view": frozenset({A, M, G, V}),
    "consent.edit": frozenset({A}),
    "consent.import": frozenset({A}),
    "consent.export": frozenset({A}),
    "consent.policies": frozenset({A}),
    "gdpr.export": frozenset({A}),
    "gdpr.erase": frozenset({A}),
    "messages.view": frozenset({A, M, G, V}),
    "messages.send": frozenset({A, M, G}),
    "channels.manage": frozenset({A}),
    "simulator.use": frozenset({A, M}),
    "verify.use": frozenset({A, M}),
    "settings.view": frozenset({A}),
    "users.manage": frozenset({A}),
    "tokens.manage": frozenset({A}),
    "audit.view": frozenset({A}),
}


def role_allows(role: str | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission '{permission}'")
    return role in PERMISSIONS[permission]


def may_browse_contacts(role: str | None, workspace) -> bool:
    """May this role open any contact of `workspace` (the contact list and pages)? Agents may
    only where the workspace opens every contact to them; otherwise they answer 404."""
    return role_allows(role, "contacts.browse") or bool(getattr(workspace, "contacts_open_to_agents", False))
