"""The inbox page's list controls: the querystring the filter form sends, read into the filters
of `inbox.selectors.conversation_list` (the one list the page and the API share). A stale or
hand-edited value is dropped here, so an old bookmark still opens the inbox."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from contacts.models import ChannelKind

from .models import Conversation, Priority

STATUSES = [("", "Unresolved"), *Conversation.Status.choices, ("all", "All")]
SORTS = [("recent", "Latest activity"), ("waiting", "Longest waiting"), ("priority", "Priority")]
SHOW = [("", "Everyone's"), ("mine", "Mine"), ("mentions", "Mentioning me"), ("unassigned", "Unassigned")]


@dataclass(frozen=True)
class Filters:
    q: str = ""
    show: str = ""  # "" | mine | mentions | unassigned
    queue: str = ""
    status: str = ""
    channel: str = ""
    priority: str = ""
    sla: str = ""  # "" | breached
    sort: str = "recent"

    @classmethod
    def from_query(cls, query) -> Filters:
        def pick(name: str, allowed) -> str:
            value = (query.get(name) or "").strip()
            return value if value in allowed else ""

        queue = (query.get("queue") or "").strip()
        return cls(
            q=(query.get("q") or "").strip()[:200],
            show=pick("show", {"mine", "mentions", "unassigned"}),
            queue=queue if queue.isdigit() else "",
            status=pick("status", {v for v, _ in STATUSES}),
            channel=pick("channel", set(ChannelKind.values)),
            priority=pick("priority", set(Priority.values)),
            sla=pick("sla", {"breached"}),
            sort=pick("sort", {v for v, _ in SORTS}) or "recent",
        )

    @property
    def active(self) -> bool:
        return any((self.q, self.show, self.queue, self.status, self.channel, self.priority, self.sla))

    def selector_filters(self) -> dict:
        """The filters as `inbox.selectors.conversation_list` takes them."""
        return {
            "q": self.q,
            "mine": self.show == "mine",
            "mentions": self.show == "mentions",
            "unassigned": self.show == "unassigned",
            "queue": self.queue,
            "status": self.status or "active",
            "channel": self.channel,
            "priority": self.priority,
            "breached": self.sla == "breached",
        }

    def querystring(self) -> str:
        """For the pagination links: the filters, then `page=`."""
        pairs = {k: v for k, v in asdict(self).items() if v and not (k == "sort" and v == "recent")}
        return urlencode(pairs) + ("&" if pairs else "")
