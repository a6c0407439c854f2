"""An enrollment's context: the values actions and custom events write and branches
read. Bounded here, once, for every writer: a flow cannot grow a row without limit.

Keys starting with "_" are the engine's own (a split's arms under "_arms"); nobody else
writes them."""
import json

MAX_KEYS = 50
MAX_VALUE_CHARS = 500
MAX_TOTAL_BYTES = 16 * 1024
RESERVED_PREFIX = "_"
ARMS = "_arms"


class ContextRefused(ValueError):
    """The change would break the context's bounds (the message says which)."""


def _size(value):
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def value_problem(key, value, *, engine=False):
    """Why `key` = `value` may not be written ('' when it may)."""
    if not isinstance(key, str) or not key.strip() or len(key) > 64:
        return "A context key is a name of 1 to 64 characters."
    if key.startswith(RESERVED_PREFIX) and not engine:
        return f"Context keys starting with “{RESERVED_PREFIX}” are reserved."
    if not engine:
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            return "A context value is text, a number, true/false or empty."
        if len(str(value)) > MAX_VALUE_CHARS:
            return f"A context value has at most {MAX_VALUE_CHARS} characters."
    return ""


def merged(context, updates, *, engine=False):
    """A new context: `context` with `updates` written over it, or ContextRefused when a
    value, the number of keys or the total size would pass the bounds."""
    result = dict(context) if isinstance(context, dict) else {}
    for key, value in updates.items():
        problem = value_problem(key, value, engine=engine)
        if problem:
            raise ContextRefused(problem)
        result[key] = value
    own = [key for key in result if not key.startswith(RESERVED_PREFIX)]
    if len(own) > MAX_KEYS:
        raise ContextRefused(f"The context holds at most {MAX_KEYS} values.")
    if _size(result) > MAX_TOTAL_BYTES:
        raise ContextRefused(f"The context holds at most {MAX_TOTAL_BYTES // 1024} KB.")
    return result


def with_arm(context, node_key, label):
    """The context with the split arm `label` recorded for the node `node_key`."""
    arms = dict((context or {}).get(ARMS) or {})
    arms[node_key] = label
    return merged(context, {ARMS: arms}, engine=True)
