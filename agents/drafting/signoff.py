"""Who signs an email: one sign-off per message, and the From name is the signer.

The agent's persona is the sender: when it has a name, the writer ends the email with
the persona's sign-off and the mailbox's signature is left off. The mailbox's signature
signs instead when the persona has no name, or when the admin chose it for the agent
(Agent.sign_with_mailbox_signature); the persona's name then appears nowhere in the
draft, so the letter and its From name never disagree."""
from .merge import clean_value


def persona_signs(agent):
    return bool(clean_value(getattr(agent, "sender_name", "")) and
                not getattr(agent, "sign_with_mailbox_signature", False))


def signer(agent, body):
    """The persona's name when the persona signs this email body: its name is in the
    body's last lines (a model or a step's own text may leave it out, and then the
    mailbox's signature signs rather than nobody)."""
    if not persona_signs(agent):
        return ""
    name = clean_value(agent.sender_name)
    tail = [line.strip() for line in (body or "").splitlines() if line.strip()][-3:]
    return name if any(name in line for line in tail) else ""
