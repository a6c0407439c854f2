"""Who may let an agent's drafts go out without review: the workspace's rep policy.

With Tenant.reps_may_auto_send off (the default), a rep may attach only agents that
send every draft to review, and every draft of a sequence whose owner is not a manager
or admin of the workspace (a rep, a former member, nobody) waits in the approval queue
whatever its agent's autonomy says.

The owner's role is what counts, read when each draft is routed: a manager editing a
rep's sequence, even attaching an auto-sending agent to it, leaves its drafts reviewed;
demoting an owner to rep takes effect at the next draft. Only a change of owner (done
by a workspace admin) or of the policy itself lets a sequence send on its own again.
"""
from scendcore.models import MANAGER_ROLES

from .models import Autonomy

OWNER_REVIEW_REASON = "workspace policy: drafts of sequences not owned by a manager or admin are reviewed"


def sends_without_review(agent):
    """Whether the agent's autonomy ever lets a draft go out unreviewed."""
    return agent is not None and agent.autonomy != Autonomy.REVIEW_ALL


def may_auto_send(*, tenant, role):
    """Whether drafts made for a member with `role` (None: not a member) may skip review."""
    return role in MANAGER_ROLES or tenant.reps_may_auto_send


def attach_refusal(*, tenant, role, agent):
    """Why a member with `role` may not attach `agent` to a sequence; "" when they may."""
    if not sends_without_review(agent) or may_auto_send(tenant=tenant, role=role):
        return ""
    return (f"“{agent.name}” sends drafts without review; in this workspace only managers and admins may "
            "attach such an agent. Choose an agent that sends every draft to review.")


def owner_review_reason(*, tenant, owner_role, agent):
    """The review reason the policy adds for a sequence owned by a member with
    `owner_role`; "" when it adds none (the agent reviews everything anyway)."""
    if not sends_without_review(agent) or may_auto_send(tenant=tenant, role=owner_role):
        return ""
    return OWNER_REVIEW_REASON
